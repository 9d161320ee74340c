/* SPDX-License-Identifier: MIT */
/* Configuration encode/decode and the sealed message, versions 1 and 2:
 * tampering, truncation, wrong keys, versions, lengths. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/internal.h"

static uint8_t spriv[32], spub[32], cpriv[32], cpub[32];

static const uint8_t underlay4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 1};
static const uint8_t underlay6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

static struct mt6d_config sample(void)
{
	struct mt6d_config c = {.version = 1, .window = 1700000100, .rot_ms = 3000};
	randombytes_buf(c.seed_addr, 16);
	randombytes_buf(c.intro_key, 16);
	return c;
}

/* Version 2: v = 4 gives an IPv4-mapped underlay, else IPv6. */
static struct mt6d_config sample2(int v)
{
	struct mt6d_config c = sample();
	c.version = 2;
	memcpy(c.underlay_addr, v == 4 ? underlay4 : underlay6, 16);
	c.underlay_port = v == 4 ? 7000 : 443;
	return c;
}

static void assert_config_equal(const struct mt6d_config *a, const struct mt6d_config *b)
{
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->window, b->window);
	assert_int_equal(a->rot_ms, b->rot_ms);
	assert_memory_equal(a->seed_addr, b->seed_addr, 16);
	assert_memory_equal(a->intro_key, b->intro_key, 16);
	assert_memory_equal(a->underlay_addr, b->underlay_addr, 16);
	assert_int_equal(a->underlay_port, b->underlay_port);
}

/* Seal any plaintext, bypassing the encoder. */
static void seal_raw(uint8_t *m, const uint8_t *pt, size_t len)
{
	randombytes_buf(m, MT6D_NONCE_LEN);
	assert_int_equal(crypto_box_easy(m + MT6D_NONCE_LEN, pt, len, m, cpub, spriv), 0);
}

static void test_round_trip(void **state)
{
	struct mt6d_config cs[3] = {sample(), sample2(4), sample2(6)}, d;
	static const int want[3] = {MT6D_SEALED_LEN, MT6D_SEALED_V2_LEN, MT6D_SEALED_V2_LEN};

	for (int i = 0; i < 3; i++) {
		uint8_t m[MT6D_SEALED_MAX], m2[MT6D_SEALED_MAX];

		assert_int_equal(mt6d_config_seal(m, &cs[i], cpub, spriv), want[i]);
		assert_int_equal(mt6d_config_open(&d, m, (size_t)want[i], spub, cpriv), 0);
		assert_config_equal(&cs[i], &d);
		/* A fresh random nonce each time: two seals of one config differ. */
		assert_int_equal(mt6d_config_seal(m2, &cs[i], cpub, spriv), want[i]);
		assert_memory_not_equal(m, m2, MT6D_NONCE_LEN);
		assert_memory_not_equal(m + MT6D_NONCE_LEN, m2 + MT6D_NONCE_LEN,
		                        (size_t)want[i] - MT6D_NONCE_LEN);
	}
}

static void test_encode_layout(void **state)
{
	struct mt6d_config c = sample2(4), d;
	uint8_t pt[MT6D_CONFIG_MAX + 1];

	/* The version follows underlay_port; the version field is not read. */
	c.version = 1;
	memset(pt, 0xee, sizeof(pt));
	assert_int_equal(mt6d_config_len(&c), MT6D_CONFIG_V2_LEN);
	assert_int_equal(mt6d_config_encode(pt, &c), MT6D_CONFIG_V2_LEN);
	assert_int_equal(pt[0], 2);
	assert_memory_equal(pt + 45, underlay4, 16);
	assert_int_equal(pt[61], 7000 >> 8);
	assert_int_equal(pt[62], 7000 & 0xff);
	assert_int_equal(pt[63], 0xee);
	/* The IPv4-mapped address comes back as it went. */
	assert_int_equal(mt6d_config_decode(&d, pt, MT6D_CONFIG_V2_LEN), 0);
	assert_int_equal(d.version, 2);
	assert_memory_equal(d.underlay_addr, underlay4, 16);
	assert_int_equal(d.underlay_port, 7000);

	/* No port: version 1, 45 bytes, as before version 2 existed; the
	 * address is ignored without a port. */
	c.version = 2;
	c.underlay_port = 0;
	memset(pt, 0xee, sizeof(pt));
	assert_int_equal(mt6d_config_len(&c), MT6D_CONFIG_LEN);
	assert_int_equal(mt6d_config_encode(pt, &c), MT6D_CONFIG_LEN);
	assert_int_equal(pt[0], 1);
	assert_int_equal(mt6d_get_be64(pt + 1), c.window);
	assert_int_equal(mt6d_get_be32(pt + 9), c.rot_ms);
	assert_memory_equal(pt + 13, c.seed_addr, 16);
	assert_memory_equal(pt + 29, c.intro_key, 16);
	assert_int_equal(pt[45], 0xee);
	memset(&d, 0xaa, sizeof(d));
	assert_int_equal(mt6d_config_decode(&d, pt, MT6D_CONFIG_LEN), 0);
	assert_int_equal(d.version, 1);
	assert_int_equal(d.underlay_port, 0);
	assert_memory_equal(d.underlay_addr, (uint8_t[16]){0}, 16);
}

static void test_every_bit_flip_fails(void **state)
{
	struct mt6d_config cs[2] = {sample(), sample2(6)}, d;

	for (int i = 0; i < 2; i++) {
		uint8_t m[MT6D_SEALED_MAX];
		int len = mt6d_config_seal(m, &cs[i], cpub, spriv);

		assert_true(len > 0);
		for (size_t bit = 0; bit < 8 * (size_t)len; bit++) {
			m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			if (mt6d_config_open(&d, m, (size_t)len, spub, cpriv) != -EBADMSG)
				fail_msg("version %d: flipping bit %zu did not make open fail",
				         i + 1, bit);
			m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		assert_int_equal(mt6d_config_open(&d, m, (size_t)len, spub, cpriv), 0);
	}
}

static void test_truncated_and_long(void **state)
{
	struct mt6d_config cs[2] = {sample(), sample2(4)}, d;

	for (int i = 0; i < 2; i++) {
		uint8_t m[MT6D_SEALED_MAX + 2] = {0};
		int len = mt6d_config_seal(m, &cs[i], cpub, spriv);

		/* Every length but 85 and 103 is refused before anything else. */
		for (size_t l = 0; l <= MT6D_SEALED_MAX + 1; l++) {
			int ret = mt6d_config_open(&d, m, l, spub, cpriv);
			if (l == (size_t)len)
				assert_int_equal(ret, 0);
			else if (l == MT6D_SEALED_LEN || l == MT6D_SEALED_V2_LEN)
				assert_int_equal(ret, -EBADMSG); /* the other version's length */
			else if (ret != -EMSGSIZE)
				fail_msg("version %d cut to %zu bytes: %d", i + 1, l, ret);
		}
	}
}

static void test_wrong_keys(void **state)
{
	struct mt6d_config cs[2] = {sample(), sample2(6)}, d;
	uint8_t other[32], otherpub[32];

	mt6d_key_generate(other);
	assert_int_equal(mt6d_key_public(otherpub, other), 0);
	for (int i = 0; i < 2; i++) {
		uint8_t m[MT6D_SEALED_MAX];
		int len = mt6d_config_seal(m, &cs[i], cpub, spriv);

		/* Another client cannot open it; nor can anyone with another server key. */
		assert_int_equal(mt6d_config_open(&d, m, (size_t)len, spub, other), -EBADMSG);
		assert_int_equal(mt6d_config_open(&d, m, (size_t)len, otherpub, cpriv), -EBADMSG);
	}
}

static void test_decode_refuses(void **state)
{
	struct mt6d_config c = sample(), c2 = sample2(4), d;
	uint8_t pt[MT6D_CONFIG_MAX + 1] = {0}, pt2[MT6D_CONFIG_MAX + 1] = {0};
	static const uint8_t bad_versions[] = {0, 3, 0x81, 255};

	mt6d_config_encode(pt, &c);
	mt6d_config_encode(pt2, &c2);
	assert_int_equal(mt6d_config_decode(&d, pt, MT6D_CONFIG_LEN), 0);
	assert_int_equal(mt6d_config_decode(&d, pt2, MT6D_CONFIG_V2_LEN), 0);
	/* Every other length, whatever the version byte says. */
	for (size_t len = 0; len <= MT6D_CONFIG_MAX + 1; len++) {
		if (len != MT6D_CONFIG_LEN && len != MT6D_CONFIG_V2_LEN) {
			assert_int_equal(mt6d_config_decode(&d, pt, len), -EMSGSIZE);
			assert_int_equal(mt6d_config_decode(&d, pt2, len), -EMSGSIZE);
		}
	}
	/* A version with the other version's length. */
	assert_int_equal(mt6d_config_decode(&d, pt2, MT6D_CONFIG_LEN), -EMSGSIZE);
	assert_int_equal(mt6d_config_decode(&d, pt, MT6D_CONFIG_V2_LEN), -EMSGSIZE);
	pt[0] = 2;
	assert_int_equal(mt6d_config_decode(&d, pt, MT6D_CONFIG_LEN), -EMSGSIZE);
	pt2[0] = 1;
	assert_int_equal(mt6d_config_decode(&d, pt2, MT6D_CONFIG_V2_LEN), -EMSGSIZE);
	/* Unknown versions at either length. */
	for (size_t i = 0; i < sizeof(bad_versions); i++) {
		pt[0] = pt2[0] = bad_versions[i];
		assert_int_equal(mt6d_config_decode(&d, pt, MT6D_CONFIG_LEN), -EPROTONOSUPPORT);
		assert_int_equal(mt6d_config_decode(&d, pt2, MT6D_CONFIG_V2_LEN), -EPROTONOSUPPORT);
	}
	pt[0] = 1;
	pt2[0] = 2;
	/* rot_ms 0, either version. */
	memset(pt + 9, 0, 4);
	assert_int_equal(mt6d_config_decode(&d, pt, MT6D_CONFIG_LEN), -EINVAL);
	memcpy(pt + 9, pt2 + 9, 4);
	memset(pt2 + 9, 0, 4);
	assert_int_equal(mt6d_config_decode(&d, pt2, MT6D_CONFIG_V2_LEN), -EINVAL);
	memcpy(pt2 + 9, pt + 9, 4);
	assert_int_equal(mt6d_config_decode(&d, pt2, MT6D_CONFIG_V2_LEN), 0);
	/* Version 2 with port 0: refused, and nothing of it is left in d. */
	pt2[61] = pt2[62] = 0;
	assert_int_equal(mt6d_config_decode(&d, pt2, MT6D_CONFIG_V2_LEN), -EINVAL);
	assert_memory_equal(d.intro_key, (uint8_t[16]){0}, 16);
	pt2[62] = 1; /* port 1 is a port */
	assert_int_equal(mt6d_config_decode(&d, pt2, MT6D_CONFIG_V2_LEN), 0);
	assert_int_equal(d.underlay_port, 1);
}

/* Well-sealed plaintexts that open but are refused by the decoder. */
static void test_sealed_refused(void **state)
{
	struct mt6d_config c = sample(), c2 = sample2(6), d;
	uint8_t pt[MT6D_CONFIG_MAX] = {0}, pt2[MT6D_CONFIG_MAX] = {0}, m[MT6D_SEALED_MAX];

	mt6d_config_encode(pt, &c);
	mt6d_config_encode(pt2, &c2);
	/* Version 2 in 45 bytes (what a version 1 encoder with version = 2 made). */
	pt[0] = 2;
	seal_raw(m, pt, MT6D_CONFIG_LEN);
	assert_int_equal(mt6d_config_open(&d, m, MT6D_SEALED_LEN, spub, cpriv), -EMSGSIZE);
	/* Version 1 in 63 bytes. */
	pt2[0] = 1;
	seal_raw(m, pt2, MT6D_CONFIG_V2_LEN);
	assert_int_equal(mt6d_config_open(&d, m, MT6D_SEALED_V2_LEN, spub, cpriv), -EMSGSIZE);
	/* Version 3 at either length. */
	pt[0] = pt2[0] = 3;
	seal_raw(m, pt, MT6D_CONFIG_LEN);
	assert_int_equal(mt6d_config_open(&d, m, MT6D_SEALED_LEN, spub, cpriv), -EPROTONOSUPPORT);
	seal_raw(m, pt2, MT6D_CONFIG_V2_LEN);
	assert_int_equal(mt6d_config_open(&d, m, MT6D_SEALED_V2_LEN, spub, cpriv),
	                 -EPROTONOSUPPORT);
	/* Version 2, port 0. */
	pt2[0] = 2;
	pt2[61] = pt2[62] = 0;
	seal_raw(m, pt2, MT6D_CONFIG_V2_LEN);
	assert_int_equal(mt6d_config_open(&d, m, MT6D_SEALED_V2_LEN, spub, cpriv), -EINVAL);
	/* And the raw sealer agrees with the library when nothing is wrong. */
	pt2[62] = 1;
	seal_raw(m, pt2, MT6D_CONFIG_V2_LEN);
	assert_int_equal(mt6d_config_open(&d, m, MT6D_SEALED_V2_LEN, spub, cpriv), 0);
	assert_int_equal(d.underlay_port, 1);
	assert_memory_equal(d.underlay_addr, underlay6, 16);
}

static int setup(void **state)
{
	mt6d_key_generate(spriv);
	mt6d_key_generate(cpriv);
	return mt6d_key_public(spub, spriv) || mt6d_key_public(cpub, cpriv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_encode_layout),
	        cmocka_unit_test(test_every_bit_flip_fails),
	        cmocka_unit_test(test_truncated_and_long),
	        cmocka_unit_test(test_wrong_keys),
	        cmocka_unit_test(test_decode_refuses),
	        cmocka_unit_test(test_sealed_refused),
	};
	if (mt6d_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, NULL);
}
