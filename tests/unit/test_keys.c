/* SPDX-License-Identifier: MIT */
/* Key text, key files and the shared secret: every way they must refuse. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mt6d/mt6d.h"

static char path[64];

static void write_file(const char *text, mode_t mode)
{
	FILE *f;

	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_base64_round_trip(void **state)
{
	uint8_t k[32], back[32];
	char text[MT6D_KEY_B64_LEN + 1];

	for (int i = 0; i < 100; i++) {
		mt6d_key_generate(k);
		mt6d_key_to_base64(text, k);
		assert_int_equal(strlen(text), 44);
		assert_int_equal(mt6d_key_from_base64(back, text), 0);
		assert_memory_equal(k, back, 32);
	}
	/* Surrounding white space (a key file's newline) is accepted. */
	assert_int_equal(
	        mt6d_key_from_base64(back, " \tAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"), 0);
}

static void test_base64_refused(void **state)
{
	uint8_t k[32];
	static const char *bad[] = {
	        "",
	        "AAAA",
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",     /* 43: short */
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",   /* 45: long */
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",    /* 44, no padding: 33 bytes */
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",    /* 44 chars, 31 bytes */
	        "AAAAAAAAAAAAAAAAAAAAA!AAAAAAAAAAAAAAAAAAAAA=",    /* bad character */
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-_",    /* URL-safe alphabet */
	        "AAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAAA=",    /* space inside */
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",    /* non-canonical last char */
	        "iFYzRczO\xa6MmyDhL5Cs+raIAvp13hffvDoEOAjPRko10=", /* non-ASCII (fuzz_keytext) */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mt6d_key_from_base64(k, bad[i]) != -EINVAL)
			fail_msg("accepted bad key text #%zu `%s'", i, bad[i]);
	}
	assert_int_equal(mt6d_key_from_base64(k, NULL), -EINVAL);
}

static void test_key_file_permissions(void **state)
{
	uint8_t k[32], back[32];
	char text[MT6D_KEY_B64_LEN + 2];

	mt6d_key_generate(k);
	mt6d_key_to_base64(text, k);
	strcat(text, "\n");

	write_file(text, 0600);
	assert_int_equal(mt6d_key_load_private(back, path), 0);
	assert_memory_equal(k, back, 32);
	write_file(text, 0400);
	assert_int_equal(mt6d_key_load_private(back, path), 0);

	static const mode_t loose[] = {0640, 0604, 0644, 0660, 0606, 0666, 0610, 0601, 0620};
	for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
		write_file(text, loose[i]);
		if (mt6d_key_load_private(back, path) != -EPERM)
			fail_msg("accepted key file with mode %o", (unsigned)loose[i]);
	}
	unlink(path);
	assert_int_equal(mt6d_key_load_private(back, path), -ENOENT);
}

static void test_key_file_contents(void **state)
{
	uint8_t back[32];

	write_file("not a key\n", 0600);
	assert_int_equal(mt6d_key_load_private(back, path), -EINVAL);
	write_file("", 0600);
	assert_int_equal(mt6d_key_load_private(back, path), -EINVAL);
	/* Two keys: not one key. */
	write_file("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
	           "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
	           0600);
	assert_int_equal(mt6d_key_load_private(back, path), -EINVAL);
	/* A long file is refused without reading it all. */
	char big[4096];
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(big, 0600);
	assert_int_equal(mt6d_key_load_private(back, path), -EINVAL);
	unlink(path);
}

static void test_key_save(void **state)
{
	uint8_t k[32], back[32];
	struct stat st;

	mt6d_key_generate(k);
	write_file("old", 0644); /* an existing loose file is tightened */
	assert_int_equal(mt6d_key_save_private(path, k), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(mt6d_key_load_private(back, path), 0);
	assert_memory_equal(k, back, 32);
	unlink(path);
}

static void test_shared_secret(void **state)
{
	uint8_t a[32], b[32], pa[32], pb[32], s1[32], s2[32], zero[32] = {0};

	mt6d_key_generate(a);
	mt6d_key_generate(b);
	assert_int_equal(mt6d_key_public(pa, a), 0);
	assert_int_equal(mt6d_key_public(pb, b), 0);
	assert_int_equal(mt6d_shared_secret(s1, a, pb), 0);
	assert_int_equal(mt6d_shared_secret(s2, b, pa), 0);
	assert_memory_equal(s1, s2, 32);
	/* Small-order points give an all-zero secret: refused, output wiped. */
	memset(s1, 0xaa, 32);
	assert_int_equal(mt6d_shared_secret(s1, a, zero), -EINVAL);
	assert_memory_equal(s1, zero, 32);
	uint8_t one[32] = {1};
	assert_int_equal(mt6d_shared_secret(s1, a, one), -EINVAL);
	uint8_t bk[32];
	assert_int_equal(mt6d_box_key(bk, a, zero), -EINVAL);
}

static void test_generate_clamped(void **state)
{
	uint8_t k[32];
	for (int i = 0; i < 64; i++) {
		mt6d_key_generate(k);
		assert_int_equal(k[0] & 7, 0);
		assert_int_equal(k[31] & 0xc0, 0x40);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_base64_round_trip),
	        cmocka_unit_test(test_base64_refused),
	        cmocka_unit_test(test_key_file_permissions),
	        cmocka_unit_test(test_key_file_contents),
	        cmocka_unit_test(test_key_save),
	        cmocka_unit_test(test_shared_secret),
	        cmocka_unit_test(test_generate_clamped),
	};
	if (mt6d_init() < 0)
		return 1;
	snprintf(path, sizeof(path), "/tmp/mt6d-test-key.%d", (int)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
