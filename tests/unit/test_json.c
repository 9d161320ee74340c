/* SPDX-License-Identifier: MIT */
/*
 * sessd_json(), what the daemons' status documents put between quotes for
 * names from a configuration or the kernel (issue 16: an interface named
 * with `"' or `\' broke the document, and could add members to it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sessd.h"

static void test_escapes(void **state)
{
	char j[SESSD_JSON_LEN(16)];
	(void)state;
	assert_string_equal(sessd_json(j, sizeof(j), "mt6d0"), "mt6d0");
	assert_string_equal(sessd_json(j, sizeof(j), "a\"b\\c"), "a\\\"b\\\\c");
	/* the injection the issue describes stays inside the string */
	assert_string_equal(sessd_json(j, sizeof(j), "x\",\"role\":\"y"),
	                    "x\\\",\\\"role\\\":\\\"y");
	assert_string_equal(sessd_json(j, sizeof(j), "t\tn\n"), "t\\u0009n\\u000a");
	assert_string_equal(sessd_json(j, sizeof(j), "\x7f\xc3\xa9"), "\\u007f\\u00c3\\u00a9");
	assert_string_equal(sessd_json(j, sizeof(j), ""), "");
}

static void test_worst_case_fits(void **state)
{
	char j[SESSD_JSON_LEN(15)], in[16];
	(void)state;
	memset(in, 1, 15);
	in[15] = '\0';
	sessd_json(j, sizeof(j), in);
	assert_int_equal(strlen(j), 90);
}

static void test_cut_at_escape_boundary(void **state)
{
	char j[8];
	(void)state;
	/* 7 characters of room: "ab" then \" (2) then \u0001 (6) does not fit */
	assert_string_equal(sessd_json(j, sizeof(j), "ab\"\x01zz"), "ab\\\"");
	assert_string_equal(sessd_json(j, 1, "abc"), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_escapes),
	        cmocka_unit_test(test_worst_case_fits),
	        cmocka_unit_test(test_cut_at_escape_boundary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
