/* SPDX-License-Identifier: MIT */
/*
 * libmt6d rendezvous: the patent's blind rendezvous over the Mainline DHT.
 *
 * Registry: the server's list of registered clients (public key, name).
 * Publisher (Algorithm 2): for every window T it makes an introduction
 * configuration (fresh K and SeedIPv6_S) and, for every registered client,
 * seals it pairwise and stores it in the DHT at the location only that pair
 * can compute: a BEP 44 mutable item, port-stuffed announces under d_T, or
 * both. It works in slices: mt6d_pub_tick() starts at most max_inflight DHT
 * operations and returns, so a large registry never stalls the loop.
 * Lookup (FIG. 5): the client computes the same locations, fetches, opens,
 * checks the window and, on a miss, tries the adjacent windows.
 *
 * Like the DHT, these objects do no I/O: they call the mt6d_dht_* client
 * operations of a node the caller runs. Times: mono_ms is the DHT's clock,
 * unix_ms the wall clock windows are computed from.
 */
#ifndef MT6D_RENDEZVOUS_H
#define MT6D_RENDEZVOUS_H

#include <stddef.h>
#include <stdint.h>

#include "mt6d/dht.h"
#include "mt6d/mt6d.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
	MT6D_RDV_BEP44 = 1,    /* BEP 44 mutable item (default) */
	MT6D_RDV_STUFFING = 2, /* port-stuffed announce_peer under d_T */
	MT6D_RDV_BOTH = 3,
};

/* The publisher's DHT node stores each BEP 44 item on this many nodes
 * (mt6d_dht_config.put_replicas, 2K): with 60% of the nodes near an item
 * gone or restarted empty, all 8 of a K-put die with probability 0.6^8 =
 * 1.7%, all 16 with 0.6^16 = 0.03% (test_dht_churn). */
#define MT6D_RDV_PUT_REPLICAS 16

/* "bep44", "stuffing", "both" -> mask; -EINVAL otherwise. */
int mt6d_rdv_transport_parse(const char *s);
const char *mt6d_rdv_transport_name(int mask);

/* ---- registry (registry.c) ---- */

#define MT6D_NAME_MAX 63

struct mt6d_client_entry {
	uint8_t pub[MT6D_KEY_LEN];
	char name[MT6D_NAME_MAX + 1];
};

struct mt6d_registry {
	struct mt6d_client_entry *clients;
	size_t n;
};

/*
 * Parse a registry: one client per line, "PUBLICKEY NAME" (base64 key, then
 * a name of 1-63 characters from [A-Za-z0-9._@-]); blank lines and lines
 * starting with '#' are ignored. Keys and names must be unique. On error
 * returns -EINVAL and writes "line N: what is wrong" into err.
 */
int mt6d_registry_parse(struct mt6d_registry *reg, const char *text, size_t len, char *err,
                        size_t errlen);
int mt6d_registry_load(struct mt6d_registry *reg, const char *path, char *err, size_t errlen);
void mt6d_registry_free(struct mt6d_registry *reg);

/* ---- publisher (publish.c) ---- */

/* One window's introduction configuration, as the server's endpoint needs it. */
struct mt6d_intro {
	uint64_t window;
	uint32_t period;
	uint32_t rot_ms;
	uint8_t seed_addr[16];
	uint8_t key[MT6D_INTRO_KEY_LEN];
};

struct mt6d_pub_config {
	struct mt6d_dht *dht; /* the node to publish through */
	/* Or, when set, the node for one client's operations of a round, asked
	 * once per client and attempt (a caller that spreads clients over DHT
	 * identities, `[dht] listen = auto`); NULL: that attempt fails. The
	 * node must outlive the operations started on it, or be freed, which
	 * completes them (-ECANCELED: tried again, on the node picked then). */
	struct mt6d_dht *(*pick_dht)(void *arg);
	void *pick_arg;
	uint8_t server_priv[MT6D_KEY_LEN]; /* copied; wiped by mt6d_pub_free */
	uint8_t prefix[MT6D_PREFIX_LEN];   /* the server's /64 */
	uint32_t period;                   /* n, seconds; 0: 900 */
	uint32_t rot_ms;                   /* 0: 3000 */
	int transports;                    /* MT6D_RDV_*; 0: BEP 44 */
	unsigned max_inflight;             /* DHT operations at once; 0: 64 (a port-stuffing
	                                      announce counts as 8: it sends 85 or 103 times
	                                      more) */
	uint32_t lead_s;                   /* publish the next window this long before
	                                      its start; 0: min(n/5, 300) */
	/* A new window's configuration was made (before it is published), or
	 * one was dropped (intro == NULL, window given): the server adds or
	 * removes that introduction endpoint. May be NULL. */
	void (*on_intro)(void *arg, const struct mt6d_intro *intro, uint64_t window);
	void *arg;
	/* The server's static underlay endpoint (IPv6, or IPv4 as
	 * ::ffff:a.b.c.d) and UDP port, host order. Port 0: none, and the
	 * configurations are version 1; otherwise version 2 carries them. */
	uint8_t underlay_addr[16];
	uint16_t underlay_port;
};

struct mt6d_pub_status {
	uint64_t window; /* newest window with a live configuration */
	uint32_t period, rot_ms;
	size_t clients;
	/* The most recent publication round (current or next window). */
	uint64_t round_window;
	/* DHT operations: one per client and transport. */
	size_t round_total, round_done, round_failed, round_inflight;
	size_t round_retried;                        /* operations tried again (up to 3 attempts) */
	uint64_t round_started_ms, round_elapsed_ms; /* mono; elapsed 0 while running */
	unsigned round_stored_min; /* fewest nodes that stored one client's item */
	uint64_t ops_started, ops_failed, dht_messages;
	unsigned windows_live; /* introduction configurations kept */
};

struct mt6d_pub;

struct mt6d_pub *mt6d_pub_new(const struct mt6d_pub_config *cfg);
/* Cancels the DHT operations still in flight (their callbacks never
 * come). The DHT node may be freed before or after. */
void mt6d_pub_free(struct mt6d_pub *pub);
/*
 * Replace the registry. Known keys keep their precomputed secrets and their
 * place in a round in progress; new keys are published in the current round
 * too; removed keys are dropped (an operation in flight for them still
 * counts in the round).
 */
int mt6d_pub_set_clients(struct mt6d_pub *pub, const struct mt6d_registry *reg);
/* Change n and the rotation period. Takes effect for the next window made;
 * the configurations already published stay valid until they expire. */
int mt6d_pub_set_period(struct mt6d_pub *pub, uint32_t period, uint32_t rot_ms);
/* Start the round of the current window at once, with a new K (Algorithm 2
 * "for each configuration time period"): at start-up and on demand. */
int mt6d_pub_force(struct mt6d_pub *pub, uint64_t mono_ms, uint64_t unix_ms);
/* Take back a configuration this server made before a restart (stored by
 * the daemon) instead of making a new one for its window: its endpoint
 * opens now (on_intro) and its window is published again in a round.
 * -EINVAL when its period, rotation or prefix are not the publisher's,
 * -ESTALE when its window is not live at unix_ms (older than the previous
 * window or later than the next), -EEXIST when the window has one. */
int mt6d_pub_restore(struct mt6d_pub *pub, const struct mt6d_intro *intro, uint64_t unix_ms);
/* Do the work that is due; returns the mono time to be called again. */
uint64_t mt6d_pub_tick(struct mt6d_pub *pub, uint64_t mono_ms, uint64_t unix_ms);
void mt6d_pub_get_status(const struct mt6d_pub *pub, struct mt6d_pub_status *st);
/* The live introduction configuration of window T, or NULL. */
const struct mt6d_intro *mt6d_pub_intro(const struct mt6d_pub *pub, uint64_t window);
/* True when no round is running and nothing is in flight. */
int mt6d_pub_idle(const struct mt6d_pub *pub);

/* ---- lookup (lookup.c) ---- */

enum mt6d_lookup_step {
	MT6D_LOOKUP_OK = 0,
	MT6D_LOOKUP_NO_NODES,      /* no DHT node answered */
	MT6D_LOOKUP_NOT_FOUND,     /* nodes answered, nothing stored there */
	MT6D_LOOKUP_DOES_NOT_OPEN, /* something stored, none of it opens with our keys */
	MT6D_LOOKUP_EXPIRED,       /* it opens, but for another window */
};
const char *mt6d_lookup_step_name(enum mt6d_lookup_step step);

struct mt6d_lookup_result {
	enum mt6d_lookup_step step; /* the best step reached over every window tried */
	struct mt6d_config config;  /* valid when step == OK; version 2 carries the
	                               server's underlay endpoint */
	int transport;              /* the transport that gave it */
	uint64_t window;            /* the window it was found for */
	unsigned windows_tried;
	unsigned nodes_answered; /* summed over the DHT operations */
	unsigned candidates;     /* values or port groups tried */
	uint64_t elapsed_ms;
};

typedef void (*mt6d_lookup_done_fn)(void *arg, const struct mt6d_lookup_result *res);

#define MT6D_LOOKUP_MAX_PERIODS 4

struct mt6d_lookup_config {
	struct mt6d_dht *dht;
	uint8_t client_priv[MT6D_KEY_LEN];
	uint8_t server_pub[MT6D_KEY_LEN];
	/* Publication periods to try, in order (zeros ignored; none: 900). A
	 * server operator who changes n at run time lists the old and the new
	 * value in the clients' configuration for the transition. */
	uint32_t periods[MT6D_LOOKUP_MAX_PERIODS];
	int transports; /* 0: both, BEP 44 first */
};

struct mt6d_lookup;

/*
 * Start a lookup; done is called exactly once, from inside the DHT's
 * mt6d_dht_input() or mt6d_dht_tick() (never before this returns), and may
 * free the lookup. mt6d_lookup_free cancels the DHT operation in flight:
 * after it, done is never called. Windows tried, for each period: the
 * current one, then the adjacent one nearest in time, then the other. NULL with errno when
 * the keys give an all-zero secret (EINVAL).
 */
struct mt6d_lookup *mt6d_lookup_start(const struct mt6d_lookup_config *cfg, uint64_t mono_ms,
                                      uint64_t unix_ms, mt6d_lookup_done_fn done, void *arg);
void mt6d_lookup_free(struct mt6d_lookup *lk);

/* The value stored in BEP 44: m as a bencoded string, "85:" || m (version
 * 1) or "103:" || m (version 2). Returns its length; 0 when len is not 1 to
 * MT6D_SEALED_MAX. */
#define MT6D_BEP44_VALUE_LEN    (3 + MT6D_SEALED_LEN)    /* 88, version 1 */
#define MT6D_BEP44_VALUE_V2_LEN (4 + MT6D_SEALED_V2_LEN) /* 107 */
#define MT6D_BEP44_VALUE_MAX    MT6D_BEP44_VALUE_V2_LEN
size_t mt6d_bep44_value(uint8_t v[static MT6D_BEP44_VALUE_MAX], const uint8_t *m, size_t len);

#ifdef __cplusplus
}
#endif
#endif
