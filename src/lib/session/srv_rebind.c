/* SPDX-License-Identifier: MIT */
/*
 * Rebinding on the server (docs/rebind.md): grants, claims and the
 * unrecognized-connection reply.
 *
 * Rules this file keeps:
 *  - A datagram from a tuple no session expects is a claim if it verifies,
 *    else it gets a reply never larger than itself, rate-limited per source
 *    prefix; nothing else answers a stranger.
 *  - An accepted claim moves one session, the one its connection ID names,
 *    and only from the location inside the claim.
 *  - Grants hold tree keys and the connection key: wiped after encoding.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "session/srv.h"

/* The grant of session s for the epoch of unix_ms, encoded into out: its
 * length, or 0 when the session has no connection ID. */
size_t srv_grant_bytes(struct mt6d_srv *srv, const struct mt6d_srv_session *s, uint8_t *out,
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
void srv_send_grant(struct mt6d_srv *srv, struct mt6d_srv_session *s, uint64_t unix_ms)
{
	struct mt6d_msg m = {.type = MT6D_MSG_GRANT};
	size_t n = srv_grant_bytes(srv, s, m.u.grant.bytes, sizeof(m.u.grant.bytes), unix_ms);

	if (n) {
		m.u.grant.len = (uint16_t)n;
		srv_session_control(srv, s, &m, unix_ms);
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
	srv_session_control(srv, s, &ka, unix_ms);
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
void srv_unknown_input(struct mt6d_srv *srv, const struct mt6d_endpoint *local,
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
		srv_send_one(srv, local, remote, out, (size_t)n);
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
