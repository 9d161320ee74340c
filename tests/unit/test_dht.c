/* SPDX-License-Identifier: MIT */
/*
 * The DHT node with several nodes in one process and a fake clock
 * (dht_sim.h): every client operation across a 40-node swarm, the BEP 44
 * and BEP 42 vectors, the rules of announce and put (tokens, port 0, seq
 * and cas, sizes), BEP 43 read-only, the state file (rate limits and
 * storage caps: test_dht_limits.c), and
 * garbage input that must not disturb what is stored.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "dht/internal.h"
#include "dht_sim.h"
#include "core/internal.h"
#include "dht/krpc.h"
#include "mt6d/mt6d.h"

struct done {
	bool called;
	int status;
	unsigned answered, stored_on, hops;
	struct mt6d_endpoint peers[64];
	size_t npeers;
	uint8_t v[1000];
	size_t vlen;
	int64_t seq;
	uint64_t elapsed_ms;
};

static void on_done(void *arg, const struct mt6d_dht_result *r)
{
	struct done *d = arg;
	d->called = true;
	d->status = r->status;
	d->answered = r->nodes_answered;
	d->stored_on = r->stored_on;
	d->hops = r->hops;
	d->npeers = r->npeers < 64 ? r->npeers : 64;
	if (r->npeers)
		memcpy(d->peers, r->peers, d->npeers * sizeof(*r->peers));
	d->vlen = r->value_len;
	if (r->value_len)
		memcpy(d->v, r->value, r->value_len);
	d->seq = r->seq;
	d->elapsed_ms = r->elapsed_ms;
}

static void wait_done(struct sim *s, struct done *d)
{
	for (int i = 0; i < 4000 && !d->called; i++)
		sim_run(s, 10);
	assert_true(d->called);
}

static void hex(uint8_t *out, size_t len, const char *h)
{
	assert_int_equal(mt6d_hex_decode(out, len, h), 0);
}

static void test_bep44_vectors(void **state)
{
	uint8_t pk[32], sig1[64], sig2[64], t[20], want[20], buf[1100];
	int n;
	(void)state;
	hex(pk, 32, "77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548");
	hex(sig1, 64,
	    "305ac8aeb6c9c151fa120f120ea2cfb923564e11552d06a5d856091e5e853cff1260d3f39e4999684aa92e"
	    "b73ffd136e6f4f3ecbfda0ce53a1608ecd7ae21f01");
	hex(sig2, 64,
	    "6834284b6b24c3204eb2fea824d82f88883a3d95e8b4a21b8c0ded553d17d17ddf9a8a7104b1258f30bed3"
	    "787e6cb896fca78c58f8e03b5f18f14951a87d9a08");
	n = mt6d_dht_sign_buffer(buf, sizeof(buf), NULL, 0, 1, (const uint8_t *)"12:Hello World!",
	                         15);
	assert_int_equal(n, (int)strlen("3:seqi1e1:v12:Hello World!"));
	assert_memory_equal(buf, "3:seqi1e1:v12:Hello World!", (size_t)n);
	assert_true(dht_item_verify(pk, sig1, NULL, 0, 1, (const uint8_t *)"12:Hello World!", 15));
	assert_false(dht_item_verify(pk, sig1, NULL, 0, 2, (const uint8_t *)"12:Hello World!", 15));
	assert_true(dht_item_verify(pk, sig2, (const uint8_t *)"foobar", 6, 1,
	                            (const uint8_t *)"12:Hello World!", 15));
	mt6d_dht_mutable_target(t, pk, NULL, 0);
	hex(want, 20, "4a533d47ec9c7d95b1ad75f576cffc641853b750");
	assert_memory_equal(t, want, 20);
	mt6d_dht_mutable_target(t, pk, (const uint8_t *)"foobar", 6);
	hex(want, 20, "411eba73b6f087ca51a3795d9c8c938d365e32c1");
	assert_memory_equal(t, want, 20);
	mt6d_sha1(t, (const uint8_t *)"12:Hello World!", 15);
	hex(want, 20, "e5f96f6f38320f0f33959cb4d3d656452117aadb");
	assert_memory_equal(t, want, 20);
}

static void test_bep42_vectors(void **state)
{
	static const struct {
		uint8_t ip[4];
		uint8_t r;
		const char *id;
	} rows[] = {
	        {{124, 31, 75, 21}, 1, "5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401"},
	        {{21, 75, 31, 124}, 86, "5a3ce9c14e7a08645677bbd1cfe7d8f956d53256"},
	        {{65, 23, 51, 170}, 22, "a5d43220bc8f112a3d426c84764f8c2a1150e616"},
	        {{84, 124, 73, 14}, 65, "1b0321dd1bb1fe518101ceef99462b947a01ff41"},
	        {{43, 213, 53, 83}, 90, "e56f6cbf5b7c4be0237986d5243b87aa6d51305a"},
	};
	uint8_t id[20], mine[20];
	const uint8_t lo[4] = {127, 0, 0, 1}, v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		hex(id, 20, rows[i].id);
		assert_true(mt6d_dht_bep42_ok(id, rows[i].ip, 4));
		mt6d_dht_bep42_id(mine, rows[i].ip, 4, rows[i].r);
		assert_memory_equal(mine, id, 2);
		assert_int_equal(mine[2] & 0xf8, id[2] & 0xf8);
		assert_int_equal(mine[19], rows[i].r);
		id[0] ^= 1;
		assert_false(mt6d_dht_bep42_ok(id, rows[i].ip, 4));
	}
	/* local ranges are exempt; IPv6 ids verify against their own rule */
	memset(id, 0, 20);
	assert_true(mt6d_dht_bep42_ok(id, lo, 4));
	mt6d_dht_bep42_id(mine, v6, 16, 7);
	assert_true(mt6d_dht_bep42_ok(mine, v6, 16));
	mine[1] ^= 0x10;
	assert_false(mt6d_dht_bep42_ok(mine, v6, 16));
	assert_int_equal(dht_crc32c((const uint8_t *)"123456789", 9), 0xe3069283);
}

static void test_swarm_ops(void **state)
{
	struct sim *s = sim_swarm(40, 30000);
	uint8_t ih[20], sk[64], pk[32], seed[32];
	const uint16_t ports[3] = {1111, 2222, 3333};
	struct done d;
	struct mt6d_dht_stats st;
	(void)state;

	mt6d_dht_get_stats(s->node[17], &st);
	assert_true(st.nodes4 >= 8);

	randombytes_buf(ih, sizeof(ih));
	memset(&d, 0, sizeof(d));
	assert_true(mt6d_dht_announce(s->node[5], ih, ports, 3, on_done, &d, s->now) > 0);
	wait_done(s, &d);
	assert_int_equal(d.status, 0);
	assert_true(d.stored_on >= 6);

	memset(&d, 0, sizeof(d));
	assert_true(mt6d_dht_get_peers(s->node[30], ih, on_done, &d, s->now) > 0);
	wait_done(s, &d);
	assert_int_equal(d.status, 0);
	assert_int_equal(d.npeers, 3);
	assert_int_equal(d.peers[0].port, 1111);
	assert_int_equal(d.peers[2].port, 3333);
	assert_true(d.answered >= 8);
	assert_true(d.hops >= 1);

	/* immutable */
	memset(&d, 0, sizeof(d));
	assert_true(mt6d_dht_put_immutable(s->node[7], (const uint8_t *)"12:Hello World!", 15,
	                                   on_done, &d, s->now) > 0);
	wait_done(s, &d);
	assert_true(d.stored_on >= 6);
	memset(&d, 0, sizeof(d));
	hex(ih, 20, "e5f96f6f38320f0f33959cb4d3d656452117aadb");
	assert_true(mt6d_dht_get(s->node[33], ih, NULL, NULL, 0, on_done, &d, s->now) > 0);
	wait_done(s, &d);
	assert_int_equal(d.status, 0);
	assert_int_equal(d.vlen, 15);
	assert_memory_equal(d.v, "12:Hello World!", 15);

	/* mutable, with salt; then a newer seq wins, an older one is refused */
	memset(seed, 7, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	memset(&d, 0, sizeof(d));
	assert_true(mt6d_dht_put_mutable(s->node[8], sk, (const uint8_t *)"salt", 4,
	                                 (const uint8_t *)"3:one", 5, 5, on_done, &d, s->now) > 0);
	wait_done(s, &d);
	assert_true(d.stored_on >= 6);
	memset(&d, 0, sizeof(d));
	assert_true(mt6d_dht_put_mutable(s->node[9], sk, (const uint8_t *)"salt", 4,
	                                 (const uint8_t *)"3:two", 5, 6, on_done, &d, s->now) > 0);
	wait_done(s, &d);
	assert_true(d.stored_on >= 6);
	memset(&d, 0, sizeof(d));
	assert_true(mt6d_dht_put_mutable(s->node[10], sk, (const uint8_t *)"salt", 4,
	                                 (const uint8_t *)"3:old", 5, 4, on_done, &d, s->now) > 0);
	wait_done(s, &d);
	/* 302 from every node that holds seq 6; the putter of seq 6 itself
	 * may be among the closest now and hold nothing */
	assert_true(d.stored_on <= 1);
	memset(&d, 0, sizeof(d));
	assert_true(mt6d_dht_get(s->node[21], ih, pk, (const uint8_t *)"salt", 4, on_done, &d,
	                         s->now) > 0);
	wait_done(s, &d);
	assert_int_equal(d.status, 0);
	assert_int_equal(d.seq, 6);
	assert_memory_equal(d.v, "3:two", 5);
	/* the wrong salt finds nothing */
	memset(&d, 0, sizeof(d));
	assert_true(mt6d_dht_get(s->node[21], ih, pk, (const uint8_t *)"pepper", 6, on_done, &d,
	                         s->now) > 0);
	wait_done(s, &d);
	assert_int_equal(d.status, -ENOENT);
	sim_free(s);
}

static void test_dead_nodes(void **state)
{
	struct sim *s = sim_swarm(40, 30000);
	uint8_t ih[20];
	const uint16_t port = 4242;
	struct done d;
	(void)state;
	/* a quarter of the swarm disappears: lookups time out on them and
	 * still succeed */
	for (int i = 1; i < 40; i += 4)
		s->down[i] = true;
	randombytes_buf(ih, sizeof(ih));
	memset(&d, 0, sizeof(d));
	mt6d_dht_announce(s->node[2], ih, &port, 1, on_done, &d, s->now);
	wait_done(s, &d);
	assert_true(d.stored_on >= 4);
	memset(&d, 0, sizeof(d));
	mt6d_dht_get_peers(s->node[3], ih, on_done, &d, s->now);
	wait_done(s, &d);
	assert_int_equal(d.npeers, 1);
	sim_free(s);
}

/* Speak KRPC by hand from the raw endpoint to node 0 of a lone node. */
static int raw_query(struct sim *s, struct krpc_msg *q, struct krpc_msg *reply)
{
	uint8_t buf[1500], id[20];
	int len;
	memset(id, 0x42, 20);
	q->y = KRPC_QUERY;
	q->t = (const uint8_t *)"tt";
	q->tlen = 2;
	q->id = id;
	len = krpc_encode(buf, sizeof(buf), q);
	assert_true(len > 0);
	s->nraw = 0;
	sim_raw_send(s, 0, buf, (size_t)len);
	/* the node may also query us (it learnt of us): skip those */
	for (int i = 0; i < s->nraw; i++) {
		assert_int_equal(krpc_parse(reply, s->raw[i].data, s->raw[i].len), 0);
		if (reply->y != KRPC_QUERY)
			return 0;
	}
	return -1;
}

static void test_announce_rules(void **state)
{
	struct sim *s = calloc(1, sizeof(*s));
	struct mt6d_dht_config cfg = {.ipv4 = true};
	struct krpc_msg q, r;
	uint8_t ih[20], tok[32];
	size_t toklen;
	struct mt6d_dht_stats st;
	(void)state;
	s->now = 5000;
	sim_add(s, &cfg);
	memset(ih, 0x33, 20);

	memset(&q, 0, sizeof(q));
	q.method = KRPC_GET_PEERS;
	q.info_hash = ih;
	assert_int_equal(raw_query(s, &q, &r), 0);
	assert_int_equal(r.y, KRPC_RESPONSE);
	assert_non_null(r.token);
	assert_int_equal(r.iplen, 6); /* BEP 42: our address as seen */
	toklen = r.tokenlen;
	memcpy(tok, r.token, toklen);

	/* port 0 refused; a bad token refused; implied_port uses the source */
	memset(&q, 0, sizeof(q));
	q.method = KRPC_ANNOUNCE_PEER;
	q.info_hash = ih;
	q.token = tok;
	q.tokenlen = toklen;
	q.has_port = true;
	q.port = 0;
	assert_int_equal(raw_query(s, &q, &r), 0);
	assert_int_equal(r.y, KRPC_ERROR);
	assert_int_equal(r.ecode, 203);
	q.port = 70000;
	assert_int_equal(raw_query(s, &q, &r), 0);
	assert_int_equal(r.y, KRPC_ERROR);
	q.port = 6881;
	q.implied_port = true;
	assert_int_equal(raw_query(s, &q, &r), 0);
	assert_int_equal(r.y, KRPC_RESPONSE);
	q.implied_port = false;
	q.port = 6882;
	assert_int_equal(raw_query(s, &q, &r), 0);
	assert_int_equal(r.y, KRPC_RESPONSE);
	q.token = (const uint8_t *)"badtoken";
	q.tokenlen = 8;
	assert_int_equal(raw_query(s, &q, &r), 0);
	assert_int_equal(r.ecode, 203);

	memset(&q, 0, sizeof(q));
	q.method = KRPC_GET_PEERS;
	q.info_hash = ih;
	assert_int_equal(raw_query(s, &q, &r), 0);
	assert_int_equal(r.nvalues, 2);
	/* the implied port is the source port */
	{
		bool seen = false;
		for (size_t i = 0; i < r.nvalues; i++)
			seen |= r.values[i][4] == (SIM_RAW_PORT >> 8) &&
			        r.values[i][5] == (SIM_RAW_PORT & 0xff);
		assert_true(seen);
	}

	/* tokens live 5 to 10 minutes */
	s->now += 6 * 60 * 1000;
	mt6d_dht_tick(s->node[0], s->now);
	memset(&q, 0, sizeof(q));
	q.method = KRPC_ANNOUNCE_PEER;
	q.info_hash = ih;
	q.token = tok;
	q.tokenlen = toklen;
	q.has_port = true;
	q.port = 7000;
	assert_int_equal(raw_query(s, &q, &r), 0);
	assert_int_equal(r.y, KRPC_RESPONSE);
	s->now += 6 * 60 * 1000;
	mt6d_dht_tick(s->node[0], s->now);
	assert_int_equal(raw_query(s, &q, &r), 0);
	assert_int_equal(r.y, KRPC_ERROR);

	/* peers expire after 30 minutes */
	s->now += 31 * 60 * 1000;
	mt6d_dht_tick(s->node[0], s->now);
	mt6d_dht_get_stats(s->node[0], &st);
	assert_int_equal(st.peers, 0);
	sim_free(s);
}

static void test_peer_cap(void **state)
{
	struct sim *s = calloc(1, sizeof(*s));
	struct mt6d_dht_config cfg = {.ipv4 = true, .max_peers_per_hash = 20};
	struct mt6d_dht_stats st;
	uint8_t ih[20];
	(void)state;
	s->now = 5000;
	sim_add(s, &cfg);
	memset(ih, 1, 20);
	for (int i = 0; i < 100; i++) {
		struct mt6d_endpoint p;
		mt6d_endpoint_set(&p, (const uint8_t *)"\x0a\x00\x00\x01", 4, (uint16_t)(i + 1));
		s->node[0]->now = s->now + (uint64_t)i;
		assert_int_equal(dht_peer_store(s->node[0], ih, &p), 0);
	}
	mt6d_dht_get_stats(s->node[0], &st);
	assert_int_equal(st.peers, 20);
	sim_free(s);
}

static void test_put_rules(void **state)
{
	struct sim *s = calloc(1, sizeof(*s));
	struct mt6d_dht_config cfg = {.ipv4 = true};
	struct krpc_msg q, r;
	uint8_t target[20], tok[32], pk[32], sk[64], sig[64], buf[1200], big[1001];
	size_t toklen;
	int n;
	(void)state;
	s->now = 5000;
	sim_add(s, &cfg);
	crypto_sign_keypair(pk, sk);
	mt6d_dht_mutable_target(target, pk, NULL, 0);

	memset(&q, 0, sizeof(q));
	q.method = KRPC_GET;
	q.target = target;
	assert_int_equal(raw_query(s, &q, &r), 0);
	assert_null(r.v);
	toklen = r.tokenlen;
	memcpy(tok, r.token, toklen);

#define PUT(seqv, val, casv, hascas)                                                               \
	do {                                                                                       \
		n = mt6d_dht_sign_buffer(buf, sizeof(buf), NULL, 0, seqv, (const uint8_t *)val,    \
		                         strlen(val));                                             \
		crypto_sign_detached(sig, NULL, buf, (unsigned long long)n, sk);                   \
		memset(&q, 0, sizeof(q));                                                          \
		q.method = KRPC_PUT;                                                               \
		q.token = tok;                                                                     \
		q.tokenlen = toklen;                                                               \
		q.k = pk;                                                                          \
		q.sig = sig;                                                                       \
		q.seq = seqv;                                                                      \
		q.has_seq = true;                                                                  \
		q.cas = casv;                                                                      \
		q.has_cas = hascas;                                                                \
		q.v = (const uint8_t *)val;                                                        \
		q.vlen = strlen(val);                                                              \
		assert_int_equal(raw_query(s, &q, &r), 0);                                         \
	} while (0)

	PUT(10, "1:a", 0, false);
	assert_int_equal(r.y, KRPC_RESPONSE);
	PUT(9, "1:b", 0, false);
	assert_int_equal(r.ecode, 302);
	PUT(11, "1:c", 5, true);
	assert_int_equal(r.ecode, 301);
	PUT(11, "1:c", 10, true);
	assert_int_equal(r.y, KRPC_RESPONSE);
	/* signature over something else */
	PUT(12, "1:d", 0, false);
	q.seq = 13;
	assert_int_equal(raw_query(s, &q, &r), 0);
	assert_int_equal(r.ecode, 206);

	memset(&q, 0, sizeof(q));
	q.method = KRPC_GET;
	q.target = target;
	assert_int_equal(raw_query(s, &q, &r), 0);
	assert_int_equal(r.seq, 12);
	assert_int_equal(r.vlen, 3);
	assert_memory_equal(r.v, "1:d", 3);
	assert_non_null(r.sig);
	/* a get with seq >= ours returns no value */
	q.seq = 12;
	q.has_seq = true;
	assert_int_equal(raw_query(s, &q, &r), 0);
	assert_null(r.v);

	/* salt longer than 64 and v longer than 1000 are refused by the parser
	 * (dropped, counted); the 205/207 paths are for what slips through */
	memset(big, 'x', sizeof(big));
	{
		struct mt6d_dht_stats st0, st1;
		uint8_t pkt[1500];
		int len = snprintf((char *)pkt, sizeof(pkt),
		                   "d1:ad2:id20:abcdefghij01234567895:token8:aoeusnth1:v1001:");
		memcpy(pkt + len, big, 1001);
		len += 1001;
		memcpy(pkt + len, "e1:q3:put1:t2:aa1:y1:qe", 23);
		len += 23;
		mt6d_dht_get_stats(s->node[0], &st0);
		sim_raw_send(s, 0, pkt, (size_t)len);
		mt6d_dht_get_stats(s->node[0], &st1);
		assert_int_equal(st1.dropped_malformed, st0.dropped_malformed + 1);
	}
	sim_free(s);
}

static void test_read_only(void **state)
{
	struct sim *s = sim_swarm(12, 20000);
	struct mt6d_dht_config ro = {.ipv4 = true, .read_only = true};
	struct sockaddr_in a = sim_addr(SIM_BASE);
	struct mt6d_dht_stats st;
	struct done d;
	uint8_t ih[20], ro_id[20];
	(void)state;
	sim_add(s, &ro);
	mt6d_dht_add_node(s->node[12], (struct sockaddr *)&a, sizeof(a), s->now);
	sim_run(s, 20000);
	randombytes_buf(ih, sizeof(ih));
	memset(&d, 0, sizeof(d));
	mt6d_dht_get_peers(s->node[12], ih, on_done, &d, s->now);
	wait_done(s, &d);
	assert_true(d.answered >= 8);
	/* nobody routes to the read-only node */
	mt6d_dht_get_id(s->node[12], ro_id);
	for (int i = 0; i < 12; i++) {
		struct dht_table *t = &s->node[i]->t4;
		for (int b = 0; b < t->nb; b++)
			for (int k = 0; k < t->b[b].count; k++)
				assert_memory_not_equal(t->b[b].n[k].id, ro_id, 20);
	}
	/* and it answers no query */
	{
		struct krpc_msg q = {.method = KRPC_PING}, r;
		struct sim *s1 = calloc(1, sizeof(*s1));
		s1->now = 1000;
		sim_add(s1, &ro);
		assert_int_equal(raw_query(s1, &q, &r), -1);
		mt6d_dht_get_stats(s1->node[0], &st);
		assert_int_equal(st.queries_served[KRPC_PING], 0);
		sim_free(s1);
	}
	sim_free(s);
}

static void test_state_file(void **state)
{
	struct sim *s = sim_swarm(20, 20000);
	char path[] = "/tmp/mt6d-dht-state-XXXXXX";
	struct mt6d_dht_config cfg = {.ipv4 = true};
	struct mt6d_dht_stats st;
	uint8_t id0[20], id1[20];
	int fd = mkstemp(path);
	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mt6d_dht_save(s->node[3], path), 0);
	mt6d_dht_get_id(s->node[3], id0);
	/* a new node in node 3's place */
	mt6d_dht_free(s->node[3]);
	cfg.send = sim_send;
	cfg.send_ctx = &s->ep[3];
	s->node[3] = mt6d_dht_new(&cfg);
	assert_int_equal(mt6d_dht_load(s->node[3], path, s->now), 0);
	mt6d_dht_get_id(s->node[3], id1);
	assert_memory_equal(id0, id1, 20);
	sim_run(s, 5000);
	mt6d_dht_get_stats(s->node[3], &st);
	assert_true(st.good4 >= 8);
	/* garbage is refused */
	{
		FILE *f = fopen(path, "w");
		fputs("node zz 1.2.3.4 5\n", f);
		fclose(f);
		assert_int_equal(mt6d_dht_load(s->node[3], path, s->now), -EINVAL);
	}
	unlink(path);
	sim_free(s);
}

/* mt6d_dht_adopt: a new identity in node 3's place takes node 3's answered
 * entries without sending anything, and publishes at once. */
static void test_adopt(void **state)
{
	struct sim *s = sim_swarm(30, 20000);
	struct mt6d_dht_config cfg = {.ipv4 = true, .read_only = true};
	struct mt6d_dht_stats st, old;
	struct mt6d_dht *prev;
	uint8_t sk[64], pk[32];
	struct done d;
	int n;
	(void)state;

	prev = s->node[3];
	mt6d_dht_get_stats(prev, &old);
	cfg.send = sim_send;
	cfg.send_ctx = &s->ep[3];
	s->node[3] = mt6d_dht_new(&cfg);
	assert_non_null(s->node[3]);
	assert_int_equal(mt6d_dht_adopt(s->node[3], s->node[3], s->now), -EINVAL);
	assert_int_equal(mt6d_dht_adopt(NULL, prev, s->now), -EINVAL);
	n = mt6d_dht_adopt(s->node[3], prev, s->now);
	assert_true(n >= 8);
	assert_true((uint32_t)n <= old.good4);
	mt6d_dht_free(prev);
	mt6d_dht_get_stats(s->node[3], &st);
	assert_true(st.good4 >= 8);
	assert_int_equal(st.tx, 0); /* no datagram for what it adopted */
	crypto_sign_keypair(pk, sk);
	memset(&d, 0, sizeof(d));
	assert_true(mt6d_dht_put_mutable(s->node[3], sk, NULL, 0, (const uint8_t *)"3:new", 5, 1,
	                                 on_done, &d, s->now) > 0);
	wait_done(s, &d);
	assert_int_equal(d.status, 0);
	assert_true(d.stored_on >= 6);
	sim_free(s);
}

static void test_garbage(void **state)
{
	struct sim *s = sim_swarm(12, 20000);
	struct mt6d_dht_stats st0, st1;
	struct done d;
	uint8_t buf[1500], t[20];
	(void)state;
	memset(&d, 0, sizeof(d));
	mt6d_dht_put_immutable(s->node[1], (const uint8_t *)"5:hello", 7, on_done, &d, s->now);
	wait_done(s, &d);
	assert_true(d.stored_on >= 6);
	mt6d_dht_get_stats(s->node[0], &st0);
	for (int i = 0; i < 5000; i++) {
		size_t len = randombytes_uniform(sizeof(buf)) + 1;
		randombytes_buf(buf, len);
		if (i % 3 == 0)
			buf[0] = 'd';
		sim_raw_send(s, 0, buf, len);
	}
	mt6d_dht_get_stats(s->node[0], &st1);
	assert_true(st1.dropped_malformed >= st0.dropped_malformed + 4900);
	mt6d_sha1(t, (const uint8_t *)"5:hello", 7);
	memset(&d, 0, sizeof(d));
	mt6d_dht_get(s->node[5], t, NULL, NULL, 0, on_done, &d, s->now);
	wait_done(s, &d);
	assert_int_equal(d.status, 0);
	sim_free(s);
}

/* Every put lands on the nodes truly closest to its target: the check
 * that caught lookups stopping in the wrong neighbourhood (docs/dht.md). */
/* The k (at most 16) nodes of s closest to t, nearest first. */
static void closest_nodes(struct sim *s, const uint8_t *t, int *out, int k)
{
	uint8_t ids[SIM_MAX][20];
	int n = 0;

	for (int i = 0; i < s->n; i++)
		mt6d_dht_get_id(s->node[i], ids[i]);
	for (int i = 0; i < s->n; i++) {
		int j = n < k ? n++ : k - 1;
		if (n == k && j == k - 1 && i >= k && dht_xor_cmp(t, ids[i], ids[out[k - 1]]) >= 0)
			continue;
		out[j] = i;
		while (j > 0 && dht_xor_cmp(t, ids[out[j]], ids[out[j - 1]]) < 0) {
			int tmp = out[j];
			out[j] = out[j - 1];
			out[j - 1] = tmp;
			j--;
		}
	}
}

static void test_placement(void **state)
{
	struct sim *s = sim_swarm(200, 60000);
	(void)state;
	for (int k = 0; k < 10; k++) {
		uint8_t v[16], t[20];
		int close[8], held = 0;
		struct done d;
		snprintf((char *)v, sizeof(v), "4:it%02d", k);
		mt6d_sha1(t, v, 6);
		memset(&d, 0, sizeof(d));
		mt6d_dht_put_immutable(s->node[(k * 37 + 11) % 200], v, 6, on_done, &d, s->now);
		wait_done(s, &d);
		assert_int_equal(d.stored_on, 8);
		closest_nodes(s, t, close, 8);
		for (int i = 0; i < 8; i++)
			held += dht_item_find(s->node[close[i]], t) != NULL;
		if (held < 7)
			fail_msg("item %d held by %d of the 8 closest nodes", k, held);
	}
	sim_free(s);
}

/* Churn: an item put while the 8 nodes closest to it were away lives on
 * the next 8; once the 8 are back (empty, as a restarted node is) a get
 * that stopped at the 8 closest would find nothing. A get or get_peers
 * that has found nothing asks the next K closest before it ends. */
static void test_value_past_k(void **state)
{
	struct sim *s = sim_swarm(80, 60000);
	const uint8_t v[] = "10:past the K";
	const uint16_t port = 4343;
	uint8_t t[20], ih[20];
	int close[16];
	unsigned stored = 0;
	struct done d;
	(void)state;

	mt6d_sha1(t, v, sizeof(v) - 1);
	closest_nodes(s, t, close, 16);
	for (int i = 0; i < 8; i++)
		s->down[close[i]] = true;
	memset(&d, 0, sizeof(d));
	/* from a node that is none of the 16 (nor the getter) */
	for (int i = 0, p = 0; i < s->n; i++) {
		bool near = false;
		for (int j = 0; j < 16; j++)
			near |= close[j] == i;
		if (near)
			continue;
		if (p++ == 0) {
			mt6d_dht_put_immutable(s->node[i], v, sizeof(v) - 1, on_done, &d, s->now);
			wait_done(s, &d);
			assert_true(d.stored_on >= 6);
			stored = d.stored_on;
			memcpy(ih, t, 20);
			memset(&d, 0, sizeof(d));
			assert_true(mt6d_dht_announce(s->node[i], ih, &port, 1, on_done, &d,
			                              s->now) > 0);
			wait_done(s, &d);
			assert_true(d.stored_on >= 6);
			continue;
		}
		for (int j = 0, held = 0; j < 8; j++) {
			s->down[close[j]] = false;
			assert_null(dht_item_find(s->node[close[j]], t));
			held += dht_item_find(s->node[close[8 + j]], t) != NULL;
			if (j == 7 && held < 4)
				fail_msg("%d of the next 8 hold the item (stored on %u)", held,
				         stored);
		}
		sim_run(s, 1000);
		memset(&d, 0, sizeof(d));
		assert_true(mt6d_dht_get(s->node[i], t, NULL, NULL, 0, on_done, &d, s->now) > 0);
		wait_done(s, &d);
		assert_int_equal(d.status, 0);
		assert_int_equal(d.vlen, sizeof(v) - 1);
		assert_memory_equal(d.v, v, sizeof(v) - 1);
		memset(&d, 0, sizeof(d));
		assert_true(mt6d_dht_get_peers(s->node[i], ih, on_done, &d, s->now) > 0);
		wait_done(s, &d);
		assert_int_equal(d.status, 0);
		assert_int_equal(d.npeers, 1);
		assert_int_equal(d.peers[0].port, port);
		break;
	}
	sim_free(s);
}

/* A node configured with put_replicas 16 (the publisher's) stores a BEP 44
 * item on 16 nodes: it outlives the death of the 8 closest to it. */
static void test_put_replicas(void **state)
{
	struct sim *s = sim_swarm(80, 30000);
	struct mt6d_dht_config cfg = {.ipv4 = true, .put_replicas = 16};
	struct sockaddr_in a0 = sim_addr(SIM_BASE);
	struct mt6d_dht *pub;
	uint8_t sk[64], pk[32], seed[32], t[20];
	int close[8], pi;
	struct done d;
	(void)state;

	pi = s->n;
	pub = sim_add(s, &cfg);
	mt6d_dht_add_node(pub, (struct sockaddr *)&a0, sizeof(a0), s->now);
	sim_run(s, 20000);
	memset(seed, 9, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	mt6d_dht_mutable_target(t, pk, NULL, 0);
	memset(&d, 0, sizeof(d));
	assert_true(mt6d_dht_put_mutable(pub, sk, NULL, 0, (const uint8_t *)"4:kept", 6, 1, on_done,
	                                 &d, s->now) > 0);
	wait_done(s, &d);
	assert_int_equal(d.stored_on, 16);
	closest_nodes(s, t, close, 8);
	for (int i = 0; i < 8; i++)
		if (close[i] != pi)
			s->down[close[i]] = true;
	memset(&d, 0, sizeof(d));
	for (int g = 0; g < s->n; g++) {
		if (s->down[g] || g == pi)
			continue;
		assert_true(mt6d_dht_get(s->node[g], t, pk, NULL, 0, on_done, &d, s->now) > 0);
		break;
	}
	wait_done(s, &d);
	assert_int_equal(d.status, 0);
	assert_int_equal(d.seq, 1);
	assert_memory_equal(d.v, "4:kept", 6);
	sim_free(s);
}

/* Half the swarm dies. The first lookup waits on the dead (1 s each before
 * it stops counting them); a query that timed out is not sent again, so the
 * next lookup to the same place finds as many nodes in half the time or less. A node that speaks
 * again is asked again. */
static void test_unreach(void **state)
{
	struct sim *s = sim_swarm(60, 30000);
	uint8_t ih[20];
	struct done d;
	struct mt6d_endpoint e;
	struct sockaddr_in sa;
	unsigned answered, ms;
	int dead = -1;
	(void)state;

	for (int i = 1; i < 60; i += 2)
		s->down[i] = true;
	randombytes_buf(ih, sizeof(ih));
	memset(&d, 0, sizeof(d));
	assert_true(mt6d_dht_get_peers(s->node[0], ih, on_done, &d, s->now) > 0);
	wait_done(s, &d);
	assert_true(d.elapsed_ms >= 1000);
	answered = d.answered;
	ms = (unsigned)d.elapsed_ms;
	sim_run(s, 4000); /* every query to the dead has timed out */
	for (int i = 1; i < 60 && dead < 0; i += 2) {
		sa = sim_addr((uint16_t)(SIM_BASE + i));
		assert_int_equal(
		        mt6d_endpoint_from_sockaddr(&e, (struct sockaddr *)&sa, sizeof(sa)), 0);
		if (dht_unreach_is(s->node[0], &e))
			dead = i;
	}
	assert_true(dead > 0);
	memset(&d, 0, sizeof(d));
	assert_true(mt6d_dht_get_peers(s->node[0], ih, on_done, &d, s->now) > 0);
	wait_done(s, &d);
	if (d.answered < answered || 2 * d.elapsed_ms > ms)
		fail_msg("first lookup: %u answers in %u ms; second %u in %u ms", answered, ms,
		         d.answered, (unsigned)d.elapsed_ms);
	/* back: it speaks to node 0, which takes it off the list */
	s->down[dead] = false;
	sa = sim_addr(SIM_BASE);
	mt6d_dht_add_node(s->node[dead], (struct sockaddr *)&sa, sizeof(sa), s->now);
	sim_run(s, 100);
	sa = sim_addr((uint16_t)(SIM_BASE + dead));
	mt6d_endpoint_from_sockaddr(&e, (struct sockaddr *)&sa, sizeof(sa));
	assert_false(dht_unreach_is(s->node[0], &e));
	sim_free(s);
}

/* BEP 42: replies agreeing on a public address make the node take an id
 * that fits it; a configured id stays. */
static void test_bep42_adopt(void **state)
{
	struct sim *s = calloc(1, sizeof(*s));
	struct mt6d_dht_config cfg = {.ipv4 = true};
	struct sockaddr_in raw = sim_addr(SIM_RAW_PORT);
	const uint8_t pub[6] = {203, 0, 113, 7, 0x1a, 0xe1};
	uint8_t id[20], rid[20];
	(void)state;
	s->now = 5000;
	sim_add(s, &cfg);
	cfg.have_id = true;
	memset(cfg.id, 0xab, 20);
	sim_add(s, &cfg);
	memset(rid, 0x42, 20);
	for (int node = 0; node < 2; node++) {
		for (int i = 0; i < 6; i++) {
			struct krpc_msg q, r = {.y = KRPC_RESPONSE};
			uint8_t buf[1500];
			int len;
			s->nraw = 0;
			mt6d_dht_add_node(s->node[node], (struct sockaddr *)&raw, sizeof(raw),
			                  s->now);
			sim_deliver(s);
			assert_int_equal(s->nraw, 1);
			assert_int_equal(krpc_parse(&q, s->raw[0].data, s->raw[0].len), 0);
			r.t = q.t;
			r.tlen = q.tlen;
			r.id = rid;
			r.ip = pub;
			r.iplen = 6;
			len = krpc_encode(buf, sizeof(buf), &r);
			sim_raw_send(s, node, buf, (size_t)len);
		}
		mt6d_dht_get_id(s->node[node], id);
		if (node == 0)
			assert_true(mt6d_dht_bep42_ok(id, pub, 4));
		else
			assert_memory_equal(id, cfg.id, 20);
	}
	sim_free(s);
}

static void test_api_args(void **state)
{
	struct mt6d_dht_config cfg = {0};
	uint8_t ih[20] = {0};
	uint16_t zero = 0;
	struct sim *s;
	(void)state;
	assert_null(mt6d_dht_new(&cfg));
	assert_null(mt6d_dht_new(NULL));
	mt6d_dht_free(NULL);
	s = sim_swarm(2, 100);
	assert_int_equal(mt6d_dht_announce(s->node[1], ih, &zero, 1, on_done, NULL, s->now),
	                 -EINVAL);
	assert_int_equal(mt6d_dht_put_immutable(s->node[1], ih, 1001, on_done, NULL, s->now),
	                 -EINVAL);
	sim_free(s);
}

/* Cancel: the callback of a cancelled operation never comes, whether the
 * operation was running or had finished with its callback still due;
 * callbacks never run inside the call that started the operation, and a
 * callback may cancel another operation. */
struct canceller {
	struct mt6d_dht *dht;
	int victim;
	int calls;
};

static void cancel_other(void *arg, const struct mt6d_dht_result *r)
{
	struct canceller *c = arg;
	(void)r;
	c->calls++;
	assert_int_equal(mt6d_dht_cancel(c->dht, c->victim), 0);
}

static void test_cancel(void **state)
{
	struct sim *s = sim_swarm(40, 10000);
	struct mt6d_dht_config cfg = {.ipv4 = true};
	struct mt6d_dht_stats st;
	struct mt6d_dht *lonely;
	struct done d = {0}, v = {0};
	struct canceller c = {0};
	uint8_t ih[20];
	int id, id2;
	(void)state;

	/* a running lookup */
	randombytes_buf(ih, sizeof(ih));
	id = mt6d_dht_get_peers(s->node[3], ih, on_done, &d, s->now);
	assert_true(id > 0);
	mt6d_dht_get_stats(s->node[3], &st);
	assert_true(st.requests_pending > 0);
	assert_int_equal(mt6d_dht_cancel(s->node[3], id), 0);
	assert_int_equal(mt6d_dht_cancel(s->node[3], id), -ENOENT);
	sim_run(s, 35000); /* past every timeout and DHT_OP_MAX_MS */
	assert_false(d.called);
	mt6d_dht_get_stats(s->node[3], &st);
	assert_int_equal(st.ops_active, 0);
	/* a store phase in flight (a slow socket: 2 datagrams per step) */
	s->sndbuf[4] = 2;
	id = mt6d_dht_announce(s->node[4], ih, (const uint16_t[]){1234}, 1, on_done, &d, s->now);
	assert_true(id > 0);
	for (int i = 0; i < 400; i++) {
		sim_run(s, 10);
		if (s->node[4]->ops && s->node[4]->ops->storing)
			break;
	}
	assert_true(s->node[4]->ops && s->node[4]->ops->storing);
	assert_int_equal(mt6d_dht_cancel(s->node[4], id), 0);
	sim_run(s, 5000);
	assert_false(d.called);
	s->sndbuf[4] = 0;

	/* finished at once (nobody to ask), callback still due */
	lonely = sim_add(s, &cfg);
	id = mt6d_dht_get_peers(lonely, ih, on_done, &d, s->now);
	assert_true(id > 0);
	assert_false(d.called); /* not from inside the starting call */
	assert_int_equal(mt6d_dht_cancel(lonely, id), 0);
	mt6d_dht_tick(lonely, s->now);
	assert_false(d.called);
	/* not cancelled: the next tick brings it */
	id = mt6d_dht_get_peers(lonely, ih, on_done, &d, s->now);
	assert_false(d.called);
	mt6d_dht_tick(lonely, s->now);
	assert_true(d.called);
	assert_int_equal(d.status, -EHOSTUNREACH);
	assert_int_equal(mt6d_dht_cancel(lonely, id), -ENOENT);

	/* one callback cancels the other operation, due in the same tick */
	c.dht = lonely;
	id = mt6d_dht_get_peers(lonely, ih, cancel_other, &c, s->now);
	id2 = mt6d_dht_get_peers(lonely, ih, on_done, &v, s->now);
	assert_true(id > 0 && id2 > 0 && id != id2);
	c.victim = id2;
	mt6d_dht_tick(lonely, s->now);
	assert_int_equal(c.calls, 1);
	assert_false(v.called);
	sim_free(s);
}

/* A socket that is full (EAGAIN) loses nothing: a port-stuffing announce
 * of 85 ports through a socket that takes 10 datagrams per 10 ms arrives
 * whole on every node that stores it, in order, and is read back whole. */
struct count {
	bool called;
	int status;
	size_t npeers;
	uint16_t ports[256];
};

static void on_count(void *arg, const struct mt6d_dht_result *r)
{
	struct count *c = arg;
	c->called = true;
	c->status = r->status;
	c->npeers = r->npeers;
	for (size_t i = 0; i < r->npeers && i < 256; i++)
		c->ports[i] = r->peers[i].port;
}

static void test_send_queue(void **state)
{
	struct sim *s = sim_swarm(40, 10000);
	struct mt6d_dht_stats st;
	struct done d = {0};
	struct count c = {0};
	uint16_t ports[85];
	uint8_t ih[20];
	(void)state;

	for (int i = 0; i < 85; i++)
		ports[i] = (uint16_t)((i + 1) << 8 | (uint8_t)(i * 7));
	randombytes_buf(ih, sizeof(ih));
	s->sndbuf[5] = 10;
	assert_true(mt6d_dht_announce(s->node[5], ih, ports, 85, on_done, &d, s->now) > 0);
	wait_done(s, &d);
	assert_int_equal(d.status, 0);
	assert_true(d.stored_on >= 6); /* every port acknowledged by each */
	mt6d_dht_get_stats(s->node[5], &st);
	assert_true(s->eagain > 0);
	assert_true(st.tx_queued >= 8 * 85 - 10);
	assert_true(st.txq_max > 10);
	assert_int_equal(st.tx_dropped, 0);
	assert_int_equal(st.tx_errors, 0);
	assert_int_equal(mt6d_dht_tx_queued(s->node[5]), 0);

	s->sndbuf[5] = 0;
	assert_true(mt6d_dht_get_peers(s->node[30], ih, on_count, &c, s->now) > 0);
	for (int i = 0; i < 4000 && !c.called; i++)
		sim_run(s, 10);
	assert_true(c.called);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.npeers, 85);
	for (int i = 0; i < 85; i++)
		assert_int_equal(c.ports[i], ports[i]);
	sim_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bep44_vectors),  cmocka_unit_test(test_bep42_vectors),
	        cmocka_unit_test(test_swarm_ops),      cmocka_unit_test(test_dead_nodes),
	        cmocka_unit_test(test_announce_rules), cmocka_unit_test(test_peer_cap),
	        cmocka_unit_test(test_put_rules),      cmocka_unit_test(test_read_only),
	        cmocka_unit_test(test_state_file),     cmocka_unit_test(test_garbage),
	        cmocka_unit_test(test_placement),      cmocka_unit_test(test_bep42_adopt),
	        cmocka_unit_test(test_api_args),       cmocka_unit_test(test_cancel),
	        cmocka_unit_test(test_send_queue),     cmocka_unit_test(test_value_past_k),
	        cmocka_unit_test(test_put_replicas),   cmocka_unit_test(test_unreach),
	        cmocka_unit_test(test_adopt),
	};
	if (mt6d_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
