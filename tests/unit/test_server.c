/* SPDX-License-Identifier: MIT */
/*
 * The session protocol end to end in one process: a server and several
 * clients (src/lib/session/server.c, client.c) wired through a fake network with a
 * fake clock. The rendezvous is short-circuited: a client in LOOKUP is
 * handed the server's introduction configuration, as the DHT would.
 *
 * What is proved here: sessions come up and carry traffic across many
 * rotations; the introduction channel is sealed pairwise (fix 1) and
 * identifies the client without any identifier another registered client
 * could compute (fix 2); sessions are isolated; teardown from either side,
 * idle expiry, a silent server, a new window, a lost response, a restarted
 * server, a registry reload, and malformed datagrams.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "mt6d/client.h"
#include "mt6d/server.h"

#define NCLI 4 /* clients 0..2 registered, 3 not */
#define NREG 3
#define QMAX 4096
#define CAPN 60000
#define CAPB 1024
/* A response carries the rebinding grant (L = 16). */
#define RESP_MSG   (MT6D_MSG_RESPONSE_LEN + MT6D_REBIND_GRANT_LEN(16))
#define RESP_DGRAM (MT6D_ENCAP_OVERHEAD + 40 + RESP_MSG)
#define T0         UINT64_C(1700000000000)
#define ROT        1000

struct dgram {
	struct mt6d_endpoint from, to;
	size_t len;
	uint8_t data[2048];
};

struct cap {
	int sender; /* -1: server, else a client */
	struct mt6d_endpoint from, to;
	size_t len;
	uint8_t data[CAPB];
};

struct world;

struct party {
	struct world *w;
	int idx;
};

struct world {
	uint64_t now;
	uint8_t srv_priv[32], srv_pub[32];
	uint8_t cpriv[NCLI][32], cpub[NCLI][32];
	struct mt6d_srv *srv;
	struct mt6d_cli *cli[NCLI];
	struct party parties[NCLI + 1];
	struct mt6d_intro intro;
	bool want_lookup[NCLI];
	bool lookups_fail[NCLI];
	/* network */
	struct dgram *q;
	size_t qh, qt;
	bool drop_to_server, drop_to_client[NCLI];
	int drop_responses[NCLI]; /* responses (RESP_DGRAM bytes) to drop */
	struct cap *cap;
	size_t ncap;
	/* deliveries */
	uint64_t cli_rx[NCLI], srv_rx[NCLI];
	uint32_t cli_last_tag[NCLI], srv_last_tag[NCLI];
	int srv_rx_from_session[NCLI]; /* client index of the session that delivered */
	int sessions_up, sessions_down;
	/* rebinding */
	uint8_t prefix[NCLI][8];        /* where the network delivers to client i */
	bool underlay;                  /* clients use the server's underlay */
	struct mt6d_endpoint nat[NCLI]; /* underlay: client i's public endpoint */
	uint32_t epoch_ms, window_ms;
	/* clocks: client i's is now + skew[i]; what its keepalives said */
	int64_t skew[NCLI];
	int64_t srv_time_off[NCLI];
	uint64_t srv_times[NCLI];
};

static uint64_t cnow(const struct world *w, int i)
{
	return (uint64_t)((int64_t)w->now + w->skew[i]);
}

/* The server's underlay endpoint: 203.0.113.1:7000. */
static const struct mt6d_endpoint ul_ep = {
        .addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 1}, .port = 7000};
static const struct mt6d_endpoint any_ep;

static const uint8_t srv_prefix[8] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x05, 0, 0};
static const uint8_t tun_prefix[8] = {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0, 0};

static void cli_prefix(uint8_t p[8], int i)
{
	static const uint8_t base[8] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0xc0, 0, 0};
	memcpy(p, base, 8);
	p[5] = (uint8_t)(0xc0 + i);
}

static void enqueue(struct world *w, int sender, const struct mt6d_endpoint *from,
                    const struct mt6d_endpoint *to, const uint8_t *p, size_t len)
{
	struct dgram *d;

	assert_true(len <= sizeof(d->data));
	if (w->underlay && sender >= 0)
		from = &w->nat[sender]; /* the NAT rewrites the source */
	if (w->ncap < CAPN) {
		struct cap *c = &w->cap[w->ncap++];
		c->sender = sender;
		c->from = *from;
		c->to = *to;
		c->len = len;
		memcpy(c->data, p, len < CAPB ? len : CAPB);
	}
	assert_true(w->qt - w->qh < QMAX);
	d = &w->q[w->qt++ % QMAX];
	d->from = *from;
	d->to = *to;
	d->len = len;
	memcpy(d->data, p, len);
}

/* A burst is n datagrams on the wire, each queued on its own. */
static void enqueue_tx(struct world *w, int sender, const struct mt6d_tx *tx)
{
	assert_true(tx->n >= 1 && tx->total <= tx->n * tx->stride);
	for (size_t k = 0; k < tx->n; k++)
		enqueue(w, sender, tx->from, tx->to, tx->p + k * tx->stride,
		        k + 1 < tx->n ? tx->stride : tx->total - k * tx->stride);
}

static void srv_send(void *arg, const struct mt6d_tx *tx)
{
	enqueue_tx(arg, -1, tx);
}

static void cli_send(void *arg, const struct mt6d_tx *tx)
{
	struct party *pa = arg;
	enqueue_tx(pa->w, pa->idx, tx);
}

static int client_of_tun(struct world *w, const uint8_t addr[16])
{
	for (int i = 0; i < NCLI; i++) {
		uint8_t a[16];
		mt6d_tun_addr_client(a, tun_prefix, w->cpub[i]);
		if (!memcmp(a, addr, 16))
			return i;
	}
	return -1;
}

static void srv_deliver(void *arg, struct mt6d_srv_session *s, uint8_t *pkt, size_t len,
                        const struct mt6d_offload *off)
{
	struct world *w = arg;
	int from = client_of_tun(w, s->client_tun);

	assert_true(from >= 0);
	/* The library vouches for the source: it is the session's client. */
	assert_memory_equal(pkt + 8, s->client_tun, 16);
	w->srv_rx[from]++;
	w->srv_rx_from_session[from] = from;
	if (len >= 44)
		memcpy(&w->srv_last_tag[from], pkt + 40, 4);
}

static void cli_deliver(void *arg, uint8_t *pkt, size_t len, const struct mt6d_offload *off)
{
	struct party *pa = arg;

	pa->w->cli_rx[pa->idx]++;
	if (len >= 44)
		memcpy(&pa->w->cli_last_tag[pa->idx], pkt + 40, 4);
}

static void on_session(void *arg, struct mt6d_srv_session *s, bool up, enum mt6d_srv_end why)
{
	struct world *w = arg;
	if (up)
		w->sessions_up++;
	else
		w->sessions_down++;
}

static void on_server_time(void *arg, int64_t offset_ms, uint64_t unix_ms)
{
	struct party *pa = arg;

	assert_int_equal(unix_ms, cnow(pa->w, pa->idx));
	pa->w->srv_time_off[pa->idx] = offset_ms;
	pa->w->srv_times[pa->idx]++;
}

static void on_state(void *arg, enum mt6d_cli_state from, enum mt6d_cli_state to)
{
	struct party *pa = arg;
	if (to == MT6D_CLI_LOOKUP)
		pa->w->want_lookup[pa->idx] = true;
}

static void new_intro(struct world *w, uint64_t window)
{
	w->intro.window = window;
	w->intro.period = 900;
	w->intro.rot_ms = ROT;
	memcpy(w->intro.seed_addr, srv_prefix, 8);
	randombytes_buf(w->intro.seed_addr + 8, 8);
	randombytes_buf(w->intro.key, 16);
}

static void make_server(struct world *w)
{
	struct mt6d_srv_config sc = {
	        .idle_timeout_s = 10,
	        .keepalive_s = 4,
	        .send = srv_send,
	        .deliver = srv_deliver,
	        .on_session = on_session,
	        .arg = w,
	};
	struct mt6d_registry reg = {0};

	sc.rebind.epoch_ms = w->epoch_ms;
	sc.rebind.window_ms = w->window_ms;
	if (w->underlay)
		sc.underlay = ul_ep;
	memcpy(sc.server_priv, w->srv_priv, 32);
	memcpy(sc.prefix, srv_prefix, 8);
	memcpy(sc.tun_prefix, tun_prefix, 8);
	w->srv = mt6d_srv_new(&sc);
	assert_non_null(w->srv);
	reg.clients = calloc(NREG, sizeof(*reg.clients));
	reg.n = NREG;
	for (int i = 0; i < NREG; i++) {
		memcpy(reg.clients[i].pub, w->cpub[i], 32);
		snprintf(reg.clients[i].name, sizeof(reg.clients[i].name), "client%d", i);
	}
	assert_int_equal(mt6d_srv_set_clients(w->srv, &reg, w->now), 0);
	free(reg.clients);
	assert_int_equal(mt6d_srv_intro_add(w->srv, &w->intro, w->now), 0);
}

static struct world *world_new_ex(bool underlay, uint32_t epoch_ms, uint32_t window_ms)
{
	struct world *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	w->underlay = underlay;
	w->epoch_ms = epoch_ms;
	w->window_ms = window_ms;
	for (int i = 0; i < NCLI; i++) {
		cli_prefix(w->prefix[i], i);
		memcpy(w->nat[i].addr, ul_ep.addr, 12);
		w->nat[i].addr[12] = 198;
		w->nat[i].addr[13] = 51;
		w->nat[i].addr[14] = 100;
		w->nat[i].addr[15] = (uint8_t)(10 + i);
		w->nat[i].port = (uint16_t)(40000 + i);
	}
	w->q = calloc(QMAX, sizeof(*w->q));
	w->cap = calloc(CAPN, sizeof(*w->cap));
	assert_non_null(w->q);
	assert_non_null(w->cap);
	w->now = T0;
	mt6d_key_generate(w->srv_priv);
	mt6d_key_public(w->srv_pub, w->srv_priv);
	for (int i = 0; i < NCLI; i++) {
		mt6d_key_generate(w->cpriv[i]);
		mt6d_key_public(w->cpub[i], w->cpriv[i]);
	}
	new_intro(w, mt6d_window(T0 / 1000, 900));
	make_server(w);
	for (int i = 0; i < NCLI; i++) {
		struct mt6d_cli_config cc = {
		        .keepalive_s = 2,
		        .dead_intervals = 3,
		        .send = cli_send,
		        .deliver = cli_deliver,
		        .on_state = on_state,
		        .on_server_time = on_server_time,
		        .arg = &w->parties[i],
		};
		w->parties[i].w = w;
		w->parties[i].idx = i;
		memcpy(cc.client_priv, w->cpriv[i], 32);
		memcpy(cc.server_pub, w->srv_pub, 32);
		cc.underlay = underlay;
		if (!underlay)
			cli_prefix(cc.prefix, i);
		w->cli[i] = mt6d_cli_new(&cc);
		assert_non_null(w->cli[i]);
	}
	return w;
}

static struct world *world_new(void)
{
	return world_new_ex(false, 0, 0);
}

static void world_free(struct world *w)
{
	for (int i = 0; i < NCLI; i++)
		mt6d_cli_free(w->cli[i]);
	mt6d_srv_free(w->srv);
	free(w->q);
	free(w->cap);
	free(w);
}

static void pump(struct world *w)
{
	while (w->qh != w->qt) {
		struct dgram *d = &w->q[w->qh++ % QMAX];

		if (!memcmp(&d->to, &ul_ep, sizeof(ul_ep))) {
			if (!w->drop_to_server && w->srv)
				mt6d_srv_input_underlay(w->srv, &d->from, d->data, d->len, w->now);
			continue;
		}
		if (!memcmp(d->to.addr, srv_prefix, 8)) {
			if (!w->drop_to_server && w->srv)
				mt6d_srv_input(w->srv, &d->to, &d->from, d->data, d->len, w->now);
			continue;
		}
		for (int i = 0; i < NCLI; i++) {
			if (w->underlay) {
				/* Only the current mapping reaches the client. */
				if (memcmp(&d->to, &w->nat[i], sizeof(d->to)) != 0 ||
				    w->drop_to_client[i])
					continue;
				mt6d_cli_input(w->cli[i], &any_ep, &d->from, d->data, d->len,
				               cnow(w, i));
				continue;
			}
			if (memcmp(d->to.addr, w->prefix[i], 8) != 0 || w->drop_to_client[i])
				continue;
			if (d->len == RESP_DGRAM && w->drop_responses[i] > 0) {
				w->drop_responses[i]--;
				continue;
			}
			mt6d_cli_input(w->cli[i], &d->to, &d->from, d->data, d->len, cnow(w, i));
		}
	}
}

/* The lookup result is the server's current introduction configuration. */
static void fix_lookups(struct world *w)
{
	for (int i = 0; i < NCLI; i++) {
		struct mt6d_config cfg = {.version = 1};

		if (!w->want_lookup[i])
			continue;
		w->want_lookup[i] = false;
		cfg.window = w->intro.window;
		cfg.rot_ms = w->intro.rot_ms;
		memcpy(cfg.seed_addr, w->intro.seed_addr, 16);
		memcpy(cfg.intro_key, w->intro.key, 16);
		if (w->underlay) {
			cfg.version = 2;
			memcpy(cfg.underlay_addr, ul_ep.addr, 16);
			cfg.underlay_port = ul_ep.port;
		}
		mt6d_cli_lookup_done(w->cli[i], w->lookups_fail[i] ? NULL : &cfg, cnow(w, i));
	}
	pump(w);
}

static void run(struct world *w, uint64_t ms)
{
	uint64_t end = w->now + ms;

	while (w->now < end) {
		w->now += 10;
		if (w->srv)
			mt6d_srv_tick(w->srv, w->now);
		for (int i = 0; i < NCLI; i++)
			mt6d_cli_tick(w->cli[i], cnow(w, i));
		fix_lookups(w);
		pump(w);
	}
}

static void start(struct world *w, int n)
{
	for (int i = 0; i < n; i++)
		mt6d_cli_start(w->cli[i], cnow(w, i));
	fix_lookups(w);
	run(w, 500);
}

/* An inner IPv6/UDP packet (checksum not checked here) carrying tag. */
static size_t mkpkt(uint8_t *buf, const uint8_t src[16], const uint8_t dst[16], uint32_t tag)
{
	uint8_t *p = buf + MT6D_ENCAP_INNER_OFF;

	memset(p, 0, 48);
	p[0] = 0x60;
	p[5] = 8;
	p[6] = 17;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	memcpy(p + 40, &tag, 4);
	return 48;
}

static void send_up(struct world *w, int i, uint32_t tag)
{
	uint8_t buf[256];
	size_t n = mkpkt(buf, w->cli[i]->client_tun, w->cli[i]->server_tun, tag);
	mt6d_cli_output(w->cli[i], buf + MT6D_ENCAP_INNER_OFF, n, NULL, w->now);
}

static void send_down(struct world *w, int i, uint32_t tag)
{
	uint8_t buf[256], srv_tun[16], ctun[16];
	size_t n;

	memcpy(srv_tun, tun_prefix, 8);
	memset(srv_tun + 8, 0, 8);
	srv_tun[15] = 1;
	mt6d_tun_addr_client(ctun, tun_prefix, w->cpub[i]);
	n = mkpkt(buf, srv_tun, ctun, tag);
	mt6d_srv_output(w->srv, buf + MT6D_ENCAP_INNER_OFF, n, NULL, w->now);
}

static void assert_sessions(struct world *w, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(w->cli[i]->state, MT6D_CLI_SESSION);
	assert_int_equal(mt6d_srv_count(w->srv), n);
}

/* Traffic both ways for every client in a session; each packet arrives. */
static void exchange(struct world *w, int n, uint32_t tag)
{
	for (int i = 0; i < n; i++) {
		uint64_t up = w->srv_rx[i], down = w->cli_rx[i];

		send_up(w, i, tag + (uint32_t)i);
		send_down(w, i, tag + 100 + (uint32_t)i);
		pump(w);
		assert_int_equal(w->srv_rx[i], up + 1);
		assert_int_equal(w->srv_last_tag[i], tag + (uint32_t)i);
		assert_int_equal(w->cli_rx[i], down + 1);
		assert_int_equal(w->cli_last_tag[i], tag + 100 + (uint32_t)i);
	}
}

static void test_establish(void **state)
{
	struct world *w = world_new();
	struct mt6d_srv_stats st;

	start(w, 3);
	assert_sessions(w, 3);
	assert_int_equal(w->sessions_up, 3);
	for (int i = 0; i < 3; i++) {
		struct mt6d_srv_session *s = mt6d_srv_find_tun(w->srv, w->cli[i]->client_tun);
		uint8_t want[16];

		assert_non_null(s);
		mt6d_tun_addr_client(want, tun_prefix, w->cpub[i]);
		assert_memory_equal(w->cli[i]->client_tun, want, 16);
		/* Both ends hold the same key and mirrored hosts. */
		assert_memory_equal(s->tun.ks, w->cli[i]->tun.ks, 16);
		assert_memory_equal(&s->tun.local, &w->cli[i]->tun.remote, sizeof(s->tun.local));
		assert_memory_equal(&s->tun.remote, &w->cli[i]->tun.local, sizeof(s->tun.local));
		for (int j = 0; j < i; j++) {
			struct mt6d_srv_session *o =
			        mt6d_srv_find_tun(w->srv, w->cli[j]->client_tun);
			assert_memory_not_equal(s->tun.ks, o->tun.ks, 16);
			assert_memory_not_equal(s->client_tun, o->client_tun, 16);
			assert_memory_not_equal(s->tun.local.iid, o->tun.local.iid, 8);
		}
		/* The session key is not K. */
		assert_memory_not_equal(s->tun.ks, w->intro.key, 16);
	}
	mt6d_srv_get_stats(w->srv, &st);
	assert_int_equal(st.sessions_created, 3);
	assert_int_equal(st.intro_forged + st.intro_unknown + st.intro_bad_msg, 0);
	exchange(w, 3, 1000);
	world_free(w);
}

static void test_rotations(void **state)
{
	struct world *w = world_new();
	struct mt6d_endpoint prev[3];

	start(w, 3);
	for (int i = 0; i < 3; i++)
		prev[i] =
		        mt6d_srv_find_tun(w->srv, w->cli[i]->client_tun)
		                ->tun
		                .win[mt6d_srv_find_tun(w->srv, w->cli[i]->client_tun)->tun.cur % 3]
		                .local;
	for (int r = 0; r < 45; r++) {
		for (int k = 0; k < 4; k++) {
			exchange(w, 3, (uint32_t)(r * 10 + k) * 1000);
			run(w, 250);
		}
		for (int i = 0; i < 3; i++) {
			struct mt6d_srv_session *s =
			        mt6d_srv_find_tun(w->srv, w->cli[i]->client_tun);
			struct mt6d_endpoint *ep = &s->tun.win[s->tun.cur % 3].local;
			/* A new slot every second: a new address and port. */
			assert_memory_not_equal(ep->addr, prev[i].addr, 16);
			prev[i] = *ep;
		}
	}
	assert_sessions(w, 3);
	for (int i = 0; i < 3; i++) {
		struct mt6d_srv_session *s = mt6d_srv_find_tun(w->srv, w->cli[i]->client_tun);
		assert_true(s->tun.stats.rotations >= 44);
		assert_int_equal(s->tun.stats.rx_forged + s->tun.stats.rx_replayed, 0);
	}
	world_free(w);
}

/* The response to client 0 and its request, from the capture. */
static const struct cap *find_cap(struct world *w, int sender, int to_client, size_t len)
{
	for (size_t k = 0; k < w->ncap; k++) {
		const struct cap *c = &w->cap[k];
		uint8_t p[8];

		cli_prefix(p, to_client);
		if (c->sender == sender && c->len == len &&
		    (to_client < 0 || !memcmp(c->to.addr, p, 8)))
			return c;
	}
	return NULL;
}

static int try_open(const struct cap *c, const uint8_t key[16], enum mt6d_role role, uint8_t *out)
{
	struct mt6d_encap e;
	int n;

	memcpy(out, c->data, c->len);
	mt6d_encap_init(&e, key, role, 0);
	n = mt6d_encap_open_inplace(&e, out, c->len, NULL);
	mt6d_encap_clear(&e);
	return n;
}

static void test_fix1_pairwise(void **state)
{
	struct world *w = world_new();
	const struct cap *resp, *req;
	uint8_t s1[32], s0[32], kp1[16], kp0[16], buf[CAPB], src[16], dst[16];
	struct mt6d_srv_session *sess;
	const uint8_t *msg;
	struct mt6d_msg m;
	int n;

	start(w, 3);
	sess = mt6d_srv_find_tun(w->srv, w->cli[0]->client_tun);
	resp = find_cap(w, -1, 0, RESP_DGRAM);
	req = find_cap(w, 0, -1, MT6D_ENCAP_OVERHEAD + 40 + MT6D_MSG_REQUEST_LEN);
	assert_non_null(resp);
	assert_non_null(req);
	/* Client 1 is registered: it knows K and its own secret s1. */
	assert_int_equal(mt6d_shared_secret(s1, w->cpriv[1], w->srv_pub), 0);
	mt6d_intro_pair_key(kp1, s1, w->intro.key);
	/* The patent's scheme would seal with K: client 1 could read it. */
	assert_int_equal(try_open(resp, w->intro.key, MT6D_ROLE_CLIENT, buf), -EBADMSG);
	assert_int_equal(try_open(req, w->intro.key, MT6D_ROLE_SERVER, buf), -EBADMSG);
	assert_int_equal(try_open(resp, kp1, MT6D_ROLE_CLIENT, buf), -EBADMSG);
	assert_int_equal(try_open(req, kp1, MT6D_ROLE_SERVER, buf), -EBADMSG);
	/* Only the pair (server, client 0) opens it, and it holds the key. */
	assert_int_equal(mt6d_shared_secret(s0, w->cpriv[0], w->srv_pub), 0);
	mt6d_intro_pair_key(kp0, s0, w->intro.key);
	n = try_open(resp, kp0, MT6D_ROLE_CLIENT, buf);
	assert_int_equal(n, 40 + RESP_MSG);
	n = mt6d_msg_unwrap(buf + MT6D_ENCAP_INNER_OFF, (size_t)n, &msg, src, dst);
	assert_int_equal(n, RESP_MSG);
	assert_int_equal(mt6d_msg_decode(&m, msg, (size_t)n), 0);
	assert_memory_equal(m.u.response.session_key, sess->tun.ks, 16);
	/* And nothing of the session key or K appears in clear. */
	for (size_t k = 0; k + 16 <= resp->len; k++) {
		assert_memory_not_equal(resp->data + k, sess->tun.ks, 16);
		assert_memory_not_equal(resp->data + k, w->intro.key, 16);
	}
	world_free(w);
}

static void test_fix2_identifier(void **state)
{
	struct world *w = world_new();
	uint8_t s1[32], iid1[8], seed0[8], s0[32];
	struct mt6d_srv_stats st;
	uint8_t seen[64][8];
	size_t nseen = 0;

	start(w, 3);
	run(w, 5000);
	assert_int_equal(mt6d_shared_secret(s0, w->cpriv[0], w->srv_pub), 0);
	mt6d_client_seed_iid(seed0, s0, w->intro.key);
	assert_int_equal(mt6d_shared_secret(s1, w->cpriv[1], w->srv_pub), 0);
	mt6d_client_seed_iid(iid1, s1, w->intro.key);
	/* Client 0's requests: the source IID is never its seed IID, never
	 * one client 1 could derive, and new in every slot. */
	for (size_t k = 0; k < w->ncap; k++) {
		const struct cap *c = &w->cap[k];
		uint64_t slot = mt6d_slot(T0, ROT);

		if (c->sender != 0 || c->len != MT6D_ENCAP_OVERHEAD + 40 + MT6D_MSG_REQUEST_LEN)
			continue;
		assert_memory_not_equal(c->from.addr + 8, seed0, 8);
		for (uint64_t d = 0; d < 20; d++) {
			uint8_t a[16];
			mt6d_slot_address(a, NULL, srv_prefix, iid1, w->intro.key, slot - 5 + d);
			assert_memory_not_equal(c->from.addr + 8, a + 8, 8);
		}
		assert_true(nseen < 64);
		memcpy(seen[nseen++], c->from.addr + 8, 8);
	}
	assert_true(nseen >= 1);
	/* Client 1 forges a request "from client 0" with what it can know:
	 * client 0's prefix and a made-up IID. Unknown to the server. */
	{
		uint8_t buf[256];
		struct mt6d_endpoint from, to;
		struct mt6d_srv_intro_info info;
		struct mt6d_encap e;
		uint8_t kp1[16];
		size_t n;
		int len;

		assert_int_equal(mt6d_srv_intros(w->srv, &info, 1), 1);
		to = info.cur;
		cli_prefix(from.addr, 0);
		randombytes_buf(from.addr + 8, 8);
		from.port = 4242;
		mt6d_intro_pair_key(kp1, s1, w->intro.key);
		mt6d_encap_init(&e, kp1, MT6D_ROLE_CLIENT, 0);
		n = (size_t)mkpkt(buf, from.addr, info.seed_addr, 0);
		len = mt6d_encap_seal_inplace(&e, buf, sizeof(buf), n);
		mt6d_encap_clear(&e);
		mt6d_srv_input(w->srv, &to, &from, buf, (size_t)len, w->now);
		mt6d_srv_get_stats(w->srv, &st);
		assert_int_equal(st.intro_unknown, 1);
	}
	/* An observer replays client 0's captured request from its source:
	 * refused as a replay, client 0's session untouched. */
	{
		const struct cap *req =
		        find_cap(w, 0, -1, MT6D_ENCAP_OVERHEAD + 40 + MT6D_MSG_REQUEST_LEN);
		struct mt6d_srv_session *s = mt6d_srv_find_tun(w->srv, w->cli[0]->client_tun);
		uint8_t ks[16], buf[CAPB];

		memcpy(ks, s->tun.ks, 16);
		memcpy(buf, req->data, req->len);
		mt6d_srv_input(w->srv, &req->to, &req->from, buf, req->len, w->now);
		mt6d_srv_get_stats(w->srv, &st);
		/* Out of the window by now (the endpoint or IID no longer
		 * current) or replayed: either way no new session. */
		assert_int_equal(st.sessions_created, 3);
		assert_memory_equal(mt6d_srv_find_tun(w->srv, w->cli[0]->client_tun)->tun.ks, ks,
		                    16);
	}
	world_free(w);
}

/* Replays inside the request's own slot: of the request that made the
 * current session, a repeat of its response; of an older one, nothing. */
static void test_intro_replay(void **state)
{
	struct world *w = world_new();
	struct mt6d_srv_stats st;
	const struct cap *req;
	uint8_t buf[CAPB], ks[16];
	size_t ncap;

	/* Start just after a slot edge so the replays stay in the slot. */
	w->now = (mt6d_slot(w->now, ROT) + 1) * ROT + 1;
	mt6d_cli_start(w->cli[0], w->now);
	fix_lookups(w);
	pump(w);
	assert_int_equal(w->cli[0]->state, MT6D_CLI_SESSION);
	req = find_cap(w, 0, -1, MT6D_ENCAP_OVERHEAD + 40 + MT6D_MSG_REQUEST_LEN);
	memcpy(buf, req->data, req->len);
	mt6d_srv_input(w->srv, &req->to, &req->from, buf, req->len, w->now);
	mt6d_srv_get_stats(w->srv, &st);
	assert_int_equal(st.requests_repeated, 1);
	assert_int_equal(st.sessions_created, 1);
	/* The client makes a new session (a restart); the first request,
	 * replayed now, must not replace it. */
	w->now += 5;
	mt6d_cli_close(w->cli[0], w->now);
	pump(w);
	ncap = w->ncap;
	mt6d_cli_start(w->cli[0], w->now);
	fix_lookups(w);
	pump(w);
	assert_int_equal(w->cli[0]->state, MT6D_CLI_SESSION);
	assert_true(w->ncap > ncap);
	memcpy(ks, mt6d_srv_find_name(w->srv, "client0")->tun.ks, 16);
	memcpy(buf, req->data, req->len);
	mt6d_srv_input(w->srv, &req->to, &req->from, buf, req->len, w->now);
	mt6d_srv_get_stats(w->srv, &st);
	assert_int_equal(st.intro_stale, 1);
	assert_int_equal(st.sessions_created, 2);
	assert_memory_equal(mt6d_srv_find_name(w->srv, "client0")->tun.ks, ks, 16);
	exchange(w, 1, 90);
	world_free(w);
}

static void test_isolation(void **state)
{
	struct world *w = world_new();
	struct mt6d_srv_session *s0, *s1;
	struct mt6d_srv_stats st;
	uint8_t buf[256];
	size_t n;
	int len;

	start(w, 3);
	s0 = mt6d_srv_find_tun(w->srv, w->cli[0]->client_tun);
	s1 = mt6d_srv_find_tun(w->srv, w->cli[1]->client_tun);
	/* Client 1 learns client 0's current server endpoint (an observer
	 * can) and sends into it, sealed with the only keys it has. */
	{
		struct mt6d_tun_slot *sl = &s0->tun.win[s0->tun.cur % 3];
		struct mt6d_tun_slot *my = &w->cli[1]->tun.win[w->cli[1]->tun.cur % 3];
		uint64_t forged = s0->tun.stats.rx_forged;
		struct mt6d_srv_stats st0, st1;

		n = mkpkt(buf, w->cli[0]->client_tun, w->cli[0]->server_tun, 7);
		len = mt6d_encap_seal_inplace(&w->cli[1]->tun.encap, buf, sizeof(buf), n);
		/* From its own endpoint: not client 0's tuple, not even tried. */
		mt6d_srv_get_stats(w->srv, &st0);
		mt6d_srv_input(w->srv, &sl->local, &my->local, buf, (size_t)len, w->now);
		mt6d_srv_get_stats(w->srv, &st1);
		assert_int_equal(st1.unrecognized, st0.unrecognized + 1);
		assert_int_equal(s0->tun.stats.rx_forged, forged);
		/* From client 0's endpoint (spoofed): forged. */
		len = mt6d_encap_seal_inplace(&w->cli[1]->tun.encap, buf, sizeof(buf), n);
		mt6d_srv_input(w->srv, &sl->local, &sl->remote, buf, (size_t)len, w->now);
		assert_int_equal(s0->tun.stats.rx_forged, forged + 1);
		/* With K (it is registered, it knows K): also forged. */
		{
			struct mt6d_encap e;
			mt6d_encap_init(&e, w->intro.key, MT6D_ROLE_CLIENT, 0);
			n = mkpkt(buf, w->cli[0]->client_tun, w->cli[0]->server_tun, 7);
			len = mt6d_encap_seal_inplace(&e, buf, sizeof(buf), n);
			mt6d_encap_clear(&e);
			mt6d_srv_input(w->srv, &sl->local, &sl->remote, buf, (size_t)len, w->now);
			assert_int_equal(s0->tun.stats.rx_forged, forged + 2);
		}
	}
	/* Client 1 speaks for client 0 inside its own session: refused. */
	{
		uint64_t before = w->srv_rx[0] + w->srv_rx[1];
		uint8_t *p = buf + MT6D_ENCAP_INNER_OFF;

		n = mkpkt(buf, w->cli[0]->client_tun, w->cli[1]->server_tun, 9);
		/* mt6d_cli_output refuses a foreign source itself; go below it. */
		mt6d_cli_output(w->cli[1], buf + MT6D_ENCAP_INNER_OFF, n, NULL, w->now);
		assert_int_equal(w->cli[1]->stats.tx_no_session, 1);
		n = mkpkt(buf, w->cli[0]->client_tun, w->cli[1]->server_tun, 9);
		(void)p;
		len = mt6d_encap_seal_inplace(&w->cli[1]->tun.encap, buf, sizeof(buf), n);
		{
			struct mt6d_tun_slot *sl = &w->cli[1]->tun.win[w->cli[1]->tun.cur % 3];
			mt6d_srv_input(w->srv, &sl->remote, &sl->local, buf, (size_t)len, w->now);
		}
		assert_int_equal(w->srv_rx[0] + w->srv_rx[1], before);
		assert_int_equal(s1->rx_spoofed, 1);
	}
	/* Client 0's datagrams cannot be opened with client 1's session key. */
	{
		const struct cap *c = NULL;
		uint8_t out[CAPB];
		exchange(w, 3, 5000);
		for (size_t k = w->ncap; k-- > 0;)
			if (w->cap[k].sender == 0) {
				c = &w->cap[k];
				break;
			}
		assert_non_null(c);
		assert_int_equal(try_open(c, s1->tun.ks, MT6D_ROLE_SERVER, out), -EBADMSG);
		assert_int_equal(try_open(c, s0->tun.ks, MT6D_ROLE_SERVER, out) > 0, 1);
	}
	/* A packet from client 1 to client 0's tunnel address goes to the
	 * server's TUN device (its routing decides), never straight across. */
	{
		uint64_t rx0 = w->cli_rx[0];
		n = mkpkt(buf, w->cli[1]->client_tun, w->cli[0]->client_tun, 11);
		mt6d_cli_output(w->cli[1], buf + MT6D_ENCAP_INNER_OFF, n, NULL, w->now);
		pump(w);
		assert_int_equal(w->cli_rx[0], rx0);
		assert_int_equal(w->srv_last_tag[1], 11);
	}
	mt6d_srv_get_stats(w->srv, &st);
	assert_int_equal(st.rx_spoofed, 1);
	assert_int_equal(st.sessions_created, 3);
	exchange(w, 3, 6000);
	world_free(w);
}

static void test_unregistered(void **state)
{
	struct world *w = world_new();
	struct mt6d_srv_stats st;

	/* Client 3 is not registered, yet has K (leaked, or a stale
	 * registration): its requests come from an IID nobody expects. */
	mt6d_cli_start(w->cli[3], w->now);
	fix_lookups(w);
	run(w, 8000);
	assert_int_not_equal(w->cli[3]->state, MT6D_CLI_SESSION);
	assert_true(w->cli[3]->stats.intro_timeouts >= 1);
	mt6d_srv_get_stats(w->srv, &st);
	assert_true(st.intro_unknown >= 5);
	assert_int_equal(st.sessions_created, 0);
	assert_int_equal(mt6d_srv_count(w->srv), 0);
	world_free(w);
}

static void test_teardown(void **state)
{
	struct world *w = world_new();
	struct mt6d_srv_stats st;

	start(w, 3);
	/* Client side: the server ends the session at once. */
	mt6d_cli_close(w->cli[0], w->now);
	pump(w);
	assert_int_equal(w->cli[0]->state, MT6D_CLI_CLOSED);
	assert_null(mt6d_srv_find_name(w->srv, "client0"));
	assert_int_equal(mt6d_srv_count(w->srv), 2);
	mt6d_srv_get_stats(w->srv, &st);
	assert_int_equal(st.sessions_ended[MT6D_SRV_END_TEARDOWN], 1);
	/* Server side: the client leaves its session at once... */
	mt6d_srv_teardown(w->srv, mt6d_srv_find_name(w->srv, "client1"), w->now);
	assert_int_equal(mt6d_srv_count(w->srv), 1);
	pump(w);
	assert_int_equal(w->cli[1]->state, MT6D_CLI_BACKOFF);
	assert_int_equal(w->cli[1]->stats.teardowns_rx, 1);
	assert_false(w->cli[1]->have_tun);
	/* ...and comes back through the rendezvous after its backoff. */
	run(w, 3000);
	assert_int_equal(w->cli[1]->state, MT6D_CLI_SESSION);
	assert_int_equal(mt6d_srv_count(w->srv), 2);
	exchange(w, 0, 0);
	send_up(w, 1, 77);
	pump(w);
	assert_int_equal(w->srv_last_tag[1], 77);
	/* Server stopping: every client hears it. */
	mt6d_srv_close(w->srv, w->now);
	pump(w);
	assert_int_equal(mt6d_srv_count(w->srv), 0);
	assert_int_equal(w->cli[1]->state, MT6D_CLI_BACKOFF);
	assert_int_equal(w->cli[2]->state, MT6D_CLI_BACKOFF);
	world_free(w);
}

static void test_silence_and_idle(void **state)
{
	struct world *w = world_new();
	struct mt6d_srv_stats st;

	start(w, 3);
	/* Quiet but healthy: keepalives keep every session for a minute. */
	run(w, 60000);
	assert_sessions(w, 3);
	mt6d_srv_get_stats(w->srv, &st);
	assert_int_equal(st.sessions_created, 3);
	/* The path breaks both ways: clients give up after 3 intervals of
	 * 2 s, the server expires sessions after 10 s idle. */
	w->drop_to_server = true;
	for (int i = 0; i < 3; i++)
		w->drop_to_client[i] = true;
	run(w, 7000);
	for (int i = 0; i < 3; i++) {
		assert_int_not_equal(w->cli[i]->state, MT6D_CLI_SESSION);
		assert_int_equal(w->cli[i]->stats.server_silent, 1);
	}
	run(w, 5000);
	assert_int_equal(mt6d_srv_count(w->srv), 0);
	mt6d_srv_get_stats(w->srv, &st);
	assert_int_equal(st.sessions_ended[MT6D_SRV_END_IDLE], 3);
	/* Backoff grows while the server stays unreachable... */
	run(w, 60000);
	assert_true(w->cli[0]->backoff_ms >= 8000);
	/* ...and everything comes back when it is reachable again. */
	w->drop_to_server = false;
	for (int i = 0; i < 3; i++)
		w->drop_to_client[i] = false;
	run(w, 70000);
	assert_sessions(w, 3);
	exchange(w, 3, 100);
	world_free(w);
}

static void test_new_window(void **state)
{
	struct world *w = world_new();
	struct mt6d_intro old;

	start(w, 2);
	old = w->intro;
	new_intro(w, old.window + 900);
	assert_int_equal(mt6d_srv_intro_add(w->srv, &w->intro, w->now), 0);
	mt6d_srv_intro_drop(w->srv, old.window);
	/* Established sessions never depended on K. */
	run(w, 5000);
	assert_sessions(w, 2);
	exchange(w, 2, 10);
	/* A client arriving now uses the new window's K. */
	mt6d_cli_start(w->cli[2], w->now);
	fix_lookups(w);
	run(w, 500);
	assert_sessions(w, 3);
	assert_memory_equal(w->cli[2]->intro.intro_key, w->intro.key, 16);
	exchange(w, 3, 20);
	world_free(w);
}

static void test_lost_response(void **state)
{
	struct world *w = world_new();
	struct mt6d_srv_stats st;

	w->drop_responses[0] = 2;
	start(w, 1);
	run(w, 3000);
	assert_sessions(w, 1);
	mt6d_srv_get_stats(w->srv, &st);
	assert_int_equal(st.sessions_created, 1);
	assert_int_equal(st.requests_repeated, 2);
	exchange(w, 1, 30);
	world_free(w);
}

static void test_server_restart(void **state)
{
	struct world *w = world_new();
	uint8_t tun0[16];

	start(w, 3);
	memcpy(tun0, w->cli[0]->client_tun, 16);
	/* SIGKILL: the process and all its state are gone... */
	mt6d_srv_free(w->srv);
	w->srv = NULL;
	run(w, 2000);
	/* ...and a new one, with a new K for the same window. */
	new_intro(w, w->intro.window);
	make_server(w);
	run(w, 15000);
	assert_sessions(w, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(w->cli[i]->stats.sessions, 2);
	/* The tunnel address survives, so inner connections can too. */
	assert_memory_equal(w->cli[0]->client_tun, tun0, 16);
	exchange(w, 3, 40);
	world_free(w);
}

static void test_registry_reload(void **state)
{
	struct world *w = world_new();
	struct mt6d_registry reg = {0};
	struct mt6d_srv_stats st;

	start(w, 3);
	/* Client 2 removed, the others listed in another order. */
	reg.clients = calloc(2, sizeof(*reg.clients));
	reg.n = 2;
	memcpy(reg.clients[0].pub, w->cpub[1], 32);
	strcpy(reg.clients[0].name, "client1");
	memcpy(reg.clients[1].pub, w->cpub[0], 32);
	strcpy(reg.clients[1].name, "client0");
	assert_int_equal(mt6d_srv_set_clients(w->srv, &reg, w->now), 0);
	free(reg.clients);
	mt6d_srv_get_stats(w->srv, &st);
	assert_int_equal(st.sessions_ended[MT6D_SRV_END_UNREGISTERED], 1);
	assert_int_equal(mt6d_srv_count(w->srv), 2);
	assert_non_null(mt6d_srv_find_name(w->srv, "client0"));
	assert_non_null(mt6d_srv_find_name(w->srv, "client1"));
	exchange(w, 2, 50);
	/* Client 0 reconnects under its new index: replaced, not doubled. */
	mt6d_cli_close(w->cli[0], w->now);
	pump(w);
	mt6d_cli_start(w->cli[0], w->now);
	fix_lookups(w);
	run(w, 500);
	assert_int_equal(w->cli[0]->state, MT6D_CLI_SESSION);
	assert_int_equal(mt6d_srv_count(w->srv), 2);
	exchange(w, 2, 60);
	world_free(w);
}

static void test_malformed(void **state)
{
	struct world *w = world_new();
	struct mt6d_srv_intro_info info;
	struct mt6d_srv_stats st;
	uint8_t buf[1600];

	start(w, 3);
	assert_int_equal(mt6d_srv_intros(w->srv, &info, 1), 1);
	for (int k = 0; k < 20000; k++) {
		struct mt6d_srv_session *s = mt6d_srv_find_tun(w->srv, w->cli[k % 3]->client_tun);
		struct mt6d_tun_slot *sl = &s->tun.win[s->tun.cur % 3];
		struct mt6d_endpoint from = sl->remote, to;
		size_t len = randombytes_uniform(sizeof(buf));

		randombytes_buf(buf, len);
		switch (k % 4) {
		case 0:
			to = info.cur;
			break; /* junk to the introduction endpoint */
		case 1:
			to = sl->local;
			break; /* junk to a session */
		case 2:        /* junk from a client's real introduction IID */
			to = info.cur;
			from = w->cli[0]->tun.win[0].local;
			break;
		default: /* a real datagram, one bit flipped or cut short */
		{
			const struct cap *c = &w->cap[randombytes_uniform((uint32_t)w->ncap)];
			len = c->len < CAPB ? c->len : CAPB;
			memcpy(buf, c->data, len);
			if (k & 4)
				buf[randombytes_uniform((uint32_t)len)] ^= (uint8_t)(1u << (k & 7));
			else
				len = randombytes_uniform((uint32_t)len);
			to = c->to;
			from = c->from;
		}
		}
		mt6d_srv_input(w->srv, &to, &from, buf, len, w->now);
		randombytes_buf(buf, len);
		mt6d_cli_input(w->cli[k % 3], &w->cli[k % 3]->tun.win[0].local,
		               &w->cli[k % 3]->tun.win[0].remote, buf, len, w->now);
	}
	mt6d_srv_get_stats(w->srv, &st);
	assert_int_equal(st.sessions_created, 3);
	assert_true(st.rx_forged + st.rx_truncated > 0);
	assert_sessions(w, 3);
	exchange(w, 3, 70);
	/* Inner garbage from the TUN device is refused too. */
	for (int k = 0; k < 1000; k++) {
		size_t len = randombytes_uniform(200);
		randombytes_buf(buf + MT6D_ENCAP_INNER_OFF, len);
		mt6d_srv_output(w->srv, buf + MT6D_ENCAP_INNER_OFF, len, NULL, w->now);
		mt6d_cli_output(w->cli[0], buf + MT6D_ENCAP_INNER_OFF, len, NULL, w->now);
	}
	pump(w);
	assert_sessions(w, 3);
	world_free(w);
}

static void test_lookup_failure_backoff(void **state)
{
	struct world *w = world_new();

	w->lookups_fail[0] = true;
	start(w, 1);
	assert_int_equal(w->cli[0]->state, MT6D_CLI_BACKOFF);
	run(w, 40000);
	/* 1, 2, 4, 8, 16 s (+- 1/4): five to seven lookups in 40 s. */
	assert_true(w->cli[0]->stats.lookups >= 4 && w->cli[0]->stats.lookups <= 7);
	w->lookups_fail[0] = false;
	run(w, 40000);
	assert_int_equal(w->cli[0]->state, MT6D_CLI_SESSION);
	assert_int_equal(w->cli[0]->backoff_ms, 0);
	world_free(w);
}

/*
 * A client clock 300 ms ahead works, and the server's keepalives tell it
 * by how much (this network has no delay: exactly). Set 5 s ahead, then
 * 60 s behind (beyond a slot of 1 s), the session is lost and none is made;
 * the estimate (clock.c, with the fake clock as the steady one) says how
 * far off it is. Set right, mt6d_cli_retry ends the backoff and a session
 * is up at once.
 */
static void test_clock_skew(void **state)
{
	static const int64_t steps[] = {5000, -60000};
	struct world *w = world_new();
	struct mt6d_clock_est e = {0};
	int64_t off;

	w->skew[0] = 300;
	start(w, 1);
	assert_int_equal(w->cli[0]->state, MT6D_CLI_SESSION);
	run(w, 5000);
	assert_true(w->srv_times[0] >= 2);
	assert_int_equal(w->srv_time_off[0], 300);
	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		uint64_t samples, requests, no_session, sessions = w->cli[0]->stats.sessions;
		struct mt6d_srv_stats st;

		mt6d_clock_est_sample(&e, w->srv_time_off[0], cnow(w, 0), w->now);
		assert_int_equal(mt6d_clock_est_news(&e, cnow(w, 0), w->now, 500, &off),
		                 MT6D_CLOCK_NO_NEWS);
		w->skew[0] = steps[k];
		assert_int_equal(mt6d_clock_est_news(&e, cnow(w, 0), w->now, 500, &off),
		                 MT6D_CLOCK_OFF);
		assert_int_equal(off, steps[k]);
		samples = w->srv_times[0];
		mt6d_srv_get_stats(w->srv, &st);
		requests = st.requests;
		no_session = st.rx_no_session;
		run(w, 40000);
		/* lost, and no new one: nothing authentic came */
		assert_int_not_equal(w->cli[0]->state, MT6D_CLI_SESSION);
		assert_int_equal(w->cli[0]->stats.sessions, sessions);
		assert_true(w->cli[0]->stats.server_silent >= k + 1);
		assert_true(w->cli[0]->stats.intro_timeouts >= 1);
		assert_int_equal(w->srv_times[0], samples);
		/* the server took no request: they went to no endpoint of its */
		mt6d_srv_get_stats(w->srv, &st);
		assert_int_equal(st.requests, requests);
		assert_true(st.rx_no_session > no_session);
		assert_true(mt6d_clock_est_get(&e, cnow(w, 0), w->now, &off));
		assert_int_equal(off, steps[k]);
		/* set right */
		w->skew[0] = 0;
		assert_int_equal(mt6d_clock_est_news(&e, cnow(w, 0), w->now, 500, &off),
		                 MT6D_CLOCK_BACK);
		mt6d_cli_retry(w->cli[0], cnow(w, 0));
		fix_lookups(w);
		run(w, 1500);
		assert_int_equal(w->cli[0]->state, MT6D_CLI_SESSION);
		assert_int_equal(w->cli[0]->stats.sessions, sessions + 1);
		run(w, 5000);
		assert_int_equal(w->srv_time_off[0], 0);
	}
	world_free(w);
}

/* ---- rebinding (docs/rebind.md) ---- */

#define CLAIM16 MT6D_REBIND_CLAIM_LEN(16)

static struct mt6d_srv_session *sess_of(struct world *w, int i)
{
	struct mt6d_srv_session *s = mt6d_srv_find_tun(w->srv, w->cli[i]->client_tun);

	assert_non_null(s);
	return s;
}

/* The last claim client i sent (from the capture), or NULL. */
static const struct cap *last_claim(struct world *w, int i)
{
	for (size_t k = w->ncap; k-- > 0;)
		if (w->cap[k].sender == i && w->cap[k].len == CLAIM16)
			return &w->cap[k];
	return NULL;
}

/* (a) in the library: the client's /64 changes; the session follows it. */
static void test_rebind_prefix(void **state)
{
	struct world *w = world_new_ex(false, 0, 5000);
	uint8_t np[8] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0xc7, 0, 0};
	struct mt6d_srv_session *s;
	struct mt6d_srv_stats st;

	start(w, 3);
	assert_sessions(w, 3);
	exchange(w, 3, 10);
	s = sess_of(w, 0);
	assert_true(s->has_conn);
	assert_true(w->cli[0]->have_grant);
	assert_int_equal(w->cli[0]->grant.conn, s->conn);
	/* The network now delivers the new /64 only. */
	memcpy(w->prefix[0], np, 8);
	mt6d_cli_set_prefix(w->cli[0], np, w->now);
	assert_memory_equal(w->cli[0]->tun.local.prefix, np, 8);
	pump(w);
	assert_int_equal(s->rebinds, 1);
	assert_memory_equal(s->tun.remote.prefix, np, 8);
	for (int i = 0; i < 3; i++)
		assert_memory_equal(s->tun.win[i].remote.addr, np, 8);
	assert_int_equal(w->cli[0]->stats.claims_sent, 1);
	assert_int_equal(w->cli[0]->stats.rebinds, 1);
	exchange(w, 3, 20);
	run(w, 5 * ROT);
	assert_sessions(w, 3);
	exchange(w, 3, 30);
	mt6d_srv_get_stats(w->srv, &st);
	assert_int_equal(st.claims_accepted, 1);
	assert_int_equal(st.claims_refused[0] + st.claims_refused[1] + st.claims_refused[2] +
	                         st.claims_refused[3],
	                 0);
	assert_int_equal(w->sessions_down, 0);
	world_free(w);
}

/* (c), (e) and a replay, through the server: a captured claim sent again
 * from another address, from its own address, and after the window. */
static void test_rebind_replays(void **state)
{
	struct world *w = world_new_ex(false, 0, 5000);
	uint8_t np[8] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0xc7, 0, 0}, buf[CLAIM16];
	struct mt6d_endpoint attacker = {.addr = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0xaa, 0, 0, 1},
	                                 .port = 5555};
	struct mt6d_srv_session *s;
	struct mt6d_srv_stats st;
	const struct cap *c;
	struct cap claim;

	start(w, 2);
	memcpy(w->prefix[0], np, 8);
	mt6d_cli_set_prefix(w->cli[0], np, w->now);
	pump(w);
	s = sess_of(w, 0);
	assert_int_equal(s->rebinds, 1);
	c = last_claim(w, 0);
	assert_non_null(c);
	claim = *c;
	/* From elsewhere, to the session's endpoint of now: the location
	 * inside is not the source. A reply goes back, no larger. */
	{
		struct mt6d_tun_slot *sl = &s->tun.win[s->tun.cur % 3];
		size_t ncap = w->ncap;

		memcpy(buf, claim.data, CLAIM16);
		mt6d_srv_input(w->srv, &sl->local, &attacker, buf, CLAIM16, w->now);
		mt6d_srv_get_stats(w->srv, &st);
		assert_int_equal(st.claims_refused[MT6D_SRV_CLAIM_LOCATION], 1);
		assert_int_equal(w->ncap, ncap + 1);
		assert_int_equal(w->cap[ncap].len, MT6D_REBIND_REPLY_LEN);
		assert_memory_equal(&w->cap[ncap].to, &attacker, sizeof(attacker));
		/* From its own source, now the session's tuple: just a datagram
		 * that does not open. */
		memcpy(buf, claim.data, CLAIM16);
		mt6d_srv_input(w->srv, &sl->local, &claim.from, buf, CLAIM16, w->now);
		assert_int_equal(s->tun.stats.rx_forged, 1);
		pump(w);
	}
	/* Two slots later that source is nobody's: a replay, inside the window. */
	run(w, 2 * ROT + 100);
	{
		struct mt6d_tun_slot *sl = &s->tun.win[s->tun.cur % 3];

		memcpy(buf, claim.data, CLAIM16);
		mt6d_srv_input(w->srv, &sl->local, &claim.from, buf, CLAIM16, w->now);
		mt6d_srv_get_stats(w->srv, &st);
		assert_int_equal(st.claims_refused[MT6D_SRV_CLAIM_REPLAYED], 1);
		pump(w);
	}
	assert_int_equal(s->rebinds, 1);
	assert_memory_equal(s->tun.remote.prefix, np, 8);
	exchange(w, 2, 40);
	/* After the window (5 s): stale, from its own source as well. */
	run(w, 6000);
	{
		struct mt6d_tun_slot *sl = &s->tun.win[s->tun.cur % 3];

		memcpy(buf, claim.data, CLAIM16);
		mt6d_srv_input(w->srv, &sl->local, &claim.from, buf, CLAIM16, w->now);
		mt6d_srv_get_stats(w->srv, &st);
		assert_int_equal(st.claims_refused[MT6D_SRV_CLAIM_STALE], 1);
		pump(w);
	}
	/* A claim-sized datagram of junk: not authentic. */
	{
		struct mt6d_tun_slot *sl = &s->tun.win[s->tun.cur % 3];

		randombytes_buf(buf, sizeof(buf));
		mt6d_srv_input(w->srv, &sl->local, &attacker, buf, CLAIM16, w->now);
		mt6d_srv_get_stats(w->srv, &st);
		assert_int_equal(st.claims_refused[MT6D_SRV_CLAIM_BAD], 1);
		pump(w);
	}
	assert_sessions(w, 2);
	exchange(w, 2, 50);
	assert_int_equal(w->sessions_down, 0);
	world_free(w);
}

/* (b) in the library: clients on the underlay behind a NAT whose mapping
 * changes (port, then address, then while the client is idle). */
static void test_underlay_nat(void **state)
{
	struct world *w = world_new_ex(true, 0, 0);
	struct mt6d_srv_session *s;
	struct mt6d_srv_stats st;

	start(w, 3);
	assert_sessions(w, 3);
	exchange(w, 3, 10);
	s = sess_of(w, 0);
	assert_true(s->underlay);
	assert_memory_equal(&s->peer, &w->nat[0], sizeof(s->peer));
	mt6d_srv_get_stats(w->srv, &st);
	assert_int_equal(st.intro_underlay, 3);
	/* New port: the first datagram is not recognized; its reply brings a
	 * claim, and the session moves. */
	w->nat[0].port = 41234;
	send_up(w, 0, 99);
	pump(w);
	assert_int_equal(s->rebinds, 1);
	assert_memory_equal(&s->peer, &w->nat[0], sizeof(s->peer));
	assert_int_equal(w->cli[0]->stats.replies_rx, 1);
	assert_int_equal(w->cli[0]->stats.rebinds, 1);
	exchange(w, 3, 20);
	/* New address. */
	w->nat[0].addr[15] = 77;
	send_up(w, 0, 98);
	pump(w);
	assert_int_equal(s->rebinds, 2);
	exchange(w, 3, 30);
	/* Idle: the next keepalive finds the change. */
	w->nat[0].port = 45000;
	run(w, 5000);
	assert_int_equal(s->rebinds, 3);
	assert_memory_equal(&s->peer, &w->nat[0], sizeof(s->peer));
	assert_sessions(w, 3);
	exchange(w, 3, 40);
	mt6d_srv_get_stats(w->srv, &st);
	assert_int_equal(st.claims_accepted, 3);
	assert_true(st.replies >= 3);
	assert_int_equal(w->sessions_down, 0);
	/* Another client's tuple is not client 0's: its datagrams still
	 * reach its own session only. */
	assert_int_equal(w->srv_rx_from_session[1], 1);
	world_free(w);
}

/* A reply whose echo is nothing the client sent is ignored. */
static void test_forged_reply(void **state)
{
	struct world *w = world_new_ex(true, 0, 0);
	uint8_t r[MT6D_REBIND_REPLY_LEN], trig[64];
	struct mt6d_rebind_loc loc = {.port = 1};

	start(w, 1);
	randombytes_buf(trig, sizeof(trig));
	assert_int_equal(mt6d_rebind_reply_encode(r, sizeof(r), trig, sizeof(trig), &loc),
	                 MT6D_REBIND_REPLY_LEN);
	mt6d_cli_input(w->cli[0], &any_ep, &ul_ep, r, sizeof(r), w->now);
	assert_int_equal(w->cli[0]->stats.replies_ignored, 1);
	assert_int_equal(w->cli[0]->stats.claims_sent, 0);
	world_free(w);
}

/* Tree keys are renewed inside sessions each epoch; claims keep working. */
static void test_rebind_renewal(void **state)
{
	struct world *w = world_new_ex(true, 10000, 0);
	struct mt6d_srv_session *s;
	uint64_t e0;

	start(w, 2);
	s = sess_of(w, 0);
	e0 = w->cli[0]->grant.epoch;
	assert_int_equal(e0, w->now / 10000);
	run(w, 10000 + 10000 / 10 + 500); /* the next epoch and its spread */
	assert_sessions(w, 2);
	assert_int_equal(w->cli[0]->grant.epoch, e0 + 1);
	assert_int_equal(w->cli[1]->grant.epoch, e0 + 1);
	assert_true(w->cli[0]->stats.renewals_rx >= 1);
	w->nat[0].port = 41000;
	send_up(w, 0, 1);
	pump(w);
	assert_int_equal(s->rebinds, 1);
	/* Two epochs on, the first keys are of no use; the renewed are. */
	run(w, 2 * 10000 + 2000);
	w->nat[0].port = 42000;
	send_up(w, 0, 2);
	pump(w);
	assert_int_equal(s->rebinds, 2);
	exchange(w, 2, 60);
	world_free(w);
}

/* (f) through the server: junk at the underlay gets replies only up to the
 * limit, none larger than its trigger, none to a short one. */
/* Introduction flood (issue 15): 5000 junk datagrams from one /64 at the
 * introduction endpoint within a second cost a rate-limit lookup each
 * beyond the burst; clients of other /64s still get their sessions. */
static void test_intro_flood(void **state)
{
	struct world *w = world_new();
	struct mt6d_srv_intro_info info;
	struct mt6d_srv_stats st;
	struct mt6d_endpoint from;
	uint8_t junk[120];

	assert_int_equal(mt6d_srv_intros(w->srv, &info, 1), 1);
	memcpy(from.addr, "\x20\x01\x0d\xb8\x00\x0d\x00\x00", 8);
	for (int k = 0; k < 5000; k++) {
		randombytes_buf(from.addr + 8, 8);
		from.port = (uint16_t)(1024 + k);
		randombytes_buf(junk, sizeof(junk));
		mt6d_srv_input(w->srv, &info.cur, &from, junk, sizeof(junk), w->now + k / 10);
	}
	mt6d_srv_get_stats(w->srv, &st);
	assert_int_equal(st.intro_rx, 5000);
	/* 40 of burst, then 20 a second for the 0.5 s the flood lasted. */
	assert_true(st.intro_limited >= 5000 - 40 - 12);
	assert_true(st.intro_limited <= 5000 - 40);
	start(w, 3);
	run(w, 3000);
	assert_sessions(w, 3);
	world_free(w);
}

static void test_reply_flood(void **state)
{
	struct world *w = world_new_ex(true, 0, 0);
	struct mt6d_endpoint src = w->nat[3];
	struct mt6d_srv_stats st;
	uint8_t junk[1400];
	size_t ncap, replies = 0, sent = 0;

	start(w, 1);
	ncap = w->ncap;
	for (int k = 0; k < 3000; k++) {
		size_t len = randombytes_uniform(sizeof(junk)) + 1;

		randombytes_buf(junk, len);
		src.port = (uint16_t)(1024 + k); /* any port of the same /24 */
		mt6d_srv_input_underlay(w->srv, &src, junk, len, w->now);
		sent++;
		for (; ncap < w->ncap; ncap++) {
			assert_int_equal(w->cap[ncap].len, MT6D_REBIND_REPLY_LEN);
			assert_true(len >= MT6D_REBIND_REPLY_LEN);
			assert_memory_equal(w->cap[ncap].data, junk, 16);
			replies++;
		}
		if (k % 100 == 99)
			w->now += 100; /* 3 s in all */
	}
	w->qh = w->qt; /* the replies go nowhere */
	mt6d_srv_get_stats(w->srv, &st);
	/* burst 10, then 5 a second, over 3 s */
	assert_true(replies >= 10);
	assert_true(replies <= 10 + 5 * 3 + 1);
	assert_int_equal(st.replies, replies);
	assert_int_equal(st.unrecognized, sent);
	assert_true(st.replies_limited > 0);
	world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_establish),
	        cmocka_unit_test(test_intro_flood),
	        cmocka_unit_test(test_rotations),
	        cmocka_unit_test(test_fix1_pairwise),
	        cmocka_unit_test(test_fix2_identifier),
	        cmocka_unit_test(test_intro_replay),
	        cmocka_unit_test(test_isolation),
	        cmocka_unit_test(test_unregistered),
	        cmocka_unit_test(test_teardown),
	        cmocka_unit_test(test_silence_and_idle),
	        cmocka_unit_test(test_new_window),
	        cmocka_unit_test(test_lost_response),
	        cmocka_unit_test(test_server_restart),
	        cmocka_unit_test(test_registry_reload),
	        cmocka_unit_test(test_malformed),
	        cmocka_unit_test(test_lookup_failure_backoff),
	        cmocka_unit_test(test_clock_skew),
	        cmocka_unit_test(test_rebind_prefix),
	        cmocka_unit_test(test_rebind_replays),
	        cmocka_unit_test(test_underlay_nat),
	        cmocka_unit_test(test_forged_reply),
	        cmocka_unit_test(test_rebind_renewal),
	        cmocka_unit_test(test_reply_flood),
	};

	if (mt6d_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
