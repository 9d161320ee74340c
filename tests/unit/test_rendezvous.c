/* SPDX-License-Identifier: MIT */
/*
 * Rendezvous in an in-process DHT swarm with a fake clock (dht_sim.h):
 * registry parsing, publication for many clients, lookups that find only
 * their own configuration, a server restarted inside a window, the window
 * edge, both transports, a server with an underlay endpoint (configuration
 * version 2), and the failure steps a lookup reports.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "dht_sim.h"
#include "mt6d/client.h"
#include "mt6d/rendezvous.h"

#define NODES   40
#define CLIENTS 24
#define PERIOD  900

struct world {
	struct sim *sim;
	uint64_t unix0, mono0;
	uint8_t spriv[32], spub[32];
	uint8_t cpriv[CLIENTS][32], cpub[CLIENTS][32];
	struct mt6d_registry reg;
	struct mt6d_pub *pub;
	int intro_events;
};

static uint64_t unix_now(const struct world *w)
{
	return w->unix0 + (w->sim->now - w->mono0);
}

static void on_intro(void *arg, const struct mt6d_intro *in, uint64_t window)
{
	((struct world *)arg)->intro_events++;
}

static struct mt6d_pub *pub_new(struct world *w, int transports, int node)
{
	struct mt6d_pub_config pc = {.dht = w->sim->node[node],
	                             .period = PERIOD,
	                             .transports = transports,
	                             .max_inflight = 8,
	                             .on_intro = on_intro,
	                             .arg = w};
	struct mt6d_pub *pub;

	memcpy(pc.server_priv, w->spriv, 32);
	memcpy(pc.prefix, "\x20\x01\x0d\xb8\x00\x05\x00\x00", 8);
	pub = mt6d_pub_new(&pc);
	assert_non_null(pub);
	assert_int_equal(mt6d_pub_set_clients(pub, &w->reg), 0);
	return pub;
}

/* Tick the publisher and the swarm until the round is done (bounded). */
static void publish_all(struct world *w, struct mt6d_pub *pub)
{
	for (int i = 0; i < 20000; i++) {
		(void)mt6d_pub_tick(pub, w->sim->now, unix_now(w));
		sim_run(w->sim, 10);
		if (mt6d_pub_idle(pub))
			return;
	}
	fail_msg("publication did not finish");
}

struct lk_out {
	int done;
	struct mt6d_lookup_result res;
};

static void lk_done(void *arg, const struct mt6d_lookup_result *res)
{
	struct lk_out *o = arg;
	o->done++;
	o->res = *res;
}

static struct mt6d_lookup_result lookup(struct world *w, const uint8_t *cpriv, const uint8_t *spub,
                                        int transports, int node)
{
	struct mt6d_lookup_config lc = {
	        .dht = w->sim->node[node], .periods = {PERIOD}, .transports = transports};
	struct lk_out out = {0};
	struct mt6d_lookup *lk;

	memcpy(lc.client_priv, cpriv, 32);
	memcpy(lc.server_pub, spub, 32);
	lk = mt6d_lookup_start(&lc, w->sim->now, unix_now(w), lk_done, &out);
	assert_non_null(lk);
	for (int i = 0; i < 6000 && !out.done; i++)
		sim_run(w->sim, 10);
	assert_int_equal(out.done, 1);
	mt6d_lookup_free(lk);
	return out.res;
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	char text[CLIENTS * 80], *p = text, err[128];

	w->sim = sim_swarm(NODES, 60000);
	w->mono0 = w->sim->now;
	w->unix0 = 1700000100ull * 1000 + 5000; /* 5 s into a window */
	mt6d_key_generate(w->spriv);
	mt6d_key_public(w->spub, w->spriv);
	for (int i = 0; i < CLIENTS; i++) {
		char b64[MT6D_KEY_B64_LEN + 1];
		mt6d_key_generate(w->cpriv[i]);
		mt6d_key_public(w->cpub[i], w->cpriv[i]);
		mt6d_key_to_base64(b64, w->cpub[i]);
		p += sprintf(p, "%s client-%d\n", b64, i);
	}
	if (mt6d_registry_parse(&w->reg, text, strlen(text), err, sizeof(err)) != 0)
		return -1;
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	sim_free(w->sim); /* completes what is in flight first */
	mt6d_pub_free(w->pub);
	mt6d_registry_free(&w->reg);
	free(w);
	return 0;
}

static void test_registry_errors(void **state)
{
	struct mt6d_registry reg;
	char err[200];
	static const struct {
		const char *text, *want;
	} cases[] = {
	        {"# c\n\nnotakey alice\n", "line 3:"},
	        {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= al ice\n", "line 1: unexpected"},
	        {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= al/ice\n", "line 1: name"},
	        {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "line 1: name"},
	        {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= a\n"
	         "BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= a\n",
	         "line 2: name `a' is already"},
	        {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= a\n"
	         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= b\n",
	         "same public key"},
	        {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!= a\n", "line 1:"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(mt6d_registry_parse(&reg, cases[i].text, strlen(cases[i].text),
		                                     err, sizeof(err)),
		                 -EINVAL);
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: `%s' does not say `%s'", i, err, cases[i].want);
	}
	assert_int_equal(mt6d_registry_parse(&reg, "# only a comment\n\n", 18, err, sizeof(err)),
	                 0);
	assert_int_equal(reg.n, 0);
	mt6d_registry_free(&reg);
}

static void test_every_client_finds_its_own(void **state)
{
	struct world *w = *state;
	struct mt6d_pub_status st;
	const struct mt6d_intro *in;
	uint64_t T = mt6d_window(unix_now(w) / 1000, PERIOD);

	w->pub = pub_new(w, MT6D_RDV_BEP44, 0);
	publish_all(w, w->pub);
	mt6d_pub_get_status(w->pub, &st);
	assert_int_equal(st.round_total, CLIENTS);
	assert_int_equal(st.round_done, CLIENTS);
	assert_int_equal(st.round_failed, 0);
	assert_true(st.round_stored_min >= 3);
	in = mt6d_pub_intro(w->pub, T);
	assert_non_null(in);
	assert_memory_equal(in->seed_addr, "\x20\x01\x0d\xb8\x00\x05\x00\x00", 8);

	for (int i = 0; i < CLIENTS; i++) {
		struct mt6d_lookup_result r =
		        lookup(w, w->cpriv[i], w->spub, MT6D_RDV_BEP44, 1 + i % (NODES - 1));
		if (r.step != MT6D_LOOKUP_OK)
			fail_msg("client %d: %s", i, mt6d_lookup_step_name(r.step));
		assert_int_equal(r.window, T);
		assert_int_equal(r.config.rot_ms, MT6D_DEFAULT_ROT_MS);
		assert_memory_equal(r.config.intro_key, in->key, 16);
		assert_memory_equal(r.config.seed_addr, in->seed_addr, 16);
	}
}

/* pick_dht: the caller spreads clients over nodes (listen = auto); each
 * client's item is put through the node picked for it, 4 clients a node,
 * and every client still finds its own. */
struct picker {
	struct world *w;
	int calls;
	int per_node[NODES];
};

static struct mt6d_dht *pick4(void *arg)
{
	struct picker *p = arg;
	int node = 2 + (p->calls++ / 4) % (NODES - 2);

	p->per_node[node]++;
	return p->w->sim->node[node];
}

static void test_pick_dht(void **state)
{
	struct world *w = *state;
	struct picker pk = {.w = w};
	struct mt6d_pub_config pc = {
	        .pick_dht = pick4, .pick_arg = &pk, .period = PERIOD, .max_inflight = 8};
	struct mt6d_pub_status st;
	uint64_t T = mt6d_window(unix_now(w) / 1000, PERIOD);
	const struct mt6d_intro *in;

	memcpy(pc.server_priv, w->spriv, 32);
	memcpy(pc.prefix, "\x20\x01\x0d\xb8\x00\x05\x00\x00", 8);
	mt6d_pub_free(w->pub);
	w->pub = mt6d_pub_new(&pc);
	assert_non_null(w->pub);
	assert_int_equal(mt6d_pub_set_clients(w->pub, &w->reg), 0);
	publish_all(w, w->pub);
	mt6d_pub_get_status(w->pub, &st);
	assert_int_equal(st.round_done, CLIENTS);
	assert_int_equal(st.round_failed, 0);
	assert_int_equal(pk.calls, CLIENTS); /* no retry needed in a healthy swarm */
	for (int i = 0; i < NODES; i++)
		assert_true(pk.per_node[i] <= 4);
	in = mt6d_pub_intro(w->pub, T);
	assert_non_null(in);
	for (int i = 0; i < CLIENTS; i += 5) {
		struct mt6d_lookup_result r =
		        lookup(w, w->cpriv[i], w->spub, MT6D_RDV_BEP44, 1 + i % (NODES - 1));
		if (r.step != MT6D_LOOKUP_OK)
			fail_msg("client %d: %s", i, mt6d_lookup_step_name(r.step));
		assert_int_equal(r.window, T);
		/* this publisher's K, not an earlier test's (higher seq wins) */
		assert_memory_equal(r.config.intro_key, in->key, 16);
	}
}

/* A pick that has no node: that client fails (counted), nothing is started. */
static struct mt6d_dht *pick_none(void *arg)
{
	(*(int *)arg)++;
	return NULL;
}

static void test_pick_dht_none(void **state)
{
	struct world *w = *state;
	int calls = 0;
	struct mt6d_pub_config pc = {.pick_dht = pick_none, .pick_arg = &calls, .period = PERIOD};
	struct mt6d_pub_status st;

	memcpy(pc.server_priv, w->spriv, 32);
	memcpy(pc.prefix, "\x20\x01\x0d\xb8\x00\x05\x00\x00", 8);
	assert_null(mt6d_pub_new(&(struct mt6d_pub_config){.period = PERIOD}));
	mt6d_pub_free(w->pub); /* test_pick_dht's */
	w->pub = mt6d_pub_new(&pc);
	assert_non_null(w->pub);
	assert_int_equal(mt6d_pub_set_clients(w->pub, &w->reg), 0);
	publish_all(w, w->pub);
	mt6d_pub_get_status(w->pub, &st);
	assert_int_equal(st.round_done, 0);
	assert_int_equal(st.round_failed, CLIENTS);
	assert_int_equal(calls, CLIENTS);
}

struct got_value {
	int done;
	uint8_t v[200];
	size_t len;
};

static void got_cb(void *arg, const struct mt6d_dht_result *r)
{
	struct got_value *got = arg;
	got->done++;
	if (r->status == 0 && r->value && r->value_len <= sizeof(got->v)) {
		memcpy(got->v, r->value, r->value_len);
		got->len = r->value_len;
	}
}

/* Client 1 fetches client 0's item (it can compute nothing of it, but give
 * it the location): it does not open with client 1's keys. */
static void test_cannot_open_anothers(void **state)
{
	struct world *w = *state;
	uint8_t s0[32], bk1[32], pk[32], sk[64], target[20];
	uint64_t T = mt6d_window(unix_now(w) / 1000, PERIOD);
	struct got_value got = {0};
	struct mt6d_config cfg;

	assert_int_equal(mt6d_shared_secret(s0, w->cpriv[0], w->spub), 0);
	mt6d_bep44_keypair(pk, sk, s0, T);
	mt6d_dht_mutable_target(target, pk, NULL, 0);
	assert_int_equal(mt6d_box_key(bk1, w->cpriv[1], w->spub), 0);

	assert_true(mt6d_dht_get(w->sim->node[5], target, pk, NULL, 0, got_cb, &got, w->sim->now) >
	            0);
	for (int i = 0; i < 3000 && !got.done; i++)
		sim_run(w->sim, 10);
	assert_int_equal(got.done, 1);
	assert_int_equal(got.len, MT6D_BEP44_VALUE_LEN);
	assert_int_equal(mt6d_config_open_afternm(&cfg, got.v + 3, MT6D_SEALED_LEN, bk1), -EBADMSG);
	/* And a lookup for a server that never published: nothing there. */
	uint8_t other[32], otherpub[32];
	mt6d_key_generate(other);
	mt6d_key_public(otherpub, other);
	struct mt6d_lookup_result r = lookup(w, w->cpriv[0], otherpub, MT6D_RDV_BEP44, 3);
	assert_int_equal(r.step, MT6D_LOOKUP_NOT_FOUND);
	assert_int_equal(r.windows_tried, 3);
}

static void test_restart_inside_window(void **state)
{
	struct world *w = *state;
	uint64_t T = mt6d_window(unix_now(w) / 1000, PERIOD);
	uint8_t oldk[16];
	struct mt6d_pub *again;

	memcpy(oldk, mt6d_pub_intro(w->pub, T)->key, 16);
	sim_run(w->sim, 2000);
	/* A new process: new K for the same window, published over the old item. */
	again = pub_new(w, MT6D_RDV_BEP44, 7);
	publish_all(w, again);
	const struct mt6d_intro *in = mt6d_pub_intro(again, T);
	assert_non_null(in);
	assert_memory_not_equal(in->key, oldk, 16);
	for (int i = 0; i < 4; i++) {
		struct mt6d_lookup_result r =
		        lookup(w, w->cpriv[i], w->spub, MT6D_RDV_BEP44, 11 + i);
		assert_int_equal(r.step, MT6D_LOOKUP_OK);
		if (memcmp(r.config.intro_key, in->key, 16) != 0)
			fail_msg("client %d got the stale configuration", i);
	}
	mt6d_pub_free(w->pub);
	w->pub = again;
}

/* A restart that takes back the stored configuration (issue 15): the same
 * K and seed for the window, no new one, and the clients find it; stored
 * ones of another period, prefix or a dead window are refused. */
static void test_restart_restores(void **state)
{
	struct world *w = *state;
	uint64_t T = mt6d_window(unix_now(w) / 1000, PERIOD);
	struct mt6d_intro old = *mt6d_pub_intro(w->pub, T), bad;
	struct mt6d_pub_config pc = {.dht = w->sim->node[8],
	                             .period = PERIOD,
	                             .transports = MT6D_RDV_BEP44,
	                             .max_inflight = 8,
	                             .on_intro = on_intro,
	                             .arg = w};
	struct mt6d_pub *again;
	int events;

	memcpy(pc.server_priv, w->spriv, 32);
	memcpy(pc.prefix, "\x20\x01\x0d\xb8\x00\x05\x00\x00", 8);
	again = mt6d_pub_new(&pc);
	assert_non_null(again);
	assert_int_equal(mt6d_pub_set_clients(again, &w->reg), 0);
	bad = old;
	bad.period = PERIOD / 2;
	assert_int_equal(mt6d_pub_restore(again, &bad, unix_now(w)), -EINVAL);
	bad = old;
	bad.seed_addr[3] ^= 1;
	assert_int_equal(mt6d_pub_restore(again, &bad, unix_now(w)), -EINVAL);
	bad = old;
	bad.window = T - 2 * PERIOD;
	assert_int_equal(mt6d_pub_restore(again, &bad, unix_now(w)), -ESTALE);
	events = w->intro_events;
	assert_int_equal(mt6d_pub_restore(again, &old, unix_now(w)), 0);
	assert_int_equal(w->intro_events, events + 1); /* its endpoint opens now */
	assert_int_equal(mt6d_pub_restore(again, &old, unix_now(w)), -EEXIST);
	publish_all(w, again);
	const struct mt6d_intro *in = mt6d_pub_intro(again, T);
	assert_non_null(in);
	assert_memory_equal(in->key, old.key, 16);
	assert_memory_equal(in->seed_addr, old.seed_addr, 16);
	for (int i = 0; i < 3; i++) {
		struct mt6d_lookup_result r =
		        lookup(w, w->cpriv[i], w->spub, MT6D_RDV_BEP44, 15 + i);
		assert_int_equal(r.step, MT6D_LOOKUP_OK);
		assert_memory_equal(r.config.intro_key, old.key, 16);
	}
	mt6d_pub_free(w->pub);
	w->pub = again;
}

static void test_window_edge(void **state)
{
	struct world *w = *state;
	uint64_t T = mt6d_window(unix_now(w) / 1000, PERIOD);
	uint64_t edge_ms = (T + PERIOD) * 1000;
	const struct mt6d_intro *next;

	/* Jump the wall clock to 30 s before the edge: within the lead. */
	w->unix0 += edge_ms - 30000 - unix_now(w);
	publish_all(w, w->pub);
	next = mt6d_pub_intro(w->pub, T + PERIOD);
	assert_non_null(next);
	assert_non_null(mt6d_pub_intro(w->pub, T));
	/* A client whose clock is 40 s ahead (10 s past the edge) finds T+n. */
	w->unix0 += 40000;
	struct mt6d_lookup_result r = lookup(w, w->cpriv[2], w->spub, MT6D_RDV_BEP44, 9);
	assert_int_equal(r.step, MT6D_LOOKUP_OK);
	assert_int_equal(r.window, T + PERIOD);
	assert_memory_equal(r.config.intro_key, next->key, 16);
	/* A client still before the edge finds T's. */
	w->unix0 -= 40000;
	r = lookup(w, w->cpriv[2], w->spub, MT6D_RDV_BEP44, 9);
	assert_int_equal(r.step, MT6D_LOOKUP_OK);
	assert_int_equal(r.window, T);
}

static void test_stuffing_transport(void **state)
{
	struct world *w = *state;
	struct mt6d_pub *p = pub_new(w, MT6D_RDV_STUFFING, 13);
	uint64_t T;
	struct mt6d_pub_status st;

	/* Jump to a fresh window so only stuffing has published there. */
	w->unix0 += 3ull * PERIOD * 1000;
	T = mt6d_window(unix_now(w) / 1000, PERIOD);
	publish_all(w, p);
	mt6d_pub_get_status(p, &st);
	assert_int_equal(st.round_done, CLIENTS);
	for (int i = 0; i < 6; i++) {
		struct mt6d_lookup_result r =
		        lookup(w, w->cpriv[i], w->spub, MT6D_RDV_STUFFING, 20 + i);
		if (r.step != MT6D_LOOKUP_OK)
			fail_msg("client %d: %s", i, mt6d_lookup_step_name(r.step));
		assert_int_equal(r.transport, MT6D_RDV_STUFFING);
		assert_int_equal(r.window, T);
		assert_memory_equal(r.config.intro_key, mt6d_pub_intro(p, T)->key, 16);
	}
	/* BEP 44 lookups of that window find nothing: only stuffing published. */
	struct mt6d_lookup_result r = lookup(w, w->cpriv[0], w->spub, MT6D_RDV_BEP44, 30);
	assert_int_not_equal(r.step, MT6D_LOOKUP_OK);
	/* Lookups trying both fall back to stuffing. */
	r = lookup(w, w->cpriv[1], w->spub, MT6D_RDV_BOTH, 31);
	assert_int_equal(r.step, MT6D_LOOKUP_OK);
	assert_int_equal(r.transport, MT6D_RDV_STUFFING);
	sim_run(w->sim, 1000);
	mt6d_pub_free(w->pub);
	w->pub = p;
}

/* The operator changes n at run time; clients listing both periods follow. */
static void test_period_change(void **state)
{
	struct world *w = *state;
	struct mt6d_pub *p = pub_new(w, MT6D_RDV_BEP44, 17);
	struct mt6d_lookup_config lc = {
	        .dht = w->sim->node[18], .periods = {PERIOD, 300}, .transports = MT6D_RDV_BEP44};
	struct lk_out out = {0};
	struct mt6d_lookup *lk;
	uint64_t now_s;

	assert_int_equal(mt6d_pub_set_period(p, 300, 1000), 0);
	assert_int_equal(mt6d_pub_set_period(p, 0, 1000), -EINVAL);
	/* A fresh 900 s window, 310 s in: the 300 s window starts at +300. */
	w->unix0 += 5ull * PERIOD * 1000;
	now_s = unix_now(w) / 1000;
	w->unix0 += (mt6d_window(now_s, PERIOD) + 310 - now_s) * 1000;
	now_s = unix_now(w) / 1000;
	publish_all(w, p);
	assert_non_null(mt6d_pub_intro(p, mt6d_window(now_s, 300)));
	assert_null(mt6d_pub_intro(p, mt6d_window(now_s, PERIOD)));

	memcpy(lc.client_priv, w->cpriv[3], 32);
	memcpy(lc.server_pub, w->spub, 32);
	lk = mt6d_lookup_start(&lc, w->sim->now, unix_now(w), lk_done, &out);
	assert_non_null(lk);
	for (int i = 0; i < 6000 && !out.done; i++)
		sim_run(w->sim, 10);
	assert_int_equal(out.done, 1);
	assert_int_equal(out.res.step, MT6D_LOOKUP_OK);
	assert_int_equal(out.res.window, mt6d_window(now_s, 300));
	assert_int_equal(out.res.config.rot_ms, 1000);
	assert_int_equal(out.res.windows_tried, 4); /* three 900 s windows first */
	mt6d_lookup_free(lk);
	sim_run(w->sim, 1000);
	mt6d_pub_free(w->pub);
	w->pub = p;
}

/* SIGHUP's path: the registry is replaced mid-round; clients already done
 * are not published twice, the new one is published in the same round. */
static void test_reload_mid_round(void **state)
{
	struct world *w = *state;
	struct mt6d_pub *p = pub_new(w, MT6D_RDV_BEP44, 21);
	struct mt6d_registry bigger = {0};
	struct mt6d_pub_status st;
	uint8_t extra[32], extra_pub[32];

	w->unix0 += 7ull * PERIOD * 1000;                 /* a fresh window */
	(void)mt6d_pub_tick(p, w->sim->now, unix_now(w)); /* starts 8 (max_inflight) */
	mt6d_pub_get_status(p, &st);
	assert_int_equal(st.round_total, 8);
	bigger.n = w->reg.n + 1;
	bigger.clients = calloc(bigger.n, sizeof(*bigger.clients));
	memcpy(bigger.clients, w->reg.clients, w->reg.n * sizeof(*bigger.clients));
	mt6d_key_generate(extra);
	mt6d_key_public(extra_pub, extra);
	memcpy(bigger.clients[w->reg.n].pub, extra_pub, 32);
	strcpy(bigger.clients[w->reg.n].name, "late");
	assert_int_equal(mt6d_pub_set_clients(p, &bigger), 0);
	publish_all(w, p);
	mt6d_pub_get_status(p, &st);
	assert_int_equal(st.round_total, CLIENTS + 1);
	assert_int_equal(st.round_done, CLIENTS + 1);
	assert_int_equal(st.ops_started, CLIENTS + 1);
	struct mt6d_lookup_result r = lookup(w, extra, w->spub, MT6D_RDV_BEP44, 22);
	assert_int_equal(r.step, MT6D_LOOKUP_OK);
	free(bigger.clients);
	sim_run(w->sim, 1000);
	mt6d_pub_free(w->pub);
	w->pub = p;
}

/* A client added after the round finished is published at once for the
 * live window (SIGHUP, issue 15), alone: not at the next window, and the
 * others are not published again. */
static void test_reload_after_round(void **state)
{
	struct world *w = *state;
	struct mt6d_pub *p = pub_new(w, MT6D_RDV_BEP44, 24);
	struct mt6d_registry bigger = {0};
	struct mt6d_pub_status st;
	uint8_t extra[32], extra_pub[32];
	struct mt6d_lookup_result r;

	w->unix0 += 9ull * PERIOD * 1000; /* a fresh window, far from its end */
	publish_all(w, p);
	mt6d_pub_get_status(p, &st);
	assert_int_equal(st.ops_started, CLIENTS);
	mt6d_key_generate(extra);
	mt6d_key_public(extra_pub, extra);
	r = lookup(w, extra, w->spub, MT6D_RDV_BEP44, 25);
	assert_int_not_equal(r.step, MT6D_LOOKUP_OK);
	bigger.n = w->reg.n + 1;
	bigger.clients = calloc(bigger.n, sizeof(*bigger.clients));
	memcpy(bigger.clients, w->reg.clients, w->reg.n * sizeof(*bigger.clients));
	memcpy(bigger.clients[w->reg.n].pub, extra_pub, 32);
	strcpy(bigger.clients[w->reg.n].name, "added");
	assert_int_equal(mt6d_pub_set_clients(p, &bigger), 0);
	w->unix0 += 1000;
	publish_all(w, p);
	mt6d_pub_get_status(p, &st);
	assert_int_equal(st.ops_started, CLIENTS + 1);
	assert_int_equal(st.round_total, 1);
	assert_int_equal(st.round_done, 1);
	r = lookup(w, extra, w->spub, MT6D_RDV_BEP44, 26);
	assert_int_equal(r.step, MT6D_LOOKUP_OK);
	free(bigger.clients);
	sim_run(w->sim, 1000);
	mt6d_pub_free(w->pub);
	w->pub = p;
}

/* Items are republished before they expire while their window is live:
 * with a 2 h period, BEP 44 items again after 1 h. */
static void test_republish(void **state)
{
	struct world *w = *state;
	struct mt6d_pub_config pc = {.dht = w->sim->node[23],
	                             .period = 7200,
	                             .transports = MT6D_RDV_BEP44,
	                             .max_inflight = 8};
	struct mt6d_pub_status st;
	struct mt6d_pub *p;
	uint64_t T;

	memcpy(pc.server_priv, w->spriv, 32);
	p = mt6d_pub_new(&pc);
	assert_non_null(p);
	assert_int_equal(mt6d_pub_set_clients(p, &w->reg), 0);
	w->unix0 += (mt6d_window(unix_now(w) / 1000, 7200) + 7200 + 60) * 1000 - unix_now(w);
	T = mt6d_window(unix_now(w) / 1000, 7200);
	publish_all(w, p);
	mt6d_pub_get_status(p, &st);
	assert_int_equal(st.ops_started, CLIENTS);
	w->unix0 += 30ull * 60 * 1000; /* half an hour: nothing due */
	publish_all(w, p);
	mt6d_pub_get_status(p, &st);
	assert_int_equal(st.ops_started, CLIENTS);
	w->unix0 += 31ull * 60 * 1000; /* past the hour: republished */
	publish_all(w, p);
	mt6d_pub_get_status(p, &st);
	assert_int_equal(st.ops_started, 2 * CLIENTS);
	assert_int_equal(st.round_window, T);
	assert_int_equal(st.round_done, CLIENTS);
	sim_run(w->sim, 1000);
	mt6d_pub_free(w->pub);
	w->pub = p;
}

/* A server with an underlay endpoint publishes version 2 (103 bytes) on
 * both transports; clients find it through each and learn the endpoint. */
static void test_underlay_version2(void **state)
{
	static const uint8_t ua[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 1};
	struct world *w = *state;
	struct mt6d_pub_config pc = {.dht = w->sim->node[25],
	                             .period = PERIOD,
	                             .transports = MT6D_RDV_BOTH,
	                             .max_inflight = 16,
	                             .underlay_port = 7000};
	struct mt6d_pub_status st;
	const struct mt6d_intro *in;
	struct mt6d_pub *p;
	uint64_t T;

	memcpy(pc.server_priv, w->spriv, 32);
	memcpy(pc.prefix, "\x20\x01\x0d\xb8\x00\x05\x00\x00", 8);
	memcpy(pc.underlay_addr, ua, 16);
	p = mt6d_pub_new(&pc);
	assert_non_null(p);
	assert_int_equal(mt6d_pub_set_clients(p, &w->reg), 0);
	w->unix0 += 11ull * 7200 * 1000; /* a fresh window */
	T = mt6d_window(unix_now(w) / 1000, PERIOD);
	publish_all(w, p);
	mt6d_pub_get_status(p, &st);
	assert_int_equal(st.round_done, 2 * CLIENTS);
	assert_int_equal(st.round_failed, 0);
	in = mt6d_pub_intro(p, T);
	assert_non_null(in);

	for (int i = 0; i < 8; i++) {
		int t = i % 2 ? MT6D_RDV_STUFFING : MT6D_RDV_BEP44;
		struct mt6d_lookup_result r = lookup(w, w->cpriv[i], w->spub, t, 26 + i);
		if (r.step != MT6D_LOOKUP_OK)
			fail_msg("client %d (%s): %s", i, mt6d_rdv_transport_name(t),
			         mt6d_lookup_step_name(r.step));
		assert_int_equal(r.transport, t);
		assert_int_equal(r.window, T);
		assert_int_equal(r.config.version, 2);
		assert_memory_equal(r.config.intro_key, in->key, 16);
		assert_memory_equal(r.config.seed_addr, in->seed_addr, 16);
		assert_memory_equal(r.config.underlay_addr, ua, 16);
		assert_int_equal(r.config.underlay_port, 7000);
	}

	/* The BEP 44 item is "103:" || m, and m is 103 bytes. */
	uint8_t s0[32], pk[32], sk[64], target[20];
	struct got_value got = {0};
	assert_int_equal(mt6d_shared_secret(s0, w->cpriv[0], w->spub), 0);
	mt6d_bep44_keypair(pk, sk, s0, T);
	mt6d_dht_mutable_target(target, pk, NULL, 0);
	int ret = mt6d_dht_get(w->sim->node[5], target, pk, NULL, 0, got_cb, &got, w->sim->now);
	assert_true(ret > 0);
	for (int i = 0; i < 3000 && !got.done; i++)
		sim_run(w->sim, 10);
	assert_int_equal(got.len, MT6D_BEP44_VALUE_V2_LEN);
	assert_memory_equal(got.v, "103:", 4);
	sim_run(w->sim, 1000);
	mt6d_pub_free(w->pub);
	w->pub = p;
}

static void test_no_nodes(void **state)
{
	struct world *w = *state;
	struct mt6d_dht_config cfg = {.ipv4 = true};
	struct mt6d_dht *lonely = sim_add(w->sim, &cfg);
	struct mt6d_lookup_config lc = {.dht = lonely, .periods = {PERIOD}};
	struct lk_out out = {0};

	memcpy(lc.client_priv, w->cpriv[0], 32);
	memcpy(lc.server_pub, w->spub, 32);
	struct mt6d_lookup *lk = mt6d_lookup_start(&lc, w->sim->now, unix_now(w), lk_done, &out);
	/* A node that knows nobody cannot even start. */
	if (lk) {
		for (int i = 0; i < 3000 && !out.done; i++)
			sim_run(w->sim, 10);
		assert_int_equal(out.done, 1);
		assert_int_equal(out.res.step, MT6D_LOOKUP_NO_NODES);
		mt6d_lookup_free(lk);
	} else {
		assert_int_equal(errno, EHOSTUNREACH);
	}
}

/* The client state machine runs its own rendezvous (cfg.dht): it starts
 * the lookup on entering LOOKUP, takes the result when the DHT calls back
 * and goes on to the introduction; a lookup past lookup_timeout_ms is
 * cancelled (its DHT operation gone, no late result) and the client backs
 * off. */
struct cli_out {
	struct world *w;
	int lookups, found, sends;
	uint64_t window;
};

static void cli_clock(void *arg, uint64_t *mono, uint64_t *unix_ms)
{
	struct cli_out *o = arg;
	*mono = o->w->sim->now;
	*unix_ms = unix_now(o->w);
}

static void cli_on_lookup(void *arg, const struct mt6d_lookup_result *res, uint64_t ms)
{
	struct cli_out *o = arg;
	(void)ms;
	o->lookups++;
	if (res && res->step == MT6D_LOOKUP_OK) {
		o->found++;
		o->window = res->window;
	}
}

static void cli_send(void *arg, const struct mt6d_tx *tx)
{
	(void)tx;
	((struct cli_out *)arg)->sends++;
}

static void cli_deliver(void *arg, uint8_t *pkt, size_t len, const struct mt6d_offload *off)
{
	(void)arg, (void)pkt, (void)len, (void)off;
}

static struct mt6d_cli *cli_new(struct world *w, struct cli_out *o, struct mt6d_dht *dht,
                                uint32_t timeout_ms)
{
	struct mt6d_cli_config cc = {.send = cli_send,
	                             .deliver = cli_deliver,
	                             .dht = dht,
	                             .periods = {PERIOD},
	                             .transports = MT6D_RDV_BEP44,
	                             .lookup_timeout_ms = timeout_ms,
	                             .backoff_min_ms = 60000,
	                             .backoff_max_ms = 60000,
	                             .clock = cli_clock,
	                             .on_lookup = cli_on_lookup,
	                             .arg = o};
	struct mt6d_cli *c;

	o->w = w;
	memcpy(cc.client_priv, w->cpriv[1], 32);
	memcpy(cc.server_pub, w->spub, 32);
	memcpy(cc.prefix, "\x20\x01\x0d\xb8\x00\x06\x00\x00", 8);
	c = mt6d_cli_new(&cc);
	assert_non_null(c);
	return c;
}

static void test_client_runs_its_lookup(void **state)
{
	struct world *w = *state;
	struct mt6d_dht_config cfg = {.ipv4 = true};
	struct mt6d_dht_stats st;
	struct cli_out o = {0}, t = {0};
	struct mt6d_cli *c;
	struct mt6d_dht *lonely;
	struct sockaddr_in dead = sim_addr(SIM_BASE + SIM_MAX - 1);

	mt6d_pub_free(w->pub);
	w->pub = pub_new(w, MT6D_RDV_BEP44, 2);
	publish_all(w, w->pub);
	c = cli_new(w, &o, w->sim->node[17], 30000);
	mt6d_cli_start(c, unix_now(w));
	assert_int_equal(c->state, MT6D_CLI_LOOKUP);
	for (int i = 0; i < 3000 && c->state == MT6D_CLI_LOOKUP; i++) {
		sim_run(w->sim, 10);
		mt6d_cli_tick(c, unix_now(w));
	}
	assert_int_equal(c->state, MT6D_CLI_INTRO);
	assert_int_equal(o.lookups, 1);
	assert_int_equal(o.found, 1);
	assert_int_equal(o.window, mt6d_window(unix_now(w) / 1000, PERIOD));
	assert_int_equal(c->intro.window, o.window);
	assert_int_equal(c->stats.lookups, 1);
	assert_true(c->stats.requests_sent >= 1 && o.sends >= 1);
	mt6d_cli_free(c);

	/* A node whose only seed is dead: the lookup outlives its timeout. */
	lonely = sim_add(w->sim, &cfg);
	assert_int_equal(
	        mt6d_dht_add_node(lonely, (struct sockaddr *)&dead, sizeof(dead), w->sim->now), 0);
	c = cli_new(w, &t, lonely, 500);
	mt6d_cli_start(c, unix_now(w));
	mt6d_dht_get_stats(lonely, &st);
	assert_int_equal(st.ops_active, 1);
	for (int i = 0; i < 100 && c->state == MT6D_CLI_LOOKUP; i++) {
		sim_run(w->sim, 10);
		mt6d_cli_tick(c, unix_now(w));
	}
	assert_int_equal(c->state, MT6D_CLI_BACKOFF);
	assert_int_equal(t.lookups, 1);
	assert_int_equal(t.found, 0);
	assert_int_equal(c->stats.lookups_failed, 1);
	/* past the DHT operation's own 30 s: no late result */
	for (int i = 0; i < 3500; i++)
		sim_run(w->sim, 10);
	assert_int_equal(t.lookups, 1);
	assert_int_equal(c->state, MT6D_CLI_BACKOFF);
	mt6d_cli_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_registry_errors),
	        cmocka_unit_test(test_every_client_finds_its_own),
	        cmocka_unit_test(test_pick_dht),
	        cmocka_unit_test(test_pick_dht_none),
	        cmocka_unit_test(test_cannot_open_anothers),
	        cmocka_unit_test(test_restart_inside_window),
	        cmocka_unit_test(test_restart_restores),
	        cmocka_unit_test(test_window_edge),
	        cmocka_unit_test(test_stuffing_transport),
	        cmocka_unit_test(test_period_change),
	        cmocka_unit_test(test_reload_mid_round),
	        cmocka_unit_test(test_reload_after_round),
	        cmocka_unit_test(test_republish),
	        cmocka_unit_test(test_underlay_version2),
	        cmocka_unit_test(test_no_nodes),
	        cmocka_unit_test(test_client_runs_its_lookup),
	};
	if (mt6d_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
