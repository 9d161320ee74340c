/* SPDX-License-Identifier: MIT */
/*
 * The server side of the session protocol (docs/sessions.md): introduction
 * endpoints, request validation, client sessions. No I/O: datagrams come in
 * through mt6d_srv_input() and leave through the send callback.
 *
 * Rules this file keeps:
 *  - One table maps every local outer endpoint in use (three slots of each
 *    introduction endpoint and of each session) to its MT6D session, so the
 *    first step of every datagram is one hash lookup whatever the number of
 *    sessions. A second table maps each client's tunnel address to its
 *    session for packets from the TUN device.
 *  - An introduction datagram names no client: its source IID is looked up
 *    among the IIDs every registered client would use in slots i-1..i+1
 *    (fix 2); it must have been sent in the slot of the endpoint it reached,
 *    from that client's port, and open under that client's K_pair (fix 1).
 *    Only then is its content read.
 *  - A session belongs to exactly one registered client; a new request from
 *    that client replaces it, a repeated one (same request id) gets the
 *    same response. Its key, IIDs and outer addresses are fresh and random;
 *    only the tunnel address is stable (derived from the client's key).
 *  - A session accepts inner packets whose source is its client's tunnel
 *    address only, so no client can speak for another; where packets go
 *    after that is the host's routing (IPv6 forwarding is off by default).
 *  - Nothing a peer sends can free a session except an authentic teardown
 *    of that session; everything else is counted and dropped.
 *  - Secrets (shared secrets, K, K_pair, session keys, stored responses)
 *    are wiped when their holder is freed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mt6d/server.h"

#define MAX_WINDOWS 4 /* the publisher keeps at most three live */
/* A control message sealed: encap overhead + inner header + the longest message. */
#define CTL_BUF (MT6D_ENCAP_OVERHEAD + 40 + MT6D_MSG_MAX_LEN)

static const char tun_label[] = "mt6d tun v1"; /* 11 bytes hashed */

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
	struct mt6d_srv_session **by_conn; /* 2^L */
	uint32_t epoch_ms;
	uint64_t epoch;
	struct intro_win win[MAX_WINDOWS];
	struct mt6d_srv_session *head;
	size_t count;
	uint8_t server_tun[16];
	struct mt6d_srv_stats st;
};

const char *mt6d_srv_end_name(enum mt6d_srv_end why)
{
	switch (why) {
	case MT6D_SRV_END_TEARDOWN:
		return "teardown";
	case MT6D_SRV_END_IDLE:
		return "idle";
	case MT6D_SRV_END_REPLACED:
		return "replaced";
	case MT6D_SRV_END_LOCAL:
		return "local";
	case MT6D_SRV_END_UNREGISTERED:
		return "unregistered";
	}
	return "?";
}

void mt6d_tun_addr_client(uint8_t addr[static 16], const uint8_t tun_prefix[static MT6D_PREFIX_LEN],
                          const uint8_t client_pub[static MT6D_KEY_LEN])
{
	crypto_hash_sha256_state st;
	uint8_t h[32];

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)tun_label, sizeof(tun_label) - 1);
	crypto_hash_sha256_update(&st, client_pub, MT6D_KEY_LEN);
	crypto_hash_sha256_final(&st, h);
	memcpy(addr, tun_prefix, MT6D_PREFIX_LEN);
	memcpy(addr + 8, h, 8);
	/* ::0 is the subnet-router anycast address and ::1 the server's. */
	if (mt6d_get_be64(addr + 8) <= 1)
		addr[8] = 0x80;
}

static uint64_t ns_of(uint64_t unix_ms)
{
	return unix_ms * 1000000u;
}

/* ---- helpers shared by both kinds of MT6D session ---- */

static struct intro_win *intro_of(struct mt6d_srv *srv, const struct mt6d_tun_session *t)
{
	for (int i = 0; i < MAX_WINDOWS; i++)
		if (t == &srv->win[i].tun)
			return &srv->win[i];
	return NULL;
}

/* Report every slot as leaving, then drop the session's table entries and
 * wipe its keys. */
static void tun_release(struct mt6d_srv *srv, struct mt6d_tun_session *t)
{
	for (int i = 0; i < MT6D_TUN_SLOTS; i++)
		if (t->win[i].valid && srv->cfg.on_slot)
			srv->cfg.on_slot(t, &t->win[i], false, srv->cfg.arg);
	mt6d_tun_session_clear(srv->table, t);
}

static void tun_rotate(struct mt6d_srv *srv, struct mt6d_tun_session *t, uint64_t unix_ms)
{
	uint64_t slot = mt6d_slot(unix_ms, t->rot_ms);

	if (slot != t->cur || !t->win[slot % MT6D_TUN_SLOTS].valid)
		mt6d_tun_session_rotate(srv->table, t, slot, srv->cfg.on_slot, srv->cfg.arg);
}

/* The slot to send from: what the clock says now, or the current one when
 * the tick has not yet moved the window. */
static struct mt6d_tun_slot *tx_slot(struct mt6d_tun_session *t, uint64_t unix_ms)
{
	struct mt6d_tun_slot *sl = mt6d_tun_session_slot(t, mt6d_slot(unix_ms, t->rot_ms));

	return sl ? sl : mt6d_tun_session_slot(t, t->cur);
}

/* ---- sessions ---- */

static bool ep_eq(const struct mt6d_endpoint *a, const struct mt6d_endpoint *b)
{
	return a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

void mt6d_srv_session_endpoints(const struct mt6d_srv_session *s, struct mt6d_endpoint *local,
                                struct mt6d_endpoint *remote)
{
	const struct mt6d_tun_slot *sl = &s->tun.win[s->tun.cur % MT6D_TUN_SLOTS];

	if (s->underlay) {
		memset(local, 0, sizeof(*local)); /* the caller knows its underlay */
		*remote = s->peer;
	} else {
		*local = sl->local;
		*remote = sl->remote;
	}
}

static void session_send(struct mt6d_srv *srv, struct mt6d_srv_session *s, uint8_t *buf, size_t cap,
                         size_t len, uint64_t unix_ms)
{
	struct mt6d_tun_slot *sl = s->underlay ? NULL : tx_slot(&s->tun, unix_ms);
	int n;

	/* An underlay session whose tuple a NAT gave to another client has
	 * nowhere to send until it claims its own. */
	if ((!sl && !s->underlay) || (s->underlay && !s->peer.port)) {
		s->tun.stats.tx_errors++;
		return;
	}
	n = mt6d_encap_seal_inplace(&s->tun.encap, buf, cap, len);
	if (n < 0) {
		s->tun.stats.tx_errors++;
		return;
	}
	s->tun.stats.tx_packets++;
	s->tun.stats.tx_bytes += len;
	s->last_tx_ms = unix_ms;
	if (s->underlay)
		srv->cfg.send(srv->cfg.arg, &srv->cfg.underlay, &s->peer, buf, (size_t)n);
	else
		srv->cfg.send(srv->cfg.arg, &sl->local, &sl->remote, buf, (size_t)n);
}

static void session_control(struct mt6d_srv *srv, struct mt6d_srv_session *s,
                            const struct mt6d_msg *m, uint64_t unix_ms)
{
	uint8_t buf[CTL_BUF], msg[MT6D_MSG_MAX_LEN];
	int len = mt6d_msg_encode(msg, sizeof(msg), m);

	if (len < 0)
		return;
	len = mt6d_msg_wrap(buf + MT6D_ENCAP_INNER_OFF, sizeof(buf) - MT6D_ENCAP_INNER_OFF,
	                    s->server_tun, s->client_tun, msg, (size_t)len);
	if (len > 0)
		session_send(srv, s, buf, sizeof(buf), (size_t)len, unix_ms);
	/* A grant holds the client's tree keys and connection key. */
	sodium_memzero(msg, sizeof(msg));
	sodium_memzero(buf, sizeof(buf));
}

static void session_end(struct mt6d_srv *srv, struct mt6d_srv_session *s, enum mt6d_srv_end why)
{
	struct mt6d_endpoint ep = {.port = 0};

	if (srv->cfg.on_session)
		srv->cfg.on_session(srv->cfg.arg, s, false, why);
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->client < srv->n && srv->clients[s->client].sess == s)
		srv->clients[s->client].sess = NULL;
	memcpy(ep.addr, s->client_tun, 16);
	mt6d_tun_table_del(srv->inner, &ep, &s->tun);
	if (s->underlay)
		mt6d_tun_table_del(srv->peers, &s->peer, &s->tun);
	if (s->has_conn) {
		mt6d_rebind_server_release(srv->rb, s->conn);
		srv->by_conn[s->conn] = NULL;
	}
	tun_release(srv, &s->tun);
	sodium_memzero(s, sizeof(*s));
	free(s);
	srv->count--;
	srv->st.sessions_ended[why]++;
}

static void session_input(struct mt6d_srv *srv, struct mt6d_srv_session *s, uint8_t *dgram,
                          size_t len, uint64_t unix_ms)
{
	struct mt6d_tun_stats *ts = &s->tun.stats;
	uint8_t *inner = dgram + MT6D_ENCAP_INNER_OFF, src[16], dst[16];
	const uint8_t *msg;
	struct mt6d_msg m;
	int n = mt6d_encap_open_inplace(&s->tun.encap, dgram, len, NULL), ml;

	if (n == -EMSGSIZE) {
		ts->rx_truncated++;
		srv->st.rx_truncated++;
		return;
	} else if (n == -EBADMSG) {
		ts->rx_forged++;
		srv->st.rx_forged++;
		return;
	} else if (n == -EEXIST) {
		ts->rx_replayed++;
		srv->st.rx_replayed++;
		return;
	} else if (n < 40 || inner[0] >> 4 != 6) {
		ts->rx_bad_inner++;
		srv->st.rx_bad_inner++;
		return;
	}
	/* Authentic: the session is alive, whatever the packet holds. */
	ts->rx_packets++;
	ts->rx_bytes += (uint64_t)n;
	s->last_rx_ms = unix_ms;
	if (memcmp(inner + 8, s->client_tun, 16) != 0) {
		s->rx_spoofed++;
		srv->st.rx_spoofed++;
		return;
	}
	if (inner[6] != MT6D_NH_CONTROL) {
		srv->cfg.deliver(srv->cfg.arg, s, inner, (size_t)n);
		return;
	}
	ml = mt6d_msg_unwrap(inner, (size_t)n, &msg, src, dst);
	if (ml < 0 || mt6d_msg_decode(&m, msg, (size_t)ml) < 0) {
		ts->rx_bad_inner++;
		srv->st.rx_bad_inner++;
		return;
	}
	if (m.type == MT6D_MSG_TEARDOWN) {
		session_end(srv, s, MT6D_SRV_END_TEARDOWN);
	} else if (m.type == MT6D_MSG_KEEPALIVE) {
		/* Answer a probe, at most once a second: the client judges the
		 * server alive by what it receives, on its own interval. */
		if (unix_ms >= s->last_tx_ms + 1000) {
			struct mt6d_msg ka = {.type = MT6D_MSG_KEEPALIVE,
			                      .u.keepalive.time_ms = unix_ms};
			session_control(srv, s, &ka, unix_ms);
		}
	} else {
		ts->rx_bad_inner++;
		srv->st.rx_bad_inner++;
	}
}

/* ---- introduction ---- */

/* The grant of session s for the epoch of unix_ms, encoded into out: its
 * length, or 0 when the session has no connection ID. */
static size_t grant_bytes(struct mt6d_srv *srv, const struct mt6d_srv_session *s, uint8_t *out,
                          size_t cap, uint64_t unix_ms)
{
	struct mt6d_rebind_grant g;
	int n;

	if (!s->has_conn || mt6d_rebind_server_renew(srv->rb, s->conn, unix_ms, &g) < 0)
		return 0;
	n = mt6d_rebind_grant_encode(out, cap, &g);
	mt6d_rebind_grant_wipe(&g);
	return n > 0 ? (size_t)n : 0;
}

/* Send session s's response (version 2 with the grant of the current epoch
 * when it has a connection ID) on the introduction channel of client c. */
static void intro_respond(struct mt6d_srv *srv, struct intro_win *w, struct intro_peer *p,
                          const struct mt6d_endpoint *local, const struct mt6d_endpoint *remote,
                          const uint8_t prefix[static MT6D_PREFIX_LEN], size_t c,
                          const struct mt6d_srv_session *s, uint64_t unix_ms)
{
	uint8_t buf[CTL_BUF], dst[16], *msg = buf + MT6D_ENCAP_INNER_OFF + 40;
	size_t mlen = MT6D_MSG_RESPONSE_LEN, g;
	int len;

	memcpy(msg, s->response, MT6D_MSG_RESPONSE_LEN);
	g = grant_bytes(srv, s, msg + mlen, MT6D_REBIND_GRANT_MAX, unix_ms);
	if (g) {
		msg[1] = MT6D_MSG_RESPONSE_V2;
		mlen += g;
	}
	memcpy(dst, prefix, MT6D_PREFIX_LEN);
	memcpy(dst + 8, w->seeds[c], MT6D_IID_LEN);
	len = mt6d_msg_wrap(buf + MT6D_ENCAP_INNER_OFF, sizeof(buf) - MT6D_ENCAP_INNER_OFF,
	                    w->intro.seed_addr, dst, msg, mlen);
	if (len > 0)
		len = mt6d_encap_seal_inplace(&p->encap, buf, sizeof(buf), (size_t)len);
	if (len > 0)
		srv->cfg.send(srv->cfg.arg, local, remote, buf, (size_t)len);
	sodium_memzero(buf, sizeof(buf));
}

static struct mt6d_srv_session *session_new(struct mt6d_srv *srv, size_t c,
                                            const struct intro_win *w, uint64_t request_id,
                                            const uint8_t client_prefix[static 8],
                                            const struct mt6d_endpoint *peer, uint64_t unix_ms)
{
	struct srv_client *cl = &srv->clients[c];
	struct mt6d_srv_session *s = calloc(1, sizeof(*s));
	struct mt6d_tun_host local, remote;
	struct mt6d_endpoint ep = {.port = 0};
	struct mt6d_msg m = {.type = MT6D_MSG_RESPONSE};
	uint8_t key[MT6D_INTRO_KEY_LEN];

	if (!s)
		return NULL;
	randombytes_buf(key, sizeof(key));
	memcpy(local.prefix, srv->cfg.prefix, MT6D_PREFIX_LEN);
	memcpy(remote.prefix, client_prefix, MT6D_PREFIX_LEN);
	do {
		randombytes_buf(local.iid, MT6D_IID_LEN);
		randombytes_buf(remote.iid, MT6D_IID_LEN);
	} while (!memcmp(&local, &remote, sizeof(local)));
	if (mt6d_tun_session_init(&s->tun, key, &local, &remote, MT6D_ROLE_SERVER, w->intro.rot_ms,
	                          ns_of(unix_ms)) < 0)
		goto fail;
	s->tun.user = s;
	s->client = c;
	memcpy(s->name, cl->name, sizeof(s->name));
	memcpy(s->client_tun, cl->tun, 16);
	memcpy(s->server_tun, srv->server_tun, 16);
	s->request_id = request_id;
	s->created_ms = s->last_rx_ms = s->last_tx_ms = unix_ms;
	memcpy(ep.addr, s->client_tun, 16);
	if (mt6d_tun_table_add(srv->inner, &ep, &s->tun, 0) < 0)
		goto fail;
	if (peer) {
		s->underlay = true;
		s->peer = *peer;
		if (mt6d_tun_table_add(srv->peers, peer, &s->tun, 0) < 0) {
			mt6d_tun_table_del(srv->inner, &ep, &s->tun);
			goto fail;
		}
	}
	if (srv->rb) {
		struct mt6d_rebind_grant g;

		if (mt6d_rebind_server_assign(srv->rb, unix_ms, &g) == 0) {
			s->has_conn = true;
			s->conn = g.conn;
			srv->by_conn[g.conn] = s;
		} else {
			srv->st.conn_full++;
		}
		mt6d_rebind_grant_wipe(&g);
	}
	m.u.response.request_id = request_id;
	m.u.response.tun_prefix_len = 64;
	m.u.response.rot_ms = w->intro.rot_ms;
	m.u.response.idle_timeout_s = srv->cfg.idle_timeout_s;
	memcpy(m.u.response.session_key, key, sizeof(key));
	memcpy(m.u.response.server_iid, local.iid, MT6D_IID_LEN);
	memcpy(m.u.response.client_iid, remote.iid, MT6D_IID_LEN);
	memcpy(m.u.response.client_tun, s->client_tun, 16);
	memcpy(m.u.response.server_tun, s->server_tun, 16);
	mt6d_msg_encode(s->response, sizeof(s->response), &m);
	sodium_memzero(&m, sizeof(m));
	sodium_memzero(key, sizeof(key));
	if (!s->underlay)
		mt6d_tun_session_rotate(srv->table, &s->tun, mt6d_slot(unix_ms, s->tun.rot_ms),
		                        srv->cfg.on_slot, srv->cfg.arg);
	s->next = srv->head;
	if (srv->head)
		srv->head->prev = s;
	srv->head = s;
	srv->count++;
	cl->sess = s;
	srv->st.sessions_created++;
	if (srv->cfg.on_session)
		srv->cfg.on_session(srv->cfg.arg, s, true, MT6D_SRV_END_LOCAL);
	return s;
fail:
	sodium_memzero(key, sizeof(key));
	mt6d_tun_session_clear(NULL, &s->tun);
	sodium_memzero(s, sizeof(*s));
	free(s);
	return NULL;
}

static struct intro_peer *peer_get(struct intro_win *w, const struct srv_client *cl, size_t c,
                                   uint64_t unix_ms)
{
	struct intro_peer *p = w->peers[c];
	uint8_t kpair[MT6D_INTRO_KEY_LEN];

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	mt6d_intro_pair_key(kpair, cl->s, w->intro.key);
	mt6d_encap_init(&p->encap, kpair, MT6D_ROLE_SERVER, ns_of(unix_ms));
	sodium_memzero(kpair, sizeof(kpair));
	w->peers[c] = p;
	return p;
}

/*
 * A datagram of client c on window w's introduction channel, found by its
 * source IID (MT6D) or by the IID in front of it (underlay, peer = the
 * client's endpoint): open it, check the request, make or repeat the
 * session.
 */
static void intro_input(struct mt6d_srv *srv, struct intro_win *w, size_t c,
                        const struct mt6d_endpoint *local, const struct mt6d_endpoint *remote,
                        bool underlay, uint8_t *dgram, size_t len, uint64_t unix_ms)
{
	uint8_t *inner = dgram + MT6D_ENCAP_INNER_OFF, src[16], dst[16];
	uint8_t prefix[MT6D_PREFIX_LEN] = {0};
	struct srv_client *cl = &srv->clients[c];
	struct mt6d_srv_session *s;
	struct intro_peer *p;
	const uint8_t *msg;
	struct mt6d_msg m;
	int n, ml;

	/* An underlay client has no MT6D prefix: it says zero. */
	if (!underlay)
		memcpy(prefix, remote->addr, MT6D_PREFIX_LEN);
	p = peer_get(w, cl, c, unix_ms);
	if (!p)
		return;
	n = mt6d_encap_open_inplace(&p->encap, dgram, len, NULL);
	if (n == -EMSGSIZE || n == -EBADMSG) {
		srv->st.intro_forged++;
		return;
	} else if (n == -EEXIST) {
		srv->st.intro_replayed++;
		return;
	}
	ml = n < 0 ? -1 : mt6d_msg_unwrap(inner, (size_t)n, &msg, src, dst);
	if (ml < 0 || mt6d_msg_decode(&m, msg, (size_t)ml) < 0 || m.type != MT6D_MSG_REQUEST ||
	    memcmp(dst, w->intro.seed_addr, 16) != 0 || memcmp(src, prefix, 8) != 0 ||
	    memcmp(src + 8, w->seeds[c], 8) != 0 ||
	    memcmp(m.u.request.client_prefix, prefix, MT6D_PREFIX_LEN) != 0 ||
	    m.u.request.time_ms + srv->cfg.request_skew_ms < unix_ms ||
	    m.u.request.time_ms > unix_ms + srv->cfg.request_skew_ms) {
		srv->st.intro_bad_msg++;
		return;
	}
	s = cl->sess;
	if (s && s->request_id == m.u.request.request_id && s->underlay == underlay &&
	    (!underlay || ep_eq(&s->peer, remote))) {
		/* Our response was lost: the same one again. */
		srv->st.requests++;
		srv->st.requests_repeated++;
		intro_respond(srv, w, p, local, remote, prefix, c, s, unix_ms);
		return;
	}
	/* A request older than one already accepted is a replay (the replay
	 * window of K_pair is gone once a session is up): it must not replace
	 * the session the client made since. */
	if (m.u.request.time_ms <= cl->last_req_ms) {
		srv->st.intro_stale++;
		return;
	}
	srv->st.requests++;
	if (underlay)
		srv->st.intro_underlay++;
	if (s)
		session_end(srv, s, MT6D_SRV_END_REPLACED);
	if (srv->cfg.max_sessions && srv->count >= srv->cfg.max_sessions) {
		srv->st.refused_full++;
		return;
	}
	if (underlay) {
		/* The tuple may still be another session's (a NAT reused it):
		 * it is this client's now. */
		struct mt6d_tun_session *t = mt6d_tun_table_find(srv->peers, remote, NULL);

		if (t) {
			struct mt6d_srv_session *o = t->user;
			mt6d_tun_table_del(srv->peers, &o->peer, &o->tun);
			memset(&o->peer, 0, sizeof(o->peer));
		}
	}
	s = session_new(srv, c, w, m.u.request.request_id, prefix, underlay ? remote : NULL,
	                unix_ms);
	if (!s)
		return;
	cl->last_req_ms = m.u.request.time_ms;
	intro_respond(srv, w, p, local, remote, prefix, c, s, unix_ms);
	/* The client is done with this window's introduction: its state goes,
	 * so a server of 100,000 sessions does not keep 100,000 replay windows
	 * until the window closes. A lost response brings a repeat, which
	 * makes it again. */
	mt6d_encap_clear(&p->encap);
	free(p);
	w->peers[c] = NULL;
}

/* A datagram to an introduction endpoint (MT6D): the client is the one
 * whose introduction IID in this slot is the source's. */
static void intro_input_mt6d(struct mt6d_srv *srv, struct intro_win *w, uint64_t slot,
                             const struct mt6d_endpoint *local, const struct mt6d_endpoint *remote,
                             uint8_t *dgram, size_t len, uint64_t unix_ms)
{
	uint64_t found_slot;
	uint8_t a[16];
	uint16_t port;
	size_t c;

	srv->st.intro_rx++;
	if (mt6d_intro_table_find(w->tab, remote->addr + 8, &c, &found_slot) < 0) {
		srv->st.intro_unknown++;
		return;
	}
	/* The client sends from its slot-i endpoint to ours: both the slot
	 * and its port must agree, or this is not that client's datagram. */
	mt6d_slot_address(a, &port, remote->addr, w->seeds[c], w->intro.key, slot);
	if (found_slot != slot || port != remote->port) {
		srv->st.intro_bad_source++;
		return;
	}
	intro_input(srv, w, c, local, remote, false, dgram, len, unix_ms);
}

/* An underlay datagram that starts with a registered client's introduction
 * IID of slot i-1, i or i+1 of a live window: 0 when it was one (handled),
 * -ENOENT when not. */
static int intro_input_underlay(struct mt6d_srv *srv, const struct mt6d_endpoint *remote,
                                uint8_t *dgram, size_t len, uint64_t unix_ms)
{
	if (len < MT6D_IID_LEN + MT6D_ENCAP_OVERHEAD)
		return -ENOENT;
	for (int i = 0; i < MAX_WINDOWS; i++) {
		struct intro_win *w = &srv->win[i];
		uint64_t slot;
		size_t c;

		if (!w->used || mt6d_intro_table_find(w->tab, dgram, &c, &slot) < 0)
			continue;
		srv->st.intro_rx++;
		intro_input(srv, w, c, &srv->cfg.underlay, remote, true, dgram + MT6D_IID_LEN,
		            len - MT6D_IID_LEN, unix_ms);
		return 0;
	}
	return -ENOENT;
}

static void win_clear_peers(struct intro_win *w)
{
	if (!w->peers)
		return;
	for (size_t c = 0; c < w->n; c++) {
		if (!w->peers[c])
			continue;
		mt6d_encap_clear(&w->peers[c]->encap);
		free(w->peers[c]);
		w->peers[c] = NULL;
	}
}

/* (Re)compute the window's client seeds and table for the current registry. */
static int win_fill(struct mt6d_srv *srv, struct intro_win *w, uint64_t unix_ms)
{
	win_clear_peers(w);
	free(w->peers);
	if (w->seeds)
		sodium_memzero(w->seeds, w->n * MT6D_IID_LEN);
	free(w->seeds);
	w->peers = calloc(srv->n ? srv->n : 1, sizeof(*w->peers));
	w->seeds = calloc(srv->n ? srv->n : 1, MT6D_IID_LEN);
	w->n = srv->n;
	if (!w->peers || !w->seeds)
		return -ENOMEM;
	for (size_t c = 0; c < srv->n; c++)
		mt6d_client_seed_iid(w->seeds[c], srv->clients[c].s, w->intro.key);
	return mt6d_intro_table_reset(w->tab, (const uint8_t(*)[MT6D_IID_LEN])w->seeds, srv->n,
	                              w->intro.key, mt6d_slot(unix_ms, w->intro.rot_ms));
}

static void win_free(struct mt6d_srv *srv, struct intro_win *w)
{
	if (!w->used)
		return;
	tun_release(srv, &w->tun);
	win_clear_peers(w);
	free(w->peers);
	if (w->seeds)
		sodium_memzero(w->seeds, w->n * MT6D_IID_LEN);
	free(w->seeds);
	mt6d_intro_table_free(w->tab);
	sodium_memzero(w, sizeof(*w));
}

int mt6d_srv_intro_add(struct mt6d_srv *srv, const struct mt6d_intro *intro, uint64_t unix_ms)
{
	struct intro_win *w = NULL;
	struct mt6d_tun_host local, remote;
	int ret;

	if (!srv || !intro || !intro->rot_ms)
		return -EINVAL;
	mt6d_srv_intro_drop(srv, intro->window);
	for (int i = 0; i < MAX_WINDOWS && !w; i++)
		if (!srv->win[i].used)
			w = &srv->win[i];
	if (!w) {
		/* Keep the newest: drop the oldest window. */
		w = &srv->win[0];
		for (int i = 1; i < MAX_WINDOWS; i++)
			if (srv->win[i].intro.window < w->intro.window)
				w = &srv->win[i];
		win_free(srv, w);
	}
	memset(w, 0, sizeof(*w));
	w->intro = *intro;
	w->tab = mt6d_intro_table_new();
	if (!w->tab)
		return -ENOMEM;
	memcpy(local.prefix, intro->seed_addr, MT6D_PREFIX_LEN);
	memcpy(local.iid, intro->seed_addr + 8, MT6D_IID_LEN);
	/* The endpoint has no single peer; any remote other than itself. */
	memset(&remote, 0, sizeof(remote));
	for (int i = 0; i < MT6D_IID_LEN; i++)
		remote.iid[i] = (uint8_t)~local.iid[i];
	ret = mt6d_tun_session_init(&w->tun, intro->key, &local, &remote, MT6D_ROLE_SERVER,
	                            intro->rot_ms, 0);
	if (ret == 0)
		mt6d_encap_clear(&w->tun.encap);
	w->used = true;
	if (ret == 0)
		ret = win_fill(srv, w, unix_ms);
	if (ret == 0)
		ret = mt6d_tun_session_rotate(srv->table, &w->tun,
		                              mt6d_slot(unix_ms, intro->rot_ms), srv->cfg.on_slot,
		                              srv->cfg.arg);
	if (ret < 0)
		win_free(srv, w);
	return ret;
}

void mt6d_srv_intro_drop(struct mt6d_srv *srv, uint64_t window)
{
	for (int i = 0; i < MAX_WINDOWS; i++)
		if (srv->win[i].used && srv->win[i].intro.window == window)
			win_free(srv, &srv->win[i]);
}

size_t mt6d_srv_intros(const struct mt6d_srv *srv, struct mt6d_srv_intro_info *out, size_t max)
{
	size_t n = 0;

	for (int i = 0; i < MAX_WINDOWS; i++) {
		const struct intro_win *w = &srv->win[i];
		const struct mt6d_tun_slot *sl;

		if (!w->used)
			continue;
		if (n < max) {
			out[n].window = w->intro.window;
			out[n].slot = w->tun.cur;
			out[n].rot_ms = w->intro.rot_ms;
			memcpy(out[n].seed_addr, w->intro.seed_addr, 16);
			sl = &w->tun.win[w->tun.cur % MT6D_TUN_SLOTS];
			out[n].cur = sl->local;
		}
		n++;
	}
	return n;
}

/* ---- rebinding (docs/rebind.md) ---- */

const char *mt6d_srv_claim_name(enum mt6d_srv_claim why)
{
	switch (why) {
	case MT6D_SRV_CLAIM_BAD:
		return "bad";
	case MT6D_SRV_CLAIM_LOCATION:
		return "location";
	case MT6D_SRV_CLAIM_STALE:
		return "stale";
	case MT6D_SRV_CLAIM_REPLAYED:
		return "replayed";
	}
	return "?";
}

/* Message 4 with the grant of the current epoch. */
static void send_grant(struct mt6d_srv *srv, struct mt6d_srv_session *s, uint64_t unix_ms)
{
	struct mt6d_msg m = {.type = MT6D_MSG_GRANT};
	size_t n = grant_bytes(srv, s, m.u.grant.bytes, sizeof(m.u.grant.bytes), unix_ms);

	if (n) {
		m.u.grant.len = (uint16_t)n;
		session_control(srv, s, &m, unix_ms);
		srv->st.grants_sent++;
	}
	sodium_memzero(&m, sizeof(m));
}

/*
 * An authentic claim for connection res->conn arrived from remote: move its
 * session there. MT6D: the claim came from the client's address of one of
 * the window's slots (its IID and port) under a new /64, which becomes the
 * session's client prefix. Underlay: remote becomes the session's peer.
 */
static int claim_accept(struct mt6d_srv *srv, const struct mt6d_rebind_result *res,
                        const struct mt6d_endpoint *remote, bool underlay, uint64_t unix_ms)
{
	struct mt6d_srv_session *s = srv->by_conn[res->conn];
	struct mt6d_msg ka = {.type = MT6D_MSG_KEEPALIVE, .u.keepalive.time_ms = unix_ms};

	if (!s || s->underlay != underlay) {
		srv->st.claims_refused[MT6D_SRV_CLAIM_BAD]++;
		return -EBADMSG;
	}
	if (underlay) {
		struct mt6d_tun_session *t = mt6d_tun_table_find(srv->peers, remote, NULL);

		if (t && t != &s->tun) {
			/* A NAT gave the tuple to this client: not the other's. */
			struct mt6d_srv_session *o = t->user;
			mt6d_tun_table_del(srv->peers, &o->peer, &o->tun);
			memset(&o->peer, 0, sizeof(o->peer));
		}
		mt6d_tun_table_del(srv->peers, &s->peer, &s->tun);
		s->peer = *remote;
		mt6d_tun_table_add(srv->peers, &s->peer, &s->tun, 0);
	} else {
		struct mt6d_tun_slot *hit = NULL;

		for (int i = 0; i < MT6D_TUN_SLOTS && !hit; i++) {
			struct mt6d_tun_slot *sl = &s->tun.win[i];
			if (sl->valid && sl->remote.port == remote->port &&
			    !memcmp(sl->remote.addr + 8, remote->addr + 8, MT6D_IID_LEN))
				hit = sl;
		}
		if (!hit) {
			srv->st.claims_refused[MT6D_SRV_CLAIM_LOCATION]++;
			return -EADDRNOTAVAIL;
		}
		memcpy(s->tun.remote.prefix, remote->addr, MT6D_PREFIX_LEN);
		for (int i = 0; i < MT6D_TUN_SLOTS; i++)
			memcpy(s->tun.win[i].remote.addr, remote->addr, MT6D_PREFIX_LEN);
	}
	srv->st.claims_accepted++;
	s->rebinds++;
	s->rebind_ms = unix_ms;
	s->last_rx_ms = unix_ms;
	/* The client learns the claim worked from what arrives next. */
	session_control(srv, s, &ka, unix_ms);
	/* A claim made with the previous epoch's keys: the client missed the
	 * renewal. */
	if (res->epoch < srv->epoch && !s->renew_left) {
		s->renew_left = 1;
		s->renew_next_ms = unix_ms;
	}
	return 0;
}

/*
 * A datagram that arrived at local from a tuple no session expects: a claim
 * if it is one, else an unrecognized-connection reply (never larger than
 * the datagram, rate-limited per source prefix).
 */
static void unknown_input(struct mt6d_srv *srv, const struct mt6d_endpoint *local,
                          const struct mt6d_endpoint *remote, bool underlay, const uint8_t *dgram,
                          size_t len, uint64_t unix_ms)
{
	struct mt6d_rebind_loc from;
	struct mt6d_rebind_result res;
	uint8_t out[MT6D_REBIND_REPLY_LEN];
	int n;

	srv->st.unrecognized++;
	if (!srv->rb)
		return;
	memcpy(from.addr, remote->addr, 16);
	from.port = remote->port;
	if (len == MT6D_REBIND_CLAIM_LEN(mt6d_rebind_server_levels(srv->rb))) {
		n = mt6d_rebind_server_verify(srv->rb, dgram, len, &from, unix_ms, &res);
		if (n == 0 && claim_accept(srv, &res, remote, underlay, unix_ms) == 0)
			return;
		if (n == -EADDRNOTAVAIL)
			srv->st.claims_refused[MT6D_SRV_CLAIM_LOCATION]++;
		else if (n == -ESTALE)
			srv->st.claims_refused[MT6D_SRV_CLAIM_STALE]++;
		else if (n == -EALREADY)
			srv->st.claims_refused[MT6D_SRV_CLAIM_REPLAYED]++;
		else if (n < 0)
			srv->st.claims_refused[MT6D_SRV_CLAIM_BAD]++;
	}
	n = mt6d_rebind_reply(srv->rl, out, sizeof(out), dgram, len, &from, unix_ms);
	if (n > 0) {
		srv->st.replies++;
		srv->cfg.send(srv->cfg.arg, local, remote, out, (size_t)n);
	} else if (len >= MT6D_REBIND_REPLY_LEN) {
		srv->st.replies_limited++;
	}
}

unsigned mt6d_srv_rebind_levels(const struct mt6d_srv *srv)
{
	return srv->rb ? mt6d_rebind_server_levels(srv->rb) : 0;
}

size_t mt6d_srv_rebind_count(const struct mt6d_srv *srv)
{
	return srv->rb ? mt6d_rebind_server_count(srv->rb) : 0;
}

/* ---- the server object ---- */

struct mt6d_srv *mt6d_srv_new(const struct mt6d_srv_config *cfg)
{
	struct mt6d_srv *srv;

	if (!cfg || !cfg->send || !cfg->deliver) {
		errno = EINVAL;
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return NULL;
	srv->cfg = *cfg;
	if (!srv->cfg.idle_timeout_s)
		srv->cfg.idle_timeout_s = MT6D_IDLE_TIMEOUT_S;
	if (!srv->cfg.keepalive_s)
		srv->cfg.keepalive_s = MT6D_KEEPALIVE_S;
	if (!srv->cfg.request_skew_ms)
		srv->cfg.request_skew_ms = MT6D_REQUEST_SKEW_MS;
	memcpy(srv->server_tun, cfg->tun_prefix, MT6D_PREFIX_LEN);
	srv->server_tun[15] = 1;
	srv->table = mt6d_tun_table_new();
	srv->inner = mt6d_tun_table_new();
	srv->peers = mt6d_tun_table_new();
	if (!srv->table || !srv->inner || !srv->peers)
		goto nomem;
	if (!cfg->rebind_off) {
		/* One master secret per run: sessions do not outlive the
		 * process, so neither need the keys that rebind them. */
		uint8_t master[MT6D_REBIND_KEY_LEN];
		unsigned levels;

		randombytes_buf(master, sizeof(master));
		srv->rb = mt6d_rebind_server_new(&cfg->rebind, master);
		sodium_memzero(master, sizeof(master));
		if (!srv->rb) {
			int err = errno;
			mt6d_srv_free(srv);
			errno = err;
			return NULL;
		}
		levels = mt6d_rebind_server_levels(srv->rb);
		srv->by_conn = calloc((size_t)1 << levels, sizeof(*srv->by_conn));
		srv->rl = mt6d_rebind_rl_new(&cfg->replies);
		if (!srv->by_conn || !srv->rl)
			goto nomem;
		srv->epoch_ms =
		        cfg->rebind.epoch_ms ? cfg->rebind.epoch_ms : MT6D_REBIND_DEFAULT_EPOCH_MS;
	}
	return srv;
nomem:
	mt6d_srv_free(srv);
	errno = ENOMEM;
	return NULL;
}

void mt6d_srv_free(struct mt6d_srv *srv)
{
	if (!srv)
		return;
	/* The caller is going away too: no callbacks from here on. */
	srv->cfg.on_session = NULL;
	srv->cfg.on_slot = NULL;
	while (srv->head)
		session_end(srv, srv->head, MT6D_SRV_END_LOCAL);
	for (int i = 0; i < MAX_WINDOWS; i++)
		win_free(srv, &srv->win[i]);
	if (srv->clients)
		sodium_memzero(srv->clients, srv->n * sizeof(*srv->clients));
	free(srv->clients);
	mt6d_tun_table_free(srv->table);
	mt6d_tun_table_free(srv->inner);
	mt6d_tun_table_free(srv->peers);
	mt6d_rebind_server_free(srv->rb);
	mt6d_rebind_rl_free(srv->rl);
	free(srv->by_conn);
	sodium_memzero(srv, sizeof(*srv));
	free(srv);
}

/* Index of the client with this public key in a, or n: a sorted copy of
 * the keys with their indexes, searched by bisection. */
struct key_idx {
	uint8_t pub[MT6D_KEY_LEN];
	size_t i;
};

static int key_idx_cmp(const void *a, const void *b)
{
	return memcmp(((const struct key_idx *)a)->pub, ((const struct key_idx *)b)->pub,
	              MT6D_KEY_LEN);
}

int mt6d_srv_set_clients(struct mt6d_srv *srv, const struct mt6d_registry *reg, uint64_t unix_ms)
{
	struct srv_client *nc = NULL;
	struct key_idx *old = NULL, *nk = NULL;
	int ret = 0;

	if (!srv || !reg)
		return -EINVAL;
	nc = calloc(reg->n ? reg->n : 1, sizeof(*nc));
	old = calloc(srv->n ? srv->n : 1, sizeof(*old));
	nk = calloc(reg->n ? reg->n : 1, sizeof(*nk));
	if (!nc || !old || !nk) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < srv->n; i++) {
		memcpy(old[i].pub, srv->clients[i].pub, MT6D_KEY_LEN);
		old[i].i = i;
	}
	qsort(old, srv->n, sizeof(*old), key_idx_cmp);
	for (size_t j = 0; j < reg->n; j++) {
		struct srv_client *cl = &nc[j];
		struct key_idx *hit;

		memcpy(cl->pub, reg->clients[j].pub, MT6D_KEY_LEN);
		memcpy(cl->name, reg->clients[j].name, sizeof(cl->name));
		mt6d_tun_addr_client(cl->tun, srv->cfg.tun_prefix, cl->pub);
		memcpy(nk[j].pub, cl->pub, MT6D_KEY_LEN);
		nk[j].i = j;
		hit = srv->n ? bsearch(&nk[j], old, srv->n, sizeof(*old), key_idx_cmp) : NULL;
		if (hit) {
			memcpy(cl->s, srv->clients[hit->i].s, MT6D_KEY_LEN);
			cl->last_req_ms = srv->clients[hit->i].last_req_ms;
			continue;
		}
		ret = mt6d_shared_secret(cl->s, srv->cfg.server_priv, cl->pub);
		if (ret < 0)
			goto out; /* a low-order public key in the registry */
	}
	qsort(nk, reg->n, sizeof(*nk), key_idx_cmp);
	/* Sessions follow their client's key to its new index, or end. */
	for (struct mt6d_srv_session *s = srv->head, *next; s; s = next) {
		struct key_idx k, *hit;

		next = s->next;
		memcpy(k.pub, srv->clients[s->client].pub, MT6D_KEY_LEN);
		hit = reg->n ? bsearch(&k, nk, reg->n, sizeof(*nk), key_idx_cmp) : NULL;
		if (!hit) {
			session_end(srv, s, MT6D_SRV_END_UNREGISTERED);
			continue;
		}
		s->client = hit->i;
		memcpy(s->name, nc[hit->i].name, sizeof(s->name));
		nc[hit->i].sess = s;
	}
	if (srv->clients)
		sodium_memzero(srv->clients, srv->n * sizeof(*srv->clients));
	free(srv->clients);
	srv->clients = nc;
	srv->n = reg->n;
	nc = NULL;
	for (int i = 0; i < MAX_WINDOWS; i++)
		if (srv->win[i].used && (ret = win_fill(srv, &srv->win[i], unix_ms)) < 0)
			goto out;
out:
	if (nc)
		sodium_memzero(nc, (reg->n ? reg->n : 1) * sizeof(*nc));
	free(nc);
	free(old);
	free(nk);
	return ret;
}

void mt6d_srv_input(struct mt6d_srv *srv, const struct mt6d_endpoint *local,
                    const struct mt6d_endpoint *remote, uint8_t *dgram, size_t len,
                    uint64_t unix_ms)
{
	uint64_t slot;
	struct mt6d_tun_session *t = mt6d_tun_table_find(srv->table, local, &slot);
	struct mt6d_tun_slot *sl;
	struct intro_win *w;

	if (!t) {
		srv->st.rx_no_session++;
		return;
	}
	w = intro_of(srv, t);
	if (w) {
		intro_input_mt6d(srv, w, slot, local, remote, dgram, len, unix_ms);
		return;
	}
	/* A session is its whole tuple: its endpoint of this slot and the
	 * client's. Only a live endpoint answers a stranger, so scanning the
	 * /64 finds nothing. */
	sl = mt6d_tun_session_slot(t, slot);
	if (!sl || !ep_eq(&sl->remote, remote))
		unknown_input(srv, local, remote, false, dgram, len, unix_ms);
	else
		session_input(srv, t->user, dgram, len, unix_ms);
}

void mt6d_srv_input_underlay(struct mt6d_srv *srv, const struct mt6d_endpoint *remote,
                             uint8_t *dgram, size_t len, uint64_t unix_ms)
{
	struct mt6d_tun_session *t;

	if (!srv->cfg.underlay.port)
		return;
	/* An introduction first: a client that restarted behind the same NAT
	 * mapping comes from its old session's tuple. */
	if (intro_input_underlay(srv, remote, dgram, len, unix_ms) == 0)
		return;
	t = mt6d_tun_table_find(srv->peers, remote, NULL);
	if (t)
		session_input(srv, t->user, dgram, len, unix_ms);
	else
		unknown_input(srv, &srv->cfg.underlay, remote, true, dgram, len, unix_ms);
}

void mt6d_srv_output(struct mt6d_srv *srv, uint8_t *buf, size_t cap, size_t len, uint64_t unix_ms)
{
	const uint8_t *pkt = buf + MT6D_ENCAP_INNER_OFF;
	struct mt6d_endpoint ep = {.port = 0};
	struct mt6d_tun_session *t;

	if (len < 40 || pkt[0] >> 4 != 6 || cap < len + MT6D_ENCAP_OVERHEAD) {
		srv->st.tx_bad_inner++;
		return;
	}
	memcpy(ep.addr, pkt + 24, 16);
	t = mt6d_tun_table_find(srv->inner, &ep, NULL);
	if (!t) {
		srv->st.tx_no_session++;
		return;
	}
	session_send(srv, t->user, buf, cap, len, unix_ms);
}

uint64_t mt6d_srv_tick(struct mt6d_srv *srv, uint64_t unix_ms)
{
	/* Keepalives and expiry are checked at least once a second; rotation
	 * exactly at each slot edge. */
	uint64_t next = unix_ms + 1000, edge;

	for (int i = 0; i < MAX_WINDOWS; i++) {
		struct intro_win *w = &srv->win[i];
		uint64_t slot;

		if (!w->used)
			continue;
		slot = mt6d_slot(unix_ms, w->intro.rot_ms);
		if (slot != w->tun.cur) {
			mt6d_intro_table_advance(w->tab, slot);
			tun_rotate(srv, &w->tun, unix_ms);
		}
		edge = (slot + 1) * w->intro.rot_ms;
		if (edge < next)
			next = edge;
	}
	if (srv->rb && unix_ms / srv->epoch_ms != srv->epoch) {
		/* New tree keys: every session gets its renewal, spread over
		 * up to 10 s, sent twice (a lost one costs the client only
		 * claims under the previous epoch's keys, still accepted). */
		uint32_t spread = srv->epoch_ms / 10 < 10000 ? srv->epoch_ms / 10 : 10000;

		bool first = srv->epoch == 0;

		srv->epoch = unix_ms / srv->epoch_ms;
		for (struct mt6d_srv_session *s = first ? NULL : srv->head; s; s = s->next)
			if (s->has_conn) {
				s->renew_left = 2;
				s->renew_next_ms = unix_ms + randombytes_uniform(spread + 1);
			}
	}
	for (struct mt6d_srv_session *s = srv->head, *nx; s; s = nx) {
		nx = s->next;
		if (unix_ms >= s->last_rx_ms + (uint64_t)srv->cfg.idle_timeout_s * 1000) {
			session_end(srv, s, MT6D_SRV_END_IDLE);
			continue;
		}
		if (s->renew_left && unix_ms >= s->renew_next_ms) {
			send_grant(srv, s, unix_ms);
			s->renew_left--;
			s->renew_next_ms = unix_ms + 3000;
		}
		if (s->renew_left && s->renew_next_ms < next)
			next = s->renew_next_ms;
		if (!s->underlay)
			tun_rotate(srv, &s->tun, unix_ms);
		if (unix_ms >= s->last_tx_ms + (uint64_t)srv->cfg.keepalive_s * 1000) {
			struct mt6d_msg ka = {.type = MT6D_MSG_KEEPALIVE,
			                      .u.keepalive.time_ms = unix_ms};
			session_control(srv, s, &ka, unix_ms);
		}
		edge = (s->tun.cur + 1) * s->tun.rot_ms;
		if (!s->underlay && edge < next)
			next = edge;
	}
	return next;
}

void mt6d_srv_teardown(struct mt6d_srv *srv, struct mt6d_srv_session *s, uint64_t unix_ms)
{
	struct mt6d_msg m = {.type = MT6D_MSG_TEARDOWN, .u.teardown.reason = MT6D_TEARDOWN_CLOSED};

	session_control(srv, s, &m, unix_ms);
	session_end(srv, s, MT6D_SRV_END_LOCAL);
}

void mt6d_srv_close(struct mt6d_srv *srv, uint64_t unix_ms)
{
	while (srv->head)
		mt6d_srv_teardown(srv, srv->head, unix_ms);
}

struct mt6d_srv_session *mt6d_srv_first(const struct mt6d_srv *srv)
{
	return srv->head;
}

size_t mt6d_srv_count(const struct mt6d_srv *srv)
{
	return srv->count;
}

size_t mt6d_srv_clients(const struct mt6d_srv *srv)
{
	return srv->n;
}

struct mt6d_srv_session *mt6d_srv_find_name(const struct mt6d_srv *srv, const char *name)
{
	for (size_t c = 0; c < srv->n; c++)
		if (!strcmp(srv->clients[c].name, name))
			return srv->clients[c].sess;
	return NULL;
}

struct mt6d_srv_session *mt6d_srv_find_tun(const struct mt6d_srv *srv,
                                           const uint8_t addr[static 16])
{
	struct mt6d_endpoint ep = {.port = 0};
	struct mt6d_tun_session *t;

	memcpy(ep.addr, addr, 16);
	t = mt6d_tun_table_find(srv->inner, &ep, NULL);
	return t ? t->user : NULL;
}

void mt6d_srv_get_stats(const struct mt6d_srv *srv, struct mt6d_srv_stats *st)
{
	*st = srv->st;
}
