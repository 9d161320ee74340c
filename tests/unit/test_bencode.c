/* SPDX-License-Identifier: MIT */
/* bencode and KRPC: canonical forms accepted, everything else refused,
 * encode/parse round trips. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dht/bencode.h"
#include "dht/krpc.h"

static int parse(const char *s)
{
	struct benc_tok toks[64];
	return benc_parse(toks, 64, (const uint8_t *)s, strlen(s), 8);
}

static void test_valid(void **state)
{
	static const struct {
		const char *in;
		int ntoks;
	} rows[] = {
	        {"i0e", 1},
	        {"i-1e", 1},
	        {"i9223372036854775807e", 1},
	        {"i-9223372036854775808e", 1},
	        {"0:", 1},
	        {"4:spam", 1},
	        {"le", 1},
	        {"de", 1},
	        {"l4:spami42ee", 3},
	        {"d3:bar4:spam3:fooi42ee", 5},
	        {"d1:a0:2:aai1e1:bdee", 7},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(parse(rows[i].in), rows[i].ntoks);
}

static void test_invalid(void **state)
{
	static const char *const rows[] = {
	        "",
	        "i-0e",
	        "i01e",
	        "ie",
	        "i-e",
	        "i1",
	        "01:a",
	        "2:a",
	        "l",
	        "d",
	        "d1:ae",
	        "di1ei2ee",
	        "d1:b0:1:a0:e",
	        "d1:a0:1:a0:e",
	        "i1ei2e",
	        "e",
	        "x",
	        "i9223372036854775808e",
	        "i-9223372036854775809e",
	        "4294967297:a",
	        "llllllllllllllllllllllllllllllllleeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int r = parse(rows[i]);
		if (r >= 0)
			fail_msg("accepted `%s'", rows[i]);
	}
}

static void test_dict_get(void **state)
{
	struct benc_tok toks[16];
	const char *s = "d1:ali1ei2ee1:bi7e1:c3:xyze";
	size_t len = 0;
	int64_t v;
	int n = benc_parse(toks, 16, (const uint8_t *)s, strlen(s), 4);
	(void)state;
	assert_int_equal(n, 9);
	assert_int_equal(benc_dict_int(toks, 0, "b", &v), 0);
	assert_int_equal(v, 7);
	assert_non_null(benc_dict_str(toks, 0, "c", &len));
	assert_int_equal(len, 3);
	assert_int_equal(benc_dict_get(toks, 0, "z"), -1);
	assert_int_equal(toks[benc_dict_get(toks, 0, "a")].type, BENC_LIST);
}

static void test_encode(void **state)
{
	uint8_t buf[64];
	struct benc_buf b;
	(void)state;
	benc_init(&b, buf, sizeof(buf));
	benc_dict(&b);
	benc_cstr(&b, "a");
	benc_int(&b, -5);
	benc_cstr(&b, "b");
	benc_str(&b, "xy", 2);
	benc_end(&b);
	assert_false(b.overflow);
	assert_int_equal(b.len, strlen("d1:ai-5e1:b2:xye"));
	assert_memory_equal(buf, "d1:ai-5e1:b2:xye", b.len);
	benc_init(&b, buf, 3);
	benc_cstr(&b, "abcdef");
	assert_true(b.overflow);
}

static void test_krpc_roundtrip(void **state)
{
	uint8_t id[20], ih[20], tok[8], buf[1500], nodes[52], val[6] = {127, 0, 0, 1, 0x1a, 0xe1};
	struct krpc_msg m = {0}, p;
	int len;
	(void)state;
	memset(id, 0x11, 20);
	memset(ih, 0x22, 20);
	memset(tok, 0x33, 8);
	memset(nodes, 0x44, 52);
	m.y = KRPC_QUERY;
	m.method = KRPC_ANNOUNCE_PEER;
	m.t = (const uint8_t *)"aa";
	m.tlen = 2;
	m.id = id;
	m.info_hash = ih;
	m.token = tok;
	m.tokenlen = 8;
	m.port = 6881;
	m.has_port = true;
	m.implied_port = true;
	len = krpc_encode(buf, sizeof(buf), &m);
	assert_true(len > 0);
	assert_int_equal(krpc_parse(&p, buf, (size_t)len), 0);
	assert_int_equal(p.y, KRPC_QUERY);
	assert_int_equal(p.method, KRPC_ANNOUNCE_PEER);
	assert_memory_equal(p.info_hash, ih, 20);
	assert_int_equal(p.port, 6881);
	assert_true(p.implied_port);

	memset(&m, 0, sizeof(m));
	m.y = KRPC_RESPONSE;
	m.t = (const uint8_t *)"bb";
	m.tlen = 2;
	m.id = id;
	m.nodes = nodes;
	m.nodes_len = 52;
	m.values[0] = val;
	m.values_len[0] = 6;
	m.nvalues = 1;
	m.token = tok;
	m.tokenlen = 8;
	m.ip = val;
	m.iplen = 6;
	len = krpc_encode(buf, sizeof(buf), &m);
	assert_true(len > 0);
	assert_int_equal(krpc_parse(&p, buf, (size_t)len), 0);
	assert_int_equal(p.y, KRPC_RESPONSE);
	assert_int_equal(p.nodes_len, 52);
	assert_int_equal(p.nvalues, 1);
	assert_memory_equal(p.values[0], val, 6);
	assert_int_equal(p.iplen, 6);
}

static void test_krpc_examples(void **state)
{
	/* BEP 5 examples, and some that must be refused */
	static const char ping[] = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
	static const char err[] = "d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee";
	static const char *const bad[] = {
	        "d1:ad2:id19:abcdefghij012345678e1:q4:ping1:t2:aa1:y1:qe",
	        "d1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe",
	        "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:y1:qe",
	        "d1:q4:ping1:t2:aa1:y1:qe",
	        "d1:rd2:id20:abcdefghij01234567895:nodes3:abce1:t2:aa1:y1:re",
	        "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti6881e1:"
	        "q13:announce_peer1:t2:aa1:y1:qe",
	};
	static const char ann[] =
	        "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:"
	        "token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe";
	struct krpc_msg m;
	(void)state;
	assert_int_equal(krpc_parse(&m, (const uint8_t *)ping, strlen(ping)), 0);
	assert_int_equal(m.method, KRPC_PING);
	assert_int_equal(krpc_parse(&m, (const uint8_t *)err, strlen(err)), 0);
	assert_int_equal(m.ecode, 201);
	assert_int_equal(krpc_parse(&m, (const uint8_t *)ann, strlen(ann)), 0);
	assert_int_equal(m.method, KRPC_ANNOUNCE_PEER);
	assert_int_equal(m.port, 6881);
	assert_int_equal(m.tokenlen, 8);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (krpc_parse(&m, (const uint8_t *)bad[i], strlen(bad[i])) == 0)
			fail_msg("accepted %s", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_valid),          cmocka_unit_test(test_invalid),
	        cmocka_unit_test(test_dict_get),       cmocka_unit_test(test_encode),
	        cmocka_unit_test(test_krpc_roundtrip), cmocka_unit_test(test_krpc_examples),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
