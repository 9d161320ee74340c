/* SPDX-License-Identifier: MIT */
/*
 * The DHT node against amplification and exhaustion (issue 16,
 * docs/security.md), driven through mt6d_dht_input() with forged sources
 * and a fake clock (replies counted, the node's own queries not):
 *  - a node made with a zeroed configuration (as the server's) limits;
 *  - a flood from one /64, or one /24, spread over its addresses, draws no
 *    more replies than the per-network bucket holds; another network is
 *    still answered;
 *  - a flood spread over many /64s is bounded by the global bucket;
 *  - one source network cannot fill the item store or the peer store, and
 *    its share comes back when what it stored expires;
 *  - loopback is exempt.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "dht/krpc.h"
#include "mt6d/dht.h"

#define T0 1000000

struct sink {
	unsigned sent; /* replies and errors */
	size_t bytes;
	uint8_t last[1500];
	size_t lastlen;
};

static int sink_send(void *ctx, const uint8_t *buf, size_t len, const struct sockaddr *to,
                     socklen_t tolen)
{
	struct sink *k = ctx;
	struct krpc_msg m;
	(void)to;
	(void)tolen;
	/* the node's own queries (it pings whom it heard of) are not replies */
	assert_int_equal(krpc_parse(&m, buf, len), 0);
	if (m.y == KRPC_QUERY)
		return 0;
	k->sent++;
	k->bytes += len;
	assert_true(len <= sizeof(k->last));
	memcpy(k->last, buf, len);
	k->lastlen = len;
	return 0;
}

static struct mt6d_dht *node(struct sink *k, const struct mt6d_dht_config *base)
{
	struct mt6d_dht_config cfg = *base;
	struct mt6d_dht *d;
	memset(k, 0, sizeof(*k));
	cfg.send = sink_send;
	cfg.send_ctx = k;
	d = mt6d_dht_new(&cfg);
	assert_non_null(d);
	return d;
}

/* 2001:db8:NET::HOST (NET the third and fourth groups), port 6881 */
static struct sockaddr_in6 src6(uint32_t net, uint64_t host)
{
	struct sockaddr_in6 s = {.sin6_family = AF_INET6, .sin6_port = htons(6881)};
	uint8_t *b = s.sin6_addr.s6_addr;
	b[0] = 0x20, b[1] = 0x01, b[2] = 0x0d, b[3] = 0xb8;
	for (int i = 0; i < 4; i++)
		b[4 + i] = (uint8_t)(net >> (24 - 8 * i));
	for (int i = 0; i < 8; i++)
		b[8 + i] = (uint8_t)(host >> (56 - 8 * i));
	return s;
}

/* Encode a query with a random transaction id and querier id. */
static size_t query(uint8_t *buf, size_t cap, struct krpc_msg *q)
{
	static uint8_t id[20], t[2];
	int len;
	randombytes_buf(id, sizeof(id));
	randombytes_buf(t, sizeof(t));
	q->y = KRPC_QUERY;
	q->t = t;
	q->tlen = 2;
	q->id = id;
	len = krpc_encode(buf, cap, q);
	assert_true(len > 0);
	return (size_t)len;
}

/* One get_peers from sa at now; replies the node sent for it. */
static unsigned get_peers(struct mt6d_dht *d, struct sink *k, const void *sa, socklen_t salen,
                          uint64_t now)
{
	uint8_t buf[512], ih[20];
	struct krpc_msg q = {.method = KRPC_GET_PEERS, .info_hash = ih};
	unsigned before = k->sent;
	size_t len;
	randombytes_buf(ih, sizeof(ih));
	len = query(buf, sizeof(buf), &q);
	(void)mt6d_dht_input(d, buf, len, sa, salen, now);
	return k->sent - before;
}

static void test_zeroed_config_limits(void **state)
{
	struct sink k;
	struct mt6d_dht_config cfg = {0};
	struct mt6d_dht *d = node(&k, &cfg);
	struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons(6881)};
	unsigned replies = 0;
	(void)state;
	s.sin_addr.s_addr = htonl(0xc0000207); /* 192.0.2.7 */
	for (int i = 0; i < 10000; i++)
		replies += get_peers(d, &k, &s, sizeof(s), T0);
	/* default 100/s, burst 200: the server's node is no amplifier */
	assert_int_equal(replies, 200);
	mt6d_dht_free(d);
}

static void test_flood_one_64(void **state)
{
	struct sink k;
	struct mt6d_dht_config cfg = {.ipv6 = true};
	struct mt6d_dht *d = node(&k, &cfg);
	struct mt6d_dht_stats st;
	unsigned replies = 0;
	(void)state;
	/* 10,000 forged sources, every one a different address of one /64 */
	for (int i = 0; i < 10000; i++) {
		uint64_t host;
		struct sockaddr_in6 s;
		randombytes_buf(&host, sizeof(host));
		s = src6(0x00010002, host);
		s.sin6_port = htons((uint16_t)(1024 + randombytes_uniform(60000)));
		replies += get_peers(d, &k, &s, sizeof(s), T0);
	}
	assert_int_equal(replies, 200); /* the burst: two seconds' worth */
	mt6d_dht_get_stats(d, &st);
	assert_int_equal(st.dropped_ratelimit, 9800);
	/* a second later, one second's worth more */
	replies = 0;
	for (int i = 0; i < 1000; i++) {
		struct sockaddr_in6 s = src6(0x00010002, (uint64_t)i + 1);
		replies += get_peers(d, &k, &s, sizeof(s), T0 + 1000);
	}
	assert_int_equal(replies, 100);
	/* another /64 is answered all the same */
	{
		struct sockaddr_in6 s = src6(0x00010003, 1);
		assert_int_equal(get_peers(d, &k, &s, sizeof(s), T0 + 1000), 1);
	}
	mt6d_dht_free(d);
}

static void test_flood_one_24(void **state)
{
	struct sink k;
	struct mt6d_dht_config cfg = {.ipv4 = true, .rate_limit = 10};
	struct mt6d_dht *d = node(&k, &cfg);
	unsigned replies = 0;
	(void)state;
	for (int i = 0; i < 5000; i++) {
		struct sockaddr_in s = {.sin_family = AF_INET};
		s.sin_addr.s_addr = htonl(0xcb007100u | (uint32_t)(i % 256)); /* 203.0.113.x */
		s.sin_port = htons((uint16_t)(1024 + i));
		replies += get_peers(d, &k, &s, sizeof(s), T0);
	}
	assert_int_equal(replies, 20);
	{
		struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons(6881)};
		s.sin_addr.s_addr = htonl(0xc6336401); /* 198.51.100.1 */
		assert_int_equal(get_peers(d, &k, &s, sizeof(s), T0), 1);
	}
	mt6d_dht_free(d);
}

static void test_flood_spread(void **state)
{
	struct sink k;
	struct mt6d_dht_config cfg = {.ipv6 = true};
	struct mt6d_dht *d = node(&k, &cfg);
	unsigned replies = 0;
	size_t bytes;
	(void)state;
	/* 20,000 /64s, one query each: no network's bucket runs dry, the
	 * global one does (default 1000/s, burst 2000) */
	for (uint32_t i = 0; i < 20000; i++) {
		struct sockaddr_in6 s = src6(0x00100000 + i, 1);
		replies += get_peers(d, &k, &s, sizeof(s), T0);
	}
	assert_int_equal(replies, 2000);
	bytes = k.bytes;
	assert_true(bytes <= 2000 * 1500);
	replies = 0;
	for (uint32_t i = 0; i < 20000; i++) {
		struct sockaddr_in6 s = src6(0x00200000 + i, 1);
		replies += get_peers(d, &k, &s, sizeof(s), T0 + 500);
	}
	assert_int_equal(replies, 500);
	/* configured explicitly */
	mt6d_dht_free(d);
	cfg.rate_limit_global = 50;
	d = node(&k, &cfg);
	replies = 0;
	for (uint32_t i = 0; i < 1000; i++) {
		struct sockaddr_in6 s = src6(0x00300000 + i, 1);
		replies += get_peers(d, &k, &s, sizeof(s), T0);
	}
	assert_int_equal(replies, 100);
	mt6d_dht_free(d);
}

static void test_loopback_exempt(void **state)
{
	struct sink k;
	struct mt6d_dht_config cfg = {.ipv4 = true, .ipv6 = true};
	struct mt6d_dht *d = node(&k, &cfg);
	struct sockaddr_in6 l6 = {.sin6_family = AF_INET6, .sin6_port = htons(6881)};
	struct sockaddr_in l4 = {.sin_family = AF_INET, .sin_port = htons(6881)};
	unsigned replies = 0;
	(void)state;
	l6.sin6_addr = in6addr_loopback;
	l4.sin_addr.s_addr = htonl(0x7f000001);
	for (int i = 0; i < 3000; i++) {
		replies += get_peers(d, &k, &l6, sizeof(l6), T0);
		replies += get_peers(d, &k, &l4, sizeof(l4), T0);
	}
	assert_int_equal(replies, 6000);
	mt6d_dht_free(d);
}

/* A get_peers from sa, answered; its token into tok. */
static size_t token_for(struct mt6d_dht *d, struct sink *k, const void *sa, socklen_t salen,
                        uint64_t now, uint8_t tok[32])
{
	struct krpc_msg r;
	assert_int_equal(get_peers(d, k, sa, salen, now), 1);
	assert_int_equal(krpc_parse(&r, k->last, k->lastlen), 0);
	assert_int_equal(r.y, KRPC_RESPONSE);
	assert_non_null(r.token);
	assert_true(r.tokenlen <= 32);
	memcpy(tok, r.token, r.tokenlen);
	return r.tokenlen;
}

/* An immutable put of the bencoded integer i from sa: 0 stored, -1 refused. */
static int put(struct mt6d_dht *d, struct sink *k, const void *sa, socklen_t salen, uint64_t now,
               const uint8_t *tok, size_t toklen, unsigned i)
{
	uint8_t buf[512];
	char v[32];
	struct krpc_msg q = {.method = KRPC_PUT, .token = tok, .tokenlen = toklen}, r;
	size_t len;
	unsigned before = k->sent;
	snprintf(v, sizeof(v), "i%ue", i);
	q.v = (const uint8_t *)v;
	q.vlen = strlen(v);
	len = query(buf, sizeof(buf), &q);
	(void)mt6d_dht_input(d, buf, len, sa, salen, now);
	assert_int_equal(k->sent, before + 1);
	assert_int_equal(krpc_parse(&r, k->last, k->lastlen), 0);
	return r.y == KRPC_RESPONSE ? 0 : -1;
}

static void test_items_one_source(void **state)
{
	struct sink k;
	struct mt6d_dht_config cfg = {.ipv6 = true};
	struct mt6d_dht *d = node(&k, &cfg);
	struct mt6d_dht_stats st;
	struct sockaddr_in6 a[2] = {src6(0x000a0000, 1), src6(0x000a0000, 2)},
	                    b = src6(0x000b0000, 1);
	uint8_t tok[2][32], tokb[32];
	size_t toklen[2], toklenb;
	uint64_t now = T0;
	unsigned stored = 0;
	(void)state;
	/* two hosts of one /64, each with its own token, put 5000 items at
	 * 50 a second (under the rate limit): the /64 may fill the free half of
	 * the store (2048 of 4096) and no more */
	for (int j = 0; j < 2; j++)
		toklen[j] = token_for(d, &k, &a[j], sizeof(a[j]), now, tok[j]);
	for (unsigned i = 0; i < 5000; i++) {
		now += 20;
		stored +=
		        put(d, &k, &a[i & 1], sizeof(a[0]), now, tok[i & 1], toklen[i & 1], i) == 0;
		if (i % 1000 == 999) /* tokens rotate every 5 min: fetch anew */
			for (int j = 0; j < 2; j++)
				toklen[j] = token_for(d, &k, &a[j], sizeof(a[j]), now, tok[j]);
	}
	mt6d_dht_get_stats(d, &st);
	assert_int_equal(stored, 2048);
	assert_int_equal(st.items, 2048);
	/* everyone else still stores, each network its share of 128 */
	toklenb = token_for(d, &k, &b, sizeof(b), now, tokb);
	stored = 0;
	for (unsigned i = 0; i < 200; i++) {
		now += 20;
		stored += put(d, &k, &b, sizeof(b), now, tokb, toklenb, 100000 + i) == 0;
	}
	assert_int_equal(stored, 128);
	/* a re-put of a stored item is a refresh, not a new charge */
	assert_int_equal(put(d, &k, &a[0], sizeof(a[0]), now, tok[0], toklen[0], 0), 0);
	/* after they expire (2 hours), the source has its share again */
	now += 2 * 60 * 60 * 1000 + 61000;
	mt6d_dht_tick(d, now);
	mt6d_dht_get_stats(d, &st);
	assert_int_equal(st.items, 0);
	toklen[0] = token_for(d, &k, &a[0], sizeof(a[0]), now, tok[0]);
	stored = 0;
	for (unsigned i = 0; i < 200; i++) {
		now += 20;
		stored += put(d, &k, &a[0], sizeof(a[0]), now, tok[0], toklen[0], 200000 + i) == 0;
	}
	assert_int_equal(stored, 200);
	mt6d_dht_free(d);
}

/* An announce of port under a fresh infohash from sa: 0 stored, -1 refused. */
static int announce(struct mt6d_dht *d, struct sink *k, const void *sa, socklen_t salen,
                    uint64_t now, const uint8_t *tok, size_t toklen, const uint8_t *ih,
                    uint16_t port)
{
	uint8_t buf[512];
	struct krpc_msg q = {.method = KRPC_ANNOUNCE_PEER,
	                     .info_hash = ih,
	                     .token = tok,
	                     .tokenlen = toklen,
	                     .port = port,
	                     .has_port = true},
	                r;
	size_t len = query(buf, sizeof(buf), &q);
	unsigned before = k->sent;
	(void)mt6d_dht_input(d, buf, len, sa, salen, now);
	assert_int_equal(k->sent, before + 1);
	assert_int_equal(krpc_parse(&r, k->last, k->lastlen), 0);
	return r.y == KRPC_RESPONSE ? 0 : -1;
}

static void test_peers_one_source(void **state)
{
	struct sink k;
	struct mt6d_dht_config cfg = {.ipv4 = true};
	struct mt6d_dht *d = node(&k, &cfg);
	struct mt6d_dht_stats st;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(6881)}, b = a;
	uint8_t tok[32], tokb[32], ih[20];
	size_t toklen, toklenb;
	uint64_t now = T0;
	unsigned stored = 0;
	(void)state;
	a.sin_addr.s_addr = htonl(0xc0000209); /* 192.0.2.9 */
	b.sin_addr.s_addr = htonl(0xc6336409); /* 198.51.100.9 */
	/* 3000 infohashes and ports from one IP: it may take the free half of
	 * the 4096 infohashes and no more */
	toklen = token_for(d, &k, &a, sizeof(a), now, tok);
	for (unsigned i = 0; i < 3000; i++) {
		now += 20;
		randombytes_buf(ih, sizeof(ih));
		stored += announce(d, &k, &a, sizeof(a), now, tok, toklen, ih,
		                   (uint16_t)(1000 + i)) == 0;
		if (i % 1000 == 999)
			toklen = token_for(d, &k, &a, sizeof(a), now, tok);
	}
	mt6d_dht_get_stats(d, &st);
	assert_int_equal(stored, 2048);
	assert_int_equal(st.peers, 2048);
	assert_int_equal(st.hashes, 2048);
	/* one infohash, many ports: the same share, no more */
	randombytes_buf(ih, sizeof(ih));
	assert_int_equal(announce(d, &k, &a, sizeof(a), now, tok, toklen, ih, 9), -1);
	/* another network still announces */
	toklenb = token_for(d, &k, &b, sizeof(b), now, tokb);
	assert_int_equal(announce(d, &k, &b, sizeof(b), now, tokb, toklenb, ih, 9), 0);
	/* after 30 minutes the peers expire and the share comes back */
	now += 30 * 60 * 1000 + 61000;
	mt6d_dht_tick(d, now);
	mt6d_dht_get_stats(d, &st);
	assert_int_equal(st.peers, 0);
	toklen = token_for(d, &k, &a, sizeof(a), now, tok);
	assert_int_equal(announce(d, &k, &a, sizeof(a), now, tok, toklen, ih, 9), 0);
	mt6d_dht_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_zeroed_config_limits),
	        cmocka_unit_test(test_flood_one_64),
	        cmocka_unit_test(test_flood_one_24),
	        cmocka_unit_test(test_flood_spread),
	        cmocka_unit_test(test_loopback_exempt),
	        cmocka_unit_test(test_items_one_source),
	        cmocka_unit_test(test_peers_one_source),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
