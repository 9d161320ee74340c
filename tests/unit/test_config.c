/* SPDX-License-Identifier: MIT */
/* Configuration encode/decode and the sealed message: tampering, truncation,
 * wrong keys, versions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "internal.h"

static uint8_t spriv[32], spub[32], cpriv[32], cpub[32];

static struct mt6d_config sample(void)
{
	struct mt6d_config c = {.version = 1, .window = 1700000100, .rot_ms = 3000};
	randombytes_buf(c.seed_addr, 16);
	randombytes_buf(c.intro_key, 16);
	return c;
}

static void assert_config_equal(const struct mt6d_config *a, const struct mt6d_config *b)
{
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->window, b->window);
	assert_int_equal(a->rot_ms, b->rot_ms);
	assert_memory_equal(a->seed_addr, b->seed_addr, 16);
	assert_memory_equal(a->intro_key, b->intro_key, 16);
}

static void test_round_trip(void **state)
{
	struct mt6d_config c = sample(), d;
	uint8_t m[MT6D_SEALED_LEN], m2[MT6D_SEALED_LEN];

	assert_int_equal(mt6d_config_seal(m, &c, cpub, spriv), 0);
	assert_int_equal(mt6d_config_open(&d, m, sizeof(m), spub, cpriv), 0);
	assert_config_equal(&c, &d);
	/* A fresh random nonce each time: two seals of one config differ. */
	assert_int_equal(mt6d_config_seal(m2, &c, cpub, spriv), 0);
	assert_memory_not_equal(m, m2, MT6D_NONCE_LEN);
	assert_memory_not_equal(m + MT6D_NONCE_LEN, m2 + MT6D_NONCE_LEN,
	                        MT6D_SEALED_LEN - MT6D_NONCE_LEN);
}

static void test_every_bit_flip_fails(void **state)
{
	struct mt6d_config c = sample(), d;
	uint8_t m[MT6D_SEALED_LEN];

	assert_int_equal(mt6d_config_seal(m, &c, cpub, spriv), 0);
	for (size_t bit = 0; bit < 8 * sizeof(m); bit++) {
		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (mt6d_config_open(&d, m, sizeof(m), spub, cpriv) != -EBADMSG)
			fail_msg("flipping bit %zu did not make open fail", bit);
		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(mt6d_config_open(&d, m, sizeof(m), spub, cpriv), 0);
}

static void test_truncated_and_long(void **state)
{
	struct mt6d_config c = sample(), d;
	uint8_t m[MT6D_SEALED_LEN + 1] = {0};

	assert_int_equal(mt6d_config_seal(m, &c, cpub, spriv), 0);
	for (size_t len = 0; len < MT6D_SEALED_LEN; len++)
		assert_int_equal(mt6d_config_open(&d, m, len, spub, cpriv), -EMSGSIZE);
	assert_int_equal(mt6d_config_open(&d, m, sizeof(m), spub, cpriv), -EMSGSIZE);
}

static void test_wrong_keys(void **state)
{
	struct mt6d_config c = sample(), d;
	uint8_t m[MT6D_SEALED_LEN], other[32], otherpub[32];

	mt6d_key_generate(other);
	assert_int_equal(mt6d_key_public(otherpub, other), 0);
	assert_int_equal(mt6d_config_seal(m, &c, cpub, spriv), 0);
	/* Another client cannot open it; nor can anyone with another server key. */
	assert_int_equal(mt6d_config_open(&d, m, sizeof(m), spub, other), -EBADMSG);
	assert_int_equal(mt6d_config_open(&d, m, sizeof(m), otherpub, cpriv), -EBADMSG);
}

static void test_decode_refuses(void **state)
{
	struct mt6d_config c = sample(), d;
	uint8_t pt[MT6D_CONFIG_LEN + 1];

	mt6d_config_encode(pt, &c);
	assert_int_equal(mt6d_config_decode(&d, pt, MT6D_CONFIG_LEN), 0);
	assert_int_equal(mt6d_config_decode(&d, pt, MT6D_CONFIG_LEN - 1), -EMSGSIZE);
	assert_int_equal(mt6d_config_decode(&d, pt, MT6D_CONFIG_LEN + 1), -EMSGSIZE);
	pt[0] = 2;
	assert_int_equal(mt6d_config_decode(&d, pt, MT6D_CONFIG_LEN), -EPROTONOSUPPORT);
	pt[0] = 0;
	assert_int_equal(mt6d_config_decode(&d, pt, MT6D_CONFIG_LEN), -EPROTONOSUPPORT);
	pt[0] = 1;
	memset(pt + 9, 0, 4);
	assert_int_equal(mt6d_config_decode(&d, pt, MT6D_CONFIG_LEN), -EINVAL);
}

static void test_sealed_version_2_refused(void **state)
{
	/* A well-sealed plaintext of another version opens but is refused. */
	struct mt6d_config c = sample(), d;
	uint8_t m[MT6D_SEALED_LEN];

	c.version = 2;
	assert_int_equal(mt6d_config_seal(m, &c, cpub, spriv), 0);
	assert_int_equal(mt6d_config_open(&d, m, sizeof(m), spub, cpriv), -EPROTONOSUPPORT);
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
		cmocka_unit_test(test_every_bit_flip_fails),
		cmocka_unit_test(test_truncated_and_long),
		cmocka_unit_test(test_wrong_keys),
		cmocka_unit_test(test_decode_refuses),
		cmocka_unit_test(test_sealed_version_2_refused),
	};
	if (mt6d_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, NULL);
}
