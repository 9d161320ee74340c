/* SPDX-License-Identifier: MIT */
/*
 * The MT6D data plane: every wire layout and constant of the tunnel, the
 * encapsulation (seal/open of one datagram, per-direction keys, replay
 * window) and the per-session state with its O(1) table keyed on the local
 * outer (address, port) of each active slot.
 *
 * Outer UDP payload (docs/protocol-dataplane.md):
 *
 *   nonce(24, random) || XChaCha20-Poly1305(k_dir, nonce, ad = "",
 *                                           counter(8, BE) || inner packet)
 *
 * so the datagram is the inner packet plus MT6D_ENCAP_OVERHEAD bytes and
 * carries no cleartext byte that is the same in two datagrams: no session
 * id, no counter, no version in clear. The session is found from the
 * outer destination address and port alone, which rotate every slot.
 *
 *   k_dir = BLAKE2b-256(key = K_S, message = "mt6d data v1" || dir)
 *   dir   = 'C' for client-to-server, 'S' for server-to-client
 *
 * Everything here is pure: no globals, no I/O. Functions return 0 (or a
 * length) or a negative errno.
 */
#ifndef MT6D_TUNNEL_H
#define MT6D_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mt6d/mt6d.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- wire layout and sizes ---- */

#define MT6D_ENCAP_NONCE_LEN   24 /* XChaCha20-Poly1305 nonce, random per datagram */
#define MT6D_ENCAP_COUNTER_LEN 8  /* big-endian, first plaintext bytes */
#define MT6D_ENCAP_TAG_LEN     16 /* Poly1305 tag */
#define MT6D_ENCAP_KEY_LEN     32
#define MT6D_ENCAP_OVERHEAD    (MT6D_ENCAP_NONCE_LEN + MT6D_ENCAP_COUNTER_LEN + MT6D_ENCAP_TAG_LEN)
#define MT6D_ENCAP_LABEL       "mt6d data v1" /* 12 bytes, no NUL hashed */
#define MT6D_ENCAP_LABEL_LEN   12
#define MT6D_ENCAP_DIR_C2S     'C'
#define MT6D_ENCAP_DIR_S2C     'S'

#define MT6D_OUTER_MTU     1500     /* every outer packet fits an Ethernet MTU */
#define MT6D_OUTER_HDR_LEN (40 + 8) /* IPv6 + UDP, no extension headers */
/* 1500 - 48 - 48 = 1404: the TUN MTU that keeps outer packets <= 1500 */
#define MT6D_TUN_MTU      (MT6D_OUTER_MTU - MT6D_OUTER_HDR_LEN - MT6D_ENCAP_OVERHEAD)
#define MT6D_INNER_MAX    65535 /* largest inner packet open() accepts */
#define MT6D_IPV6_MIN_MTU 1280

/* Replay window, in packets. A power of two and a multiple of 64. */
#define MT6D_REPLAY_WINDOW 4096
#define MT6D_REPLAY_WORDS  (MT6D_REPLAY_WINDOW / 64)
/* A counter this far above the top is a jump (a clocked session's rotation,
 * a restarted sender): the window below it is kept, as the previous one, in
 * MT6D_REPLAY_PREV_WORDS words, so datagrams reordered across the jump
 * still count. */
#define MT6D_REPLAY_JUMP       (UINT64_C(1) << 20)
#define MT6D_REPLAY_PREV_WORDS 16

/* Slots a receiver accepts around its current slot i: i-1, i, i+1. */
#define MT6D_TUN_SLOTS 3

enum mt6d_role {
	MT6D_ROLE_CLIENT = 0, /* sends with 'C', receives with 'S' */
	MT6D_ROLE_SERVER = 1,
};

/* ---- replay window (encap.c) ---- */

struct mt6d_replay {
	uint64_t top; /* highest counter accepted */
	uint64_t bits[MT6D_REPLAY_WORDS];
	uint64_t floor;    /* counters below it are refused (0: none) */
	uint64_t prev_top; /* the top before the last jump (0: none) */
	uint64_t prev_bits[MT6D_REPLAY_PREV_WORDS];
};

void mt6d_replay_init(struct mt6d_replay *r);
/* true (and the counter is marked) when counter was never seen and is no
 * older than the window; false otherwise. Call only after authentication. */
bool mt6d_replay_check(struct mt6d_replay *r, uint64_t counter);

/* ---- encapsulation (encap.c) ---- */

struct mt6d_encap {
	uint8_t tx_key[MT6D_ENCAP_KEY_LEN];
	uint8_t rx_key[MT6D_ENCAP_KEY_LEN];
	uint64_t tx_counter; /* next counter to send */
	struct mt6d_replay replay;
};

/* k_dir from K_S; dir is MT6D_ENCAP_DIR_C2S or _S2C, else -EINVAL. */
int mt6d_encap_derive(uint8_t key[static MT6D_ENCAP_KEY_LEN],
                      const uint8_t ks[static MT6D_INTRO_KEY_LEN], uint8_t dir);
/*
 * Keys for one end. counter_start is the first counter sent: a daemon
 * passes the Unix time in nanoseconds so a restarted peer with the same
 * static key starts above every counter it sent before (the receiver's
 * window would otherwise drop it as replayed).
 */
int mt6d_encap_init(struct mt6d_encap *e, const uint8_t ks[static MT6D_INTRO_KEY_LEN],
                    enum mt6d_role role, uint64_t counter_start);
void mt6d_encap_clear(struct mt6d_encap *e);
/*
 * Seal len bytes of in into out (cap bytes, may not overlap in). Returns
 * the datagram length (len + MT6D_ENCAP_OVERHEAD), or -EMSGSIZE.
 */
int mt6d_encap_seal(struct mt6d_encap *e, uint8_t *out, size_t cap, const uint8_t *in, size_t len);
/*
 * Open a datagram into out (cap bytes). Returns the inner length, or
 *   -EMSGSIZE  shorter than MT6D_ENCAP_OVERHEAD (truncated) or out too small
 *   -EBADMSG   does not authenticate (forged, corrupted, other key)
 *   -EEXIST    authentic but replayed or older than the window
 * The replay window changes only for an authentic, fresh datagram.
 */
int mt6d_encap_open(struct mt6d_encap *e, uint8_t *out, size_t cap, const uint8_t *in, size_t len,
                    uint64_t *counter);

/*
 * The same without copies, for the data path: the inner packet is already
 * at dgram + MT6D_ENCAP_NONCE_LEN + MT6D_ENCAP_COUNTER_LEN (cap bytes in
 * all), and after open it is there again.
 */
int mt6d_encap_seal_inplace(struct mt6d_encap *e, uint8_t *dgram, size_t cap, size_t inner_len);
int mt6d_encap_open_inplace(struct mt6d_encap *e, uint8_t *dgram, size_t len, uint64_t *counter);
#define MT6D_ENCAP_INNER_OFF (MT6D_ENCAP_NONCE_LEN + MT6D_ENCAP_COUNTER_LEN)

/* ---- sessions and the table (tunnel.c) ---- */

struct mt6d_tun_host {
	uint8_t prefix[MT6D_PREFIX_LEN];
	uint8_t iid[MT6D_IID_LEN];
};

struct mt6d_tun_slot {
	uint64_t slot;
	bool valid;
	struct mt6d_endpoint local, remote;
	int fd; /* owned by the caller (a socket for this slot), -1 when none */
};

/* Every datagram or packet not carried is counted under one reason. */
struct mt6d_tun_stats {
	uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
	uint64_t rx_truncated, rx_forged, rx_replayed, rx_bad_inner, rx_no_session;
	uint64_t tx_errors; /* no slot to send from, or a packet that cannot be sealed */
	uint64_t rotations;
};

struct mt6d_tun_session {
	uint8_t ks[MT6D_INTRO_KEY_LEN];
	struct mt6d_tun_host local, remote;
	uint32_t rot_ms;
	struct mt6d_encap encap;
	/* slots cur-1, cur, cur+1, each at index slot % MT6D_TUN_SLOTS */
	struct mt6d_tun_slot win[MT6D_TUN_SLOTS];
	uint64_t cur;
	bool clocked; /* mt6d_tun_session_clock(): counters follow the slot clock */
	struct mt6d_tun_stats stats;
	void *user;
};

struct mt6d_tun_table;

/* An empty table; it grows as needed (100,000 sessions = 300,000 keys). */
struct mt6d_tun_table *mt6d_tun_table_new(void);
void mt6d_tun_table_free(struct mt6d_tun_table *t); /* NULL is a no-op */
size_t mt6d_tun_table_count(const struct mt6d_tun_table *t);
/* -EEXIST if the endpoint is already there, -ENOMEM. */
int mt6d_tun_table_add(struct mt6d_tun_table *t, const struct mt6d_endpoint *ep,
                       struct mt6d_tun_session *s, uint64_t slot);
/* -ENOENT if absent. Only removes the entry when it belongs to s. */
int mt6d_tun_table_del(struct mt6d_tun_table *t, const struct mt6d_endpoint *ep,
                       const struct mt6d_tun_session *s);
/* The session whose slot `*slot` uses this local endpoint, or NULL. */
struct mt6d_tun_session *mt6d_tun_table_find(const struct mt6d_tun_table *t,
                                             const struct mt6d_endpoint *ep, uint64_t *slot);

int mt6d_tun_session_init(struct mt6d_tun_session *s, const uint8_t ks[static MT6D_INTRO_KEY_LEN],
                          const struct mt6d_tun_host *local, const struct mt6d_tun_host *remote,
                          enum mt6d_role role, uint32_t rot_ms, uint64_t counter_start);
/*
 * For a key that outlives a restart (the static tunnel), call once after
 * init with the slot clock's time. The replay window of a new process is
 * empty, so a datagram recorded before a restart would be accepted again
 * while its slot is in the window; instead, counters follow the clock (the
 * first is now_ms in ns, and each rotation to slot k lifts the next to k's
 * start in ns, so a counter is never above the time it was sent, whatever
 * the previous run), and the receiver refuses every counter below
 * now_ms + rot_ms in ns: anything sent before the restart by a peer whose
 * clock is less than one rotation ahead (the most the slot window allows).
 * The price: after a start, the peer's datagrams are accepted once its
 * counters pass that floor, one to two rotations later.
 */
void mt6d_tun_session_clock(struct mt6d_tun_session *s, uint64_t now_ms);
/* Removes the session's endpoints from t (t may be NULL) and wipes keys. */
void mt6d_tun_session_clear(struct mt6d_tun_table *t, struct mt6d_tun_session *s);

/* Called for each slot entering (add = true) or leaving the window, so the
 * caller can bind or unbind its address and open or close its socket. */
typedef void (*mt6d_tun_slot_cb)(struct mt6d_tun_session *s, struct mt6d_tun_slot *sl, bool add,
                                 void *arg);
/*
 * Make the window slots now-1, now, now+1: slots that left are reported
 * (add = false) and removed from t first, then new ones computed, put in t
 * and reported. Any jump (first call, suspend, clock step) works.
 */
int mt6d_tun_session_rotate(struct mt6d_tun_table *t, struct mt6d_tun_session *s, uint64_t now,
                            mt6d_tun_slot_cb cb, void *arg);
/* The slot entry for slot, or NULL when it is not in the window. */
struct mt6d_tun_slot *mt6d_tun_session_slot(struct mt6d_tun_session *s, uint64_t slot);
/* The slot to send from: the one the clock says at unix_ms (a rotation
 * timer may be late at an edge), else the current one; NULL before the
 * first rotation. Every sender (server, client, static tunnel) uses it. */
struct mt6d_tun_slot *mt6d_tun_session_tx_slot(struct mt6d_tun_session *s, uint64_t unix_ms);

/* ---- segmentation and checksums (gso.c) ---- */

/* Internet checksum of p, starting from a partial sum (host order). */
uint16_t mt6d_csum(const uint8_t *p, size_t len, uint32_t initial);
/* Finish a CHECKSUM_PARTIAL packet (virtio_net_hdr NEEDS_CSUM): sum from
 * start to the end and store it at start + offset. -EINVAL if out of range. */
int mt6d_csum_complete(uint8_t *pkt, size_t len, size_t start, size_t offset);
/*
 * Split a TCP/IPv6 superpacket (no extension headers) into segments of at
 * most mss payload bytes with correct lengths, sequence numbers, flags and
 * checksums. Segment k goes to out + k * stride + off; lens[k] is its
 * length. Returns the number of segments, -EMSGSIZE when more than max or
 * a segment would not fit the stride, -EPROTONOSUPPORT when the packet is
 * not IPv6 + TCP.
 */
int mt6d_gso_split_tcp6(const uint8_t *pkt, size_t len, uint16_t mss, uint8_t *out, size_t stride,
                        size_t off, size_t *lens, size_t max);

/*
 * Receive-side coalescing of in-order TCP/IPv6 segments of one flow into a
 * superpacket (gso.c). buf/cap are the caller's (cap <= 40 + 65535 is
 * enough). start() takes a first segment (false: send this one as it is);
 * add() appends the next one if it continues the same burst (false: finish
 * and send what there is, then start again). After finish(), buf holds len
 * bytes; when nseg > 1 it is a TSO packet of nseg segments of mss payload
 * bytes, hl header bytes, with the TCP checksum field holding the
 * pseudo-header sum (virtio NEEDS_CSUM, csum_start 40, csum_offset 16).
 */
struct mt6d_gro {
	uint8_t *buf;
	size_t cap, len, hl;
	uint16_t mss;
	unsigned nseg;
	uint32_t next_seq;
	bool closed;
};
bool mt6d_gro_start(struct mt6d_gro *g, const uint8_t *pkt, size_t len);
bool mt6d_gro_add(struct mt6d_gro *g, const uint8_t *pkt, size_t len);
void mt6d_gro_finish(struct mt6d_gro *g);

/* ---- bursts: the one data path (burst.c) ---- */

/*
 * What the TUN device's virtio_net_hdr says about one inner packet, in the
 * library's words (the daemon translates both ways). Zeroed: one complete
 * packet.
 */
struct mt6d_offload {
	uint16_t gso_size; /* > 0: a TCP/IPv6 superpacket of segments of this payload size */
	uint16_t hdr_len;  /* of a superpacket: IPv6 + TCP header bytes */
	bool needs_csum;   /* the checksum at csum_start + csum_offset is partial */
	uint16_t csum_start, csum_offset;
};

#define MT6D_BURST_MAX 64 /* datagrams per burst: what one UDP GSO send takes */
/* Largest datagram stride of a burst, and a buffer for any burst: 64
 * segments of it, or one datagram of the largest inner packet. */
#define MT6D_BURST_STRIDE_MAX (MT6D_OUTER_MTU + MT6D_ENCAP_OVERHEAD)
#define MT6D_BURST_BUF                                                                             \
	(MT6D_BURST_MAX * MT6D_BURST_STRIDE_MAX > MT6D_INNER_MAX + MT6D_ENCAP_OVERHEAD             \
	         ? MT6D_BURST_MAX * MT6D_BURST_STRIDE_MAX                                          \
	         : MT6D_INNER_MAX + MT6D_ENCAP_OVERHEAD)

/*
 * Sealed datagrams of one session for one slot: n of them, datagram k at
 * buf + k * stride, all stride bytes long but the last; total bytes in all.
 * The shape UDP GSO sends in one call (and a receiver's UDP GRO hands up).
 */
struct mt6d_burst {
	uint8_t *buf; /* MT6D_BURST_BUF bytes, the caller's */
	size_t n, stride, total;
};

/*
 * Seal one inner packet for session s into b: a TCP superpacket (off with
 * gso_size) is split into segments first, each with its full checksum; a
 * packet with a partial checksum has it completed. Counts tx_packets and
 * tx_bytes, or one tx_errors. Returns n, or -EMSGSIZE, -EINVAL,
 * -EPROTONOSUPPORT (nothing sealed).
 */
int mt6d_burst_seal(struct mt6d_tun_session *s, const uint8_t *pkt, size_t len,
                    const struct mt6d_offload *off, struct mt6d_burst *b);

/*
 * Open one datagram of s in place, counting it under exactly one of
 * rx_packets, rx_truncated, rx_forged, rx_replayed, rx_bad_inner (no IPv6
 * packet inside). Returns the inner length (the packet is at dgram +
 * MT6D_ENCAP_INNER_OFF), or -EMSGSIZE, -EBADMSG, -EEXIST, -EPROTO: the
 * reason it was counted under.
 */
int mt6d_tun_open(struct mt6d_tun_session *s, uint8_t *dgram, size_t len);

/*
 * The datagrams of one receive (a UDP GRO batch: each gso bytes, the last
 * shorter; gso 0 means one datagram): calls fn (if not NULL) for each;
 * returns how many.
 */
typedef void (*mt6d_dgram_fn)(void *arg, uint8_t *dgram, size_t len);
size_t mt6d_batch_each(uint8_t *buf, size_t len, size_t gso, mt6d_dgram_fn fn, void *arg);

/*
 * The receive side's coalescer: opened data packets of one batch go in
 * with mt6d_rx_push; consecutive TCP segments of one flow come out as one
 * superpacket (off->gso_size set, checksum partial as the virtio header
 * wants), anything else as it came. buf holds MT6D_RX_HEADROOM +
 * MT6D_RX_BUF bytes (the caller's); deliver gets every packet, in order,
 * with MT6D_RX_HEADROOM writable bytes before it (for a device header;
 * a packet opened in place has the nonce there).
 */
#define MT6D_RX_BUF      (40 + 65535)
#define MT6D_RX_HEADROOM 16
typedef void (*mt6d_deliver_fn)(void *arg, uint8_t *pkt, size_t len,
                                const struct mt6d_offload *off);
struct mt6d_rx {
	struct mt6d_gro g;
	mt6d_deliver_fn deliver;
	void *arg;
	uint64_t packets_out, superpackets; /* delivered: all, and coalesced ones */
};
void mt6d_rx_init(struct mt6d_rx *rx, uint8_t *buf, mt6d_deliver_fn deliver, void *arg);
void mt6d_rx_push(struct mt6d_rx *rx, uint8_t *pkt, size_t len);
/* Deliver what is being coalesced; call at the end of every batch. */
void mt6d_rx_flush(struct mt6d_rx *rx);

#ifdef __cplusplus
}
#endif
#endif
