/* SPDX-License-Identifier: MIT */
/*
 * libmt6d DHT: a BitTorrent Mainline DHT node (BEP 5, 32, 42, 43, 44).
 *
 * The node does no I/O of its own and keeps no global state: the caller
 * owns the sockets and the clock, feeds every datagram received to
 * mt6d_dht_input() and calls mt6d_dht_tick() no later than the time it
 * returned; the node sends through the callback in its configuration.
 * Times are milliseconds on any monotonic clock. Many nodes may live in
 * one process. Client operations (lookups, announces, puts, gets) are
 * started with mt6d_dht_*() calls below, which return the operation's id
 * (> 0), and end with exactly one call of their completion callback, from
 * inside mt6d_dht_input() or mt6d_dht_tick() (or mt6d_dht_free(), with
 * status -ECANCELED), never from inside the call that started them; or
 * they are cancelled with mt6d_dht_cancel(), after which the callback is
 * never called. A callback may start and cancel operations.
 *
 * A send callback that returns -EAGAIN (or -EWOULDBLOCK, -ENOBUFS: the
 * socket is full) has its datagram queued, with every later one, in
 * order; the queue is sent on every tick and by mt6d_dht_flush(), which
 * the caller calls when the socket is writable again.
 */
#ifndef MT6D_DHT_H
#define MT6D_DHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mt6d/mt6d.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT6D_DHT_ID_LEN   20
#define MT6D_DHT_K        8
#define MT6D_DHT_ALPHA    3
#define MT6D_DHT_MAX_V    1000 /* BEP 44: bencoded value */
#define MT6D_DHT_MAX_SALT 64

struct mt6d_dht;

/* Send one datagram; return 0 or a negative errno: -EAGAIN queues it (see
 * above), other failures are counted. */
typedef int (*mt6d_dht_send_fn)(void *ctx, const uint8_t *buf, size_t len,
                                const struct sockaddr *to, socklen_t tolen);

struct mt6d_dht_config {
	mt6d_dht_send_fn send; /* required */
	void *send_ctx;
	bool have_id; /* use id below; otherwise a random (BEP 42 when it can) one */
	uint8_t id[MT6D_DHT_ID_LEN];
	bool ipv4, ipv6;    /* families the caller can send; neither means IPv4 */
	bool read_only;     /* BEP 43: ask not to be added to routing tables, serve nothing */
	bool enforce_bep42; /* refuse routing-table entries whose id mismatches their IP */
	/* Queries answered per second from one source network (an IPv6 /64,
	 * an IPv4 /24), burst twice that; 0: 100. There is no "off": a node
	 * that answers everyone is an amplifier. Loopback sources are exempt
	 * from the limits and the per-source caps (docs/security.md). */
	uint32_t rate_limit;
	uint32_t rate_limit_global;  /* queries per second in all; 0: max(1000, 10 * rate_limit) */
	uint32_t max_peers_per_hash; /* 0: 500 */
	uint32_t max_hashes;         /* 0: 4096 */
	uint32_t max_items;          /* 0: 4096 */
	/* What one source network may add once the store is half full (items:
	 * max_items / 2 stored; peers: max_hashes / 2 infohashes); below that
	 * it may use the free half. */
	uint32_t max_items_per_source; /* BEP 44 items; 0: 128 */
	uint32_t max_peers_per_source; /* announced peers; 0: 1024 */
	/* Nodes a BEP 44 put is stored on (the closest that answered); below
	 * K (0): K = 8; at most 32. Announces always go to K. */
	uint32_t put_replicas;
};

struct mt6d_dht_stats {
	uint64_t rx, tx, tx_errors;
	uint64_t tx_queued;  /* datagrams that waited in the send queue */
	uint64_t tx_dropped; /* ... that did not fit in it (65536 waiting) */
	uint32_t txq_max;    /* the longest the queue was */
	uint64_t dropped_malformed, dropped_ratelimit, dropped_unexpected;
	uint64_t queries_served[7]; /* by method; [0] unknown */
	uint64_t errors_sent;
	uint32_t nodes4, nodes6, good4, good6, buckets4, buckets6;
	uint32_t hashes, peers, items;
	uint32_t ops_active, requests_pending;
};

/* NULL with errno set on failure. */
struct mt6d_dht *mt6d_dht_new(const struct mt6d_dht_config *cfg);
void mt6d_dht_free(struct mt6d_dht *dht);

/* One received datagram. 0, or -EBADMSG etc. when it was dropped (counted). */
int mt6d_dht_input(struct mt6d_dht *dht, const uint8_t *buf, size_t len,
                   const struct sockaddr *from, socklen_t fromlen, uint64_t now_ms);
/* Timers: retransmissions, refresh, expiry. Returns when to be called next. */
uint64_t mt6d_dht_tick(struct mt6d_dht *dht, uint64_t now_ms);
/* Send what waits in the send queue until the socket is full again;
 * returns how many datagrams still wait (then poll for writable). */
int mt6d_dht_flush(struct mt6d_dht *dht, uint64_t now_ms);
size_t mt6d_dht_tx_queued(const struct mt6d_dht *dht);

/* Ping an address to learn its id (bootstrap); also remembered as a lookup seed. */
int mt6d_dht_add_node(struct mt6d_dht *dht, const struct sockaddr *sa, socklen_t salen,
                      uint64_t now_ms);
void mt6d_dht_get_id(const struct mt6d_dht *dht, uint8_t id[static MT6D_DHT_ID_LEN]);
void mt6d_dht_get_stats(const struct mt6d_dht *dht, struct mt6d_dht_stats *st);

/*
 * Routing table state file: a text file (docs/dht.md) with the node id and
 * the good nodes. Saving writes a temporary file and renames it. Loading
 * restores the id only when the node was created without have_id, and
 * pings every node listed.
 */
int mt6d_dht_save(const struct mt6d_dht *dht, const char *path);
int mt6d_dht_load(struct mt6d_dht *dht, const char *path, uint64_t now_ms);
/*
 * Carry a routing table over: every node of src that answered src and has
 * not failed is entered in dst's table as a node that answered (src's
 * knowledge, taken as dst's), without a datagram. For a caller that moves
 * its identity (node id, address, port) and keeps what the old one
 * learned. Returns how many nodes dst took.
 */
int mt6d_dht_adopt(struct mt6d_dht *dst, const struct mt6d_dht *src, uint64_t now_ms);

/* ---- client operations ---- */

struct mt6d_dht_result {
	int status; /* 0; -ENOENT nothing found; -ETIMEDOUT nobody answered */
	uint8_t target[MT6D_DHT_ID_LEN];
	unsigned nodes_answered;  /* nodes that answered the lookup */
	unsigned nodes_contacted; /* nodes queried */
	unsigned stored_on;       /* announce, put: nodes that acknowledged */
	unsigned hops;            /* depth of the closest answering node (seeds are 1) */
	uint64_t elapsed_ms;
	const struct mt6d_endpoint *peers; /* get_peers: sorted, so grouped by IP */
	size_t npeers;
	const uint8_t *value; /* get: bencoded v */
	size_t value_len;
	int64_t seq;      /* get/put of mutable items, else -1 */
	const uint8_t *k; /* get of a mutable item: public key */
	const uint8_t *sig;
};

typedef void (*mt6d_dht_done_fn)(void *arg, const struct mt6d_dht_result *res);

/* Each start function returns the operation's id (> 0) or a negative
 * errno (then done is never called). */

/* Cancel operation id: its callback will not be called (also when it has
 * finished and its callback is still due). 0, or -ENOENT when it is not
 * running (its callback has run, or it was cancelled). */
int mt6d_dht_cancel(struct mt6d_dht *dht, int id);

/* Peers announced under infohash on the K closest nodes; grouped by IP. */
int mt6d_dht_get_peers(struct mt6d_dht *dht, const uint8_t infohash[static MT6D_DHT_ID_LEN],
                       mt6d_dht_done_fn done, void *arg, uint64_t now_ms);
/* Announce each port (1..65535) to the K closest nodes, one token per node. */
int mt6d_dht_announce(struct mt6d_dht *dht, const uint8_t infohash[static MT6D_DHT_ID_LEN],
                      const uint16_t *ports, size_t nports, mt6d_dht_done_fn done, void *arg,
                      uint64_t now_ms);
/* BEP 44 immutable put of the bencoded value v; target SHA-1(v). */
int mt6d_dht_put_immutable(struct mt6d_dht *dht, const uint8_t *v, size_t vlen,
                           mt6d_dht_done_fn done, void *arg, uint64_t now_ms);
/* BEP 44 mutable put, signed with the 64-byte libsodium secret key sk. */
int mt6d_dht_put_mutable(struct mt6d_dht *dht, const uint8_t sk[static 64], const uint8_t *salt,
                         size_t saltlen, const uint8_t *v, size_t vlen, int64_t seq,
                         mt6d_dht_done_fn done, void *arg, uint64_t now_ms);
/*
 * BEP 44 get. pk NULL: immutable item at target (checked against SHA-1(v));
 * else the mutable item of pk and salt (target computed; signature checked,
 * highest seq wins).
 */
int mt6d_dht_get(struct mt6d_dht *dht, const uint8_t target[static MT6D_DHT_ID_LEN],
                 const uint8_t *pk, const uint8_t *salt, size_t saltlen, mt6d_dht_done_fn done,
                 void *arg, uint64_t now_ms);

/* ---- BEP 42, BEP 44 helpers (pure) ---- */

/* A BEP 42 node id for ip (4 or 16 bytes) with the random byte r and rest random. */
void mt6d_dht_bep42_id(uint8_t id[static MT6D_DHT_ID_LEN], const uint8_t *ip, size_t iplen,
                       uint8_t r);
/* true when id is valid for ip under BEP 42, or ip is exempt (local ranges). */
bool mt6d_dht_bep42_ok(const uint8_t id[static MT6D_DHT_ID_LEN], const uint8_t *ip, size_t iplen);
/* Target of a mutable item: SHA-1(pk || salt). */
void mt6d_dht_mutable_target(uint8_t target[static MT6D_DHT_ID_LEN], const uint8_t pk[static 32],
                             const uint8_t *salt, size_t saltlen);
/* The buffer BEP 44 signs: [4:salt<salt>]3:seqi<seq>e1:v<v>. Length or -EMSGSIZE. */
int mt6d_dht_sign_buffer(uint8_t *out, size_t cap, const uint8_t *salt, size_t saltlen, int64_t seq,
                         const uint8_t *v, size_t vlen);

#ifdef __cplusplus
}
#endif
#endif
