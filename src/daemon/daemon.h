/* SPDX-License-Identifier: MIT */
/*
 * The daemon's OS glue, grouped by file: netlink (libmnl) for links,
 * addresses and routes; the TUN device; the state file that lets the next
 * start undo what a crashed one added. Everything returns 0 or -errno and
 * logs nothing: callers say what failed.
 */
#ifndef MT6D_DAEMON_H
#define MT6D_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- netlink.c ---- */

struct nl;
int nl_open(struct nl **out);
void nl_close(struct nl *nl); /* NULL is a no-op */
/* Bring ifindex up and set its MTU (mtu 0 leaves it). */
int nl_link_up(struct nl *nl, unsigned ifindex, unsigned mtu);
/* Add or remove an IPv6 address; added with IFA_F_NODAD (usable at once,
 * as the patent binds its rotating addresses), and with deprecated = true
 * as deprecated (preferred lifetime 0) so the kernel never picks it as the
 * source for other sockets. -EEXIST / -EADDRNOTAVAIL come back as they are. */
int nl_addr(struct nl *nl, bool add, unsigned ifindex, const uint8_t addr[static 16], unsigned plen,
            bool deprecated);
/* A unicast route to dst/plen through ifindex in the main table, or (local
 * = true) a `local` route in the local table, as
 * `ip -6 route add local dst/plen dev ifindex`. */
/* The /64 of a global, usable (not tentative or deprecated) address with
 * prefix length 64 on ifindex: `prefer` (8 bytes, may be NULL) while an
 * address in it is there, else the first one listed. 0, or -ENOENT. */
int nl_prefix64(struct nl *nl, unsigned ifindex, uint8_t out[static 8], const uint8_t *prefer);
int nl_route(struct nl *nl, bool add, bool local, unsigned ifindex, const uint8_t dst[static 16],
             unsigned plen);
/* The routing table and the policy rule's priority of mode = ndp (ndp.h). */
#define NDP_TABLE     27958u
#define NDP_RULE_PRIO 27958u
/* A `local` route in table (mode = ndp), as `ip -6 route add local
 * dst/plen dev ifindex table TABLE`. */
int nl_route_local_table(struct nl *nl, bool add, unsigned ifindex, const uint8_t dst[static 16],
                         unsigned plen, uint32_t table);
/* The addresses of ifindex inside prefix/64 (at most max): their number. */
int nl_addrs_in64(struct nl *nl, unsigned ifindex, const uint8_t prefix[static 8],
                  uint8_t (*out)[16], size_t max);
/* `ip -6 rule add iif IIFNAME to dst/plen lookup TABLE priority PRIO`. */
int nl_rule_iif(struct nl *nl, bool add, const char *iifname, const uint8_t dst[static 16],
                unsigned plen, uint32_t table, uint32_t prio);

/* ---- state.c ---- */

/*
 * The state file lists what the daemon has added outside its own TUN
 * device (which vanishes with the process):
 *   addr IFNAME ADDR/PLEN
 *   route-local IFNAME PREFIX/PLEN
 *   nft-table NAME ::/0            (an nftables table of family ip6)
 *   ndp-rule IFNAME PREFIX/PLEN    (mode = ndp: iif IFNAME to PREFIX lookup NDP_TABLE)
 *   ndp-route IFNAME PREFIX/PLEN   (mode = ndp: local PREFIX dev IFNAME table NDP_TABLE)
 * Recovery accepts only what mt6d writes (state.c, docs/security.md).
 * It is rewritten (write to a temporary file, rename) before anything is
 * added and after anything is removed, so after a crash it names at least
 * everything that is left. When it cannot be written (a full disk, a
 * read-only directory), the list in memory is still complete, so an exit
 * removes everything; err holds the last write's error (0: the file is
 * current).
 */
enum state_kind { STATE_ADDR, STATE_ROUTE_LOCAL, STATE_NFT_TABLE, STATE_NDP_RULE, STATE_NDP_ROUTE };
struct state_item {
	enum state_kind kind;
	char ifname[16];
	uint8_t addr[16];
	unsigned plen;
};
struct state {
	char *path;
	struct state_item *items;
	size_t n, cap;
	int err;     /* the last write: 0 or -errno */
	bool warned; /* the daemon has logged err */
};
int state_init(struct state *st, const char *path);
void state_free(struct state *st);
int state_add(struct state *st, const struct state_item *it);
int state_del(struct state *st, const struct state_item *it);
/* What a daemon may have written: addresses only on uplink (NULL: none);
 * the file and its directory may belong to user (the daemon's `user`,
 * who rewrites the file after the privilege drop; NULL: none). */
struct state_allow {
	const char *uplink;
	const char *user;
};
/* 0 when path's directory is a real directory owned by root, us or
 * allow->user that nobody else may write; else -errno and why in err. */
int state_check_dir(const char *path, const struct state_allow *allow, char *err, size_t errlen);
/* Read a previous run's file: the items mt6d could have written into
 * *items (free()), *refused the lines refused (each logged).
 * 0 (also when there is no file), or -errno when the file is refused
 * whole: a symbolic link (-ELOOP), not ours or writable by others, its
 * directory unsafe (-EPERM), no header (-EINVAL). */
int state_load(const char *path, const struct state_allow *allow, struct state_item **items,
               size_t *n, long *pid, unsigned *refused);
/* Undo every item state_load() accepts, then delete the file. Returns the
 * number of items undone (absent ones count), or state_load()'s error.
 * *pid gets the pid it names (0). */
int state_recover(const char *path, struct nl *nl, long *pid, const struct state_allow *allow);
int state_write(struct state *st);

/* ---- introfile.c ---- */

struct mt6d_intro;
/* Write the live introduction configurations (K included) to path, 0600,
 * through path.tmp and a rename. 0 or -errno. */
int introfile_save(const char *path, const struct mt6d_intro *v, size_t n);
/* Read what introfile_save wrote: the number of windows (at most max) or
 * -errno with err naming the file and the line. */
int introfile_load(const char *path, struct mt6d_intro *v, size_t max, char *err, size_t errlen);
int introfile_parse(const char *text, size_t len, struct mt6d_intro *v, size_t max, char *err,
                    size_t errlen);

/* ---- nft.c ---- */

/* Run `nft -f -` with script on its standard input; 0, or -EIO when nft
 * fails or cannot be run (its messages go to our stderr). */
int nft_run(const char *script);
/* Delete the ip6 table name; 0 when it is gone (or was never there). */
int nft_del_table(const char *name);

#endif
