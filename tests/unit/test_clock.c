/* SPDX-License-Identifier: MIT */
/* The client's estimate of its clock against the server's (clock.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mt6d/client.h"

#define U0 1700000000000ull /* a wall clock, ms */
#define M0 5000000ull       /* a boot-time clock, ms */

static void test_unknown(void **state)
{
	struct mt6d_clock_est e = {0};
	int64_t off = 12345;

	(void)state;
	assert_false(mt6d_clock_est_get(&e, U0, M0, &off));
	assert_int_equal(off, 12345); /* untouched: unknown is not 0 */
	assert_int_equal(mt6d_clock_est_news(&e, U0, M0, 500, &off), MT6D_CLOCK_NO_NEWS);
}

/* Between samples the estimate moves only with what the wall clock does
 * beyond the steady clock: a step of +5 s and then -65 s. */
static void test_follows_steps(void **state)
{
	struct mt6d_clock_est e = {0};
	int64_t off;

	(void)state;
	mt6d_clock_est_sample(&e, 12, U0, M0);
	assert_true(mt6d_clock_est_get(&e, U0, M0, &off));
	assert_int_equal(off, 12);
	/* 10 minutes later, both clocks advanced alike */
	assert_true(mt6d_clock_est_get(&e, U0 + 600000, M0 + 600000, &off));
	assert_int_equal(off, 12);
	/* the wall clock set 5 s forward */
	assert_true(mt6d_clock_est_get(&e, U0 + 605000, M0 + 600000, &off));
	assert_int_equal(off, 5012);
	/* then 65 s back */
	assert_true(mt6d_clock_est_get(&e, U0 + 540000, M0 + 600000, &off));
	assert_int_equal(off, -59988);
	/* a new sample replaces the old one */
	mt6d_clock_est_sample(&e, -3, U0 + 1000, M0 + 700000);
	assert_true(mt6d_clock_est_get(&e, U0 + 2000, M0 + 701000, &off));
	assert_int_equal(off, -3);
	assert_int_equal(e.samples, 2);
}

static void test_news(void **state)
{
	struct mt6d_clock_est e = {0};
	uint64_t m = M0;
	int64_t off = 0;

	(void)state;
	assert_int_equal(mt6d_clock_tolerance_ms(1000), 500);
	assert_int_equal(mt6d_clock_tolerance_ms(0), MT6D_DEFAULT_ROT_MS / 2);
	mt6d_clock_est_sample(&e, 20, U0, m);
	/* within the tolerance: nothing to say, however often asked */
	assert_int_equal(mt6d_clock_est_news(&e, U0 + 1000, m + 1000, 500, &off),
	                 MT6D_CLOCK_NO_NEWS);
	assert_int_equal(off, 20);
	assert_int_equal(mt6d_clock_est_news(&e, U0 + 1480, m + 1000, 500, &off),
	                 MT6D_CLOCK_NO_NEWS);
	/* +5 s: said once */
	assert_int_equal(mt6d_clock_est_news(&e, U0 + 7000, m + 2000, 500, &off), MT6D_CLOCK_OFF);
	assert_int_equal(off, 5020);
	assert_int_equal(mt6d_clock_est_news(&e, U0 + 8000, m + 3000, 500, &off),
	                 MT6D_CLOCK_NO_NEWS);
	/* drifting by less than a second is no news; a second more is */
	assert_int_equal(mt6d_clock_est_news(&e, U0 + 8900, m + 3000, 500, &off),
	                 MT6D_CLOCK_NO_NEWS);
	assert_int_equal(mt6d_clock_est_news(&e, U0 + 9000, m + 3000, 500, &off), MT6D_CLOCK_MOVED);
	assert_int_equal(off, 6020);
	/* to -60 s: moved */
	assert_int_equal(mt6d_clock_est_news(&e, U0 - 57000, m + 3000, 500, &off),
	                 MT6D_CLOCK_MOVED);
	assert_int_equal(off, -59980);
	/* back near the tolerance is not back yet (hysteresis)... */
	assert_int_equal(mt6d_clock_est_news(&e, U0 + 3300, m + 3000, 500, &off), MT6D_CLOCK_MOVED);
	assert_int_equal(mt6d_clock_est_news(&e, U0 + 3300, m + 3000, 500, &off),
	                 MT6D_CLOCK_NO_NEWS);
	/* ...within half of it is */
	assert_int_equal(mt6d_clock_est_news(&e, U0 + 3100, m + 3000, 500, &off), MT6D_CLOCK_BACK);
	assert_int_equal(off, 120);
	assert_int_equal(mt6d_clock_est_news(&e, U0 + 3100, m + 3000, 500, &off),
	                 MT6D_CLOCK_NO_NEWS);
	/* and off again on the other side */
	assert_int_equal(mt6d_clock_est_news(&e, U0 + 2000, m + 3000, 500, &off), MT6D_CLOCK_OFF);
	assert_int_equal(off, -980);
}

/* A large tolerance (rotation 10 s): "moved" needs the tolerance, not 1 s. */
static void test_moved_step(void **state)
{
	struct mt6d_clock_est e = {0};
	int64_t off = 0;

	(void)state;
	mt6d_clock_est_sample(&e, 0, U0, M0);
	assert_int_equal(mt6d_clock_est_news(&e, U0 + 6000, M0, 5000, &off), MT6D_CLOCK_OFF);
	assert_int_equal(mt6d_clock_est_news(&e, U0 + 10000, M0, 5000, &off), MT6D_CLOCK_NO_NEWS);
	assert_int_equal(mt6d_clock_est_news(&e, U0 + 11000, M0, 5000, &off), MT6D_CLOCK_MOVED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_unknown),
	        cmocka_unit_test(test_follows_steps),
	        cmocka_unit_test(test_news),
	        cmocka_unit_test(test_moved_step),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
