/* SPDX-License-Identifier: MIT */
/*
 * Least privilege for the daemons (mt6d server, client, tunnel): once
 * set-up is done, one call makes the process an unprivileged user that
 * keeps only CAP_NET_ADMIN and CAP_NET_RAW and may make only the system
 * calls the daemons use (a seccomp filter). docs/privdrop.md says why each
 * piece is there.
 */
#ifndef MT6D_PRIVDROP_H
#define MT6D_PRIVDROP_H

#define PRIVDROP_MAX_PATHS 4

/* Files the daemon still needs as the user: `rewrite' ones are replaced by
 * a rename in their directory (state file, DHT state), `reread' ones are
 * read again (the registry on SIGHUP). NULL or "" entries are skipped. */
struct privdrop_paths {
	const char *rewrite[PRIVDROP_MAX_PATHS];
	const char *reread[PRIVDROP_MAX_PATHS];
};

/*
 * user NULL or "": nothing changes (the daemon keeps what it was started
 * with). Otherwise, started as root: setgroups/setresgid/setresuid to the
 * user keeping CAP_NET_ADMIN and CAP_NET_RAW (PR_SET_KEEPCAPS), every other
 * capability dropped from the bounding set; started as that user already
 * (systemd User= with AmbientCapabilities=): the same two kept, the rest of
 * the permitted set and the ambient set cleared. Then no_new_privs, the
 * paths checked as the user, and the seccomp filter. Returns 0, or -1 after
 * a log line that says what failed ("mt6d WHO: ...").
 */
int privdrop(const char *who, const char *user, const struct privdrop_paths *paths);

/* The seccomp filter alone (privdrop's last step; tests): sets
 * no_new_privs, installs the SIGSYS handler that logs the forbidden call
 * by name and ends the process with status 159 (128 + SIGSYS). The
 * number of system calls allowed, or -errno. */
int privdrop_seccomp(const char *who);

#endif
