/* SPDX-License-Identifier: MIT */
/*
 * Client sessions of the server (docs/sessions.md): made by an accepted
 * request (srv_intro.c), then sealed and opened here until they end.
 *
 * Rules this file keeps:
 *  - A session belongs to exactly one registered client; its key, IIDs and
 *    outer addresses are fresh and random; only the tunnel address is
 *    stable (derived from the client's key).
 *  - A session accepts inner packets whose source is its client's tunnel
 *    address only, so no client can speak for another; where packets go
 *    after that is the host's routing (IPv6 forwarding is off by default).
 *  - Nothing a peer sends can free a session except an authentic teardown
 *    of that session; everything else is counted and dropped.
 *  - Session keys and stored responses are wiped when the session is freed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "session/srv.h"

static const char tun_label[] = "mt6d tun v1"; /* 11 bytes hashed */

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

struct intro_win *srv_intro_of(struct mt6d_srv *srv, const struct mt6d_tun_session *t)
{
	for (int i = 0; i < MAX_WINDOWS; i++)
		if (t == &srv->win[i].tun)
			return &srv->win[i];
	return NULL;
}

/* Report every slot as leaving, then drop the session's table entries and
 * wipe its keys. */
void srv_tun_release(struct mt6d_srv *srv, struct mt6d_tun_session *t)
{
	for (int i = 0; i < MT6D_TUN_SLOTS; i++)
		if (t->win[i].valid && srv->cfg.on_slot)
			srv->cfg.on_slot(t, &t->win[i], false, srv->cfg.arg);
	mt6d_tun_session_clear(srv->table, t);
}

void srv_tun_rotate(struct mt6d_srv *srv, struct mt6d_tun_session *t, uint64_t unix_ms)
{
	uint64_t slot = mt6d_slot(unix_ms, t->rot_ms);

	if (slot != t->cur || !t->win[slot % MT6D_TUN_SLOTS].valid)
		mt6d_tun_session_rotate(srv->table, t, slot, srv->cfg.on_slot, srv->cfg.arg);
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

/* Send a burst sealed in srv->tx from the session's slot of the moment. */
static void send_burst(struct mt6d_srv *srv, struct mt6d_srv_session *s, struct mt6d_tun_slot *sl)
{
	struct mt6d_tx tx = {.slot = NULL,
	                     .p = srv->tx.buf,
	                     .n = srv->tx.n,
	                     .stride = srv->tx.stride,
	                     .total = srv->tx.total};

	if (s->underlay) {
		tx.from = &srv->cfg.underlay;
		tx.to = &s->peer;
		tx.underlay = true;
	} else {
		tx.from = &sl->local;
		tx.to = &sl->remote;
		tx.slot = sl;
	}
	srv->cfg.send(srv->cfg.arg, &tx);
}

void srv_session_send(struct mt6d_srv *srv, struct mt6d_srv_session *s, const uint8_t *pkt,
                      size_t len, const struct mt6d_offload *off, uint64_t unix_ms)
{
	struct mt6d_tun_slot *sl = s->underlay ? NULL : mt6d_tun_session_tx_slot(&s->tun, unix_ms);

	/* An underlay session whose tuple a NAT gave to another client has
	 * nowhere to send until it claims its own. */
	if ((!sl && !s->underlay) || (s->underlay && !s->peer.port)) {
		s->tun.stats.tx_errors++;
		return;
	}
	if (mt6d_burst_seal(&s->tun, pkt, len, off, &srv->tx) < 0)
		return;
	s->last_tx_ms = unix_ms;
	send_burst(srv, s, sl);
}

void srv_session_control(struct mt6d_srv *srv, struct mt6d_srv_session *s, const struct mt6d_msg *m,
                         uint64_t unix_ms)
{
	uint8_t buf[40 + MT6D_MSG_MAX_LEN], msg[MT6D_MSG_MAX_LEN];
	int len = mt6d_msg_encode(msg, sizeof(msg), m);

	if (len < 0)
		return;
	len = mt6d_msg_wrap(buf, sizeof(buf), s->server_tun, s->client_tun, msg, (size_t)len);
	if (len > 0)
		srv_session_send(srv, s, buf, (size_t)len, NULL, unix_ms);
	/* A grant holds the client's tree keys and connection key. */
	sodium_memzero(msg, sizeof(msg));
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(srv->tx.buf, MT6D_ENCAP_OVERHEAD + sizeof(buf));
}

void srv_session_end(struct mt6d_srv *srv, struct mt6d_srv_session *s, enum mt6d_srv_end why)
{
	struct mt6d_endpoint ep = {.port = 0};

	if (srv->rx_sess == s)
		srv_flush(srv); /* its packets first, while it exists */
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
	srv_tun_release(srv, &s->tun);
	sodium_memzero(s, sizeof(*s));
	free(s);
	srv->count--;
	srv->st.sessions_ended[why]++;
}

bool srv_session_input(struct mt6d_srv *srv, struct mt6d_srv_session *s, uint8_t *dgram, size_t len,
                       uint64_t unix_ms)
{
	struct mt6d_tun_stats *ts = &s->tun.stats;
	uint8_t *inner = dgram + MT6D_ENCAP_INNER_OFF, src[16], dst[16];
	const uint8_t *msg;
	struct mt6d_msg m;
	int n = mt6d_tun_open(&s->tun, dgram, len), ml;

	if (n < 0) {
		if (n == -EMSGSIZE)
			srv->st.rx_truncated++;
		else if (n == -EBADMSG)
			srv->st.rx_forged++;
		else if (n == -EEXIST)
			srv->st.rx_replayed++;
		else
			srv->st.rx_bad_inner++;
		return true;
	}
	/* Authentic: the session is alive, whatever the packet holds. */
	s->last_rx_ms = unix_ms;
	if (memcmp(inner + 8, s->client_tun, 16) != 0) {
		s->rx_spoofed++;
		srv->st.rx_spoofed++;
		return true;
	}
	if (inner[6] != MT6D_NH_CONTROL) {
		mt6d_rx_push(&srv->rx, inner, (size_t)n);
		return true;
	}
	/* Whatever was coalesced came first. */
	mt6d_rx_flush(&srv->rx);
	ml = mt6d_msg_unwrap(inner, (size_t)n, &msg, src, dst);
	if (ml < 0 || mt6d_msg_decode(&m, msg, (size_t)ml) < 0) {
		ts->rx_bad_inner++;
		srv->st.rx_bad_inner++;
		return true;
	}
	if (m.type == MT6D_MSG_TEARDOWN) {
		srv_session_end(srv, s, MT6D_SRV_END_TEARDOWN);
		return false;
	} else if (m.type == MT6D_MSG_KEEPALIVE) {
		/* Answer a probe, at most once a second: the client judges the
		 * server alive by what it receives, on its own interval. */
		if (unix_ms >= s->last_tx_ms + 1000) {
			struct mt6d_msg ka = {.type = MT6D_MSG_KEEPALIVE,
			                      .u.keepalive.time_ms = unix_ms};
			srv_session_control(srv, s, &ka, unix_ms);
		}
	} else {
		ts->rx_bad_inner++;
		srv->st.rx_bad_inner++;
	}
	return true;
}

struct mt6d_srv_session *srv_session_new(struct mt6d_srv *srv, size_t c, const struct intro_win *w,
                                         uint64_t request_id, const uint8_t client_prefix[static 8],
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
