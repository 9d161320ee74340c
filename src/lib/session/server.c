/* SPDX-License-Identifier: MIT */
/*
 * The session server object (docs/sessions.md): the registry, the dispatch
 * of every datagram and inner packet, the tick. Sessions, introduction and
 * rebinding are in srv_session.c, srv_intro.c and srv_rebind.c (srv.h).
 * No I/O: datagrams come in through mt6d_srv_input() and leave through the
 * send callback.
 *
 * Rules this file keeps:
 *  - One table maps every local outer endpoint in use (three slots of each
 *    introduction endpoint and of each session) to its MT6D session, so the
 *    first step of every datagram is one hash lookup whatever the number of
 *    sessions. A second table maps each client's tunnel address to its
 *    session for packets from the TUN device.
 *  - Secrets (shared secrets, K, K_pair, session keys, stored responses)
 *    are wiped when their holder is freed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "session/srv.h"

/* Coalesced data of the session being read, to the caller. */
static void rx_deliver(void *arg, uint8_t *pkt, size_t len, const struct mt6d_offload *off)
{
	struct mt6d_srv *srv = arg;

	srv->cfg.deliver(srv->cfg.arg, srv->rx_sess, pkt, len, off);
}

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
	srv->tx.buf = malloc(MT6D_BURST_BUF);
	srv->rx_buf = malloc(MT6D_RX_HEADROOM + MT6D_RX_BUF);
	if (!srv->table || !srv->inner || !srv->peers || !srv->tx.buf || !srv->rx_buf)
		goto nomem;
	mt6d_rx_init(&srv->rx, srv->rx_buf, rx_deliver, srv);
	{
		struct mt6d_rebind_rl_params ip = cfg->intro_limit;

		if (!ip.prefix_rate)
			ip.prefix_rate = MT6D_INTRO_RATE;
		if (!ip.prefix_burst)
			ip.prefix_burst = MT6D_INTRO_BURST;
		if (!ip.global_rate)
			ip.global_rate = MT6D_INTRO_GLOBAL_RATE;
		if (!ip.global_burst)
			ip.global_burst = ip.global_rate;
		srv->intro_rl = mt6d_rebind_rl_new(&ip);
		if (!srv->intro_rl)
			goto nomem;
	}
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
		srv_session_end(srv, srv->head, MT6D_SRV_END_LOCAL);
	for (int i = 0; i < MAX_WINDOWS; i++)
		srv_win_free(srv, &srv->win[i]);
	if (srv->clients)
		sodium_memzero(srv->clients, srv->n * sizeof(*srv->clients));
	free(srv->clients);
	mt6d_tun_table_free(srv->table);
	mt6d_tun_table_free(srv->inner);
	mt6d_tun_table_free(srv->peers);
	mt6d_rebind_server_free(srv->rb);
	mt6d_rebind_rl_free(srv->rl);
	mt6d_rebind_rl_free(srv->intro_rl);
	free(srv->by_conn);
	if (srv->tx.buf)
		sodium_memzero(srv->tx.buf, MT6D_BURST_BUF);
	free(srv->tx.buf);
	if (srv->rx_buf)
		sodium_memzero(srv->rx_buf, MT6D_RX_HEADROOM + MT6D_RX_BUF);
	free(srv->rx_buf);
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
			/* Tell the client at once, or it would hold a dead session
			 * for three keepalive intervals. */
			struct mt6d_msg m = {.type = MT6D_MSG_TEARDOWN,
			                     .u.teardown.reason = MT6D_TEARDOWN_REFUSED};

			srv_session_control(srv, s, &m, unix_ms);
			srv_session_end(srv, s, MT6D_SRV_END_UNREGISTERED);
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
		if (srv->win[i].used && (ret = srv_win_fill(srv, &srv->win[i], unix_ms)) < 0)
			goto out;
out:
	if (nc)
		sodium_memzero(nc, (reg->n ? reg->n : 1) * sizeof(*nc));
	free(nc);
	free(old);
	free(nk);
	return ret;
}

/* The datagrams of one receive that belong to one session, in order; the
 * session may end on one of them (an authentic teardown). */
struct batch {
	struct mt6d_srv *srv;
	struct mt6d_srv_session *s;
	const struct mt6d_endpoint *local, *remote;
	struct intro_win *w;
	uint64_t slot, unix_ms;
	bool underlay;
};

static void batch_session(void *arg, uint8_t *dgram, size_t len)
{
	struct batch *b = arg;

	if (b->s && !srv_session_input(b->srv, b->s, dgram, len, b->unix_ms))
		b->s = NULL; /* the rest of the batch has no session */
}

static void batch_intro(void *arg, uint8_t *dgram, size_t len)
{
	struct batch *b = arg;

	srv_intro_input(b->srv, b->w, b->slot, b->local, b->remote, dgram, len, b->unix_ms);
}

static void batch_unknown(void *arg, uint8_t *dgram, size_t len)
{
	struct batch *b = arg;

	srv_unknown_input(b->srv, b->local, b->remote, b->underlay, dgram, len, b->unix_ms);
}

/* Coalescing goes on across batches of one session (a GRO batch ends where
 * one TSO train did, not where the TCP burst does); another session's
 * batch, a control message, the session's end, a tick or mt6d_srv_flush()
 * delivers what is held. */
static void session_batch(struct batch *b, uint8_t *buf, size_t len, size_t gso)
{
	if (b->srv->rx_sess != b->s)
		mt6d_srv_flush(b->srv);
	b->srv->rx_sess = b->s;
	mt6d_batch_each(buf, len, gso, batch_session, b);
}

void mt6d_srv_flush(struct mt6d_srv *srv)
{
	srv_flush(srv);
}

void mt6d_srv_input_batch(struct mt6d_srv *srv, const struct mt6d_endpoint *local,
                          const struct mt6d_endpoint *remote, uint8_t *buf, size_t len, size_t gso,
                          uint64_t unix_ms)
{
	struct batch b = {.srv = srv, .local = local, .remote = remote, .unix_ms = unix_ms};
	struct mt6d_tun_session *t = mt6d_tun_table_find(srv->table, local, &b.slot);
	struct mt6d_tun_slot *sl;

	if (!t) {
		srv->st.rx_no_session += mt6d_batch_each(buf, len, gso, NULL, NULL);
		return;
	}
	b.w = srv_intro_of(srv, t);
	if (b.w) {
		mt6d_batch_each(buf, len, gso, batch_intro, &b);
		return;
	}
	/* A session is its whole tuple: its endpoint of this slot and the
	 * client's. Only a live endpoint answers a stranger, so scanning the
	 * /64 finds nothing. */
	sl = mt6d_tun_session_slot(t, b.slot);
	if (!sl || !ep_eq(&sl->remote, remote)) {
		mt6d_batch_each(buf, len, gso, batch_unknown, &b);
		return;
	}
	b.s = t->user;
	session_batch(&b, buf, len, gso);
}

void mt6d_srv_input(struct mt6d_srv *srv, const struct mt6d_endpoint *local,
                    const struct mt6d_endpoint *remote, uint8_t *dgram, size_t len,
                    uint64_t unix_ms)
{
	mt6d_srv_input_batch(srv, local, remote, dgram, len, 0, unix_ms);
	mt6d_srv_flush(srv);
}

void mt6d_srv_input_underlay(struct mt6d_srv *srv, const struct mt6d_endpoint *remote,
                             uint8_t *dgram, size_t len, uint64_t unix_ms)
{
	struct batch b = {.srv = srv,
	                  .local = &srv->cfg.underlay,
	                  .remote = remote,
	                  .unix_ms = unix_ms,
	                  .underlay = true};
	struct mt6d_tun_session *t;

	if (!srv->cfg.underlay.port)
		return;
	/* An introduction first: a client that restarted behind the same NAT
	 * mapping comes from its old session's tuple. */
	if (srv_intro_input_underlay(srv, remote, dgram, len, unix_ms) == 0)
		return;
	t = mt6d_tun_table_find(srv->peers, remote, NULL);
	if (t) {
		b.s = t->user;
		session_batch(&b, dgram, len, 0);
		mt6d_srv_flush(srv);
	} else {
		batch_unknown(&b, dgram, len);
	}
}

void mt6d_srv_output(struct mt6d_srv *srv, const uint8_t *pkt, size_t len,
                     const struct mt6d_offload *off, uint64_t unix_ms)
{
	struct mt6d_endpoint ep = {.port = 0};
	struct mt6d_tun_session *t;

	if (len < 40 || pkt[0] >> 4 != 6) {
		srv->st.tx_bad_inner++;
		return;
	}
	memcpy(ep.addr, pkt + 24, 16);
	t = mt6d_tun_table_find(srv->inner, &ep, NULL);
	if (!t) {
		srv->st.tx_no_session++;
		return;
	}
	srv_session_send(srv, t->user, pkt, len, off, unix_ms);
}

uint64_t mt6d_srv_tick(struct mt6d_srv *srv, uint64_t unix_ms)
{
	/* Keepalives and expiry are checked at least once a second; rotation
	 * exactly at each slot edge. */
	uint64_t next = unix_ms + 1000, edge;

	mt6d_srv_flush(srv);
	for (int i = 0; i < MAX_WINDOWS; i++) {
		struct intro_win *w = &srv->win[i];
		uint64_t slot;

		if (!w->used)
			continue;
		slot = mt6d_slot(unix_ms, w->intro.rot_ms);
		if (slot != w->tun.cur) {
			mt6d_intro_table_advance(w->tab, slot);
			srv_tun_rotate(srv, &w->tun, unix_ms);
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
			srv_session_end(srv, s, MT6D_SRV_END_IDLE);
			continue;
		}
		if (s->renew_left && unix_ms >= s->renew_next_ms) {
			srv_send_grant(srv, s, unix_ms);
			s->renew_left--;
			s->renew_next_ms = unix_ms + 3000;
		}
		if (s->renew_left && s->renew_next_ms < next)
			next = s->renew_next_ms;
		if (!s->underlay)
			srv_tun_rotate(srv, &s->tun, unix_ms);
		if (unix_ms >= s->last_tx_ms + (uint64_t)srv->cfg.keepalive_s * 1000) {
			struct mt6d_msg ka = {.type = MT6D_MSG_KEEPALIVE,
			                      .u.keepalive.time_ms = unix_ms};
			srv_session_control(srv, s, &ka, unix_ms);
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

	srv_session_control(srv, s, &m, unix_ms);
	srv_session_end(srv, s, MT6D_SRV_END_LOCAL);
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
