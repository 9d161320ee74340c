/* SPDX-License-Identifier: MIT */
/*
 * The daemons' state file (src/daemon/state.c, issue 16): it is written
 * 0600 without following a link planted at its path or at PATH.tmp; a
 * symbolic link, a file others may write or that neither we nor the
 * daemon's user own, or an unsafe directory is not read; and recovery accepts only the lines mt6d
 * writes (its own nft tables, local /64 routes on lo, /128 addresses on its uplink, mode = ndp's
 * /64 rule for its uplink and /64 route on lo): a tampered
 * `nft-table filter` is refused. Only state_load() is run: state_recover() would act on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "daemon.h"

struct dir {
	char root[64], path[128], tmp[160], other[128];
};

static void dir_make(struct dir *d)
{
	strcpy(d->root, "/tmp/mt6d-state-test-XXXXXX");
	assert_non_null(mkdtemp(d->root));
	snprintf(d->path, sizeof(d->path), "%s/server-mt6d0.state", d->root);
	snprintf(d->tmp, sizeof(d->tmp), "%s.tmp", d->path);
	snprintf(d->other, sizeof(d->other), "%s/precious", d->root);
}

static void dir_free(struct dir *d)
{
	unlink(d->path);
	unlink(d->tmp);
	unlink(d->other);
	chmod(d->root, 0700);
	assert_int_equal(rmdir(d->root), 0);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;
	assert_non_null(f);
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static const char *load_user; /* the daemon's `user' for load() */

static int load(const char *path, const char *uplink, size_t *n, unsigned *refused,
                struct state_item **items)
{
	struct state_allow allow = {.uplink = uplink, .user = load_user};
	long pid;
	return state_load(path, &allow, items, n, &pid, refused);
}

static void test_write_mode_and_roundtrip(void **state)
{
	struct dir d;
	struct state st;
	struct state_item it = {.kind = STATE_NFT_TABLE, .ifname = "mt6d4000"}, *items;
	struct stat sb;
	size_t n;
	unsigned refused;
	(void)state;
	dir_make(&d);
	umask(0);
	assert_int_equal(state_init(&st, d.path), 0);
	assert_int_equal(state_add(&st, &it), 0);
	it = (struct state_item){.kind = STATE_ROUTE_LOCAL, .ifname = "lo", .plen = 64};
	inet_pton(AF_INET6, "2001:db8:5::", it.addr);
	assert_int_equal(state_add(&st, &it), 0);
	it = (struct state_item){.kind = STATE_ADDR, .ifname = "veth0", .plen = 128};
	inet_pton(AF_INET6, "2001:db8:6::1234", it.addr);
	assert_int_equal(state_add(&st, &it), 0);
	umask(022);
	assert_int_equal(lstat(d.path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0600); /* even with umask 0 */
	/* everything mt6d writes, it reads back */
	assert_int_equal(load(d.path, "veth0", &n, &refused, &items), 0);
	assert_int_equal(n, 3);
	assert_int_equal(refused, 0);
	assert_int_equal(items[0].kind, STATE_NFT_TABLE);
	assert_string_equal(items[0].ifname, "mt6d4000");
	assert_int_equal(items[2].kind, STATE_ADDR);
	assert_memory_equal(items[2].addr, it.addr, 16);
	free(items);
	state_free(&st);
	dir_free(&d);
}

static void test_symlink_not_followed(void **state)
{
	struct dir d;
	struct state st;
	struct state_item it = {.kind = STATE_NFT_TABLE, .ifname = "mt6d4000"}, *items;
	struct stat sb;
	char buf[256];
	size_t n;
	unsigned refused;
	(void)state;
	dir_make(&d);
	write_file(d.other, "precious\n", 0644);
	/* a link at PATH.tmp: the write replaces the link, not its target */
	assert_int_equal(symlink(d.other, d.tmp), 0);
	assert_int_equal(state_init(&st, d.path), 0);
	assert_int_equal(state_add(&st, &it), 0);
	read_file(d.other, buf, sizeof(buf));
	assert_string_equal(buf, "precious\n");
	assert_int_equal(stat(d.other, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0644);
	/* a link at PATH: recovery does not read through it */
	unlink(d.path);
	write_file(d.other, "mt6d-state 1 pid 1\nnft-table mt6d4000 ::/0\n", 0600);
	assert_int_equal(symlink(d.other, d.path), 0);
	assert_int_equal(load(d.path, NULL, &n, &refused, &items), -ELOOP);
	assert_int_equal(n, 0);
	/* and a write replaces the link itself */
	assert_int_equal(state_write(&st), 0);
	assert_int_equal(lstat(d.path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	read_file(d.other, buf, sizeof(buf));
	assert_string_equal(buf, "mt6d-state 1 pid 1\nnft-table mt6d4000 ::/0\n");
	state_free(&st);
	dir_free(&d);
}

static void test_tampered_lines_refused(void **state)
{
	struct dir d;
	struct state_item *items;
	size_t n;
	unsigned refused;
	(void)state;
	dir_make(&d);
	write_file(d.path,
	           "mt6d-state 1 pid 4242\n"
	           "nft-table filter ::/0\n"         /* the host's own table */
	           "nft-table mt6d4000;flush ::/0\n" /* anything after the name */
	           "nft-table mt6d99999 ::/0\n"      /* no such port */
	           "nft-table mt6d0 ::/0\n"          /* no such port */
	           "nft-table mt6d4000 2001:db8::/64\n"
	           "route-local eth0 2001:db8:1::/64\n" /* only lo */
	           "route-local lo fe80::/64\n"         /* link-local */
	           "route-local lo 2001:db8:1::/48\n"   /* not a /64 */
	           "route-local lo 2001:db8:1::1/64\n"  /* not a prefix */
	           "addr eth0 2001:db8::5/128\n"        /* not the uplink */
	           "addr veth0 2001:db8::/64\n"         /* not a /128 */
	           "addr veth0 ::1/128\n"               /* loopback */
	           "addr veth0 2001:db8::5/128 extra\n" /* a fourth field */
	           "user root 2001:db8::5/128\n"        /* unknown kind */
	           "garbage\n"
	           "nft-table mt6d4000 ::/0\n" /* what mt6d writes */
	           "route-local lo 2001:db8:1::/64\n"
	           "addr veth0 2001:db8::5/128\n",
	           0600);
	assert_int_equal(load(d.path, "veth0", &n, &refused, &items), 0);
	assert_int_equal(refused, 15);
	assert_int_equal(n, 3);
	assert_int_equal(items[0].kind, STATE_NFT_TABLE);
	assert_string_equal(items[0].ifname, "mt6d4000");
	assert_int_equal(items[1].kind, STATE_ROUTE_LOCAL);
	assert_string_equal(items[1].ifname, "lo");
	assert_int_equal(items[2].kind, STATE_ADDR);
	assert_string_equal(items[2].ifname, "veth0");
	for (size_t i = 0; i < n; i++)
		assert_string_not_equal(items[i].ifname, "filter");
	free(items);
	/* a daemon with no uplink (the server) accepts no address at all */
	assert_int_equal(load(d.path, NULL, &n, &refused, &items), 0);
	assert_int_equal(n, 2);
	assert_int_equal(refused, 16);
	free(items);
	dir_free(&d);
}

/* mode = ndp's two kinds (ndp.c): what ndp_routing() writes reads back; a
 * rule for another interface, a route off lo, not a /64 prefix, or a
 * link-local one is refused, and without an uplink no rule is accepted. */
static void test_ndp_lines(void **state)
{
	struct dir d;
	struct state st;
	struct state_item it = {.kind = STATE_NDP_ROUTE, .ifname = "lo", .plen = 64}, *items;
	size_t n;
	unsigned refused;
	(void)state;
	dir_make(&d);
	inet_pton(AF_INET6, "2001:db8:5::", it.addr);
	assert_int_equal(state_init(&st, d.path), 0);
	assert_int_equal(state_add(&st, &it), 0);
	it = (struct state_item){.kind = STATE_NDP_RULE, .ifname = "up0", .plen = 64};
	inet_pton(AF_INET6, "2001:db8:5::", it.addr);
	assert_int_equal(state_add(&st, &it), 0);
	assert_int_equal(load(d.path, "up0", &n, &refused, &items), 0);
	assert_int_equal(n, 2);
	assert_int_equal(refused, 0);
	assert_int_equal(items[0].kind, STATE_NDP_ROUTE);
	assert_string_equal(items[0].ifname, "lo");
	assert_int_equal(items[0].plen, 64);
	assert_int_equal(items[1].kind, STATE_NDP_RULE);
	assert_string_equal(items[1].ifname, "up0");
	assert_memory_equal(items[1].addr, it.addr, 16);
	free(items);
	/* the server in routed mode has no uplink: its rule is not accepted */
	assert_int_equal(load(d.path, NULL, &n, &refused, &items), 0);
	assert_int_equal(n, 1);
	assert_int_equal(refused, 1);
	assert_int_equal(items[0].kind, STATE_NDP_ROUTE);
	free(items);
	state_free(&st);
	write_file(d.path,
	           "mt6d-state 1 pid 4242\n"
	           "ndp-rule eth0 2001:db8:5::/64\n"  /* not the uplink */
	           "ndp-rule up0 2001:db8:5::/48\n"   /* not a /64 */
	           "ndp-rule up0 2001:db8:5::1/64\n"  /* not a prefix */
	           "ndp-rule up0 fe80::/64\n"         /* link-local */
	           "ndp-rule up0 ::/64\n"             /* not global */
	           "ndp-route eth0 2001:db8:5::/64\n" /* only lo */
	           "ndp-route up0 2001:db8:5::/64\n"  /* only lo */
	           "ndp-route lo 2001:db8:5::/0\n"    /* not a /64 */
	           "ndp-route lo 2001:db8:5::9/64\n"  /* not a prefix */
	           "ndp-route lo ff02::/64\n"         /* multicast */
	           "ndp-route lo 2001:db8:5::/64 x\n" /* a fourth field */
	           "ndp-rules up0 2001:db8:5::/64\n"  /* unknown kind */
	           "ndp-rule up0 2001:db8:5::/64\n"   /* what mt6d writes */
	           "ndp-route lo 2001:db8:5::/64\n",
	           0600);
	assert_int_equal(load(d.path, "up0", &n, &refused, &items), 0);
	assert_int_equal(refused, 12);
	assert_int_equal(n, 2);
	assert_int_equal(items[0].kind, STATE_NDP_RULE);
	assert_string_equal(items[0].ifname, "up0");
	assert_int_equal(items[1].kind, STATE_NDP_ROUTE);
	assert_string_equal(items[1].ifname, "lo");
	free(items);
	dir_free(&d);
}

static void test_unsafe_file_or_dir(void **state)
{
	struct dir d;
	struct state_item *items;
	size_t n;
	unsigned refused;
	char link[160];
	(void)state;
	dir_make(&d);
	/* writable by others */
	write_file(d.path, "mt6d-state 1 pid 1\nnft-table mt6d4000 ::/0\n", 0666);
	assert_int_equal(load(d.path, NULL, &n, &refused, &items), -EPERM);
	write_file(d.path, "mt6d-state 1 pid 1\nnft-table mt6d4000 ::/0\n", 0600);
	assert_int_equal(load(d.path, NULL, &n, &refused, &items), 0);
	free(items);
	/* not ours, nor the daemon's user's; the daemon's user may own the
	 * file and the directory (it rewrites the file after the drop) */
	if (geteuid() == 0 && getpwnam("nobody")) {
		uid_t nobody = getpwnam("nobody")->pw_uid;
		assert_int_equal(chown(d.path, nobody, 0), 0);
		assert_int_equal(load(d.path, NULL, &n, &refused, &items), -EPERM);
		load_user = "nobody";
		assert_int_equal(load(d.path, NULL, &n, &refused, &items), 0);
		free(items);
		assert_int_equal(chown(d.root, nobody, 0), 0);
		assert_int_equal(load(d.path, NULL, &n, &refused, &items), 0);
		free(items);
		load_user = NULL;
		assert_int_equal(load(d.path, NULL, &n, &refused, &items), -EPERM);
		assert_int_equal(chown(d.root, 0, 0), 0);
		assert_int_equal(chown(d.path, 0, 0), 0);
	}
	/* no header */
	write_file(d.path, "nft-table mt6d4000 ::/0\n", 0600);
	assert_int_equal(load(d.path, NULL, &n, &refused, &items), -EINVAL);
	/* a directory others may write: neither read nor written */
	write_file(d.path, "mt6d-state 1 pid 1\nnft-table mt6d4000 ::/0\n", 0600);
	assert_int_equal(chmod(d.root, 01777), 0);
	assert_int_equal(load(d.path, NULL, &n, &refused, &items), -EPERM);
	assert_int_equal(chmod(d.root, 0700), 0);
	/* a directory that is a symbolic link */
	snprintf(link, sizeof(link), "%s-link", d.root);
	assert_int_equal(symlink(d.root, link), 0);
	{
		char p[200];
		snprintf(p, sizeof(p), "%s/x.state", link);
		assert_int_equal(load(p, NULL, &n, &refused, &items), -ENOTDIR);
	}
	unlink(link);
	/* no file: nothing to recover */
	unlink(d.path);
	assert_int_equal(load(d.path, NULL, &n, &refused, &items), 0);
	assert_int_equal(n, 0);
	dir_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_write_mode_and_roundtrip),
	        cmocka_unit_test(test_symlink_not_followed),
	        cmocka_unit_test(test_tampered_lines_refused),
	        cmocka_unit_test(test_ndp_lines),
	        cmocka_unit_test(test_unsafe_file_or_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
