/* SPDX-License-Identifier: MIT */
/* Port stuffing: round trips, mixed announcers, junk that must be skipped,
 * and the reader's open-every-group loop against a real sealed message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/internal.h"

struct found {
	uint8_t msg[MT6D_STUFF_MAX];
	size_t len;
	struct mt6d_endpoint ip;
	int groups;
};

static int keep_last(const struct mt6d_endpoint *ip, const uint8_t *msg, size_t len, void *arg)
{
	struct found *f = arg;
	memcpy(f->msg, msg, len);
	f->len = len;
	f->ip = *ip;
	f->groups++;
	return 0;
}

static void shuffle(struct mt6d_endpoint *p, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = randombytes_uniform((uint32_t)i);
		struct mt6d_endpoint t = p[i - 1];
		p[i - 1] = p[j];
		p[j] = t;
	}
}

static void round_trip(size_t len)
{
	uint8_t m[MT6D_STUFF_MAX];
	uint16_t ports[MT6D_STUFF_MAX];
	struct mt6d_endpoint peers[MT6D_STUFF_MAX];
	struct found f = {0};

	for (int iter = 0; iter < 50; iter++) {
		randombytes_buf(m, len);
		assert_int_equal(mt6d_stuff_encode(ports, m, len), 0);
		for (size_t i = 0; i < len; i++) {
			assert_true(ports[i] >= 256); /* high byte never 0 */
			assert_int_equal(ports[i] & 0xff, m[i]);
			if (i)
				assert_true(ports[i] >> 8 > ports[i - 1] >> 8);
			mt6d_endpoint_set(&peers[i], (const uint8_t *)"\xc0\x00\x02\x01", 4,
			                  ports[i]); /* 192.0.2.1 */
		}
		shuffle(peers, len);
		f.groups = 0;
		assert_int_equal(mt6d_stuff_decode(peers, len, keep_last, &f), 1);
		assert_int_equal(f.len, len);
		assert_memory_equal(f.msg, m, len);
	}
}

static void test_round_trip_1(void **state)
{
	round_trip(1);
}
static void test_round_trip_85(void **state)
{
	round_trip(85);
	round_trip(103); /* version 2 */
}
static void test_round_trip_255(void **state)
{
	round_trip(255);
}

static void test_length_limits(void **state)
{
	uint8_t m[256] = {0};
	uint16_t ports[256];
	uint8_t highs[2] = {5, 5};

	assert_int_equal(mt6d_stuff_encode(ports, m, 0), -EMSGSIZE);
	assert_int_equal(mt6d_stuff_encode(ports, m, 256), -EMSGSIZE);
	assert_int_equal(mt6d_stuff_encode_with(ports, m, 2, highs), -EINVAL);
	highs[0] = 0;
	assert_int_equal(mt6d_stuff_encode_with(ports, m, 2, highs), -EINVAL);
}

/* The reader's loop: try to open every group; stop at the first that opens. */
struct opener {
	const uint8_t *boxkey;
	struct mt6d_config cfg;
	int tried, opened;
};

static int try_open(const struct mt6d_endpoint *ip, const uint8_t *msg, size_t len, void *arg)
{
	struct opener *o = arg;
	o->tried++;
	if (mt6d_config_open_afternm(&o->cfg, msg, len, o->boxkey) == 0) {
		o->opened = 1;
		return 1;
	}
	return 0;
}

/* Version 1 (85 bytes), or with an underlay version 2 (103 bytes). */
static void mixed_announcers(uint16_t underlay_port)
{
	uint8_t spriv[32], cpriv[32], spub[32], cpub[32], sk[32], ck[32];
	uint8_t m[MT6D_SEALED_MAX], junk[MT6D_SEALED_MAX];
	uint16_t ports[MT6D_SEALED_MAX];
	struct mt6d_endpoint peers[8 * MT6D_SEALED_MAX + 64];
	struct mt6d_config c = {.window = 900, .rot_ms = 3000, .underlay_port = underlay_port};
	size_t n = 0, mlen;

	mt6d_key_generate(spriv);
	mt6d_key_generate(cpriv);
	assert_int_equal(mt6d_key_public(spub, spriv), 0);
	assert_int_equal(mt6d_key_public(cpub, cpriv), 0);
	assert_int_equal(mt6d_box_key(sk, spriv, cpub), 0);
	assert_int_equal(mt6d_box_key(ck, cpriv, spub), 0);
	randombytes_buf(c.seed_addr, 16);
	randombytes_buf(c.intro_key, 16);
	memcpy(c.underlay_addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff\xcb\x00\x71\x01", 16);
	mlen = mt6d_config_seal_afternm(m, &c, sk);
	assert_int_equal(mlen, underlay_port ? MT6D_SEALED_V2_LEN : MT6D_SEALED_LEN);

	/* The server at 2001:db8::1 announces the real message. */
	assert_int_equal(mt6d_stuff_encode(ports, m, mlen), 0);
	for (size_t i = 0; i < mlen; i++, n++) {
		mt6d_endpoint_set(&peers[n],
		                  (const uint8_t *)"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16,
		                  ports[i]);
	}
	/* Six other IPs (v4 and v6) announce well-formed junk of the same length. */
	for (int who = 0; who < 6; who++) {
		randombytes_buf(junk, mlen);
		assert_int_equal(mt6d_stuff_encode(ports, junk, mlen), 0);
		for (size_t i = 0; i < mlen; i++, n++) {
			uint8_t ip[16];
			size_t iplen = who % 2 ? 4 : 16;
			if (who % 2)
				memcpy(ip, "\xcb\x00\x71\x00", 4); /* 203.0.113.x */
			else
				memcpy(ip, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02", 16);
			ip[iplen - 1] = (uint8_t)(10 + who);
			mt6d_endpoint_set(&peers[n], ip, iplen, ports[i]);
		}
	}
	/* An IP whose ports repeat a high byte, and one with high byte 0. */
	for (int i = 0; i < 10; i++, n++) {
		mt6d_endpoint_set(&peers[n], (const uint8_t *)"\xc6\x33\x64\x07", 4,
		                  (uint16_t)(0x0500 | i));
	}
	mt6d_endpoint_set(&peers[n++], (const uint8_t *)"\xc6\x33\x64\x08", 4, 0x0042);
	shuffle(peers, n);

	struct found f = {0};
	assert_int_equal(mt6d_stuff_decode(peers, n, keep_last, &f), 7);

	struct opener o = {.boxkey = ck};
	assert_int_equal(mt6d_stuff_decode(peers, n, try_open, &o), 1);
	assert_true(o.opened);
	assert_true(o.tried >= 1 && o.tried <= 7);
	assert_int_equal(o.cfg.window, 900);
	assert_memory_equal(o.cfg.intro_key, c.intro_key, 16);
	assert_int_equal(o.cfg.version, underlay_port ? 2 : 1);
	assert_int_equal(o.cfg.underlay_port, underlay_port);
	if (underlay_port)
		assert_memory_equal(o.cfg.underlay_addr, c.underlay_addr, 16);
}

static void test_mixed_announcers(void **state)
{
	mixed_announcers(0);
}

static void test_mixed_announcers_v2(void **state)
{
	mixed_announcers(7000);
}

static void test_empty(void **state)
{
	struct found f = {0};
	assert_int_equal(mt6d_stuff_decode(NULL, 0, keep_last, &f), 0);
	assert_int_equal(f.groups, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trip_1),        cmocka_unit_test(test_round_trip_85),
	        cmocka_unit_test(test_round_trip_255),      cmocka_unit_test(test_length_limits),
	        cmocka_unit_test(test_mixed_announcers),    cmocka_unit_test(test_empty),
	        cmocka_unit_test(test_mixed_announcers_v2),
	};
	if (mt6d_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
