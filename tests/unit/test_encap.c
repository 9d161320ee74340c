/* SPDX-License-Identifier: MIT */
/*
 * Encapsulation: the vectors of docs/protocol.md ("Data plane") (made by the
 * independent Python code in tests/vectors/dataplane.py), round trips,
 * every kind of bad datagram, and the replay window as numbered rows plus a
 * randomized comparison with a naive reference.
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

#include "core/internal.h"
#include "mt6d/tunnel.h"

static const struct {
	const char *ks, *kdir, *nonce, *inner, *dgram;
	char dir;
	uint64_t counter;
} vectors[] = {
        {"000102030405060708090a0b0c0d0e0f",
         "ec73385dc2ca9299cb18381b95745303e8f6a8800b36f0522b33694857fb5092",
         "404142434445464748494a4b4c4d4e4f5051525354555657", "",
         "404142434445464748494a4b4c4d4e4f50515253545556571bbd1d920ae9ce290e6c38cbdc8aced9d053ff15"
         "8a8df010",
         'C', 0},
        {"000102030405060708090a0b0c0d0e0f",
         "a0ad30cfad0b9ed21d33ef4fc1ffe7fee11b5e4888cc95fc0941f8126939c2c8",
         "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7",
         "600000000000114020010db801000000000000000000000120010db8010000000000000000000002",
         "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b74d7c31d0d2dd4cf6b220f1aa82e9105260daaa67"
         "e8b54b0f29367abb21c562c852263700f7239adb2d8112eba2805767d207853788b4c7663408f4555d9dde2"
         "3",
         'S', 1},
        {"f0e1d2c3b4a5968778695a4b3c2d1e0f",
         "155c2391644ae347048bb9f900082a10eb970bea1024154e80e2a690d60094dd",
         "000000000000000000000000000000000000000000000001", "6d743664",
         "0000000000000000000000000000000000000000000000015fb3ca8b3bcbf3499538095a68a06b36af409e4e"
         "edb758b4a016316c",
         'C', 0x0123456789abcdefULL},
};

static void test_vectors(void **state)
{
	for (size_t v = 0; v < sizeof(vectors) / sizeof(vectors[0]); v++) {
		uint8_t ks[16], kdir[32], key[32], nonce[24], inner[64], want[128], dg[128],
		        out[128];
		size_t ilen = strlen(vectors[v].inner) / 2, dlen = strlen(vectors[v].dgram) / 2;
		enum mt6d_role tx_role =
		        vectors[v].dir == 'C' ? MT6D_ROLE_CLIENT : MT6D_ROLE_SERVER;
		struct mt6d_encap tx, rx;
		uint64_t ctr = 0;

		assert_int_equal(mt6d_hex_decode(ks, 16, vectors[v].ks), 0);
		assert_int_equal(mt6d_hex_decode(kdir, 32, vectors[v].kdir), 0);
		assert_int_equal(mt6d_hex_decode(nonce, 24, vectors[v].nonce), 0);
		assert_int_equal(mt6d_hex_decode(inner, ilen, vectors[v].inner), 0);
		assert_int_equal(mt6d_hex_decode(want, dlen, vectors[v].dgram), 0);
		assert_int_equal(dlen, ilen + MT6D_ENCAP_OVERHEAD);

		assert_int_equal(mt6d_encap_derive(key, ks, (uint8_t)vectors[v].dir), 0);
		assert_memory_equal(key, kdir, 32);

		assert_int_equal(mt6d_encap_init(&tx, ks, tx_role, 0), 0);
		memcpy(dg + MT6D_ENCAP_INNER_OFF, inner, ilen);
		mt6d_encap_seal_inplace_nonce(&tx, dg, ilen, vectors[v].counter, nonce);
		assert_memory_equal(dg, want, dlen);

		assert_int_equal(mt6d_encap_init(&rx, ks, !tx_role, 0), 0);
		assert_int_equal(mt6d_encap_open(&rx, out, sizeof(out), want, dlen, &ctr),
		                 (int)ilen);
		assert_memory_equal(out, inner, ilen);
		assert_true(ctr == vectors[v].counter);
		mt6d_encap_clear(&tx);
		mt6d_encap_clear(&rx);
	}
	assert_int_equal(mt6d_encap_derive((uint8_t[32]){0}, (uint8_t[16]){0}, 'X'), -EINVAL);
}

static void test_roundtrip_and_drops(void **state)
{
	uint8_t ks[16], in[1404], dg[1404 + MT6D_ENCAP_OVERHEAD], dg2[sizeof(dg)], out[1404];
	struct mt6d_encap c, s;
	int n;

	randombytes_buf(ks, sizeof(ks));
	randombytes_buf(in, sizeof(in));
	assert_int_equal(mt6d_encap_init(&c, ks, MT6D_ROLE_CLIENT, 1000), 0);
	assert_int_equal(mt6d_encap_init(&s, ks, MT6D_ROLE_SERVER, 5), 0);

	n = mt6d_encap_seal(&c, dg, sizeof(dg), in, sizeof(in));
	assert_int_equal(n, (int)sizeof(dg));
	n = mt6d_encap_seal(&c, dg2, sizeof(dg2), in, sizeof(in));
	/* Same packet twice: no byte position that repeats in clear beyond
	 * chance, and certainly not the first 24 (nonce). */
	assert_memory_not_equal(dg, dg2, 24);

	/* Truncated at every length below the overhead, and one short of the
	 * tag. */
	for (size_t l = 0; l < MT6D_ENCAP_OVERHEAD; l++)
		assert_int_equal(mt6d_encap_open(&s, out, sizeof(out), dg, l, NULL), -EMSGSIZE);
	assert_int_equal(mt6d_encap_open(&s, out, sizeof(out), dg, sizeof(dg) - 1, NULL), -EBADMSG);

	/* Forged: any flipped bit anywhere. */
	for (size_t i = 0; i < sizeof(dg); i += 97) {
		dg[i] ^= 0x10;
		assert_int_equal(mt6d_encap_open(&s, out, sizeof(out), dg, sizeof(dg), NULL),
		                 -EBADMSG);
		dg[i] ^= 0x10;
	}
	/* Reflected to its sender: other direction's key. */
	assert_int_equal(mt6d_encap_open(&c, out, sizeof(out), dg, sizeof(dg), NULL), -EBADMSG);
	/* A forged datagram did not move the window: the real one opens. */
	uint64_t ctr;
	assert_int_equal(mt6d_encap_open(&s, out, sizeof(out), dg, sizeof(dg), &ctr),
	                 (int)sizeof(in));
	assert_true(ctr == 1000);
	assert_memory_equal(out, in, sizeof(in));
	/* Replayed. */
	assert_int_equal(mt6d_encap_open(&s, out, sizeof(out), dg, sizeof(dg), NULL), -EEXIST);
	/* Output too small. */
	assert_int_equal(mt6d_encap_open(&s, out, 10, dg2, sizeof(dg2), NULL), -EMSGSIZE);
	assert_int_equal(mt6d_encap_open(&s, out, sizeof(out), dg2, sizeof(dg2), &ctr),
	                 (int)sizeof(in));
	assert_true(ctr == 1001);
	assert_int_equal(mt6d_encap_seal(&c, dg, 100, in, sizeof(in)), -EMSGSIZE);

	/* In place, server to client. */
	memcpy(dg + MT6D_ENCAP_INNER_OFF, in, 100);
	assert_int_equal(mt6d_encap_seal_inplace(&s, dg, sizeof(dg), 100),
	                 100 + MT6D_ENCAP_OVERHEAD);
	assert_int_equal(mt6d_encap_open_inplace(&c, dg, 100 + MT6D_ENCAP_OVERHEAD, &ctr), 100);
	assert_true(ctr == 5);
	assert_memory_equal(dg + MT6D_ENCAP_INNER_OFF, in, 100);

	mt6d_encap_clear(&c);
	assert_true(sodium_is_zero((const uint8_t *)&c, sizeof(c)));
	mt6d_encap_clear(&s);
}

/* Numbered rows, as WireGuard's selftest: each row feeds one counter and
 * says whether it must be accepted. W = MT6D_REPLAY_WINDOW. */
#define W MT6D_REPLAY_WINDOW
static void test_replay_rows(void **state)
{
	static const struct {
		uint64_t counter;
		bool ok;
	} rows[] = {
	        /*  1 */ {0, true},
	        /*  2 */ {1, true},
	        /*  3 */ {1, false},
	        /*  4 */ {9, true},
	        /*  5 */ {8, true},
	        /*  6 */ {7, true},
	        /*  7 */ {7, false},
	        /*  8 */ {W, true},
	        /*  9 */ {W - 1, true},
	        /* 10 */ {W - 1, false},
	        /* 11 */ {W - 2, true},
	        /* 12 */ {2, false}, /* W - 2 below the top: older than W - 64 */
	        /* 13 */ {100, true},
	        /* 14 */ {W + 16, true},
	        /* 15 */ {3, false},                /* now too old: W + 16 - 3 > W - 64 */
	        /* 16 */ {W + 16 - (W - 64), true}, /* exactly the oldest allowed */
	        /* 17 */ {W + 16 - (W - 64) - 1, false},
	        /* 18 */ {W - 2, false},
	        /* 19 */ {W + 15, true},
	        /* 20 */ {W + 15, false},
	        /* 21 */ {4 * W, true}, /* jump over the whole ring */
	        /* 22 */ {W + 16, false},
	        /* 23 */ {4 * W - 1, true},
	        /* 24 */ {4 * W - (W - 64), true},
	        /* 25 */ {4 * W, false},
	        /* 26 */ {UINT64_MAX - 1, true},
	        /* 27 */ {UINT64_MAX, true},
	        /* 28 */ {UINT64_MAX, false},
	        /* 29 */ {0, false},
	        /* 30 */ {UINT64_MAX - 1, false},
	        /* 31 */ {UINT64_MAX - 2, true},
	};
	struct mt6d_replay r;

	mt6d_replay_init(&r);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		bool got = mt6d_replay_check(&r, rows[i].counter);
		if (got != rows[i].ok)
			fail_msg("replay row %zu: counter %llu: got %d, want %d", i + 1,
			         (unsigned long long)rows[i].counter, got, rows[i].ok);
	}
}

/* The naive reference: remember every counter ever accepted; accept a new
 * one unless it is older than top - (W - 64). */
static void test_replay_random(void **state)
{
	enum { N = 200000, SPAN = 3 * W };
	uint8_t *seen = calloc(1, 1 << 22);
	uint64_t top = 0, base = 0;
	struct mt6d_replay r;
	bool any = false;

	assert_non_null(seen);
	mt6d_replay_init(&r);
	for (int i = 0; i < N; i++) {
		uint32_t x = randombytes_uniform(SPAN);
		uint64_t c = base + x;
		bool want;

		if (c >= (1u << 22))
			break;
		want = !seen[c] && !(any && c + (W - 64) < top);
		assert_int_equal(mt6d_replay_check(&r, c), want);
		if (want) {
			seen[c] = 1;
			if (!any || c > top)
				top = c;
			any = true;
		}
		if (randombytes_uniform(8) == 0)
			base += randombytes_uniform(W / 8);
	}
	free(seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vectors),
	        cmocka_unit_test(test_roundtrip_and_drops),
	        cmocka_unit_test(test_replay_rows),
	        cmocka_unit_test(test_replay_random),
	};
	if (mt6d_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
