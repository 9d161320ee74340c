/* SPDX-License-Identifier: MIT */
/*
 * A static tunnel key outlives a restart (issue 16): a datagram recorded
 * in the current slots and replayed after the receiver restarts must be
 * refused, while the running peer's new datagrams get through, and a
 * restarted sender is still accepted; and the counter's jump at each
 * rotation loses nothing reordered across it. Sessions as the static tunnel makes
 * them (mt6d_tun_session_init + mt6d_tun_session_clock), a fake slot clock.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "mt6d/mt6d.h"
#include "mt6d/tunnel.h"

#define ROT 1000 /* ms */

static const uint8_t ks[MT6D_INTRO_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static struct mt6d_tun_host ha = {.prefix = {0x20, 0x01, 0x0d, 0xb8, 0, 0xa}, .iid = {1}};
static struct mt6d_tun_host hb = {.prefix = {0x20, 0x01, 0x0d, 0xb8, 0, 0xb}, .iid = {2}};

/* A daemon's start at now_ms: init, clock, first rotation. */
static void start(struct mt6d_tun_session *s, enum mt6d_role role, uint64_t now_ms)
{
	const struct mt6d_tun_host *l = role == MT6D_ROLE_CLIENT ? &ha : &hb;
	const struct mt6d_tun_host *r = role == MT6D_ROLE_CLIENT ? &hb : &ha;
	assert_int_equal(mt6d_tun_session_init(s, ks, l, r, role, ROT, 0), 0);
	mt6d_tun_session_clock(s, now_ms);
	assert_int_equal(mt6d_tun_session_rotate(NULL, s, mt6d_slot(now_ms, ROT), NULL, NULL), 0);
}

static void tick(struct mt6d_tun_session *s, uint64_t now_ms)
{
	assert_int_equal(mt6d_tun_session_rotate(NULL, s, mt6d_slot(now_ms, ROT), NULL, NULL), 0);
}

static size_t seal(struct mt6d_tun_session *s, uint8_t *dg, size_t cap, uint8_t tag)
{
	uint8_t inner[40];
	int n;
	memset(inner, tag, sizeof(inner));
	inner[0] = 0x60;
	n = mt6d_encap_seal(&s->encap, dg, cap, inner, sizeof(inner));
	assert_true(n > 0);
	return (size_t)n;
}

static int open_(struct mt6d_tun_session *s, const uint8_t *dg, size_t n)
{
	uint8_t out[2048];
	return mt6d_encap_open(&s->encap, out, sizeof(out), dg, n, NULL);
}

static void test_replay_after_receiver_restart(void **state)
{
	struct mt6d_tun_session a, b;
	uint8_t rec[256], dg[256];
	size_t nrec, n;
	uint64_t t = UINT64_C(1700000000000); /* ms */
	(void)state;
	start(&a, MT6D_ROLE_CLIENT, t);
	start(&b, MT6D_ROLE_SERVER, t + 3);
	/* running: A's datagrams reach B once A's counters pass B's start */
	t += 2 * ROT + 100;
	tick(&a, t);
	tick(&b, t);
	nrec = seal(&a, rec, sizeof(rec), 1); /* the attacker records this one */
	assert_int_equal(open_(&b, rec, nrec), 40);
	assert_int_equal(open_(&b, rec, nrec), -EEXIST); /* an ordinary replay */
	for (int i = 0; i < 100; i++) {
		n = seal(&a, dg, sizeof(dg), 2);
		assert_int_equal(open_(&b, dg, n), 40);
	}
	/* B restarts 300 ms later, inside the same slots: the recording is
	 * authentic and its slot is in B's window, but it is refused */
	t += 300;
	mt6d_tun_session_clear(NULL, &b);
	start(&b, MT6D_ROLE_SERVER, t);
	assert_int_equal(open_(&b, rec, nrec), -EEXIST);
	/* so is anything else A sent before the restart */
	n = seal(&a, dg, sizeof(dg), 3);
	assert_int_equal(open_(&b, dg, n), -EEXIST);
	/* A's datagrams sent after B's floor (two rotations later at most)
	 * are accepted; the recording still is not */
	t += 2 * ROT;
	tick(&a, t);
	tick(&b, t);
	n = seal(&a, dg, sizeof(dg), 4);
	assert_int_equal(open_(&b, dg, n), 40);
	assert_int_equal(open_(&b, rec, nrec), -EEXIST);
	mt6d_tun_session_clear(NULL, &a);
	mt6d_tun_session_clear(NULL, &b);
}

static void test_sender_ahead_replayed(void **state)
{
	struct mt6d_tun_session a, b;
	uint8_t rec[256];
	size_t nrec;
	uint64_t t = UINT64_C(1700000000000), skew = ROT * 9 / 10; /* A's clock ahead */
	(void)state;
	start(&a, MT6D_ROLE_CLIENT, t + skew);
	start(&b, MT6D_ROLE_SERVER, t);
	t += 3 * ROT;
	tick(&a, t + skew);
	tick(&b, t);
	nrec = seal(&a, rec, sizeof(rec), 1);
	assert_int_equal(open_(&b, rec, nrec), 40);
	/* B restarts at once: A's counters run up to 0.9 rotation ahead of
	 * B's clock, still below B's floor */
	mt6d_tun_session_clear(NULL, &b);
	start(&b, MT6D_ROLE_SERVER, t + 1);
	assert_int_equal(open_(&b, rec, nrec), -EEXIST);
	mt6d_tun_session_clear(NULL, &a);
	mt6d_tun_session_clear(NULL, &b);
}

static void test_sender_restart_accepted(void **state)
{
	struct mt6d_tun_session a, b;
	uint8_t dg[256];
	size_t n;
	uint64_t t = UINT64_C(1700000000000);
	(void)state;
	start(&a, MT6D_ROLE_CLIENT, t);
	start(&b, MT6D_ROLE_SERVER, t);
	t += 2 * ROT + 1;
	tick(&a, t);
	tick(&b, t);
	/* a burst far above the clock: 100,000 datagrams in one slot */
	for (int i = 0; i < 100000; i++) {
		n = seal(&a, dg, sizeof(dg), 1);
		if (i % 1000 == 0)
			assert_int_equal(open_(&b, dg, n), 40);
	}
	/* A restarts 50 ms later: its new counters start above the old */
	t += 50;
	mt6d_tun_session_clear(NULL, &a);
	start(&a, MT6D_ROLE_CLIENT, t);
	n = seal(&a, dg, sizeof(dg), 2);
	assert_int_equal(open_(&b, dg, n), 40);
	mt6d_tun_session_clear(NULL, &a);
	mt6d_tun_session_clear(NULL, &b);
}

static void test_reordered_across_rotation(void **state)
{
	struct mt6d_tun_session a, b;
	uint8_t old[8][256], neu[8][256];
	size_t nold[8], nneu[8];
	uint64_t t = UINT64_C(1700000000000);
	(void)state;
	start(&a, MT6D_ROLE_CLIENT, t);
	start(&b, MT6D_ROLE_SERVER, t);
	t += 3 * ROT;
	tick(&a, t);
	tick(&b, t);
	for (int i = 0; i < 8; i++)
		nold[i] = seal(&a, old[i], sizeof(old[i]), 1);
	/* A rotates (its counter jumps to the new slot's start); B reads the
	 * new slot's socket first, then what was still queued on the old */
	t += ROT;
	tick(&a, t);
	for (int i = 0; i < 8; i++)
		nneu[i] = seal(&a, neu[i], sizeof(neu[i]), 2);
	assert_int_equal(open_(&b, old[0], nold[0]), 40); /* read before the edge */
	for (int i = 0; i < 8; i++)
		assert_int_equal(open_(&b, neu[i], nneu[i]), 40);
	for (int i = 1; i < 8; i++)
		assert_int_equal(open_(&b, old[i], nold[i]), 40);
	/* each still counts once */
	for (int i = 0; i < 8; i++) {
		assert_int_equal(open_(&b, old[i], nold[i]), -EEXIST);
		assert_int_equal(open_(&b, neu[i], nneu[i]), -EEXIST);
	}
	mt6d_tun_session_clear(NULL, &a);
	mt6d_tun_session_clear(NULL, &b);
}

static void test_previous_window_rows(void **state)
{
	const uint64_t J = MT6D_REPLAY_JUMP, P = MT6D_REPLAY_PREV_WORDS * 64;
	static const int ok[] = {1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0};
	uint64_t rows[13];
	struct mt6d_replay r;
	(void)state;
	rows[0] = 5000;            /* the top */
	rows[1] = 4990;            /* in the window */
	rows[2] = 5000 + J;        /* a jump: 5000's window becomes the previous */
	rows[3] = 4990;            /* seen before the jump */
	rows[4] = 4980;            /* not seen: accepted in the previous window */
	rows[5] = 4980;            /* ... once */
	rows[6] = 5000 - (P - 64); /* the oldest the previous window holds */
	rows[7] = 5001;            /* sent before the jump, read after it */
	rows[8] = 5001;            /* ... once */
	rows[9] = 5000 + J - 10;   /* in the current window */
	rows[10] = 5000 + J - 10;
	rows[11] = 5001 + P - 64; /* the previous window moves up too */
	rows[12] = 4990;          /* and its bottom with it */
	mt6d_replay_init(&r);
	for (size_t i = 0; i < 13; i++)
		if (mt6d_replay_check(&r, rows[i]) != ok[i])
			fail_msg("row %zu: counter %llu: want %d", i + 1,
			         (unsigned long long)rows[i], ok[i]);
}

static void test_unclocked_unchanged(void **state)
{
	struct mt6d_tun_session a, b;
	uint8_t dg[256];
	size_t n;
	(void)state;
	/* sessions with a fresh key per session (not clocked) keep counting
	 * from counter_start, and the receiver has no floor */
	assert_int_equal(mt6d_tun_session_init(&a, ks, &ha, &hb, MT6D_ROLE_CLIENT, ROT, 0), 0);
	assert_int_equal(mt6d_tun_session_init(&b, ks, &hb, &ha, MT6D_ROLE_SERVER, ROT, 0), 0);
	assert_int_equal(mt6d_tun_session_rotate(NULL, &a, 1700000000, NULL, NULL), 0);
	assert_int_equal(a.encap.tx_counter, 0);
	n = seal(&a, dg, sizeof(dg), 1);
	assert_int_equal(open_(&b, dg, n), 40);
	mt6d_tun_session_clear(NULL, &a);
	mt6d_tun_session_clear(NULL, &b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_replay_after_receiver_restart),
	        cmocka_unit_test(test_sender_ahead_replayed),
	        cmocka_unit_test(test_sender_restart_accepted),
	        cmocka_unit_test(test_reordered_across_rotation),
	        cmocka_unit_test(test_previous_window_rows),
	        cmocka_unit_test(test_unclocked_unchanged),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
