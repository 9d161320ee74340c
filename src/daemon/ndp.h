/* SPDX-License-Identifier: MIT */
/*
 * mode = ndp (docs/design.md, "An on-link /64"): the daemon answers IPv6
 * Neighbor Solicitations for exactly its live outer addresses, from user
 * space, and receives as routed mode does. Grouped by file:
 *  - ndp_msg.c: the NS parser and the NA builder, pure (bytes in, bytes
 *    out), for the responder, the unit tests and fuzz/fuzz_ndp.c;
 *  - addrset.c: the set of live addresses (a reference count each, since a
 *    slot may be reported twice), looked up once per solicitation;
 *  - ndp.c: the responder (an AF_PACKET socket on the uplink with a BPF
 *    filter that passes only solicitations) and the receive routing (a
 *    policy rule for the /64 arriving on the uplink, a `local` route in
 *    its own table), both in the state file.
 */
#ifndef MT6D_NDP_H
#define MT6D_NDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <ev.h>

#include "daemon.h"

/* ---- ndp_msg.c ---- */

#define NDP_ETH_LEN  14
#define NDP_IP6_LEN  40
#define NDP_NS_LEN   24                               /* type, code, checksum, reserved, target */
#define NDP_NA_FRAME (NDP_ETH_LEN + NDP_IP6_LEN + 32) /* NA with a target link-layer option */
#define NDP_NS_FRAME (NDP_ETH_LEN + NDP_IP6_LEN + NDP_NS_LEN + 8) /* with a source option */

/* Why a frame is not a valid solicitation (RFC 4861 section 7.1.1). */
enum ndp_drop {
	NDP_OK = 0,
	NDP_SHORT,     /* shorter than its headers say, or than an NS */
	NDP_NOT_NS,    /* not IPv6, not ICMPv6 right after the header, not type 135 */
	NDP_HOP_LIMIT, /* hop limit not 255: it crossed a router */
	NDP_CODE,      /* ICMP code not 0 */
	NDP_CHECKSUM,  /* ICMPv6 checksum wrong */
	NDP_TARGET,    /* target multicast */
	NDP_OPTION,    /* an option of length 0 or past the end */
	NDP_DAD, /* unspecified source, but not to a solicited-node group or with a source option */
	NDP_DROP_KINDS,
};
const char *ndp_drop_name(enum ndp_drop why);

struct ndp_ns {
	uint8_t eth_src[6];
	uint8_t src[16], dst[16], target[16];
	uint8_t slla[6]; /* source link-layer address option, when has_slla */
	bool has_slla;
};

/* Parse an Ethernet frame holding a Neighbor Solicitation. NDP_OK and *ns
 * filled, or why it was dropped. Reads only frame[0..len). */
enum ndp_drop ndp_ns_parse(const uint8_t *frame, size_t len, struct ndp_ns *ns);

/* The solicited advertisement answering ns for its target, from mac:
 * to the solicitation's source with S and O set, or, for an unspecified
 * source (duplicate address detection), to all nodes with O alone (RFC
 * 4861 section 7.2.4); link-layer destination the source option, else the
 * frame's source. Returns NDP_NA_FRAME. */
size_t ndp_na_build(uint8_t out[static NDP_NA_FRAME], const struct ndp_ns *ns,
                    const uint8_t mac[static 6]);

/* A solicitation for target from (src, mac) to target's solicited-node
 * group, with a source link-layer option (tests, the bench's prober).
 * Returns NDP_NS_FRAME. */
size_t ndp_ns_build(uint8_t out[static NDP_NS_FRAME], const uint8_t src[static 16],
                    const uint8_t mac[static 6], const uint8_t target[static 16]);

/* The ICMPv6 checksum of p[0..len) (checksum field included as it is)
 * under the pseudo-header of src, dst; 0 when a received one is right. */
uint16_t ndp_icmp6_sum(const uint8_t src[static 16], const uint8_t dst[static 16], const uint8_t *p,
                       size_t len);

/* ---- addrset.c ---- */

struct addrset;
struct addrset *addrset_new(void);
void addrset_free(struct addrset *s); /* NULL is a no-op */
/* Add one reference to addr. 0 or -ENOMEM. */
int addrset_add(struct addrset *s, const uint8_t addr[static 16]);
/* Drop one reference; the address leaves with its last one. 0 or -ENOENT. */
int addrset_del(struct addrset *s, const uint8_t addr[static 16]);
bool addrset_has(const struct addrset *s, const uint8_t addr[static 16]);
size_t addrset_count(const struct addrset *s);

/* ---- ndp.c ---- */

struct ndp_stats {
	uint64_t ns_rx;    /* valid solicitations seen */
	uint64_t na_tx;    /* advertisements sent */
	uint64_t not_ours; /* valid, for an address we do not hold: no answer */
	uint64_t dropped[NDP_DROP_KINDS];
	uint64_t rx_lost; /* frames the kernel dropped, the socket being full */
	uint64_t tx_errors;
};

struct ndp;
/* Answer for prefix/64 on uplink: opens the socket (before a privilege
 * drop), reads the interface's MAC, watches the socket on loop. NULL and
 * errno, with a message in err. */
struct ndp *ndp_open(struct ev_loop *loop, const char *uplink, const uint8_t prefix[static 8],
                     char *err, size_t errlen);
void ndp_close(struct ndp *n); /* NULL is a no-op */
/* A slot's address comes (add) or goes; addresses outside the /64 are
 * ignored (an underlay endpoint). */
void ndp_slot(struct ndp *n, const uint8_t addr[static 16], bool add);
size_t ndp_count(const struct ndp *n);
void ndp_get_stats(struct ndp *n, struct ndp_stats *st);
/* "ndp":{...}, for a status document (nothing for NULL). */
void ndp_status_json(struct ndp *n, FILE *out);
/* Read and answer what is waiting (the loop's callback; exposed for tests). */
void ndp_input(struct ndp *n);

/* Receive routing: `ip -6 rule add iif UPLINK to PREFIX/64 lookup NDP_TABLE
 * priority NDP_RULE_PRIO` and `ip -6 route add local PREFIX/64 dev lo
 * table NDP_TABLE`, written to the state file first (add) or removed from
 * it after (del). Only what arrives on the uplink is local, so the host's
 * own traffic to its neighbours in the /64 still leaves. 0 or -errno
 * (an add that fails is logged, naming the uplink). */
int ndp_routing(struct nl *nl, struct state *st, bool add, const char *uplink,
                const uint8_t prefix[static 8]);

/* The server's TPROXY script in mode = ndp (datapath.h's, narrowed): only
 * UDP that arrives on the uplink, and not to the host's own addresses in
 * the /64 (a static ::2 and the DHT socket on it, listed by the caller). */
#define NDP_EXEMPT_MAX 16
void ndp_tproxy_rules(char *out, size_t cap, const char *table, const uint8_t prefix[static 8],
                      uint16_t port, const char *uplink, const uint8_t (*exempt)[16],
                      size_t nexempt);

#endif
