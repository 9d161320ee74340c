/* SPDX-License-Identifier: MIT */
/*
 * libmt6d server of the session protocol (docs/sessions.md):
 * the patent's Algorithm 1 and FIG. 3-5 without any I/O.
 *
 * Server: the introduction endpoints of the live windows (one per window,
 * keyed by K), the registered clients recognized by their expected
 * introduction IIDs (fix 2), the pairwise introduction channel sealed with
 * K_pair (fix 1), and the client sessions: one per registered client, each
 * with a fresh key, fresh IIDs and a tunnel address, found in O(1) from the
 * local outer (address, port) a datagram came to and from the inner
 * destination address a packet from the TUN device goes to.
 *
 * The client is in mt6d/client.h. Both take the time as an argument (Unix ms, the wall clock slots
 * and windows are computed from) and call back to send a datagram, to deliver an inner packet, and
 * to report slots and state changes, so a unit test can wire a server and many clients in one
 * process with a fake clock. Nothing here blocks, allocates per packet, or keeps a global.
 */
#ifndef MT6D_SERVER_H
#define MT6D_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mt6d/mt6d.h"
#include "mt6d/rebind.h"
#include "mt6d/rendezvous.h"
#include "mt6d/session.h"
#include "mt6d/tunnel.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mt6d_srv_end {
	MT6D_SRV_END_TEARDOWN = 0, /* the client sent message 2 */
	MT6D_SRV_END_IDLE,         /* idle_timeout without an authentic packet */
	MT6D_SRV_END_REPLACED,     /* the client asked for a new session */
	MT6D_SRV_END_LOCAL,        /* mt6d_srv_teardown() or mt6d_srv_close() */
	MT6D_SRV_END_UNREGISTERED, /* the client left the registry */
};
const char *mt6d_srv_end_name(enum mt6d_srv_end why);

/* One client session; read-only outside server.c. */
struct mt6d_srv_session {
	struct mt6d_tun_session tun; /* ks is the session key; stats */
	size_t client;               /* index in the registry */
	char name[MT6D_NAME_MAX + 1];
	uint8_t client_tun[16], server_tun[16];
	uint64_t request_id;
	uint64_t created_ms, last_rx_ms, last_tx_ms;
	uint64_t rx_spoofed; /* inner source other than the client's tunnel address */
	struct mt6d_srv_session *prev, *next;
	uint8_t response[MT6D_MSG_RESPONSE_LEN]; /* for a repeated request; holds the key */
	/* Rebinding (docs/rebind.md). */
	bool has_conn;             /* the session holds a connection ID */
	uint32_t conn;             /* c */
	uint64_t rebinds;          /* claims accepted for it */
	uint64_t rebind_ms;        /* time of the last one */
	bool underlay;             /* on the underlay endpoint, not MT6D addresses */
	struct mt6d_endpoint peer; /* underlay: the client's endpoint as seen */
	unsigned renew_left;       /* grant messages still to send for this epoch */
	uint64_t renew_next_ms;
};

/* Why a claim was refused (mt6d_srv_stats.claims_refused). */
enum mt6d_srv_claim {
	MT6D_SRV_CLAIM_BAD = 0,  /* not authentic, or for a session of the other kind */
	MT6D_SRV_CLAIM_LOCATION, /* authentic, but not from the location inside */
	MT6D_SRV_CLAIM_STALE,    /* authentic, time outside the window */
	MT6D_SRV_CLAIM_REPLAYED, /* authentic, not newer than the last one accepted */
};

/* Introduction datagrams: a client sends about one a second (five tries
 * of a request); 20 a second per source prefix is room for a NAT or a
 * prefix shared by a few clients, and a flood from one /64 costs one table
 * lookup per datagram beyond that. */
#define MT6D_INTRO_RATE        20
#define MT6D_INTRO_BURST       40
#define MT6D_INTRO_GLOBAL_RATE 100000

struct mt6d_srv_stats {
	uint64_t intro_rx;         /* datagrams to an introduction endpoint */
	uint64_t intro_unknown;    /* source IID of no registered client (fix 2) */
	uint64_t intro_bad_source; /* IID known, but slot or port wrong */
	uint64_t intro_forged;     /* does not open with that client's K_pair */
	uint64_t intro_replayed;
	uint64_t intro_stale;   /* a request older than one accepted before */
	uint64_t intro_bad_msg; /* opens, but not a well-formed, timely request */
	uint64_t requests, requests_repeated, refused_full;
	uint64_t sessions_created, sessions_ended[5]; /* by enum mt6d_srv_end */
	uint64_t rx_no_session; /* outer destination of no session or window */
	uint64_t rx_truncated, rx_forged, rx_replayed, rx_bad_inner, rx_spoofed;
	uint64_t tx_no_session; /* inner destination of no session */
	uint64_t tx_bad_inner;
	/* rebinding */
	uint64_t unrecognized;    /* datagrams from a tuple no session expects */
	uint64_t replies;         /* unrecognized-connection replies sent */
	uint64_t replies_limited; /* not sent: the rate limit (triggers >= 34 bytes) */
	uint64_t claims_accepted, claims_refused[4]; /* by enum mt6d_srv_claim */
	uint64_t grants_sent;                        /* renewals (message 4) */
	uint64_t conn_full;                          /* sessions made without a connection ID */
	uint64_t intro_underlay; /* introductions through the underlay endpoint */
	uint64_t intro_limited;  /* dropped by the introduction rate limit */
};

struct mt6d_srv_config {
	uint8_t server_priv[MT6D_KEY_LEN];   /* copied; wiped by mt6d_srv_free */
	uint8_t prefix[MT6D_PREFIX_LEN];     /* the server's outer /64 */
	uint8_t tun_prefix[MT6D_PREFIX_LEN]; /* the tunnel network /64; the server is ::1 */
	uint32_t idle_timeout_s;             /* 0: MT6D_IDLE_TIMEOUT_S */
	uint32_t keepalive_s;                /* 0: MT6D_KEEPALIVE_S */
	uint32_t request_skew_ms;            /* 0: MT6D_REQUEST_SKEW_MS */
	size_t max_sessions;                 /* 0: no limit */
	/* Rebinding: L, epoch, window (0: the defaults); rebind_off turns it
	 * off (responses without a grant, no claims, no replies). */
	struct mt6d_rebind_params rebind;
	bool rebind_off;
	struct mt6d_rebind_rl_params replies; /* limits of unrecognized-connection replies */
	/* Limits of introduction datagrams per source /64 (IPv4 /24), before
	 * anything else is done with them; 0s: MT6D_INTRO_RATE a second, burst
	 * MT6D_INTRO_BURST, MT6D_INTRO_GLOBAL_RATE over all sources. */
	struct mt6d_rebind_rl_params intro_limit;
	/* The underlay endpoint (static; IPv4 as ::ffff:a.b.c.d), port 0: none.
	 * Its datagrams come in through mt6d_srv_input_underlay and leave
	 * through send with from = this endpoint. */
	struct mt6d_endpoint underlay;
	mt6d_send_fn send;
	/* An authentic inner packet of session s for the TUN device: one
	 * packet, or TCP segments coalesced into one (off->gso_size). */
	void (*deliver)(void *arg, struct mt6d_srv_session *s, uint8_t *pkt, size_t len,
	                const struct mt6d_offload *off);
	/* A session was made (up), or is about to be freed (why). May be NULL. */
	void (*on_session)(void *arg, struct mt6d_srv_session *s, bool up, enum mt6d_srv_end why);
	/* Slots of sessions and introduction endpoints entering and leaving
	 * the window (a daemon with per-slot sockets binds here). May be NULL. */
	mt6d_tun_slot_cb on_slot;
	void *arg;
};

struct mt6d_srv;

/* NULL with errno on failure. */
struct mt6d_srv *mt6d_srv_new(const struct mt6d_srv_config *cfg);
/* Frees every session without sending anything; NULL is a no-op. */
void mt6d_srv_free(struct mt6d_srv *srv);
/*
 * Replace the registry. Known keys keep their sessions; the sessions of
 * removed keys end (MT6D_SRV_END_UNREGISTERED); the introduction tables of
 * the live windows are rebuilt. One X25519 per new client.
 */
int mt6d_srv_set_clients(struct mt6d_srv *srv, const struct mt6d_registry *reg, uint64_t unix_ms);
/* Open the introduction endpoint of a window (the publisher's on_intro). A
 * window already open is replaced (new K). */
int mt6d_srv_intro_add(struct mt6d_srv *srv, const struct mt6d_intro *intro, uint64_t unix_ms);
/* Close it; client sessions do not depend on it and continue. */
void mt6d_srv_intro_drop(struct mt6d_srv *srv, uint64_t window);
/*
 * What one receive brought to local from remote: one datagram, or a UDP
 * GRO batch of them (each gso bytes, the last shorter; gso 0: one). buf is
 * modified (opened in place). The session is found once for the batch;
 * its data packets reach deliver coalesced where they were one TCP burst.
 * Everything malformed is counted and dropped.
 */
void mt6d_srv_input_batch(struct mt6d_srv *srv, const struct mt6d_endpoint *local,
                          const struct mt6d_endpoint *remote, uint8_t *buf, size_t len, size_t gso,
                          uint64_t unix_ms);
/* Deliver the packets still being coalesced (call when a read loop ends). */
void mt6d_srv_flush(struct mt6d_srv *srv);
/* The same for one datagram (and flushed at once). */
void mt6d_srv_input(struct mt6d_srv *srv, const struct mt6d_endpoint *local,
                    const struct mt6d_endpoint *remote, uint8_t *dgram, size_t len,
                    uint64_t unix_ms);
/*
 * One datagram that arrived at the underlay endpoint from remote (the
 * client's address and port after any NAT). Sessions there are found by
 * remote; an introduction starts with the client's introduction IID of the
 * slot (8 bytes) before the sealed datagram, since its source address says
 * nothing; anything else from an unknown remote is tried as a claim and
 * answered with an unrecognized-connection reply.
 */
void mt6d_srv_input_underlay(struct mt6d_srv *srv, const struct mt6d_endpoint *remote,
                             uint8_t *dgram, size_t len, uint64_t unix_ms);
/* The session's current endpoints (underlay: the underlay and the peer). */
void mt6d_srv_session_endpoints(const struct mt6d_srv_session *s, struct mt6d_endpoint *local,
                                struct mt6d_endpoint *remote);
/* L and the rebinding verifier's connections in use (0, 0 when off). */
unsigned mt6d_srv_rebind_levels(const struct mt6d_srv *srv);
size_t mt6d_srv_rebind_count(const struct mt6d_srv *srv);
const char *mt6d_srv_claim_name(enum mt6d_srv_claim why);
/*
 * One inner packet from the TUN device (off: its offload header, NULL for a
 * complete packet; a TCP superpacket is split here) for the session of its
 * destination: sealed into one burst from the slot of the moment and handed
 * to send once.
 */
void mt6d_srv_output(struct mt6d_srv *srv, const uint8_t *pkt, size_t len,
                     const struct mt6d_offload *off, uint64_t unix_ms);
/* Rotation, keepalives, idle expiry. Returns the Unix ms to call it again. */
uint64_t mt6d_srv_tick(struct mt6d_srv *srv, uint64_t unix_ms);
/* Send message 2 and end the session at once. */
void mt6d_srv_teardown(struct mt6d_srv *srv, struct mt6d_srv_session *s, uint64_t unix_ms);
/* Tear down every session (the daemon is stopping). */
void mt6d_srv_close(struct mt6d_srv *srv, uint64_t unix_ms);

/* Walking and finding sessions (for mt6d show and the control socket). */
struct mt6d_srv_session *mt6d_srv_first(const struct mt6d_srv *srv);
size_t mt6d_srv_count(const struct mt6d_srv *srv);
struct mt6d_srv_session *mt6d_srv_find_name(const struct mt6d_srv *srv, const char *name);
/* The session whose client has tunnel address addr, or NULL. */
struct mt6d_srv_session *mt6d_srv_find_tun(const struct mt6d_srv *srv,
                                           const uint8_t addr[static 16]);
void mt6d_srv_get_stats(const struct mt6d_srv *srv, struct mt6d_srv_stats *st);
size_t mt6d_srv_clients(const struct mt6d_srv *srv);

/* An open introduction endpoint, for status output. */
struct mt6d_srv_intro_info {
	uint64_t window, slot;
	uint32_t rot_ms;
	uint8_t seed_addr[16];
	struct mt6d_endpoint cur; /* the endpoint of the current slot */
};
/* Fill up to max windows; returns how many are open. */
size_t mt6d_srv_intros(const struct mt6d_srv *srv, struct mt6d_srv_intro_info *out, size_t max);

/* The server's tunnel address: tun_prefix::1. A client's: tun_prefix ||
 * SHA-256("mt6d tun v1" || client public key)[0..8), stable across
 * sessions and server restarts, so a client keeps its inner address. */
void mt6d_tun_addr_client(uint8_t addr[static 16], const uint8_t tun_prefix[static MT6D_PREFIX_LEN],
                          const uint8_t client_pub[static MT6D_KEY_LEN]);

#ifdef __cplusplus
}
#endif
#endif
