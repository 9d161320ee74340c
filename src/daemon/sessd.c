/* SPDX-License-Identifier: MIT */
/* Helpers shared by the session daemons (sessd.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sessd.h"

const char *sessd_addr(char *buf, size_t len, const uint8_t a[static 16])
{
	if (!inet_ntop(AF_INET6, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

const char *sessd_json(char *buf, size_t len, const char *s)
{
	size_t o = 0;

	if (!len)
		return buf;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[7];
		size_t n;

		if (c == '"' || c == '\\')
			n = (size_t)snprintf(e, sizeof(e), "\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			n = (size_t)snprintf(e, sizeof(e), "\\u%04x", c);
		else
			e[0] = (char)c, n = 1;
		if (o + n >= len)
			break;
		memcpy(buf + o, e, n);
		o += n;
	}
	buf[o] = '\0';
	return buf;
}

int sessd_private_key(uint8_t key[static MT6D_KEY_LEN], const char *path)
{
	int ret = mt6d_key_load_private(key, path);

	if (ret == -EPERM)
		log_error("private_key: private key file `%s' is accessible by group or others; "
		          "chmod 600 it",
		          path);
	else if (ret == -EINVAL)
		log_error("private_key: `%s' does not hold one base64 key of 32 bytes", path);
	else if (ret < 0)
		log_error("private_key: `%s': %s", path, strerror(-ret));
	return ret;
}

const char *sessd_bytes(char *buf, size_t len, uint64_t b)
{
	static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", b);
	else
		snprintf(buf, len, "%.2f %s", v, unit[u]);
	return buf;
}

const char *sessd_ago(char *buf, size_t len, uint64_t now_ms, uint64_t then_ms)
{
	if (!then_ms)
		snprintf(buf, len, "never");
	else if (then_ms > now_ms)
		snprintf(buf, len, "just now");
	else
		snprintf(buf, len, "%.1f s ago", (double)(now_ms - then_ms) / 1000.0);
	return buf;
}

/* Is the pid in the file a running mt6d (not us)? */
static bool owner_alive(const char *path)
{
	char comm[64], p[64];
	long pid = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	if (fscanf(f, "mt6d-state 1 pid %ld", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 0 || pid == (long)getpid())
		return false;
	snprintf(p, sizeof(p), "/proc/%ld/comm", pid);
	f = fopen(p, "re");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return strncmp(comm, "mt6d", 4) == 0;
}

/* Why a state file cannot be written, and what to do about it. */
static void state_error(const char *path, const char *who, int err)
{
	log_error("cannot write the state file `%s': %s. It records what this daemon adds to "
	          "the system (addresses, routes, nftables), so that a start after a crash "
	          "removes it: %s, or set state_file to another place",
	          path, strerror(-err),
	          err == -ENOSPC || err == -EDQUOT ? "free some space there"
	          : err == -EROFS                  ? "remount it read-write"
	                                           : "give its directory write access");
}

int sessd_state_open(struct state *st, struct nl *nl, const char *path,
                     const struct state_allow *allow, const char *who)
{
	long oldpid;
	int ret;

	/* /run/mt6d is made by systemd (RuntimeDirectory) or here, 0700. */
	{
		char dir[4096], *slash;

		if (strlen(path) < sizeof(dir)) {
			strcpy(dir, path);
			slash = strrchr(dir, '/');
			if (slash && slash != dir) {
				*slash = '\0';
				if (mkdir(dir, 0700) < 0 && errno != EEXIST)
					log_warn("cannot make `%s': %s", dir, strerror(errno));
			}
		}
	}
	if (owner_alive(path)) {
		log_error("state file `%s' belongs to a running mt6d", path);
		return -EBUSY;
	}
	ret = state_recover(path, nl, &oldpid, allow);
	if (ret < 0) {
		log_error("state file `%s': %s", path, strerror(-ret));
		return ret;
	}
	if (ret > 0)
		log_info("removed %d item(s) left by pid %ld (state file %s)", ret, oldpid, path);
	ret = state_init(st, path);
	if (ret == 0)
		ret = state_write(st);
	if (ret < 0)
		state_error(path, who, ret);
	return ret;
}

void sessd_state_note(struct state *st, const char *who)
{
	if (st->err && !st->warned) {
		log_warn("state file `%s': %s; what is added from now on is still removed at "
		         "exit, but not after a crash",
		         st->path, strerror(-st->err));
		st->warned = true;
	} else if (!st->err && st->warned) {
		log_info("state file `%s' is current again", st->path);
		st->warned = false;
	}
}

void sessd_state_close(struct state *st, const char *who)
{
	if (!st->path)
		return;
	/* A read-only file system refuses even to unlink what is not there. */
	if (st->n == 0 && unlink(st->path) < 0 && errno != ENOENT && access(st->path, F_OK) == 0)
		log_warn("cannot remove the state file `%s': %s (what it lists is removed "
		         "already; the next start finds it gone)",
		         st->path, strerror(errno));
	state_free(st);
}

void sessd_intro_path(char *out, size_t len, const char *state_file)
{
	size_t n = strlen(state_file);
	const char *dot =
	        n > 6 && !strcmp(state_file + n - 6, ".state") ? state_file + n - 6 : NULL;

	if ((size_t)snprintf(out, len, "%.*s.intro", (int)(dot ? (size_t)(dot - state_file) : n),
	                     state_file) >= len)
		out[0] = '\0'; /* too long: nothing is stored */
}
