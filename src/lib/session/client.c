/* SPDX-License-Identifier: MIT */
/*
 * The client side of the session protocol (docs/sessions.md): a state
 * machine with no I/O.
 *
 *   LOOKUP --found--> INTRO --response--> SESSION
 *     ^                 |                    |
 *     |            no answer          teardown, silence
 *     +---- BACKOFF <---+--------------------+
 *
 * Rules this file keeps:
 *  - At most one MT6D session at a time: the introduction session (K for
 *    addresses, K_pair for the seal) until the response, then the client
 *    session. Its slots are reported through on_slot as they come and go,
 *    so the caller holds sockets for exactly the current window.
 *  - A datagram counts only if it reached an endpoint of the current window
 *    from the server's endpoint of the same slot and opens under the
 *    session's key; nothing else changes any state.
 *  - The server is judged alive by what arrives: after keepalive_s without
 *    receiving, a keepalive goes out (the server answers it); after
 *    dead_intervals such intervals of silence the client goes back to the
 *    rendezvous. Backoff doubles from backoff_min_ms to backoff_max_ms with
 *    jitter, and resets once a session is up.
 *  - Only packets from the client's own tunnel address leave through the
 *    session: the TUN device's link-local chatter stays home.
 *  - Timers run on the caller's wall clock, which may step: a step back
 *    leaves no deadline further than its own length from now (the tick
 *    clamps them), so a clock set back a minute does not hold off the
 *    silence check or the backoff for a minute.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mt6d/client.h"

static const struct mt6d_endpoint any_ep; /* underlay: the caller's socket */

const char *mt6d_cli_state_name(enum mt6d_cli_state st)
{
	switch (st) {
	case MT6D_CLI_LOOKUP:
		return "lookup";
	case MT6D_CLI_INTRO:
		return "introduction";
	case MT6D_CLI_SESSION:
		return "session";
	case MT6D_CLI_BACKOFF:
		return "backoff";
	case MT6D_CLI_CLOSED:
		return "closed";
	}
	return "?";
}

static void set_state(struct mt6d_cli *c, enum mt6d_cli_state to)
{
	enum mt6d_cli_state from = c->state;

	c->state = to;
	if (c->cfg.on_state)
		c->cfg.on_state(c->cfg.arg, from, to);
}

static void release_tun(struct mt6d_cli *c)
{
	if (!c->have_tun)
		return;
	if (c->rx.g.buf)
		mt6d_rx_flush(&c->rx);
	for (int i = 0; i < MT6D_TUN_SLOTS; i++)
		if (c->tun.win[i].valid && c->cfg.on_slot)
			c->cfg.on_slot(&c->tun, &c->tun.win[i], false, c->cfg.arg);
	mt6d_tun_session_clear(NULL, &c->tun);
	c->have_tun = false;
}

static void rotate(struct mt6d_cli *c, uint64_t unix_ms)
{
	uint64_t slot = mt6d_slot(unix_ms, c->tun.rot_ms);

	if (c->have_tun && (slot != c->tun.cur || !c->tun.win[slot % MT6D_TUN_SLOTS].valid))
		mt6d_tun_session_rotate(NULL, &c->tun, slot, c->cfg.on_slot, c->cfg.arg);
}

/* Hand what is sealed in c->tx to the caller: from the slot sl (MT6D), or
 * through the underlay socket, an introduction datagram then after the
 * client's introduction IID of the slot (room for it is before tx.buf). */
static void send_burst(struct mt6d_cli *c, struct mt6d_tun_slot *sl)
{
	struct mt6d_tx tx = {.from = &sl->local,
	                     .to = &sl->remote,
	                     .slot = sl,
	                     .p = c->tx.buf,
	                     .n = c->tx.n,
	                     .stride = c->tx.stride,
	                     .total = c->tx.total};

	if (c->cfg.underlay) {
		tx.from = &any_ep;
		tx.to = &c->underlay;
		tx.slot = NULL;
		tx.underlay = true;
		if (c->state == MT6D_CLI_INTRO) {
			c->tx.buf -= MT6D_IID_LEN;
			memcpy(c->tx.buf, sl->local.addr + 8, MT6D_IID_LEN);
			tx.p = c->tx.buf;
			tx.stride = tx.total = c->tx.total + MT6D_IID_LEN;
			c->cfg.send(c->cfg.arg, &tx);
			c->tx.buf += MT6D_IID_LEN;
			return;
		}
	}
	c->cfg.send(c->cfg.arg, &tx);
}

/* Seal one inner packet (a superpacket when off says so) and send it from
 * the slot the clock says. */
static void send_tun(struct mt6d_cli *c, const uint8_t *pkt, size_t len,
                     const struct mt6d_offload *off, uint64_t unix_ms)
{
	struct mt6d_tun_slot *sl = mt6d_tun_session_tx_slot(&c->tun, unix_ms);

	if (!sl) {
		c->tun.stats.tx_errors++;
		return;
	}
	if (mt6d_burst_seal(&c->tun, pkt, len, off, &c->tx) < 0)
		return;
	c->last_tx_ms = unix_ms;
	if (c->state == MT6D_CLI_SESSION)
		for (size_t k = 0; k < c->tx.n; k++)
			mt6d_rebind_echo_note(c->echoes, c->tx.buf + k * c->tx.stride,
			                      k + 1 < c->tx.n ? c->tx.stride
			                                      : c->tx.total - k * c->tx.stride);
	send_burst(c, sl);
}

static void send_msg(struct mt6d_cli *c, const struct mt6d_msg *m, const uint8_t src[static 16],
                     const uint8_t dst[static 16], uint64_t unix_ms)
{
	uint8_t buf[40 + MT6D_MSG_MAX_LEN], msg[MT6D_MSG_MAX_LEN];
	int len = mt6d_msg_encode(msg, sizeof(msg), m);

	if (len < 0)
		return;
	len = mt6d_msg_wrap(buf, sizeof(buf), src, dst, msg, (size_t)len);
	if (len > 0)
		send_tun(c, buf, (size_t)len, NULL, unix_ms);
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(msg, sizeof(msg));
	sodium_memzero(c->tx.buf, sizeof(buf) + MT6D_ENCAP_OVERHEAD);
}

/*
 * A claim for location loc (docs/rebind.md), from the current endpoint to
 * the server's: t is always after the previous claim's. Replies to what
 * was sent before it are of no use any more, so the echoes are forgotten,
 * and the claim itself is remembered: if it is refused from where it
 * arrived (a NAT moved again), its reply tells the new location.
 */
static void send_claim(struct mt6d_cli *c, const struct mt6d_rebind_loc *loc, uint64_t unix_ms)
{
	uint8_t buf[MT6D_REBIND_CLAIM_MAX];
	struct mt6d_tun_slot *sl = mt6d_tun_session_tx_slot(&c->tun, unix_ms);
	uint64_t t = unix_ms > c->claim_t ? unix_ms : c->claim_t + 1;
	struct mt6d_rebind_loc here;
	int n;

	if (!c->have_grant || !sl)
		return;
	if (!c->cfg.underlay) {
		/* MT6D: no NAT, the client knows where it is: the endpoint
		 * of the slot it sends from. */
		memcpy(here.addr, sl->local.addr, 16);
		here.port = sl->local.port;
		loc = &here;
	}
	n = mt6d_rebind_claim(buf, sizeof(buf), &c->grant, t, loc);
	if (n < 0)
		return;
	c->claim_t = t;
	c->claim_ms = unix_ms;
	c->claim_loc = *loc;
	c->claim_pending = true;
	c->claim_tries++;
	c->stats.claims_sent++;
	memset(c->echoes, 0, sizeof(*c->echoes));
	mt6d_rebind_echo_note(c->echoes, buf, (size_t)n);
	{
		struct mt6d_tx tx = {.from = c->cfg.underlay ? &any_ep : &sl->local,
		                     .to = c->cfg.underlay ? &c->underlay : &sl->remote,
		                     .slot = c->cfg.underlay ? NULL : sl,
		                     .underlay = c->cfg.underlay,
		                     .p = buf,
		                     .n = 1,
		                     .stride = (size_t)n,
		                     .total = (size_t)n};
		c->cfg.send(c->cfg.arg, &tx);
	}
}

/* A 34-byte datagram from the server: an unrecognized-connection reply. */
static void on_reply(struct mt6d_cli *c, const uint8_t *dgram, size_t len, uint64_t unix_ms)
{
	uint8_t echo[MT6D_REBIND_ECHO_LEN];
	struct mt6d_rebind_loc loc;

	if (mt6d_rebind_reply_decode(dgram, len, echo, &loc) < 0 ||
	    !mt6d_rebind_echo_take(c->echoes, echo)) {
		c->stats.replies_ignored++;
		return;
	}
	c->stats.replies_rx++;
	/* One claim per CLAIM_EVERY_MS whatever the replies: a burst of them
	 * (one per datagram in flight) is one move. */
	if (c->claim_pending && unix_ms < c->claim_ms + MT6D_CLAIM_EVERY_MS &&
	    !memcmp(&loc, &c->claim_loc, sizeof(loc)))
		return;
	if (!c->claim_pending)
		c->claim_tries = 0;
	send_claim(c, &loc, unix_ms);
}

static void send_request(struct mt6d_cli *c, uint64_t unix_ms)
{
	struct mt6d_msg m = {.type = MT6D_MSG_REQUEST};
	uint8_t src[16];

	m.u.request.request_id = c->request_id;
	memcpy(m.u.request.client_prefix, c->cfg.prefix, MT6D_PREFIX_LEN);
	m.u.request.time_ms = unix_ms;
	memcpy(src, c->cfg.prefix, MT6D_PREFIX_LEN);
	memcpy(src + 8, c->seed_iid, MT6D_IID_LEN);
	send_msg(c, &m, src, c->intro.seed_addr, unix_ms);
	c->tries++;
	c->stats.requests_sent++;
	c->next_ms = unix_ms + c->cfg.request_every_ms;
}

static void send_keepalive(struct mt6d_cli *c, uint64_t unix_ms)
{
	struct mt6d_msg m = {.type = MT6D_MSG_KEEPALIVE, .u.keepalive.time_ms = unix_ms};

	send_msg(c, &m, c->client_tun, c->server_tun, unix_ms);
	c->next_ms = unix_ms; /* the last keepalive sent */
}

static void backoff(struct mt6d_cli *c, uint64_t unix_ms)
{
	uint32_t b;

	release_tun(c);
	sodium_memzero(&c->intro, sizeof(c->intro));
	mt6d_rebind_grant_wipe(&c->grant);
	c->have_grant = c->claim_pending = false;
	if (!c->backoff_ms)
		c->backoff_ms = c->cfg.backoff_min_ms;
	else if (c->backoff_ms < c->cfg.backoff_max_ms / 2)
		c->backoff_ms *= 2;
	else
		c->backoff_ms = c->cfg.backoff_max_ms;
	/* Jitter: 3/4 to 5/4 of the step, so clients of a restarted server do
	 * not all come back in the same millisecond. */
	b = c->backoff_ms / 2;
	c->next_ms = unix_ms + c->backoff_ms - b / 2 + (b ? randombytes_uniform(b + 1) : 0);
	set_state(c, MT6D_CLI_BACKOFF);
}

/* Coalesced data, to the caller. */
static void rx_deliver(void *arg, uint8_t *pkt, size_t len, const struct mt6d_offload *off)
{
	struct mt6d_cli *c = arg;

	c->cfg.deliver(c->cfg.arg, pkt, len, off);
}

struct mt6d_cli *mt6d_cli_new(const struct mt6d_cli_config *cfg)
{
	struct mt6d_cli *c;

	if (!cfg || !cfg->send || !cfg->deliver || (cfg->dht && !cfg->clock)) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = *cfg;
	if (!c->cfg.keepalive_s)
		c->cfg.keepalive_s = MT6D_KEEPALIVE_S;
	if (!c->cfg.dead_intervals)
		c->cfg.dead_intervals = MT6D_DEAD_INTERVALS;
	if (!c->cfg.request_every_ms)
		c->cfg.request_every_ms = MT6D_REQUEST_EVERY_MS;
	if (!c->cfg.request_tries)
		c->cfg.request_tries = MT6D_REQUEST_TRIES;
	if (!c->cfg.backoff_min_ms)
		c->cfg.backoff_min_ms = MT6D_BACKOFF_MIN_MS;
	if (!c->cfg.backoff_max_ms)
		c->cfg.backoff_max_ms = MT6D_BACKOFF_MAX_MS;
	if (c->cfg.backoff_max_ms < c->cfg.backoff_min_ms)
		c->cfg.backoff_max_ms = c->cfg.backoff_min_ms;
	if (!c->cfg.lookup_timeout_ms)
		c->cfg.lookup_timeout_ms = 30000;
	c->echoes = calloc(1, sizeof(*c->echoes));
	c->own_bufs = !cfg->tx_buf || !cfg->rx_buf;
	c->tx_raw = c->own_bufs ? malloc(MT6D_IID_LEN + MT6D_BURST_BUF) : cfg->tx_buf;
	c->rx_buf = c->own_bufs ? malloc(MT6D_RX_HEADROOM + MT6D_RX_BUF) : cfg->rx_buf;
	if (!c->echoes || !c->tx_raw || !c->rx_buf) {
		mt6d_cli_free(c);
		errno = ENOMEM;
		return NULL;
	}
	if (mt6d_shared_secret(c->s, c->cfg.client_priv, c->cfg.server_pub) < 0) {
		mt6d_cli_free(c);
		errno = EINVAL;
		return NULL;
	}
	c->tx.buf = c->tx_raw + MT6D_IID_LEN;
	mt6d_rx_init(&c->rx, c->rx_buf, rx_deliver, c);
	c->state = MT6D_CLI_CLOSED;
	return c;
}

void mt6d_cli_free(struct mt6d_cli *c)
{
	if (!c)
		return;
	c->cfg.on_slot = NULL;
	mt6d_lookup_free(c->lk); /* cancels it in the DHT: no late callback */
	release_tun(c);
	free(c->echoes);
	if (c->own_bufs) {
		if (c->tx_raw)
			sodium_memzero(c->tx_raw, MT6D_IID_LEN + MT6D_BURST_BUF);
		free(c->tx_raw);
		if (c->rx_buf)
			sodium_memzero(c->rx_buf, MT6D_RX_HEADROOM + MT6D_RX_BUF);
		free(c->rx_buf);
	}
	sodium_memzero(c, sizeof(*c));
	free(c);
}

/* The client's own lookup ended, from inside the DHT. */
static void on_lookup_done(void *arg, const struct mt6d_lookup_result *res)
{
	struct mt6d_cli *c = arg;
	uint64_t mono, unix_ms;

	mt6d_lookup_free(c->lk); /* allowed from its own callback */
	c->lk = NULL;
	c->cfg.clock(c->cfg.arg, &mono, &unix_ms);
	(void)mono;
	if (c->cfg.on_lookup)
		c->cfg.on_lookup(c->cfg.arg, res, unix_ms - c->lookup_started_ms);
	mt6d_cli_lookup_done(c, res->step == MT6D_LOOKUP_OK ? &res->config : NULL, unix_ms);
}

static void lookup_stop(struct mt6d_cli *c)
{
	mt6d_lookup_free(c->lk); /* cancels its DHT operation: no late callback */
	c->lk = NULL;
}

/* Enter LOOKUP and, when the client runs the rendezvous, start it. */
static void enter_lookup(struct mt6d_cli *c, uint64_t unix_ms)
{
	struct mt6d_lookup_config lc = {.dht = c->cfg.dht, .transports = c->cfg.transports};
	uint64_t mono;

	lookup_stop(c);
	set_state(c, MT6D_CLI_LOOKUP);
	if (!c->cfg.dht || c->state != MT6D_CLI_LOOKUP)
		return;
	memcpy(lc.client_priv, c->cfg.client_priv, MT6D_KEY_LEN);
	memcpy(lc.server_pub, c->cfg.server_pub, MT6D_KEY_LEN);
	memcpy(lc.periods, c->cfg.periods, sizeof(lc.periods));
	c->cfg.clock(c->cfg.arg, &mono, &unix_ms);
	c->lookup_started_ms = unix_ms;
	c->lookup_deadline_ms = unix_ms + c->cfg.lookup_timeout_ms;
	c->lk = mt6d_lookup_start(&lc, mono, unix_ms, on_lookup_done, c);
	sodium_memzero(&lc, sizeof(lc));
	if (!c->lk) {
		if (c->cfg.on_lookup)
			c->cfg.on_lookup(c->cfg.arg, NULL, 0);
		mt6d_cli_lookup_done(c, NULL, unix_ms);
	}
}

void mt6d_cli_start(struct mt6d_cli *c, uint64_t unix_ms)
{
	release_tun(c);
	enter_lookup(c, unix_ms);
}

void mt6d_cli_lookup_done(struct mt6d_cli *c, const struct mt6d_config *cfg, uint64_t unix_ms)
{
	struct mt6d_tun_host local, remote;
	uint8_t kpair[MT6D_INTRO_KEY_LEN];

	if (c->state != MT6D_CLI_LOOKUP)
		return;
	c->stats.lookups++;
	if (!cfg || cfg->rot_ms < MT6D_ROT_MIN_MS || cfg->rot_ms > MT6D_ROT_MAX_MS) {
		c->stats.lookups_failed++;
		backoff(c, unix_ms);
		return;
	}
	if (c->cfg.underlay && !cfg->underlay_port) {
		/* Found, but the server offers no underlay (version 1). */
		c->stats.lookups_failed++;
		c->stats.no_underlay++;
		backoff(c, unix_ms);
		return;
	}
	c->intro = *cfg;
	memcpy(c->underlay.addr, cfg->underlay_addr, 16);
	c->underlay.port = cfg->underlay_port;
	mt6d_client_seed_iid(c->seed_iid, c->s, cfg->intro_key);
	memcpy(local.prefix, c->cfg.prefix, MT6D_PREFIX_LEN);
	memcpy(local.iid, c->seed_iid, MT6D_IID_LEN);
	memcpy(remote.prefix, cfg->seed_addr, MT6D_PREFIX_LEN);
	memcpy(remote.iid, cfg->seed_addr + 8, MT6D_IID_LEN);
	if (mt6d_tun_session_init(&c->tun, cfg->intro_key, &local, &remote, MT6D_ROLE_CLIENT,
	                          cfg->rot_ms, unix_ms * 1000000u) < 0) {
		c->stats.lookups_failed++;
		backoff(c, unix_ms);
		return;
	}
	/* Addresses from K, the seal from K_pair: K is every client's (fix 1). */
	mt6d_encap_clear(&c->tun.encap);
	mt6d_intro_pair_key(kpair, c->s, cfg->intro_key);
	mt6d_encap_init(&c->tun.encap, kpair, MT6D_ROLE_CLIENT, unix_ms * 1000000u);
	sodium_memzero(kpair, sizeof(kpair));
	c->have_tun = true;
	rotate(c, unix_ms);
	randombytes_buf(&c->request_id, sizeof(c->request_id));
	c->tries = 0;
	set_state(c, MT6D_CLI_INTRO);
	send_request(c, unix_ms);
}

static void establish(struct mt6d_cli *c, const struct mt6d_msg *m, uint64_t unix_ms)
{
	struct mt6d_tun_host local, remote;

	release_tun(c);
	memcpy(local.prefix, c->cfg.prefix, MT6D_PREFIX_LEN);
	memcpy(local.iid, m->u.response.client_iid, MT6D_IID_LEN);
	memcpy(remote.prefix, c->intro.seed_addr, MT6D_PREFIX_LEN);
	memcpy(remote.iid, m->u.response.server_iid, MT6D_IID_LEN);
	if (mt6d_tun_session_init(&c->tun, m->u.response.session_key, &local, &remote,
	                          MT6D_ROLE_CLIENT, m->u.response.rot_ms, unix_ms * 1000000u) < 0) {
		backoff(c, unix_ms);
		return;
	}
	c->have_tun = true;
	mt6d_rebind_grant_wipe(&c->grant);
	c->have_grant =
	        m->u.response.grant_len && mt6d_rebind_grant_decode(&c->grant, m->u.response.grant,
	                                                            m->u.response.grant_len) == 0;
	c->claim_pending = false;
	c->claim_tries = 0;
	memset(c->echoes, 0, sizeof(*c->echoes));
	memcpy(c->client_tun, m->u.response.client_tun, 16);
	memcpy(c->server_tun, m->u.response.server_tun, 16);
	c->tun_prefix_len = m->u.response.tun_prefix_len;
	c->idle_timeout_s = m->u.response.idle_timeout_s;
	c->session_ms = c->last_rx_ms = unix_ms;
	c->backoff_ms = 0;
	c->stats.sessions++;
	rotate(c, unix_ms);
	set_state(c, MT6D_CLI_SESSION);
	/* The first packet on the new addresses: the server sees the
	 * session is in use, and answers. */
	send_keepalive(c, unix_ms);
}

/* One datagram of the session's current tuple; false when the rest of its
 * batch is not for this session any more (it changed or ended). */
static bool input_one(struct mt6d_cli *c, uint8_t *dgram, size_t len, uint64_t unix_ms)
{
	uint8_t *inner = dgram + MT6D_ENCAP_INNER_OFF, src[16], dst[16];
	const uint8_t *msg;
	struct mt6d_msg m;
	enum mt6d_cli_state was = c->state;
	int n, ml;

	/* No tunnel datagram is this short: the server did not know us. */
	if (len == MT6D_REBIND_REPLY_LEN && c->state == MT6D_CLI_SESSION) {
		on_reply(c, dgram, len, unix_ms);
		return true;
	}
	n = mt6d_tun_open(&c->tun, dgram, len);
	if (n < 0) {
		if (n == -EMSGSIZE)
			c->stats.rx_truncated++;
		else if (n == -EBADMSG)
			c->stats.rx_forged++;
		else if (n == -EEXIST)
			c->stats.rx_replayed++;
		else
			c->stats.rx_bad_inner++;
		return true;
	}
	c->last_rx_ms = unix_ms;
	if (c->claim_pending && c->state == MT6D_CLI_SESSION) {
		/* Authentic traffic after a claim: the server took it (it
		 * answers an accepted claim at once). */
		c->claim_pending = false;
		c->claim_tries = 0;
		c->stats.rebinds++;
	}
	if (c->state == MT6D_CLI_SESSION && inner[6] != MT6D_NH_CONTROL) {
		mt6d_rx_push(&c->rx, inner, (size_t)n);
		return true;
	}
	mt6d_rx_flush(&c->rx); /* what came before it goes first */
	ml = mt6d_msg_unwrap(inner, (size_t)n, &msg, src, dst);
	if (ml < 0 || mt6d_msg_decode(&m, msg, (size_t)ml) < 0) {
		c->stats.rx_bad_msg++;
		return true;
	}
	if (c->state == MT6D_CLI_INTRO) {
		if (m.type == MT6D_MSG_RESPONSE && m.u.response.request_id == c->request_id &&
		    m.u.response.rot_ms >= MT6D_ROT_MIN_MS &&
		    m.u.response.rot_ms <= MT6D_ROT_MAX_MS) {
			c->stats.responses++;
			establish(c, &m, unix_ms);
		} else {
			c->stats.rx_bad_msg++;
		}
	} else if (m.type == MT6D_MSG_TEARDOWN) {
		c->stats.teardowns_rx++;
		c->backoff_ms = 0;
		backoff(c, unix_ms);
	} else if (m.type == MT6D_MSG_GRANT) {
		struct mt6d_rebind_grant g;

		/* A renewal: same connection, a newer epoch. */
		if (mt6d_rebind_grant_decode(&g, m.u.grant.bytes, m.u.grant.len) == 0 &&
		    c->have_grant && g.conn == c->grant.conn && g.levels == c->grant.levels &&
		    g.epoch >= c->grant.epoch) {
			c->grant = g;
			c->stats.renewals_rx++;
		} else {
			c->stats.rx_bad_msg++;
		}
		mt6d_rebind_grant_wipe(&g);
	} else if (m.type == MT6D_MSG_KEEPALIVE) {
		/* The one authentic time of the server's (clock.c). */
		if (c->cfg.on_server_time)
			c->cfg.on_server_time(c->cfg.arg,
			                      (int64_t)unix_ms - (int64_t)m.u.keepalive.time_ms,
			                      unix_ms);
	} else {
		c->stats.rx_bad_msg++;
	}
	/* A response or a grant was opened in place: keys in the caller's
	 * buffer. */
	sodium_memzero(&m, sizeof(m));
	sodium_memzero(inner, (size_t)n);
	return c->state == was;
}

struct cli_batch {
	struct mt6d_cli *c;
	uint64_t unix_ms;
	bool go;
};

static void batch_one(void *arg, uint8_t *dgram, size_t len)
{
	struct cli_batch *b = arg;

	if (b->go)
		b->go = input_one(b->c, dgram, len, b->unix_ms);
	else
		b->c->stats.rx_not_ours++;
}

void mt6d_cli_input_batch(struct mt6d_cli *c, const struct mt6d_endpoint *local,
                          const struct mt6d_endpoint *remote, uint8_t *buf, size_t len, size_t gso,
                          uint64_t unix_ms)
{
	struct cli_batch b = {.c = c, .unix_ms = unix_ms, .go = true};
	const struct mt6d_tun_slot *sl = NULL;

	if (c->have_tun && c->cfg.underlay) {
		if (remote->port == c->underlay.port && !memcmp(remote->addr, c->underlay.addr, 16))
			sl = &c->tun.win[0]; /* any: only "it is the server" matters */
	} else if (c->have_tun) {
		for (int i = 0; i < MT6D_TUN_SLOTS && !sl; i++) {
			const struct mt6d_tun_slot *x = &c->tun.win[i];
			if (x->valid && x->local.port == local->port &&
			    !memcmp(x->local.addr, local->addr, 16) &&
			    x->remote.port == remote->port &&
			    !memcmp(x->remote.addr, remote->addr, 16))
				sl = x;
		}
	}
	if (!sl || (c->state != MT6D_CLI_INTRO && c->state != MT6D_CLI_SESSION)) {
		c->stats.rx_not_ours += mt6d_batch_each(buf, len, gso, NULL, NULL);
		return;
	}
	mt6d_batch_each(buf, len, gso, batch_one, &b);
}

void mt6d_cli_flush(struct mt6d_cli *c)
{
	mt6d_rx_flush(&c->rx);
}

void mt6d_cli_input(struct mt6d_cli *c, const struct mt6d_endpoint *local,
                    const struct mt6d_endpoint *remote, uint8_t *dgram, size_t len,
                    uint64_t unix_ms)
{
	mt6d_cli_input_batch(c, local, remote, dgram, len, 0, unix_ms);
	mt6d_cli_flush(c);
}

void mt6d_cli_output(struct mt6d_cli *c, const uint8_t *pkt, size_t len,
                     const struct mt6d_offload *off, uint64_t unix_ms)
{
	if (c->state != MT6D_CLI_SESSION || len < 40 || pkt[0] >> 4 != 6 ||
	    memcmp(pkt + 8, c->client_tun, 16) != 0) {
		c->stats.tx_no_session++;
		return;
	}
	send_tun(c, pkt, len, off, unix_ms);
}

/*
 * The wall clock stepped back: what was set before the step is as far
 * in the future as it stepped (a minute back would hold off the silence
 * check, keepalives and the backoff for a minute). No past time is later
 * than now, and no deadline further than its own length from now.
 */
static void clamp_to_now(struct mt6d_cli *c, uint64_t unix_ms)
{
	uint64_t b = c->backoff_ms + c->backoff_ms / 4;

	if (c->last_rx_ms > unix_ms)
		c->last_rx_ms = unix_ms;
	if (c->last_tx_ms > unix_ms)
		c->last_tx_ms = unix_ms;
	if (c->claim_ms > unix_ms)
		c->claim_ms = unix_ms;
	switch (c->state) {
	case MT6D_CLI_SESSION: /* next_ms: the last keepalive sent */
		if (c->next_ms > unix_ms)
			c->next_ms = unix_ms;
		break;
	case MT6D_CLI_INTRO:
		if (c->next_ms > unix_ms + c->cfg.request_every_ms)
			c->next_ms = unix_ms + c->cfg.request_every_ms;
		break;
	case MT6D_CLI_BACKOFF:
		if (c->next_ms > unix_ms + b)
			c->next_ms = unix_ms + c->backoff_ms;
		break;
	case MT6D_CLI_LOOKUP:
		if (c->lookup_deadline_ms > unix_ms + c->cfg.lookup_timeout_ms)
			c->lookup_deadline_ms = unix_ms + c->cfg.lookup_timeout_ms;
		break;
	case MT6D_CLI_CLOSED:
		break;
	}
}

uint64_t mt6d_cli_tick(struct mt6d_cli *c, uint64_t unix_ms)
{
	uint64_t ka = (uint64_t)c->cfg.keepalive_s * 1000, dead = ka * c->cfg.dead_intervals;
	uint64_t next = unix_ms + 1000, edge;

	mt6d_cli_flush(c);
	clamp_to_now(c, unix_ms);
	switch (c->state) {
	case MT6D_CLI_LOOKUP:
		if (c->lk && unix_ms >= c->lookup_deadline_ms) {
			lookup_stop(c);
			if (c->cfg.on_lookup)
				c->cfg.on_lookup(c->cfg.arg, NULL, unix_ms - c->lookup_started_ms);
			mt6d_cli_lookup_done(c, NULL, unix_ms);
			return c->state == MT6D_CLI_BACKOFF ? c->next_ms : next;
		}
		return c->lk && c->lookup_deadline_ms < next ? c->lookup_deadline_ms : next;
	case MT6D_CLI_CLOSED:
		return next;
	case MT6D_CLI_BACKOFF:
		if (unix_ms >= c->next_ms) {
			enter_lookup(c, unix_ms);
			return c->lk && c->lookup_deadline_ms < next ? c->lookup_deadline_ms : next;
		}
		return c->next_ms;
	case MT6D_CLI_INTRO:
		rotate(c, unix_ms);
		if (unix_ms >= c->next_ms) {
			if (c->tries >= c->cfg.request_tries) {
				c->stats.intro_timeouts++;
				backoff(c, unix_ms);
				return c->next_ms;
			}
			send_request(c, unix_ms);
		}
		if (c->next_ms < next)
			next = c->next_ms;
		break;
	case MT6D_CLI_SESSION:
		rotate(c, unix_ms);
		if (c->claim_pending && unix_ms >= c->claim_ms + 1000) {
			/* Unanswered: again (lost), for a while. */
			if (c->claim_tries < MT6D_CLAIM_TRIES)
				send_claim(c, &c->claim_loc, unix_ms);
			else
				c->claim_pending = false;
		}
		if (c->claim_pending && c->claim_ms + 1000 < next)
			next = c->claim_ms + 1000;
		if (unix_ms >= c->last_rx_ms + dead) {
			c->stats.server_silent++;
			backoff(c, unix_ms);
			return c->next_ms;
		}
		/* next_ms: when the last keepalive went out. */
		if ((unix_ms >= c->last_tx_ms + ka || unix_ms >= c->last_rx_ms + ka) &&
		    unix_ms >= c->next_ms + ka)
			send_keepalive(c, unix_ms);
		break;
	}
	edge = (c->tun.cur + 1) * c->tun.rot_ms;
	return edge < next ? edge : next;
}

void mt6d_cli_set_prefix(struct mt6d_cli *c, const uint8_t prefix[static MT6D_PREFIX_LEN],
                         uint64_t unix_ms)
{
	struct mt6d_tun_slot *sl;
	struct mt6d_rebind_loc loc;

	if (!memcmp(c->cfg.prefix, prefix, MT6D_PREFIX_LEN))
		return;
	memcpy(c->cfg.prefix, prefix, MT6D_PREFIX_LEN);
	c->stats.prefix_changes++;
	if (c->cfg.underlay || !c->have_tun)
		return;
	if (c->state != MT6D_CLI_SESSION || !c->have_grant) {
		/* Nothing to carry over: introduce ourselves from the new
		 * prefix (the request names it). */
		release_tun(c);
		c->backoff_ms = 0;
		enter_lookup(c, unix_ms);
		return;
	}
	/* Every endpoint of the window moves to the new prefix. */
	for (int i = 0; i < MT6D_TUN_SLOTS; i++) {
		sl = &c->tun.win[i];
		if (sl->valid && c->cfg.on_slot)
			c->cfg.on_slot(&c->tun, sl, false, c->cfg.arg);
		sl->valid = false;
	}
	memcpy(c->tun.local.prefix, prefix, MT6D_PREFIX_LEN);
	mt6d_tun_session_rotate(NULL, &c->tun, mt6d_slot(unix_ms, c->tun.rot_ms), c->cfg.on_slot,
	                        c->cfg.arg);
	sl = mt6d_tun_session_tx_slot(&c->tun, unix_ms);
	if (!sl)
		return;
	memcpy(loc.addr, sl->local.addr, 16);
	loc.port = sl->local.port;
	c->claim_tries = 0;
	send_claim(c, &loc, unix_ms);
}

void mt6d_cli_retry(struct mt6d_cli *c, uint64_t unix_ms)
{
	if (c->state == MT6D_CLI_BACKOFF) {
		c->backoff_ms = 0;
		enter_lookup(c, unix_ms);
	} else if (c->state == MT6D_CLI_INTRO) {
		/* the request again, now, with all its tries */
		c->backoff_ms = 0;
		c->tries = 0;
		rotate(c, unix_ms);
		send_request(c, unix_ms);
	}
}

void mt6d_cli_close(struct mt6d_cli *c, uint64_t unix_ms)
{
	if (c->state == MT6D_CLI_SESSION) {
		struct mt6d_msg m = {.type = MT6D_MSG_TEARDOWN,
		                     .u.teardown.reason = MT6D_TEARDOWN_CLOSED};
		send_msg(c, &m, c->client_tun, c->server_tun, unix_ms);
	}
	lookup_stop(c);
	release_tun(c);
	if (c->state != MT6D_CLI_CLOSED)
		set_state(c, MT6D_CLI_CLOSED);
}
