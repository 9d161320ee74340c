/* SPDX-License-Identifier: MIT */
/*
 * The state file: what this daemon added to the system outside its TUN
 * device, so that a start after a crash can remove it. Text, one item per
 * line, written to PATH.tmp and renamed over PATH, so a reader sees either
 * the old or the new list, never half of one. The first line holds the pid
 * of the daemon that wrote it.
 *
 * Rules this file keeps (recovery runs as root and deletes what the file
 * names, so the file is outside input; docs/security.md):
 *  - the directory must be a real directory (not a symbolic link) owned by
 *    root, by us or by the daemon's `user' (who rewrites the file after the
 *    privilege drop, privdrop.c) and writable by nobody else, or the file
 *    is not read and the daemon does not start;
 *  - the file is opened with O_NOFOLLOW, written with mode 0600 (or less) through a
 *    temporary file made with O_EXCL, and read only when it is a regular
 *    file owned by us or the daemon's user that nobody else may write;
 *  - recovery undoes only what mt6d writes: nftables tables named
 *    mt6dPORT, local /64 routes on lo, /128 addresses on the configured
 *    uplink, mode = ndp's /64 rule for the configured uplink and its /64
 *    route on lo, global or unique-local addresses only; every other line is
 *    refused, logged with its line number, and left alone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "mt6d/mt6d.h"

#define STATE_MAX_LINES 65536

/* The uid of the daemon's user, or our own when there is none. */
static uid_t allowed_uid(const struct state_allow *allow)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (allow && allow->user && allow->user[0] &&
	    getpwnam_r(allow->user, &pw, buf, sizeof(buf), &res) == 0 && res)
		return res->pw_uid;
	return geteuid();
}

int state_check_dir(const char *path, const struct state_allow *allow, char *err, size_t errlen)
{
	char dir[4096], *slash;
	struct stat sb;
	uid_t user = allowed_uid(allow);

	if (strlen(path) >= sizeof(dir)) {
		snprintf(err, errlen, "path too long");
		return -ENAMETOOLONG;
	}
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (lstat(dir, &sb) < 0) {
		snprintf(err, errlen, "directory `%s': %s", dir, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "`%s' is not a directory (a symbolic link?)", dir);
		return -ENOTDIR;
	}
	if (sb.st_uid != 0 && sb.st_uid != geteuid() && sb.st_uid != user) {
		snprintf(err, errlen,
		         "directory `%s' belongs to uid %ld, not root or the daemon's user", dir,
		         (long)sb.st_uid);
		return -EPERM;
	}
	if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "directory `%s' is writable by others (mode %04o)", dir,
		         (unsigned)(sb.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int state_init(struct state *st, const char *path)
{
	memset(st, 0, sizeof(*st));
	st->path = strdup(path);
	return st->path ? 0 : -ENOMEM;
}

void state_free(struct state *st)
{
	free(st->path);
	free(st->items);
	memset(st, 0, sizeof(*st));
}

int state_write(struct state *st)
{
	char tmp[4096], a[INET6_ADDRSTRLEN];
	FILE *f;
	int fd, ret = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", st->path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	/* a fresh file: nothing planted at PATH.tmp is followed or reused */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return st->err = -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return st->err = -errno;
	/* 0600, or stricter by the umask; no fchmod: the seccomp filter after
	 * the privilege drop has none (privdrop.c) */
	if (!(f = fdopen(fd, "w"))) {
		ret = -errno;
		close(fd);
		unlink(tmp);
		return st->err = ret;
	}
	errno = 0;
	fprintf(f, "mt6d-state 1 pid %ld\n", (long)getpid());
	for (size_t i = 0; i < st->n; i++) {
		const struct state_item *it = &st->items[i];

		inet_ntop(AF_INET6, it->addr, a, sizeof(a));
		fprintf(f, "%s %s %s/%u\n",
		        it->kind == STATE_ADDR        ? "addr"
		        : it->kind == STATE_NFT_TABLE ? "nft-table"
		        : it->kind == STATE_NDP_RULE  ? "ndp-rule"
		        : it->kind == STATE_NDP_ROUTE ? "ndp-route"
		                                      : "route-local",
		        it->ifname, a, it->plen);
	}
	/* A full disk shows here (ENOSPC), not at fopen. */
	if (fflush(f) != 0 || ferror(f))
		ret = errno ? -errno : -EIO;
	if (fclose(f) != 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, st->path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return st->err = ret;
}

static bool same(const struct state_item *x, const struct state_item *y)
{
	return x->kind == y->kind && x->plen == y->plen && !strcmp(x->ifname, y->ifname) &&
	       !memcmp(x->addr, y->addr, 16);
}

int state_add(struct state *st, const struct state_item *it)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 8;
		struct state_item *p = realloc(st->items, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		st->items = p;
		st->cap = cap;
	}
	st->items[st->n++] = *it;
	return state_write(st);
}

int state_del(struct state *st, const struct state_item *it)
{
	for (size_t i = 0; i < st->n; i++) {
		if (!same(&st->items[i], it))
			continue;
		st->items[i] = st->items[--st->n];
		return state_write(st);
	}
	return -ENOENT;
}

/* The name of a table mt6d makes: mt6d and a port, 1 to 65535. */
static bool own_table(const char *name)
{
	unsigned long port;
	char *end;

	if (strncmp(name, "mt6d", 4) || name[4] < '1' || name[4] > '9' || strlen(name) > 9)
		return false;
	errno = 0;
	port = strtoul(name + 4, &end, 10);
	return !errno && !*end && port <= 65535;
}

/* Global unicast (2000::/3) or unique local (fc00::/7): what mt6d adds. */
static bool own_scope(const uint8_t *a)
{
	return (a[0] & 0xe0) == 0x20 || (a[0] & 0xfe) == 0xfc;
}

/* One line into it, or the reason it is refused. */
static const char *parse_line(char *line, const struct state_allow *allow, struct state_item *it)
{
	char kind[32], ifname[32], a[64], extra[2];
	unsigned plen;

	memset(it, 0, sizeof(*it));
	if (sscanf(line, "%31s %31s %63s %1s", kind, ifname, a, extra) != 3)
		return "not KIND NAME ADDRESS/LENGTH";
	if (!strchr(a, '/') || mt6d_prefix_parse(it->addr, &plen, a, 0) < 0)
		return "not an IPv6 ADDRESS/LENGTH";
	if (strlen(ifname) >= sizeof(it->ifname))
		return "name too long";
	strcpy(it->ifname, ifname);
	it->plen = plen;
	if (!strcmp(kind, "nft-table")) {
		static const uint8_t zero[16];
		it->kind = STATE_NFT_TABLE;
		if (!own_table(ifname))
			return "not a table mt6d makes (mt6dPORT)";
		if (plen != 0 || memcmp(it->addr, zero, 16))
			return "a table line ends in ::/0";
		return NULL;
	}
	if (!strcmp(kind, "route-local")) {
		static const uint8_t zero[8];
		it->kind = STATE_ROUTE_LOCAL;
		if (strcmp(ifname, "lo"))
			return "mt6d adds local routes on lo only";
		if (plen != 64 || memcmp(it->addr + 8, zero, 8))
			return "not a /64 prefix";
		if (!own_scope(it->addr))
			return "not a global or unique-local prefix";
		return NULL;
	}
	if (!strcmp(kind, "ndp-rule") || !strcmp(kind, "ndp-route")) {
		static const uint8_t zero[8];
		bool rule = !strcmp(kind, "ndp-rule");
		it->kind = rule ? STATE_NDP_RULE : STATE_NDP_ROUTE;
		if (rule && (!allow || !allow->uplink || !allow->uplink[0] ||
		             strcmp(ifname, allow->uplink)))
			return "not a rule for this daemon's uplink";
		if (!rule && strcmp(ifname, "lo"))
			return "mt6d adds its ndp routes on lo only";
		if (plen != 64 || memcmp(it->addr + 8, zero, 8))
			return "not a /64 prefix";
		if (!own_scope(it->addr))
			return "not a global or unique-local prefix";
		return NULL;
	}
	if (!strcmp(kind, "addr")) {
		it->kind = STATE_ADDR;
		if (!allow || !allow->uplink || !allow->uplink[0] || strcmp(ifname, allow->uplink))
			return "not on this daemon's uplink";
		if (plen != 128)
			return "not a /128 address";
		if (!own_scope(it->addr))
			return "not a global or unique-local address";
		return NULL;
	}
	return "unknown kind";
}

int state_load(const char *path, const struct state_allow *allow, struct state_item **items,
               size_t *n, long *pid, unsigned *refused)
{
	char line[256], err[256];
	struct state_item *v = NULL;
	size_t cap = 0, lineno = 1;
	struct stat sb;
	FILE *f;
	int fd, ret;

	*items = NULL;
	*n = 0;
	*pid = 0;
	*refused = 0;
	ret = state_check_dir(path, allow, err, sizeof(err));
	if (ret < 0) {
		log_warn("state file `%s' not read: %s", path, err);
		return ret;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			return 0;
		if (ret == -ELOOP)
			log_warn("state file `%s' is a symbolic link: not followed", path);
		return ret;
	}
	if (fstat(fd, &sb) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (!S_ISREG(sb.st_mode) || (sb.st_uid != geteuid() && sb.st_uid != allowed_uid(allow)) ||
	    (sb.st_mode & (S_IWGRP | S_IWOTH))) {
		log_warn("state file `%s' not read: not a regular file of ours (or the daemon's "
		         "user's) that nobody else may write (uid %ld, mode %04o)",
		         path, (long)sb.st_uid, (unsigned)(sb.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	f = fdopen(fd, "r");
	if (!f) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (!fgets(line, sizeof(line), f) || sscanf(line, "mt6d-state 1 pid %ld", pid) != 1) {
		log_warn("state file `%s' line 1: not `mt6d-state 1 pid N'", path);
		fclose(f);
		return -EINVAL;
	}
	while (fgets(line, sizeof(line), f)) {
		struct state_item it;
		const char *why;
		size_t len = strlen(line);

		lineno++;
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(f)) {
			int c;
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			why = "line too long";
			goto refuse;
		}
		if (lineno > STATE_MAX_LINES) {
			why = "too many lines";
			goto refuse;
		}
		why = parse_line(line, allow, &it);
		if (why)
			goto refuse;
		if (*n == cap) {
			size_t nc = cap ? 2 * cap : 16;
			struct state_item *nv = realloc(v, nc * sizeof(*nv));
			if (!nv) {
				free(v);
				fclose(f);
				return -ENOMEM;
			}
			v = nv;
			cap = nc;
		}
		v[(*n)++] = it;
		continue;
	refuse:
		(*refused)++;
		/* the line as read, cut at a printable length; nothing in a
		 * state file is secret */
		for (char *c = line; *c; c++)
			if (*c < 0x20 || *c > 0x7e)
				*c = '?';
		log_warn("state file `%s' line %zu refused (%s): `%.80s'", path, lineno, why, line);
	}
	fclose(f);
	*items = v;
	return 0;
}

int state_recover(const char *path, struct nl *nl, long *pid, const struct state_allow *allow)
{
	struct state_item *items;
	size_t n;
	unsigned refused;
	int done = 0, ret;

	ret = state_load(path, allow, &items, &n, pid, &refused);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < n; i++) {
		const struct state_item *it = &items[i];
		unsigned ifindex;

		if (it->kind == STATE_NFT_TABLE) {
			nft_del_table(it->ifname);
			done++;
			continue;
		}
		if (it->kind == STATE_NDP_RULE) { /* by name: it outlives its interface */
			nl_rule_iif(nl, false, it->ifname, it->addr, it->plen, NDP_TABLE,
			            NDP_RULE_PRIO);
			done++;
			continue;
		}
		ifindex = if_nametoindex(it->ifname);
		if (!ifindex) {
			done++; /* the interface is gone, and its addresses with it */
			continue;
		}
		if (it->kind == STATE_ADDR)
			nl_addr(nl, false, ifindex, it->addr, it->plen, false);
		else if (it->kind == STATE_NDP_ROUTE)
			nl_route_local_table(nl, false, ifindex, it->addr, it->plen, NDP_TABLE);
		else
			nl_route(nl, false, true, ifindex, it->addr, it->plen);
		done++;
	}
	free(items);
	if (refused)
		log_warn("state file `%s': %u line(s) refused, left alone", path, refused);
	unlink(path);
	return done;
}
