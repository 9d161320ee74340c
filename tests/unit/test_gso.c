/* SPDX-License-Identifier: MIT */
/*
 * TCP/IPv6 segmentation and checksums against a naive 16-bit reference:
 * every segment's checksum verifies, payloads concatenate to the original,
 * sequence numbers and flags are what the kernel's TSO would produce.
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
#include "tcp6_ref.h"

static size_t make_packet(uint8_t *p, size_t payload, uint8_t flags)
{
	static const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	static const uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

	memset(p, 0, 72);
	p[0] = 0x60;
	mt6d_put_be16(p + 4, (uint16_t)(32 + payload));
	p[6] = 6;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	mt6d_put_be16(p + 40, 5001);
	mt6d_put_be16(p + 42, 40000);
	mt6d_put_be32(p + 44, 0xfffff000u); /* wraps inside the packet */
	mt6d_put_be32(p + 48, 12345);
	p[52] = 8 << 4; /* 32-byte header: timestamps */
	p[53] = flags;
	mt6d_put_be16(p + 54, 500);
	p[60] = 1;
	p[61] = 1;
	p[62] = 8;
	p[63] = 10;
	randombytes_buf(p + 64, 8);
	randombytes_buf(p + 72, payload);
	return 72 + payload;
}

static void test_split(void **state)
{
	enum { PAY = 10001, MSS = 1000, STRIDE = 1200, OFF = 32 };
	static uint8_t pkt[72 + PAY], out[16 * STRIDE], joined[PAY];
	size_t lens[16], len = make_packet(pkt, PAY, 0x80 | 0x10 | 0x08 | 0x01);
	int n = mt6d_gso_split_tcp6(pkt, len, MSS, out, STRIDE, OFF, lens, 16);

	assert_int_equal(n, 11);
	for (int k = 0; k < n; k++) {
		uint8_t *s = out + (size_t)k * STRIDE + OFF;
		size_t pl = lens[k] - 72;

		assert_int_equal(pl, k < 10 ? MSS : 1);
		assert_int_equal(mt6d_get_be16(s + 4), 32 + pl);
		assert_int_equal(naive_tcp6(s, lens[k]), 0xffff);
		assert_int_equal(mt6d_get_be32(s + 44),
		                 (uint32_t)(0xfffff000u + (uint32_t)k * MSS));
		assert_int_equal(s[53] & 0x80, k == 0 ? 0x80 : 0);
		assert_int_equal(s[53] & 0x09, k == n - 1 ? 0x09 : 0);
		assert_int_equal(s[53] & 0x10, 0x10);
		assert_memory_equal(s + 60, pkt + 60, 12); /* options kept */
		memcpy(joined + (size_t)k * MSS, s + 72, pl);
	}
	assert_memory_equal(joined, pkt + 72, PAY);

	assert_int_equal(mt6d_gso_split_tcp6(pkt, len, MSS, out, STRIDE, OFF, lens, 10), -EMSGSIZE);
	assert_int_equal(mt6d_gso_split_tcp6(pkt, len, MSS, out, 1000, OFF, lens, 16), -EMSGSIZE);
	pkt[6] = 17;
	assert_int_equal(mt6d_gso_split_tcp6(pkt, len, MSS, out, STRIDE, OFF, lens, 16),
	                 -EPROTONOSUPPORT);
	assert_int_equal(mt6d_gso_split_tcp6(pkt, 50, MSS, out, STRIDE, OFF, lens, 16),
	                 -EPROTONOSUPPORT);
}

static void test_complete(void **state)
{
	static uint8_t pkt[72 + 777];
	size_t len = make_packet(pkt, 777, 0x18);
	uint32_t ph = 0;

	/* CHECKSUM_PARTIAL as the kernel leaves it: the field holds the folded
	 * pseudo-header sum, not inverted. */
	for (size_t i = 8; i < 40; i += 2)
		ph += (uint32_t)(pkt[i] << 8 | pkt[i + 1]);
	ph += (uint32_t)(len - 40) + 6;
	while (ph >> 16)
		ph = (ph & 0xffff) + (ph >> 16);
	mt6d_put_be16(pkt + 56, (uint16_t)ph);
	assert_int_equal(mt6d_csum_complete(pkt, len, 40, 16), 0);
	assert_int_equal(naive_tcp6(pkt, len), 0xffff);
	assert_int_equal(mt6d_csum_complete(pkt, len, len - 1, 16), -EINVAL);
	assert_int_equal(mt6d_csum_complete(pkt, len, len + 1, 0), -EINVAL);
}

/* Split, then coalesce: the superpacket comes back byte for byte but the
 * checksum field, which then holds the pseudo-header sum. */
static void test_coalesce(void **state)
{
	enum { PAY = 20000, MSS = 1300, STRIDE = 1500 };
	static uint8_t pkt[72 + PAY], out[20 * STRIDE], cbuf[40 + 65535];
	size_t lens[20], len = make_packet(pkt, PAY, 0x18);
	struct mt6d_gro g = {.buf = cbuf, .cap = sizeof(cbuf)};
	int n = mt6d_gso_split_tcp6(pkt, len, MSS, out, STRIDE, 0, lens, 20);

	assert_int_equal(n, 16);
	assert_true(mt6d_gro_start(&g, out, lens[0]));
	for (int k = 1; k < n; k++)
		assert_true(mt6d_gro_add(&g, out + (size_t)k * STRIDE, lens[k]));
	/* Closed by the short last segment with PSH. */
	assert_false(mt6d_gro_add(&g, out, lens[0]));
	mt6d_gro_finish(&g);
	assert_int_equal(g.len, len);
	assert_int_equal(g.nseg, 16);
	assert_int_equal(g.mss, MSS);
	assert_int_equal(g.hl, 72);
	assert_memory_equal(g.buf, pkt, 56);
	assert_memory_equal(g.buf + 58, pkt + 58, len - 58);

	/* Out of order, another flow, a SYN: not joined. */
	assert_true(mt6d_gro_start(&g, out, lens[0]));
	assert_false(mt6d_gro_add(&g, out + 2 * STRIDE, lens[2]));
	out[STRIDE + 41] ^= 1; /* source port */
	assert_false(mt6d_gro_add(&g, out + STRIDE, lens[1]));
	out[STRIDE + 41] ^= 1;
	out[STRIDE + 53] |= 0x02;
	assert_false(mt6d_gro_add(&g, out + STRIDE, lens[1]));
	out[STRIDE + 53] &= (uint8_t)~0x02;
	out[STRIDE + 65] ^= 1; /* timestamp option */
	assert_false(mt6d_gro_add(&g, out + STRIDE, lens[1]));
	out[STRIDE + 65] ^= 1;
	assert_true(mt6d_gro_add(&g, out + STRIDE, lens[1]));
	/* A pure ACK never starts one. */
	assert_false(mt6d_gro_start(&g, pkt, 72));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_split),
	        cmocka_unit_test(test_complete),
	        cmocka_unit_test(test_coalesce),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
