/* SPDX-License-Identifier: MIT */
/*
 * The DHT node's private structures and the functions its files share
 * (and the unit tests), grouped by file. One struct mt6d_dht owns
 * everything: two routing tables (IPv4, IPv6; BEP 32 keeps them apart),
 * the pending-request slots and the send queue, the client operations in
 * flight and finished, the peer and item stores, the token secrets and
 * the rate-limit table. Nothing here is global.
 *
 * The files are layers, each calling only the ones below it:
 *   node.c     the public entry points: input dispatch, serving queries, tick
 *   refresh.c  table upkeep: pings, self-lookups, refresh lookups
 *   state.c    the routing-table state file
 *   query.c    lookups, announces, puts, gets; cancel; callbacks
 *   routing.c  the k-bucket tables (sends nothing: says whom to ping)
 *   store.c    what we keep for others; tokens; rate limit
 *   rpc.c      encoding and sending, pending requests, the send queue
 *   krpc.c, bencode.c, bep.c   wire formats and BEP helpers
 * Going back up is done by callbacks (an operation's done function), never
 * by a call.
 */
#ifndef MT6D_DHT_INTERNAL_H
#define MT6D_DHT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "mt6d/dht.h"
#include "dht/krpc.h"

#define DHT_K                 MT6D_DHT_K
#define DHT_REPL              8                /* replacement cache per bucket */
#define DHT_GOOD_MS           (15 * 60 * 1000) /* BEP 5: good if heard within 15 min */
#define DHT_BAD_FAILS         3                /* consecutive timeouts that make a node bad */
#define DHT_REFRESH_MS        (15 * 60 * 1000) /* refresh a bucket untouched this long */
#define DHT_REFRESH_SPARSE_MS (5 * 60 * 1000)  /* ... or not full, this long */
#define DHT_MAX_REFRESH       4                /* refresh lookups at once */
#define DHT_TOKEN_ROTATE_MS   (5 * 60 * 1000)  /* tokens valid 5 to 10 min */
#define DHT_TOKEN_LEN         8
#define DHT_PEER_TTL_MS       (30 * 60 * 1000)
#define DHT_ITEM_TTL_MS       (2 * 60 * 60 * 1000)
#define DHT_SLOW_MS           1000 /* a query this old stops counting towards alpha */
#define DHT_TIMEOUT_MS        3000 /* ... and this old has failed */
#define DHT_OP_MAX_MS         30000
#define DHT_OP_CANDS          64
#define DHT_OP_MAX_QUERIES    200
#define DHT_MAX_PENDING       16384
#define DHT_RL_SLOTS          1024
#define DHT_RATE_DEFAULT      100  /* queries/s from one /64 or /24 */
#define DHT_RATE_GLOBAL_MIN   1000 /* queries/s in all, at least */
#define DHT_SRC_ITEMS_DEFAULT 128  /* BEP 44 items from one /64 or /24 */
#define DHT_SRC_PEERS_DEFAULT 1024 /* announced peers from one /64 or /24 */
#define DHT_SRC_SLOTS         4096 /* per-source counters: two rows of this many */
#define DHT_MAX_SEEDS         16
#define DHT_MAX_REPLY_VALUES  100
#define DHT_TXQ_MAX           65536       /* datagrams waiting for the socket */
#define DHT_MISS_WIDTH        (2 * DHT_K) /* how far a get that found nothing looks */
#define DHT_MAX_REPLICAS      32          /* put_replicas at most */
#define DHT_UNREACH_SLOTS     512         /* addresses remembered as not answering */
#define DHT_UNREACH_MS        60000       /* ... for this long at most */

/* 4 or 6: which routing table (BEP 32) an endpoint belongs to. */
static inline uint8_t dht_ep_fam(const struct mt6d_endpoint *e)
{
	return mt6d_endpoint_is_v4(e) ? 4 : 6;
}

struct dht_node {
	uint8_t id[MT6D_DHT_ID_LEN];
	struct mt6d_endpoint a;
	uint64_t last_reply; /* 0: never answered us */
	uint64_t last_query; /* last query it sent us */
	uint64_t last_ping;  /* last query we sent it */
	uint8_t fails;
};

/* The first buckets (the widest ranges) hold more than K nodes, as
 * libtorrent's extended routing table does: 16K, 8K, 4K, 2K, then K. */
#define DHT_WIDE_BUCKETS 4

struct dht_bucket {
	struct dht_node *n; /* alloc entries, count in use, at most the bucket's capacity */
	struct dht_node repl[DHT_REPL];
	uint16_t count, alloc;
	uint8_t nrepl;
	uint64_t last_changed;
};

/* Bucket i < nb-1 holds nodes sharing exactly i leading bits with our id;
 * the last bucket holds the rest and is the only one that splits. */
struct dht_table {
	struct dht_bucket *b;
	int nb;
};

enum dht_req_kind { REQ_PING, REQ_LOOKUP, REQ_STORE };

struct dht_req {
	bool used;
	uint8_t kind;
	uint8_t method;
	uint16_t nonce;
	bool queued; /* still in the send queue: not sent, no timeout yet */
	struct mt6d_endpoint a;
	uint64_t sent;
	struct dht_op *op; /* opaque to rpc.c */
	uint32_t next_free;
};

enum dht_op_type { OP_FIND_NODE, OP_GET_PEERS, OP_ANNOUNCE, OP_PUT_IMM, OP_PUT_MUT, OP_GET };
enum dht_cand_state { C_NEW, C_SENT, C_ANSWERED, C_FAILED };

struct dht_cand {
	uint8_t id[MT6D_DHT_ID_LEN];
	bool id_known;
	uint8_t state;
	uint8_t depth;
	uint8_t tries;
	bool slow;
	struct mt6d_endpoint a;
	uint8_t token[KRPC_MAX_TOKEN];
	uint8_t tokenlen;
	uint16_t acks; /* store phase */
	uint64_t sent;
};

struct dht_op {
	struct dht_op *next, *prev;
	int id; /* the caller's handle */
	uint8_t type;
	bool storing;
	bool finished; /* in the done list, res made */
	struct mt6d_dht_result res;
	uint8_t target[MT6D_DHT_ID_LEN];
	struct dht_cand c[DHT_OP_CANDS];
	int nc;
	uint8_t width; /* the closest live candidates it waits for (K; more for a put
	                  or for a get that found nothing among the K closest) */
	unsigned inflight, answered, contacted, queries, store_pending, stored_on;
	uint64_t start;
	mt6d_dht_done_fn done;
	void *arg;
	/* what to store */
	uint16_t *ports;
	size_t nports;
	uint8_t v[MT6D_DHT_MAX_V];
	size_t vlen;
	uint8_t k[32], sig[64], salt[MT6D_DHT_MAX_SALT];
	size_t saltlen;
	int64_t seq;
	bool is_mutable;
	/* what was found */
	struct mt6d_endpoint *peers;
	size_t npeers, peers_cap;
	bool have_value;
};

struct dht_peer_entry {
	struct mt6d_endpoint p;
	uint64_t expire;
};

struct dht_hash_entry {
	uint8_t ih[MT6D_DHT_ID_LEN];
	struct dht_peer_entry *peers;
	uint32_t n, cap;
};

struct dht_item {
	uint8_t target[MT6D_DHT_ID_LEN];
	bool is_mutable;
	uint8_t v[MT6D_DHT_MAX_V];
	size_t vlen;
	uint8_t k[32], sig[64], salt[MT6D_DHT_MAX_SALT];
	size_t saltlen;
	int64_t seq;
	uint64_t expire;
	struct mt6d_endpoint src; /* source network charged for it; port 1: charged */
};

struct dht_rl {
	struct mt6d_endpoint a; /* a source network (dht_source_net); port 1: in use */
	uint64_t last;
	uint64_t tokens; /* thousandths of a query */
};

struct dht_unreach {
	struct mt6d_endpoint a;
	uint64_t until; /* 0: free */
};

struct mt6d_dht {
	struct mt6d_dht_config cfg;
	uint8_t id[MT6D_DHT_ID_LEN];
	struct dht_table t4, t6;
	struct dht_req *req;
	uint32_t nreq, req_free, npending;
	struct dht_op *ops;                   /* live operations */
	struct dht_op *done_head, *done_tail; /* finished, callbacks not yet run */
	int next_op_id;
	bool closing;               /* mt6d_dht_free: no new operations */
	struct dht_txq_entry **txq; /* send queue: txq[txq_head .. +txq_len) */
	size_t txq_head, txq_len, txq_cap;
	struct dht_hash_entry *hashes;
	uint32_t nhashes;
	struct dht_item *items;
	uint32_t nitems;
	uint8_t secret[2][32];
	uint64_t secret_rotated;
	struct dht_rl *rl;
	struct dht_rl rl_global;
	uint8_t rl_key[16];
	/* per-source storage counters, a count-min sketch: [kind][row][slot],
	 * kind 0 items, 1 peers; exact decrements, so never below the truth */
	uint32_t *srcc;
	struct mt6d_endpoint seeds[DHT_MAX_SEEDS];
	int nseeds;
	uint64_t now, next_maint, next_expire, last_bootstrap, first_bootstrap;
	bool bootstrap_running;
	bool bootstrap_ok; /* the last self-lookup heard from K nodes */
	unsigned refresh_running;
	/* when each prefix depth (160: our own id) was last looked up, per family */
	uint64_t refreshed4[161], refreshed6[161];
	uint32_t backoff4[161], backoff6[161]; /* retry interval of empty ranges */
	/* BEP 42: votes for our external address from the "ip" of replies */
	struct mt6d_endpoint ext;
	unsigned ext_votes;
	struct dht_unreach unreach[DHT_UNREACH_SLOTS];
	struct mt6d_dht_stats st;
};

/* dht/rpc.c: the transport (lowest layer) */
struct dht_txq_entry;
int dht_send_msg(struct mt6d_dht *dht, const struct mt6d_endpoint *a, struct krpc_msg *m);
int dht_send_query(struct mt6d_dht *dht, const struct mt6d_endpoint *a, struct krpc_msg *m,
                   uint8_t kind, struct dht_op *op);
int dht_ping(struct mt6d_dht *dht, const struct mt6d_endpoint *a);
int dht_find_node(struct mt6d_dht *dht, const struct mt6d_endpoint *a, const uint8_t *target);
/* The pending request m answers (from the right address): copied to out
 * and released. */
bool dht_req_take(struct mt6d_dht *dht, const struct krpc_msg *m, const struct mt6d_endpoint *from,
                  struct dht_req *out);
void dht_req_release(struct mt6d_dht *dht, struct dht_req *r);
void dht_req_forget_op(struct mt6d_dht *dht, const struct dht_op *op);
void dht_txq_free(struct mt6d_dht *dht);

/* dht/unreach.c: addresses whose query timed out lately (a leaf) */
void dht_unreach_note(struct mt6d_dht *dht, const struct mt6d_endpoint *a);
void dht_unreach_clear(struct mt6d_dht *dht, const struct mt6d_endpoint *a);
bool dht_unreach_is(struct mt6d_dht *dht, const struct mt6d_endpoint *a);

/* dht/routing.c: the routing table (a leaf: it sends nothing). The
 * functions that may want a node pinged return true and fill *ping; the
 * caller sends the ping. */
int dht_xor_cmp(const uint8_t *target, const uint8_t *a, const uint8_t *b);
void dht_table_free(struct dht_table *t);
struct dht_table *dht_table_for(struct mt6d_dht *dht, uint8_t fam);
int dht_table_buckets(struct mt6d_dht *dht, uint8_t fam);
/* Note that a node was heard from: replied (true) or queried us (false). */
bool dht_node_heard(struct mt6d_dht *dht, const uint8_t *id, const struct mt6d_endpoint *a,
                    bool replied, struct mt6d_endpoint *ping);
bool dht_node_failed(struct mt6d_dht *dht, const struct mt6d_endpoint *a,
                     struct mt6d_endpoint *ping);
/* Up to max nodes closest to target that have answered us, from one table. */
int dht_closest(struct mt6d_dht *dht, uint8_t fam, const uint8_t *target, struct dht_node *out,
                int max, bool verified_only);
size_t dht_closest_compact(struct mt6d_dht *dht, uint8_t fam, const uint8_t *target, uint8_t *out);
int dht_routing_survey(struct mt6d_dht *dht, uint8_t fam, uint16_t counts[161], int *deepest,
                       struct mt6d_endpoint *ping, int maxping);
void dht_table_counts(const struct dht_table *t, uint64_t now, uint32_t *nodes, uint32_t *good);

/* dht/store.c */
void dht_token_make(const struct mt6d_dht *dht, int which, const struct mt6d_endpoint *a,
                    uint8_t out[DHT_TOKEN_LEN]);
bool dht_token_ok(const struct mt6d_dht *dht, const struct mt6d_endpoint *a, const uint8_t *tok,
                  size_t len);
void dht_token_rotate(struct mt6d_dht *dht);
bool dht_ratelimit_ok(struct mt6d_dht *dht, const struct mt6d_endpoint *a);
/* The source network of a (its /64 or /24; port 1 marks it in use); false
 * for loopback, which is exempt from the limits and the per-source caps. */
bool dht_source_net(struct mt6d_endpoint *net, const struct mt6d_endpoint *a);
int dht_peer_store(struct mt6d_dht *dht, const uint8_t *ih, const struct mt6d_endpoint *p);
size_t dht_peer_values(struct mt6d_dht *dht, const uint8_t *ih, const uint8_t **values,
                       uint8_t *lens, uint8_t *storage, size_t max);
struct dht_item *dht_item_find(struct mt6d_dht *dht, const uint8_t *target);
/* An item for target: the stored one, or a new one charged to src (NULL
 * when the store, or src's share of it, is full). */
struct dht_item *dht_item_slot(struct mt6d_dht *dht, const uint8_t *target,
                               const struct mt6d_endpoint *src);
void dht_store_expire(struct mt6d_dht *dht);
void dht_store_free(struct mt6d_dht *dht);

/* dht/query.c: lookups and stores (above rpc.c and routing.c) */
/* req is a copy: its slot has been released before these run */
void dht_op_response(struct mt6d_dht *dht, const struct dht_req *req, const struct krpc_msg *m);
void dht_op_timeout(struct mt6d_dht *dht, const struct dht_req *req);
void dht_op_error(struct mt6d_dht *dht, const struct dht_req *req, const struct krpc_msg *m);
void dht_ops_tick(struct mt6d_dht *dht);
/* Run the callbacks of finished operations (the last step of every entry point). */
void dht_ops_complete(struct mt6d_dht *dht);
void dht_ops_cancel_all(struct mt6d_dht *dht);
/* A find_node lookup of target; returns its id or a negative errno. */
int dht_lookup_nodes(struct mt6d_dht *dht, const uint8_t *target, mt6d_dht_done_fn done, void *arg);

/* dht/refresh.c: table upkeep (above query.c and routing.c), every 5 s */
void dht_upkeep(struct mt6d_dht *dht);

/* dht/bep.c */
uint32_t dht_crc32c(const uint8_t *p, size_t len);
bool dht_ip_is_local(const uint8_t *ip, size_t len);
bool dht_item_verify(const uint8_t *k, const uint8_t *sig, const uint8_t *salt, size_t saltlen,
                     int64_t seq, const uint8_t *v, size_t vlen);

#endif
