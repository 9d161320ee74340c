/* SPDX-License-Identifier: MIT */
/*
 * Introduction endpoints of the server (docs/sessions.md): one per live
 * publication window, keyed by its K, answering registered clients only.
 *
 * Rules this file keeps:
 *  - An introduction datagram names no client: its source IID is looked up
 *    among the IIDs every registered client would use in slots i-1..i+1
 *    (fix 2); it must have been sent in the slot of the endpoint it reached,
 *    from that client's port, and open under that client's K_pair (fix 1).
 *    Only then is its content read.
 *  - A new request from a client replaces its session, a repeated one (same
 *    request id) gets the same response; an older one is a replay.
 *  - Per-client introduction state lives from the first datagram to the
 *    response; K, K_pair and the seeds are wiped when their holder goes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "session/srv.h"

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
	g = srv_grant_bytes(srv, s, msg + mlen, MT6D_REBIND_GRANT_MAX, unix_ms);
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
		srv_send_one(srv, local, remote, buf, (size_t)len);
	sodium_memzero(buf, sizeof(buf));
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
		srv_session_end(srv, s, MT6D_SRV_END_REPLACED);
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
	s = srv_session_new(srv, c, w, m.u.request.request_id, prefix, underlay ? remote : NULL,
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
void srv_intro_input(struct mt6d_srv *srv, struct intro_win *w, uint64_t slot,
                     const struct mt6d_endpoint *local, const struct mt6d_endpoint *remote,
                     uint8_t *dgram, size_t len, uint64_t unix_ms)
{
	uint64_t found_slot;
	uint8_t a[16];
	uint16_t port;
	size_t c;

	srv->st.intro_rx++;
	if (!mt6d_rebind_rl_allow(srv->intro_rl, remote->addr, unix_ms)) {
		srv->st.intro_limited++;
		return;
	}
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
int srv_intro_input_underlay(struct mt6d_srv *srv, const struct mt6d_endpoint *remote,
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
		if (!mt6d_rebind_rl_allow(srv->intro_rl, remote->addr, unix_ms)) {
			srv->st.intro_limited++;
			return 0;
		}
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
int srv_win_fill(struct mt6d_srv *srv, struct intro_win *w, uint64_t unix_ms)
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

void srv_win_free(struct mt6d_srv *srv, struct intro_win *w)
{
	if (!w->used)
		return;
	srv_tun_release(srv, &w->tun);
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
		srv_win_free(srv, w);
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
		ret = srv_win_fill(srv, w, unix_ms);
	if (ret == 0)
		ret = mt6d_tun_session_rotate(srv->table, &w->tun,
		                              mt6d_slot(unix_ms, intro->rot_ms), srv->cfg.on_slot,
		                              srv->cfg.arg);
	if (ret < 0)
		srv_win_free(srv, w);
	return ret;
}

void mt6d_srv_intro_drop(struct mt6d_srv *srv, uint64_t window)
{
	for (int i = 0; i < MAX_WINDOWS; i++)
		if (srv->win[i].used && srv->win[i].intro.window == window)
			srv_win_free(srv, &srv->win[i]);
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
