/* SPDX-License-Identifier: MIT */
/*
 * Session window and table: rotation reports exactly the slots that enter
 * and leave, addresses are the pinned derivation, and the table finds every
 * live endpoint of 100,000 sessions and none that left, across rotations.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "mt6d/tunnel.h"

struct log {
	int adds, dels;
	uint64_t last_add, last_del;
};

static void on_slot(struct mt6d_tun_session *s, struct mt6d_tun_slot *sl, bool add, void *arg)
{
	struct log *l = arg;

	if (add) {
		l->adds++;
		l->last_add = sl->slot;
	} else {
		l->dels++;
		l->last_del = sl->slot;
	}
}

static void make_hosts(struct mt6d_tun_host *a, struct mt6d_tun_host *b)
{
	static const uint8_t pa[8] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0};
	static const uint8_t pb[8] = {0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0};

	memcpy(a->prefix, pa, 8);
	memcpy(b->prefix, pb, 8);
	randombytes_buf(a->iid, 8);
	randombytes_buf(b->iid, 8);
}

static void test_rotate(void **state)
{
	struct mt6d_tun_table *t = mt6d_tun_table_new();
	struct mt6d_tun_session c, s;
	struct mt6d_tun_host a, b;
	struct log l = {0};
	uint8_t ks[16], addr[16];
	uint16_t port;
	uint64_t slot;

	assert_non_null(t);
	randombytes_buf(ks, sizeof(ks));
	make_hosts(&a, &b);
	assert_int_equal(mt6d_tun_session_init(&c, ks, &a, &a, MT6D_ROLE_CLIENT, 1000, 0), -EINVAL);
	assert_int_equal(mt6d_tun_session_init(&c, ks, &a, &b, MT6D_ROLE_CLIENT, 0, 0), -EINVAL);
	assert_int_equal(mt6d_tun_session_init(&c, ks, &a, &b, MT6D_ROLE_CLIENT, 1000, 0), 0);
	assert_int_equal(mt6d_tun_session_init(&s, ks, &b, &a, MT6D_ROLE_SERVER, 1000, 0), 0);

	assert_int_equal(mt6d_tun_session_rotate(t, &c, 0, on_slot, &l), -EINVAL);
	assert_int_equal(mt6d_tun_session_rotate(t, &c, 100, on_slot, &l), 0);
	assert_int_equal(l.adds, 3);
	assert_int_equal(l.dels, 0);
	assert_int_equal(mt6d_tun_table_count(t), 3);
	/* Same slot again: nothing. */
	assert_int_equal(mt6d_tun_session_rotate(t, &c, 100, on_slot, &l), 0);
	assert_int_equal(l.adds, 3);
	/* One step: 99 leaves, 102 enters. */
	assert_int_equal(mt6d_tun_session_rotate(t, &c, 101, on_slot, &l), 0);
	assert_int_equal(l.adds, 4);
	assert_int_equal(l.dels, 1);
	assert_true(l.last_add == 102 && l.last_del == 99);
	assert_null(mt6d_tun_session_slot(&c, 99));
	assert_non_null(mt6d_tun_session_slot(&c, 100));
	assert_non_null(mt6d_tun_session_slot(&c, 102));

	/* The window's addresses are the pinned derivation, and each end's
	 * remote is the other's local. */
	assert_int_equal(mt6d_tun_session_rotate(t, &s, 101, NULL, NULL), 0);
	for (uint64_t k = 100; k <= 102; k++) {
		struct mt6d_tun_slot *x = mt6d_tun_session_slot(&c, k),
		                     *y = mt6d_tun_session_slot(&s, k);

		mt6d_slot_address(addr, &port, a.prefix, a.iid, ks, k);
		assert_memory_equal(x->local.addr, addr, 16);
		assert_int_equal(x->local.port, port);
		assert_memory_equal(x->remote.addr, y->local.addr, 16);
		assert_int_equal(x->remote.port, y->local.port);
		assert_ptr_equal(mt6d_tun_table_find(t, &y->local, &slot), &s);
		assert_true(slot == k);
		assert_ptr_equal(mt6d_tun_table_find(t, &x->local, &slot), &c);
	}
	/* A jump replaces the whole window. */
	assert_int_equal(mt6d_tun_session_rotate(t, &c, 1000, on_slot, &l), 0);
	assert_int_equal(l.dels, 4);
	assert_int_equal(l.adds, 7);
	assert_int_equal(mt6d_tun_table_count(t), 6);
	assert_true(c.stats.rotations == 3);

	mt6d_tun_session_clear(t, &c);
	mt6d_tun_session_clear(t, &s);
	assert_int_equal(mt6d_tun_table_count(t), 0);
	mt6d_tun_table_free(t);
	mt6d_tun_table_free(NULL);
}

static void test_many_sessions(void **state)
{
	enum { N = 100000 };
	struct mt6d_tun_table *t = mt6d_tun_table_new();
	struct mt6d_tun_session *ss = calloc(N, sizeof(*ss));
	struct mt6d_tun_host a, b;
	uint8_t ks[16];

	assert_non_null(t);
	assert_non_null(ss);
	make_hosts(&a, &b);
	for (int i = 0; i < N; i++) {
		randombytes_buf(ks, sizeof(ks)); /* each session its own key */
		assert_int_equal(
		        mt6d_tun_session_init(&ss[i], ks, &b, &a, MT6D_ROLE_SERVER, 3000, 0), 0);
		assert_int_equal(mt6d_tun_session_rotate(t, &ss[i], 500, NULL, NULL), 0);
	}
	assert_int_equal(mt6d_tun_table_count(t), 3 * N);
	for (uint64_t now = 501; now <= 503; now++) {
		for (int i = 0; i < N; i++)
			assert_int_equal(mt6d_tun_session_rotate(t, &ss[i], now, NULL, NULL), 0);
		assert_int_equal(mt6d_tun_table_count(t), 3 * N);
		for (int i = 0; i < N; i += 7) {
			for (int k = 0; k < MT6D_TUN_SLOTS; k++) {
				uint64_t slot;
				struct mt6d_tun_slot *sl = &ss[i].win[k];

				assert_ptr_equal(mt6d_tun_table_find(t, &sl->local, &slot), &ss[i]);
				assert_true(slot == sl->slot);
			}
		}
	}
	/* Endpoints of slots that left are gone. */
	{
		struct mt6d_endpoint ep;
		for (int i = 0; i < N; i += 997) {
			mt6d_slot_address(ep.addr, &ep.port, ss[i].local.prefix, ss[i].local.iid,
			                  ss[i].ks, 500);
			assert_null(mt6d_tun_table_find(t, &ep, NULL));
		}
	}
	for (int i = 0; i < N; i++)
		mt6d_tun_session_clear(t, &ss[i]);
	assert_int_equal(mt6d_tun_table_count(t), 0);
	free(ss);
	mt6d_tun_table_free(t);
}

/* Random adds and deletes against a plain array. */
static void test_table_random(void **state)
{
	enum { M = 4000, OPS = 60000 };
	struct mt6d_tun_table *t = mt6d_tun_table_new();
	struct mt6d_endpoint *eps = calloc(M, sizeof(*eps));
	bool *in = calloc(M, sizeof(*in));
	struct mt6d_tun_session dummy;
	size_t n = 0;

	assert_non_null(t);
	for (int i = 0; i < M; i++) {
		randombytes_buf(eps[i].addr, 16);
		eps[i].port = (uint16_t)(i & 3); /* many equal ports, distinct keys */
		if (i % 5 == 0 && i)
			memcpy(eps[i].addr, eps[i - 1].addr, 16); /* same addr, other port */
	}
	for (int op = 0; op < OPS; op++) {
		uint32_t i = randombytes_uniform(M);

		if (in[i]) {
			assert_int_equal(mt6d_tun_table_del(t, &eps[i], &dummy), 0);
			in[i] = false;
			n--;
		} else {
			int r = mt6d_tun_table_add(t, &eps[i], &dummy, i);
			if (r == -EEXIST)
				continue; /* an identical random endpoint */
			assert_int_equal(r, 0);
			assert_int_equal(mt6d_tun_table_add(t, &eps[i], &dummy, i), -EEXIST);
			in[i] = true;
			n++;
		}
		if (op % 1000 == 0)
			for (int k = 0; k < M; k++)
				assert_int_equal(mt6d_tun_table_find(t, &eps[k], NULL) != NULL,
				                 in[k]);
	}
	assert_int_equal(mt6d_tun_table_count(t), n);
	mt6d_tun_table_free(t);
	free(eps);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rotate),
	        cmocka_unit_test(test_many_sessions),
	        cmocka_unit_test(test_table_random),
	};
	if (mt6d_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
