/* SPDX-License-Identifier: MIT */
/*
 * Inside the session server (include/mt6d/server.h): the object every
 * srv_*.c file works on, and the calls between them. Not installed.
 *
 *   server.c       the object: registry, datagram dispatch, tick, queries
 *   srv_session.c  client sessions: make, send, receive, end
 *   srv_intro.c    introduction endpoints and requests (fixes 1 and 2)
 *   srv_rebind.c   claims, grants, unrecognized-connection replies
 *
 * Dispatch goes down from server.c only; srv_intro.c makes sessions and
 * srv_rebind.c moves them through srv_session.c, which calls neither.
 */
#ifndef MT6D_SRV_H
#define MT6D_SRV_H

#include <stdbool.h>
#include <string.h>

#include "mt6d/server.h"

#include "mt6d/server.h"

#define MAX_WINDOWS 4 /* the publisher keeps at most three live */
/* A control message sealed: encap overhead + inner header + the longest message. */
#define CTL_BUF (MT6D_ENCAP_OVERHEAD + 40 + MT6D_MSG_MAX_LEN)

struct srv_client {
	uint8_t pub[MT6D_KEY_LEN];
	char name[MT6D_NAME_MAX + 1];
	uint8_t s[MT6D_KEY_LEN];
	uint8_t tun[16];
	uint64_t last_req_ms; /* time of the newest request accepted */
	struct mt6d_srv_session *sess;
};

struct intro_peer {
	struct mt6d_encap encap; /* keyed with K_pair of this client and window */
};

struct intro_win {
	struct mt6d_tun_session tun; /* ks = K; local = SeedIPv6_S; encap unused */
	bool used;
	struct mt6d_intro intro;
	struct mt6d_intro_table *tab;
	uint8_t (*seeds)[MT6D_IID_LEN]; /* C_IID of each client */
	struct intro_peer **peers;      /* per client, made on its first datagram */
	size_t n;
};

struct mt6d_srv {
	struct mt6d_srv_config cfg;
	struct srv_client *clients;
	size_t n;
	struct mt6d_tun_table *table; /* local outer endpoint -> MT6D session */
	struct mt6d_tun_table *inner; /* client tunnel address (port 0) -> session */
	struct mt6d_tun_table *peers; /* underlay: client endpoint -> session */
	struct mt6d_rebind_server *rb;
	struct mt6d_rebind_rl *rl;
	struct mt6d_rebind_rl *intro_rl;   /* introduction datagrams per prefix */
	struct mt6d_srv_session **by_conn; /* 2^L */
	uint32_t epoch_ms;
	uint64_t epoch;
	struct intro_win win[MAX_WINDOWS];
	struct mt6d_srv_session *head;
	size_t count;
	uint8_t server_tun[16];
	struct mt6d_srv_stats st;
	/* The data path's buffers: the burst being sent, the packets being
	 * coalesced for the caller and the session they belong to. */
	struct mt6d_burst tx;
	struct mt6d_rx rx;
	uint8_t *rx_buf;
	struct mt6d_srv_session *rx_sess;
};

static inline uint64_t ns_of(uint64_t unix_ms)
{
	return unix_ms * 1000000u;
}

static inline bool ep_eq(const struct mt6d_endpoint *a, const struct mt6d_endpoint *b)
{
	return a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

/* One datagram from local to remote (no slot socket). */
static inline void srv_send_one(struct mt6d_srv *srv, const struct mt6d_endpoint *local,
                                const struct mt6d_endpoint *remote, const uint8_t *p, size_t len)
{
	struct mt6d_tx tx = {.from = local,
	                     .to = remote,
	                     .slot = NULL,
	                     .underlay = ep_eq(local, &srv->cfg.underlay) && srv->cfg.underlay.port,
	                     .p = p,
	                     .n = 1,
	                     .stride = len,
	                     .total = len};

	srv->cfg.send(srv->cfg.arg, &tx);
}

/* Deliver the packets held for coalescing (of srv->rx_sess). */
static inline void srv_flush(struct mt6d_srv *srv)
{
	mt6d_rx_flush(&srv->rx);
	srv->rx_sess = NULL;
}

/* srv_session.c */
struct intro_win *srv_intro_of(struct mt6d_srv *srv, const struct mt6d_tun_session *t);
void srv_tun_release(struct mt6d_srv *srv, struct mt6d_tun_session *t);
void srv_tun_rotate(struct mt6d_srv *srv, struct mt6d_tun_session *t, uint64_t unix_ms);
/* Seal pkt (a superpacket when off says so) and send it as one burst. */
void srv_session_send(struct mt6d_srv *srv, struct mt6d_srv_session *s, const uint8_t *pkt,
                      size_t len, const struct mt6d_offload *off, uint64_t unix_ms);
void srv_session_control(struct mt6d_srv *srv, struct mt6d_srv_session *s, const struct mt6d_msg *m,
                         uint64_t unix_ms);
void srv_session_end(struct mt6d_srv *srv, struct mt6d_srv_session *s, enum mt6d_srv_end why);
/* One datagram of s; data goes to srv->rx. false: s has ended. */
bool srv_session_input(struct mt6d_srv *srv, struct mt6d_srv_session *s, uint8_t *dgram, size_t len,
                       uint64_t unix_ms);
struct mt6d_srv_session *srv_session_new(struct mt6d_srv *srv, size_t c, const struct intro_win *w,
                                         uint64_t request_id, const uint8_t client_prefix[static 8],
                                         const struct mt6d_endpoint *peer, uint64_t unix_ms);

/* srv_intro.c */
void srv_intro_input(struct mt6d_srv *srv, struct intro_win *w, uint64_t slot,
                     const struct mt6d_endpoint *local, const struct mt6d_endpoint *remote,
                     uint8_t *dgram, size_t len, uint64_t unix_ms);
int srv_intro_input_underlay(struct mt6d_srv *srv, const struct mt6d_endpoint *remote,
                             uint8_t *dgram, size_t len, uint64_t unix_ms);
int srv_win_fill(struct mt6d_srv *srv, struct intro_win *w, uint64_t unix_ms);
void srv_win_free(struct mt6d_srv *srv, struct intro_win *w);

/* srv_rebind.c */
size_t srv_grant_bytes(struct mt6d_srv *srv, const struct mt6d_srv_session *s, uint8_t *out,
                       size_t cap, uint64_t unix_ms);
void srv_send_grant(struct mt6d_srv *srv, struct mt6d_srv_session *s, uint64_t unix_ms);
void srv_unknown_input(struct mt6d_srv *srv, const struct mt6d_endpoint *local,
                       const struct mt6d_endpoint *remote, bool underlay, const uint8_t *dgram,
                       size_t len, uint64_t unix_ms);

#endif
