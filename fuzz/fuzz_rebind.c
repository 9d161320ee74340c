/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: rebinding. The first byte picks what the rest is:
 *   0  a claim, verified by servers with L = 4 and L = 16 (must not crash;
 *      random bytes cannot authenticate, so nothing may be accepted)
 *   1  an unrecognized-connection reply to decode, and a trigger to answer
 *      (a reply is never longer than its trigger)
 *   2  a grant to decode; a decoded grant re-encodes to the same bytes
 *   3  the fields of a real claim (connection, time, location, nonce) plus
 *      one byte position and a mask: the claim made from them is accepted
 *      (or refused as a replay), the claim with that byte changed never is.
 * Servers keep their state across inputs, as a real one would.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "mt6d/rebind.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW UINT64_C(1700000000000)

static struct mt6d_rebind_server *small, *big;
static struct mt6d_rebind_grant grants[16];

static void setup(void)
{
	static const uint8_t master[32] = "fuzz master, fixed for replays";
	struct mt6d_rebind_params p4 = {.levels = 4}, p16 = {.levels = 16};

	if (small)
		return;
	if (mt6d_init() < 0)
		abort();
	small = mt6d_rebind_server_new(&p4, master);
	big = mt6d_rebind_server_new(&p16, master);
	if (!small || !big)
		abort();
	for (uint32_t c = 0; c < 16; c++)
		if (mt6d_rebind_server_assign_at(small, c, NOW, &grants[c]) != 0)
			abort();
}

static void claim_fields(const uint8_t *p, size_t n)
{
	uint8_t in[1 + 8 + 18 + 24 + 2] = {0}, claim[MT6D_REBIND_CLAIM_LEN(4)];
	struct mt6d_rebind_loc loc;
	uint64_t t;
	size_t pos;
	int len, r;

	memcpy(in, p, n < sizeof(in) ? n : sizeof(in));
	t = NOW - 30000 + mt6d_get_be64(in + 1) % 60001;
	memcpy(loc.addr, in + 9, 16);
	loc.port = mt6d_get_be16(in + 25);
	len = mt6d_rebind_claim_nonce(claim, sizeof(claim), &grants[in[0] & 15], t, &loc, in + 27);
	if (len != (int)sizeof(claim))
		abort();
	pos = in[51] % sizeof(claim);
	if (in[52]) {
		claim[pos] ^= in[52];
		if (mt6d_rebind_server_verify(small, claim, sizeof(claim), &loc, NOW, NULL) == 0)
			abort();
		return;
	}
	r = mt6d_rebind_server_verify(small, claim, sizeof(claim), &loc, NOW, NULL);
	if (r != 0 && r != -EALREADY)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mt6d_rebind_loc from = {.addr = {0x20, 0x01, 0x0d, 0xb8}, .port = 1};
	struct mt6d_rebind_grant g;
	uint8_t out[MT6D_REBIND_GRANT_MAX], echo[MT6D_REBIND_ECHO_LEN];
	const uint8_t *p = data + 1;
	size_t n = size ? size - 1 : 0;
	int r;

	setup();
	if (size == 0)
		return 0;
	switch (data[0] & 3) {
	case 0:
		if (mt6d_rebind_server_verify(small, p, n, &from, NOW, NULL) == 0 ||
		    mt6d_rebind_server_verify(big, p, n, &from, NOW, NULL) == 0)
			abort();
		break;
	case 1:
		(void)mt6d_rebind_reply_decode(p, n, echo, &from);
		r = mt6d_rebind_reply_encode(out, sizeof(out), p, n, &from);
		if (r < 0 || (size_t)r > n)
			abort();
		break;
	case 2:
		if (mt6d_rebind_grant_decode(&g, p, n) == 0) {
			r = mt6d_rebind_grant_encode(out, sizeof(out), &g);
			if (r < 0 || (size_t)r != n || memcmp(out, p, n) != 0)
				abort();
		}
		break;
	case 3:
		claim_fields(p, n);
		break;
	}
	return 0;
}
