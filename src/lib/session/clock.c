/* SPDX-License-Identifier: MIT */
/*
 * How far the client's clock seems to be from the server's
 * (docs/sessions.md, "Clocks"). Protocol v1 carries the server's time in
 * one authenticated place, its keepalives (message 3, time_ms): each gives
 * a sample, the local time it arrived minus the server's time in it. The
 * estimate then follows the local wall clock against a clock that does not
 * step (the caller's boot-time clock): a wall clock set N s forward moves
 * the estimate N s, with or without a session.
 *
 * Rules this file keeps:
 *  - Pure: the caller passes both clocks; no state but the struct.
 *  - No sample, no estimate: "unknown" is never reported as 0.
 *  - What to say follows the estimate with hysteresis: "off" above the
 *    tolerance, "back" only at or below half of it, and "moved" while off
 *    only when it changed by a tolerance (at least 1 s), so a drifting
 *    clock is not logged every second.
 */
#include <stdlib.h>

#include "mt6d/client.h"

uint32_t mt6d_clock_tolerance_ms(uint32_t rot_ms)
{
	/* Receivers take slots i-1..i+1: a skew of one slot, less the path
	 * delay, still works; half a slot is where to say so. */
	if (!rot_ms)
		rot_ms = MT6D_DEFAULT_ROT_MS;
	return rot_ms / 2 ? rot_ms / 2 : 1;
}

void mt6d_clock_est_sample(struct mt6d_clock_est *e, int64_t offset_ms, uint64_t unix_ms,
                           uint64_t mono_ms)
{
	e->have = true;
	e->offset_ms = offset_ms;
	e->unix_ms = unix_ms;
	e->mono_ms = mono_ms;
	e->samples++;
}

bool mt6d_clock_est_get(const struct mt6d_clock_est *e, uint64_t unix_ms, uint64_t mono_ms,
                        int64_t *offset_ms)
{
	if (!e->have)
		return false;
	/* How much more the wall clock moved than the steady one since. */
	*offset_ms = e->offset_ms + ((int64_t)unix_ms - (int64_t)e->unix_ms) -
	             ((int64_t)mono_ms - (int64_t)e->mono_ms);
	return true;
}

enum mt6d_clock_news mt6d_clock_est_news(struct mt6d_clock_est *e, uint64_t unix_ms,
                                         uint64_t mono_ms, uint32_t tolerance_ms,
                                         int64_t *offset_ms)
{
	int64_t off, tol = tolerance_ms ? tolerance_ms : 1, step = tol > 1000 ? tol : 1000;

	if (!mt6d_clock_est_get(e, unix_ms, mono_ms, &off))
		return MT6D_CLOCK_NO_NEWS;
	*offset_ms = off;
	if (!e->off) {
		if (llabs(off) <= tol)
			return MT6D_CLOCK_NO_NEWS;
		e->off = true;
		e->said_ms = off;
		return MT6D_CLOCK_OFF;
	}
	if (llabs(off) <= tol / 2) {
		e->off = false;
		e->said_ms = off;
		return MT6D_CLOCK_BACK;
	}
	if (llabs(off - e->said_ms) >= step) {
		e->said_ms = off;
		return MT6D_CLOCK_MOVED;
	}
	return MT6D_CLOCK_NO_NEWS;
}
