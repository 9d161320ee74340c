/* SPDX-License-Identifier: MIT */
/* Session messages and the introduction table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "mt6d/session.h"

static struct mt6d_msg sample(uint8_t type)
{
	struct mt6d_msg m = {.type = type};

	switch (type) {
	case MT6D_MSG_REQUEST:
		m.u.request.request_id = 0x0102030405060708ull;
		memcpy(m.u.request.client_prefix, "\x20\x01\x0d\xb8\x00\x0c\x00\x01", 8);
		m.u.request.time_ms = 1700000123456ull;
		break;
	case MT6D_MSG_RESPONSE:
		m.u.response.request_id = 42;
		m.u.response.tun_prefix_len = 64;
		m.u.response.rot_ms = 3000;
		m.u.response.idle_timeout_s = 120;
		randombytes_buf(m.u.response.session_key, 16);
		randombytes_buf(m.u.response.server_iid, 8);
		randombytes_buf(m.u.response.client_iid, 8);
		randombytes_buf(m.u.response.client_tun, 16);
		randombytes_buf(m.u.response.server_tun, 16);
		break;
	case MT6D_MSG_TEARDOWN:
		m.u.teardown.reason = MT6D_TEARDOWN_REPLACED;
		break;
	case MT6D_MSG_KEEPALIVE:
		m.u.keepalive.time_ms = 99;
		break;
	}
	return m;
}

static void test_round_trips(void **state)
{
	static const size_t lens[] = {MT6D_MSG_REQUEST_LEN, MT6D_MSG_RESPONSE_LEN,
	                              MT6D_MSG_TEARDOWN_LEN, MT6D_MSG_KEEPALIVE_LEN};

	for (uint8_t type = 0; type < 4; type++) {
		struct mt6d_msg m = sample(type), d;
		uint8_t buf[MT6D_MSG_MAX_LEN + 8], again[MT6D_MSG_MAX_LEN];
		int len = mt6d_msg_encode(buf, sizeof(buf), &m);

		assert_int_equal(len, lens[type]);
		assert_int_equal(buf[0], type);
		assert_int_equal(buf[1], MT6D_MSG_VERSION);
		assert_int_equal(mt6d_msg_decode(&d, buf, (size_t)len), 0);
		assert_int_equal(mt6d_msg_encode(again, sizeof(again), &d), len);
		assert_memory_equal(buf, again, (size_t)len);
		/* Every other length is refused. */
		for (size_t l = 0; l <= MT6D_MSG_MAX_LEN + 4; l++)
			if (l != (size_t)len && mt6d_msg_decode(&d, buf, l) == 0)
				fail_msg("type %u accepted with length %zu", type, l);
		/* Too small a buffer. */
		assert_int_equal(mt6d_msg_encode(buf, (size_t)len - 1, &m), -EMSGSIZE);
	}
}

/* Response version 2 and message 4 carry a grant whose L says its length. */
static void test_grants(void **state)
{
	struct mt6d_rebind_grant g = {.levels = 16, .conn = 0x1234, .epoch = 470000};
	uint8_t gb[MT6D_REBIND_GRANT_MAX], buf[MT6D_MSG_MAX_LEN + 8], again[MT6D_MSG_MAX_LEN];
	int glen;

	randombytes_buf(g.conn_key, sizeof(g.conn_key));
	randombytes_buf(g.tree_keys, sizeof(g.tree_keys));
	glen = mt6d_rebind_grant_encode(gb, sizeof(gb), &g);
	assert_int_equal(glen, MT6D_REBIND_GRANT_LEN(16));
	for (int type = MT6D_MSG_RESPONSE; type <= MT6D_MSG_GRANT; type += 3) {
		struct mt6d_msg m = sample((uint8_t)type), d;
		size_t hdr = type == MT6D_MSG_RESPONSE ? MT6D_MSG_RESPONSE_LEN : MT6D_MSG_GRANT_HDR;
		uint8_t *gp = type == MT6D_MSG_RESPONSE ? m.u.response.grant : m.u.grant.bytes;
		uint16_t *gl = type == MT6D_MSG_RESPONSE ? &m.u.response.grant_len : &m.u.grant.len;
		int len;

		memcpy(gp, gb, (size_t)glen);
		*gl = (uint16_t)glen;
		len = mt6d_msg_encode(buf, sizeof(buf), &m);
		assert_int_equal(len, (int)hdr + glen);
		assert_int_equal(buf[1], type == MT6D_MSG_RESPONSE ? 2 : 1);
		assert_memory_equal(buf + hdr, gb, (size_t)glen);
		assert_int_equal(mt6d_msg_decode(&d, buf, (size_t)len), 0);
		assert_int_equal(mt6d_msg_encode(again, sizeof(again), &d), len);
		assert_memory_equal(buf, again, (size_t)len);
		for (size_t l = 0; l <= sizeof(buf); l++)
			if (l != (size_t)len && mt6d_msg_decode(&d, buf, l) == 0)
				fail_msg("type %d accepted with length %zu", type, l);
		buf[hdr + 1] = 15; /* the grant's L disagrees with its length */
		assert_int_equal(mt6d_msg_decode(&d, buf, (size_t)len), -EMSGSIZE);
		*gl = (uint16_t)(glen - 1);
		assert_int_equal(mt6d_msg_encode(buf, sizeof(buf), &m), -EINVAL);
	}
	mt6d_rebind_grant_wipe(&g);
}

static void test_refusals(void **state)
{
	struct mt6d_msg m = sample(MT6D_MSG_RESPONSE), d;
	uint8_t buf[MT6D_MSG_MAX_LEN];
	int len = mt6d_msg_encode(buf, sizeof(buf), &m);

	buf[1] = 3;
	assert_int_equal(mt6d_msg_decode(&d, buf, (size_t)len), -EPROTONOSUPPORT);
	buf[1] = 2; /* version 2 carries a grant */
	assert_int_equal(mt6d_msg_decode(&d, buf, (size_t)len), -EMSGSIZE);
	buf[1] = 1;
	buf[2] = 1; /* reserved */
	assert_int_equal(mt6d_msg_decode(&d, buf, (size_t)len), -EBADMSG);
	buf[2] = 0;
	buf[3] = 129; /* prefix length */
	assert_int_equal(mt6d_msg_decode(&d, buf, (size_t)len), -EBADMSG);
	buf[3] = 64;
	memset(buf + 12, 0, 4); /* rot_ms 0 */
	assert_int_equal(mt6d_msg_decode(&d, buf, (size_t)len), -EBADMSG);
	buf[0] = 9;
	assert_int_equal(mt6d_msg_decode(&d, buf, (size_t)len), -EBADMSG);
	m.type = 7;
	assert_int_equal(mt6d_msg_encode(buf, sizeof(buf), &m), -EINVAL);
	m = sample(MT6D_MSG_TEARDOWN);
	m.u.teardown.reason = 200;
	len = mt6d_msg_encode(buf, sizeof(buf), &m);
	assert_int_equal(mt6d_msg_decode(&d, buf, (size_t)len), -EBADMSG);
}

static void test_wrap(void **state)
{
	struct mt6d_msg m = sample(MT6D_MSG_REQUEST), d;
	uint8_t msg[MT6D_MSG_MAX_LEN], pkt[200], src[16], dst[16], s2[16], d2[16];
	const uint8_t *p;
	int len = mt6d_msg_encode(msg, sizeof(msg), &m), plen;

	randombytes_buf(src, 16);
	randombytes_buf(dst, 16);
	plen = mt6d_msg_wrap(pkt, sizeof(pkt), src, dst, msg, (size_t)len);
	assert_int_equal(plen, 40 + len);
	assert_int_equal(mt6d_msg_unwrap(pkt, (size_t)plen, &p, s2, d2), len);
	assert_memory_equal(s2, src, 16);
	assert_memory_equal(d2, dst, 16);
	assert_int_equal(mt6d_msg_decode(&d, p, (size_t)len), 0);
	assert_int_equal(d.u.request.request_id, m.u.request.request_id);
	/* Length field must agree; other next headers are not control. */
	assert_int_equal(mt6d_msg_unwrap(pkt, (size_t)plen - 1, &p, s2, d2), -EBADMSG);
	pkt[6] = 6;
	assert_int_equal(mt6d_msg_unwrap(pkt, (size_t)plen, &p, s2, d2), -ENOENT);
	pkt[0] = 0x45;
	assert_int_equal(mt6d_msg_unwrap(pkt, (size_t)plen, &p, s2, d2), -EBADMSG);
	assert_int_equal(mt6d_msg_unwrap(pkt, 39, &p, s2, d2), -EBADMSG);
	assert_int_equal(mt6d_msg_wrap(pkt, 40 + (size_t)len - 1, src, dst, msg, (size_t)len),
	                 -EMSGSIZE);
}

/* The table against a naive reference: every client's IID in every slot
 * of the window is found, nothing outside it is. */
static void test_intro_table(void **state)
{
	enum { N = 3000 };
	static uint8_t seeds[N][8];
	static const uint8_t zero[8];
	struct mt6d_intro_table *t = mt6d_intro_table_new();
	uint8_t k[16], addr[16];
	uint64_t center = 566666707, slot;
	size_t client;

	randombytes_buf(seeds, sizeof(seeds));
	randombytes_buf(k, sizeof(k));
	assert_int_equal(mt6d_intro_table_find(t, zero, &client, &slot), -ENOENT);
	assert_int_equal(mt6d_intro_table_reset(t, seeds, N, k, center), 0);
	for (int step = 0; step < 5; step++) {
		for (size_t c = 0; c < N; c += 7) {
			for (int d = -2; d <= 2; d++) {
				mt6d_slot_address(addr, NULL, zero, seeds[c], k,
				                  center + (uint64_t)d);
				int r = mt6d_intro_table_find(t, addr + 8, &client, &slot);
				if (d < -1 || d > 1) {
					assert_int_equal(r, -ENOENT);
				} else {
					assert_int_equal(r, 0);
					assert_int_equal(client, c);
					assert_int_equal(slot, center + (uint64_t)d);
				}
			}
		}
		/* Random IIDs are not found. */
		for (int i = 0; i < 1000; i++) {
			uint8_t iid[8];
			randombytes_buf(iid, 8);
			assert_int_equal(mt6d_intro_table_find(t, iid, &client, &slot), -ENOENT);
		}
		center += step == 3 ? 10 : 1; /* one slot at a time, then a jump */
		assert_int_equal(mt6d_intro_table_advance(t, center), 0);
	}
	assert_int_equal(mt6d_intro_table_reset(t, NULL, 0, k, center), 0);
	assert_int_equal(mt6d_intro_table_find(t, seeds[0], &client, &slot), -ENOENT);
	mt6d_intro_table_free(t);
	mt6d_intro_table_free(NULL);
}

static void test_pair_key(void **state)
{
	uint8_t s1[32], s2[32], k[16], a[16], b[16], c[16];

	randombytes_buf(s1, 32);
	randombytes_buf(s2, 32);
	randombytes_buf(k, 16);
	mt6d_intro_pair_key(a, s1, k);
	mt6d_intro_pair_key(b, s2, k);
	mt6d_intro_pair_key(c, s1, k);
	assert_memory_not_equal(a, b, 16); /* another client, another key */
	assert_memory_equal(a, c, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trips), cmocka_unit_test(test_grants),
	        cmocka_unit_test(test_refusals),    cmocka_unit_test(test_wrap),
	        cmocka_unit_test(test_intro_table), cmocka_unit_test(test_pair_key),
	};
	if (mt6d_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
