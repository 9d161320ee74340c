/* SPDX-License-Identifier: MIT */
/*
 * Rebinding: key-tree claims, the server's verifier, unrecognized-connection
 * replies and their rate limiter. One test per acceptance item of the issue:
 * (c) replays refused, (d) colluders with complementary trees cannot claim a
 * third connection, (e) claims outside the time window refused, (f) replies
 * never larger than their trigger and a junk flood answered at most at the
 * rate limit; plus the unlinkability statistic over captured claims, epochs,
 * several L, malformed input, and a randomized comparison with a naive
 * verifier that tries every connection.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/internal.h"
#include "mt6d/rebind.h"

#define NOW   UINT64_C(1700000000000) /* Unix ms; inside an epoch, not at its edge */
#define EPOCH UINT64_C(3600000)

static uint8_t master[MT6D_REBIND_KEY_LEN];

static struct mt6d_rebind_loc loc6(uint16_t port, uint8_t last)
{
	struct mt6d_rebind_loc l = {
	        .addr = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, last},
	        .port = port,
	};
	return l;
}

static struct mt6d_rebind_server *server(unsigned levels)
{
	struct mt6d_rebind_params p = {.levels = levels};
	struct mt6d_rebind_server *s = mt6d_rebind_server_new(&p, master);

	assert_non_null(s);
	return s;
}

static int make(uint8_t *out, const struct mt6d_rebind_grant *g, uint64_t t,
                const struct mt6d_rebind_loc *l)
{
	int n = mt6d_rebind_claim(out, MT6D_REBIND_CLAIM_MAX, g, t, l);
	assert_int_equal(n, MT6D_REBIND_CLAIM_LEN(g->levels));
	return n;
}

static void test_accept(void **state)
{
	struct mt6d_rebind_server *s = server(0);
	struct mt6d_rebind_grant g;
	struct mt6d_rebind_result r;
	struct mt6d_rebind_loc l = loc6(4433, 7);
	uint8_t claim[MT6D_REBIND_CLAIM_MAX];
	int n;

	assert_int_equal(mt6d_rebind_server_levels(s), 16);
	assert_int_equal(mt6d_rebind_server_assign(s, NOW, &g), 0);
	assert_int_equal(g.levels, 16);
	assert_int_equal(g.epoch, NOW / EPOCH);
	n = make(claim, &g, NOW - 1200, &l);
	assert_int_equal(n, 326);
	assert_int_equal(mt6d_rebind_server_verify(s, claim, (size_t)n, &l, NOW, &r), 0);
	assert_int_equal(r.conn, g.conn);
	assert_true(r.t_ms == NOW - 1200);
	assert_true(r.epoch == g.epoch);
	assert_int_equal(mt6d_rebind_server_count(s), 1);
	mt6d_rebind_grant_wipe(&g);
	mt6d_rebind_server_free(s);
	mt6d_rebind_server_free(NULL);
}

/* (c) A claim is good once: again from the same place, from another place,
 * or an older claim after a newer one, it is refused. */
static void test_replay(void **state)
{
	struct mt6d_rebind_server *s = server(0);
	struct mt6d_rebind_grant g;
	struct mt6d_rebind_loc l = loc6(4433, 7), other = loc6(4433, 8), port = loc6(4434, 7);
	uint8_t c1[MT6D_REBIND_CLAIM_MAX], c2[MT6D_REBIND_CLAIM_MAX];
	int n;

	assert_int_equal(mt6d_rebind_server_assign(s, NOW, &g), 0);
	n = make(c1, &g, NOW, &l);
	make(c2, &g, NOW + 5, &l);
	assert_int_equal(mt6d_rebind_server_verify(s, c1, (size_t)n, &l, NOW, NULL), 0);
	assert_int_equal(mt6d_rebind_server_verify(s, c1, (size_t)n, &l, NOW + 10, NULL),
	                 -EALREADY);
	assert_int_equal(mt6d_rebind_server_verify(s, c1, (size_t)n, &other, NOW + 10, NULL),
	                 -EADDRNOTAVAIL);
	assert_int_equal(mt6d_rebind_server_verify(s, c1, (size_t)n, &port, NOW + 10, NULL),
	                 -EADDRNOTAVAIL);
	/* A newer claim is accepted; the older one is then refused even
	 * though it was never seen (it arrives late). */
	assert_int_equal(mt6d_rebind_server_verify(s, c2, (size_t)n, &l, NOW + 10, NULL), 0);
	make(c1, &g, NOW + 3, &l);
	assert_int_equal(mt6d_rebind_server_verify(s, c1, (size_t)n, &l, NOW + 10, NULL),
	                 -EALREADY);
	assert_int_equal(mt6d_rebind_server_verify(s, c2, (size_t)n, &other, NOW + 10, NULL),
	                 -EADDRNOTAVAIL);
	mt6d_rebind_server_free(s);
}

/* The number of leading bits two L-bit IDs share. */
static unsigned common_prefix(uint32_t a, uint32_t b, unsigned levels)
{
	unsigned n = 0;

	while (n < levels && ((a ^ b) >> (levels - 1 - n) & 1) == 0)
		n++;
	return n;
}

/*
 * (d) Two clients whose IDs are complements. In the email's flat tree they
 * would hold both keys of every level; here they hold the keys of their two
 * paths, so for a third connection they lack every node key below the
 * level where its path leaves theirs, and their claim fails there. Even a
 * client that holds the victim's whole path (the previous holder of the
 * victim's ID, same epoch) is refused: the final part needs the victim's P.
 */
static void test_colluders(void **state)
{
	for (unsigned levels = 2; levels <= 16; levels += 7) {
		struct mt6d_rebind_server *s = server(levels);
		uint32_t mask = (uint32_t)((1u << levels) - 1), a = 1 & mask, b = ~a & mask;
		uint32_t victim = (a ^ 2) & mask;
		struct mt6d_rebind_grant ga, gb, gold, gv, forged;
		struct mt6d_rebind_loc l = loc6(1000, 9);
		uint8_t claim[MT6D_REBIND_CLAIM_MAX];
		uint64_t t = NOW;
		int n;

		assert_true(victim != a && victim != b);
		assert_int_equal(mt6d_rebind_server_assign_at(s, a, NOW, &ga), 0);
		assert_int_equal(mt6d_rebind_server_assign_at(s, b, NOW, &gb), 0);
		assert_int_equal(mt6d_rebind_server_assign_at(s, victim, NOW, &gold), 0);
		assert_int_equal(mt6d_rebind_server_release(s, victim), 0);
		assert_int_equal(mt6d_rebind_server_assign_at(s, victim, NOW, &gv), 0);

		/* The colluders' best tree for the victim: at each level the key
		 * of whichever of them has the victim's bit there. Past the
		 * common prefix it is not the victim's key. */
		forged = ga;
		forged.conn = victim;
		for (unsigned j = 0; j < levels; j++) {
			unsigned bit = (victim >> (levels - 1 - j)) & 1;
			unsigned abit = (a >> (levels - 1 - j)) & 1;
			int same;
			memcpy(forged.tree_keys[j], bit == abit ? ga.tree_keys[j] : gb.tree_keys[j],
			       MT6D_REBIND_KEY_LEN);
			same = memcmp(forged.tree_keys[j], gv.tree_keys[j], MT6D_REBIND_KEY_LEN) ==
			       0;
			assert_int_equal(same, j < common_prefix(a, victim, levels) ||
			                               j < common_prefix(b, victim, levels));
		}
		/* With their own P, each other's, a guess, or the victim's:
		 * refused, the tags do not lead to the victim. */
		for (int k = 0; k < 4; k++) {
			if (k == 1)
				memcpy(forged.conn_key, gb.conn_key, MT6D_REBIND_KEY_LEN);
			if (k == 2)
				randombytes_buf(forged.conn_key, MT6D_REBIND_KEY_LEN);
			if (k == 3)
				memcpy(forged.conn_key, gv.conn_key, MT6D_REBIND_KEY_LEN);
			n = make(claim, &forged, ++t, &l);
			assert_int_equal(
			        mt6d_rebind_server_verify(s, claim, (size_t)n, &l, NOW, NULL),
			        -EBADMSG);
		}
		/* The previous holder has the victim's whole path... */
		for (unsigned j = 0; j < levels; j++)
			assert_memory_equal(gold.tree_keys[j], gv.tree_keys[j],
			                    MT6D_REBIND_KEY_LEN);
		/* ...but not its P: refused with its own, the colluders', a guess. */
		forged = gold;
		for (int k = 0; k < 3; k++) {
			if (k == 1)
				memcpy(forged.conn_key, ga.conn_key, MT6D_REBIND_KEY_LEN);
			if (k == 2)
				randombytes_buf(forged.conn_key, MT6D_REBIND_KEY_LEN);
			n = make(claim, &forged, ++t, &l);
			assert_int_equal(
			        mt6d_rebind_server_verify(s, claim, (size_t)n, &l, NOW, NULL),
			        -EBADMSG);
		}
		/* Only the victim's P makes the path count; the colluders' own
		 * claims still work. */
		memcpy(forged.conn_key, gv.conn_key, MT6D_REBIND_KEY_LEN);
		n = make(claim, &forged, ++t, &l);
		assert_int_equal(mt6d_rebind_server_verify(s, claim, (size_t)n, &l, NOW, NULL), 0);
		n = make(claim, &ga, ++t, &l);
		assert_int_equal(mt6d_rebind_server_verify(s, claim, (size_t)n, &l, NOW, NULL), 0);
		n = make(claim, &gb, ++t, &l);
		assert_int_equal(mt6d_rebind_server_verify(s, claim, (size_t)n, &l, NOW, NULL), 0);
		mt6d_rebind_server_free(s);
	}
}

/*
 * What another client (an insider) learns from a captured claim: its own
 * node key at level j makes the claim's tag exactly when the two IDs share
 * their first j + 1 bits. So it learns the common prefix and the next bit,
 * about 2 bits on average, not the 16 of a flat tree.
 */
static void test_insider_view(void **state)
{
	struct mt6d_rebind_server *s = server(0);
	struct mt6d_rebind_grant gi, g;
	struct mt6d_rebind_loc l = loc6(7, 7);
	uint8_t claim[MT6D_REBIND_CLAIM_MAX];
	unsigned learned = 0, rounds = 300;

	assert_int_equal(mt6d_rebind_server_assign(s, NOW, &gi), 0);
	for (unsigned r = 0; r < rounds; r++) {
		unsigned cp, matched = 0;
		assert_int_equal(mt6d_rebind_server_assign(s, NOW, &g), 0);
		make(claim, &g, NOW, &l);
		cp = common_prefix(gi.conn, g.conn, 16);
		for (unsigned j = 0; j < 16; j++) {
			struct mt6d_rebind_grant one = gi;
			uint8_t mine[MT6D_REBIND_CLAIM_MAX];
			/* The insider's tag at level j for this claim's N. */
			mt6d_rebind_claim_nonce(mine, sizeof(mine), &one, NOW, &l, claim);
			if (memcmp(mine + 24 + 16 * j, claim + 24 + 16 * j, 16) == 0) {
				assert_true(j < cp);
				matched++;
			}
		}
		assert_int_equal(matched, cp);
		learned += cp < 16 ? cp + 1 : 16;
	}
	print_message("insider view: %.2f of 16 ID bits learned per claim on average\n",
	              (double)learned / rounds);
	assert_true(learned < 3 * rounds);
	mt6d_rebind_server_free(s);
}

/* (e) Only |t - now| <= window is accepted, both sides, edges included. */
static void test_window(void **state)
{
	struct mt6d_rebind_params p = {.window_ms = 30000};
	struct mt6d_rebind_server *s = mt6d_rebind_server_new(&p, master);
	struct mt6d_rebind_grant g;
	struct mt6d_rebind_loc l = loc6(53, 1);
	uint8_t claim[MT6D_REBIND_CLAIM_MAX];
	static const struct {
		int64_t dt;
		int want;
	} rows[] = {
	        {-30001, -ESTALE},
	        {-3600000, -ESTALE},
	        {30001, -ESTALE},
	        {86400000, -ESTALE},
	        {-30000, 0},
	        {-1, 0},
	        {0, 0},
	        {30000, 0},
	};

	assert_non_null(s);
	assert_int_equal(mt6d_rebind_server_assign(s, NOW, &g), 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int n = make(claim, &g, (uint64_t)((int64_t)NOW + rows[i].dt), &l);
		assert_int_equal(mt6d_rebind_server_verify(s, claim, (size_t)n, &l, NOW, NULL),
		                 rows[i].want);
	}
	/* A claim from long ago is refused (t = 0 as well). */
	int n = make(claim, &g, 0, &l);
	assert_int_equal(mt6d_rebind_server_verify(s, claim, (size_t)n, &l, NOW, NULL), -ESTALE);
	mt6d_rebind_server_free(s);
}

/* Tree keys rotate: a grant of the previous epoch still works, one older or
 * newer does not; a renewal gives the new epoch's keys with the same P. */
static void test_epochs(void **state)
{
	struct mt6d_rebind_server *s = server(8);
	struct mt6d_rebind_grant g, r, future;
	struct mt6d_rebind_result res;
	struct mt6d_rebind_loc l = loc6(1, 1);
	uint8_t claim[MT6D_REBIND_CLAIM_MAX];
	uint64_t e0 = NOW / EPOCH, t1 = (e0 + 1) * EPOCH + 10, t2 = (e0 + 2) * EPOCH + 10;
	int n;

	assert_int_equal(mt6d_rebind_server_assign(s, NOW, &g), 0);
	assert_int_equal(mt6d_rebind_server_renew(s, g.conn, t1, &future), 0);
	assert_true(future.epoch == e0 + 1);
	/* Back in epoch e0, the next epoch's keys are not yet accepted. */
	n = make(claim, &future, NOW, &l);
	assert_int_equal(mt6d_rebind_server_verify(s, claim, (size_t)n, &l, NOW, NULL), -EBADMSG);

	n = make(claim, &g, t1, &l);
	assert_int_equal(mt6d_rebind_server_verify(s, claim, (size_t)n, &l, t1, &res), 0);
	assert_true(res.epoch == e0);
	assert_int_equal(mt6d_rebind_server_renew(s, g.conn, t1, &r), 0);
	assert_true(r.epoch == e0 + 1);
	assert_int_equal(r.conn, g.conn);
	assert_memory_equal(r.conn_key, g.conn_key, MT6D_REBIND_KEY_LEN);
	for (unsigned j = 0; j < 8; j++)
		assert_memory_not_equal(r.tree_keys[j], g.tree_keys[j], MT6D_REBIND_KEY_LEN);
	n = make(claim, &r, t1 + 1, &l);
	assert_int_equal(mt6d_rebind_server_verify(s, claim, (size_t)n, &l, t1 + 1, &res), 0);
	assert_true(res.epoch == e0 + 1);
	/* Two epochs on, the first grant is dead and the renewal alive. */
	n = make(claim, &g, t2, &l);
	assert_int_equal(mt6d_rebind_server_verify(s, claim, (size_t)n, &l, t2, NULL), -EBADMSG);
	n = make(claim, &r, t2 + 1, &l);
	assert_int_equal(mt6d_rebind_server_verify(s, claim, (size_t)n, &l, t2 + 1, NULL), 0);
	/* Jumping far ahead recomputes both epochs. */
	assert_int_equal(mt6d_rebind_server_renew(s, g.conn, t2 + 100 * EPOCH, &r), 0);
	n = make(claim, &r, t2 + 101 * EPOCH, &l); /* keys of the previous epoch */
	assert_int_equal(mt6d_rebind_server_verify(s, claim, (size_t)n, &l, t2 + 101 * EPOCH, NULL),
	                 0);
	mt6d_rebind_server_free(s);
}

/* A released ID's old holder cannot claim it, before or after it is
 * given to someone else (another generation, another P). */
static void test_release(void **state)
{
	struct mt6d_rebind_server *s = server(4);
	struct mt6d_rebind_grant old, fresh, g;
	struct mt6d_rebind_loc l = loc6(2, 2);
	uint8_t claim[MT6D_REBIND_CLAIM_MAX];
	int n;

	assert_int_equal(mt6d_rebind_server_assign_at(s, 5, NOW, &old), 0);
	assert_int_equal(mt6d_rebind_server_assign_at(s, 5, NOW, &g), -EBUSY);
	assert_int_equal(mt6d_rebind_server_assign_at(s, 16, NOW, &g), -EINVAL);
	assert_int_equal(mt6d_rebind_server_release(s, 5), 0);
	assert_int_equal(mt6d_rebind_server_release(s, 5), -ENOENT);
	assert_int_equal(mt6d_rebind_server_renew(s, 5, NOW, &g), -ENOENT);
	n = make(claim, &old, NOW, &l);
	assert_int_equal(mt6d_rebind_server_verify(s, claim, (size_t)n, &l, NOW, NULL), -EBADMSG);
	assert_int_equal(mt6d_rebind_server_assign_at(s, 5, NOW, &fresh), 0);
	assert_memory_not_equal(old.conn_key, fresh.conn_key, MT6D_REBIND_KEY_LEN);
	n = make(claim, &old, NOW + 1, &l);
	assert_int_equal(mt6d_rebind_server_verify(s, claim, (size_t)n, &l, NOW, NULL), -EBADMSG);
	n = make(claim, &fresh, NOW + 2, &l);
	assert_int_equal(mt6d_rebind_server_verify(s, claim, (size_t)n, &l, NOW, NULL), 0);
	/* Fill all 16 IDs, then there is no room. */
	while (mt6d_rebind_server_count(s) < 16)
		assert_int_equal(mt6d_rebind_server_assign(s, NOW, &g), 0);
	assert_int_equal(mt6d_rebind_server_assign(s, NOW, &g), -ENOSPC);
	mt6d_rebind_server_free(s);
}

/* L is configurable: claims and grants have the lengths of the header,
 * every ID of a small tree works, and a claim of one L fails at another. */
static void test_levels(void **state)
{
	static const unsigned ls[] = {1, 3, 8, 16, 20};
	uint8_t claim[MT6D_REBIND_CLAIM_MAX], enc[MT6D_REBIND_GRANT_MAX];
	struct mt6d_rebind_loc l = loc6(3, 3);

	for (size_t i = 0; i < sizeof(ls) / sizeof(ls[0]); i++) {
		struct mt6d_rebind_server *s = server(ls[i]), *other = server(ls[i] == 8 ? 9 : 8);
		struct mt6d_rebind_grant g, d;
		size_t all = ls[i] <= 3 ? (size_t)1 << ls[i] : 4;

		for (size_t k = 0; k < all; k++) {
			int n;
			assert_int_equal(mt6d_rebind_server_assign(s, NOW, &g), 0);
			n = make(claim, &g, NOW, &l);
			assert_int_equal(n, 24 + 16 * ls[i] + 46);
			assert_int_equal(
			        mt6d_rebind_server_verify(s, claim, (size_t)n, &l, NOW, NULL), 0);
			assert_int_equal(
			        mt6d_rebind_server_verify(other, claim, (size_t)n, &l, NOW, NULL),
			        -EMSGSIZE);
			assert_int_equal(mt6d_rebind_grant_encode(enc, sizeof(enc), &g),
			                 48 + 32 * ls[i]);
			assert_int_equal(mt6d_rebind_grant_decode(&d, enc, 48 + 32 * ls[i]), 0);
			assert_memory_equal(&d, &g, sizeof(g));
		}
		mt6d_rebind_server_free(s);
		mt6d_rebind_server_free(other);
	}
	struct mt6d_rebind_params p = {.levels = 25};
	assert_null(mt6d_rebind_server_new(&p, master));
	assert_int_equal(errno, EINVAL);
}

static void test_grant_malformed(void **state)
{
	struct mt6d_rebind_grant g = {.levels = 4, .conn = 15, .epoch = 7}, d;
	uint8_t enc[MT6D_REBIND_GRANT_MAX + 1];
	int n = mt6d_rebind_grant_encode(enc, sizeof(enc), &g);

	assert_int_equal(n, 48 + 128);
	assert_int_equal(mt6d_rebind_grant_encode(enc, (size_t)n - 1, &g), -EMSGSIZE);
	for (size_t len = 0; len <= sizeof(enc); len++)
		if (len != (size_t)n)
			assert_true(mt6d_rebind_grant_decode(&d, enc, len) < 0);
	enc[0] = 2;
	assert_int_equal(mt6d_rebind_grant_decode(&d, enc, (size_t)n), -EPROTONOSUPPORT);
	enc[0] = 1;
	enc[3] = 1;
	assert_int_equal(mt6d_rebind_grant_decode(&d, enc, (size_t)n), -EBADMSG);
	enc[3] = 0;
	enc[7] = 16; /* c >= 2^L */
	assert_int_equal(mt6d_rebind_grant_decode(&d, enc, (size_t)n), -EBADMSG);
	enc[7] = 15;
	enc[1] = 0;
	assert_int_equal(mt6d_rebind_grant_decode(&d, enc, (size_t)n), -EBADMSG);
	g.conn = 16;
	assert_int_equal(mt6d_rebind_grant_encode(enc, sizeof(enc), &g), -EINVAL);
	assert_int_equal(mt6d_rebind_claim(enc, sizeof(enc), &g, NOW, &(struct mt6d_rebind_loc){0}),
	                 -EINVAL);
}

/* Every length, random bytes of the right length, and every single-bit
 * change of a good claim are refused, without crashing. */
static void test_malformed_claims(void **state)
{
	struct mt6d_rebind_server *s = server(0);
	struct mt6d_rebind_grant g;
	struct mt6d_rebind_loc l = loc6(4, 4);
	uint8_t good[MT6D_REBIND_CLAIM_MAX], buf[MT6D_REBIND_CLAIM_MAX + 64];
	int n;

	assert_int_equal(mt6d_rebind_server_assign(s, NOW, &g), 0);
	n = make(good, &g, NOW, &l);
	for (size_t len = 0; len <= sizeof(buf); len++) {
		uint8_t *p = malloc(len ? len : 1); /* exact size, so ASan sees any over-read */
		assert_non_null(p);
		randombytes_buf(p, len);
		if (len >= (size_t)n)
			memcpy(p, good, (size_t)n);
		if (len != (size_t)n)
			assert_int_equal(mt6d_rebind_server_verify(s, p, len, &l, NOW, NULL),
			                 -EMSGSIZE);
		free(p);
	}
	for (int k = 0; k < 64; k++) {
		randombytes_buf(buf, (size_t)n);
		assert_int_equal(mt6d_rebind_server_verify(s, buf, (size_t)n, &l, NOW, NULL),
		                 -EBADMSG);
	}
	for (size_t i = 0; i < (size_t)n; i++) {
		memcpy(buf, good, (size_t)n);
		buf[i] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(mt6d_rebind_server_verify(s, buf, (size_t)n, &l, NOW, NULL),
		                 -EBADMSG);
	}
	/* Two tag blocks swapped: refused too. */
	memcpy(buf, good, (size_t)n);
	memcpy(buf + 24, good + 40, 16);
	memcpy(buf + 40, good + 24, 16);
	assert_int_equal(mt6d_rebind_server_verify(s, buf, (size_t)n, &l, NOW, NULL), -EBADMSG);
	assert_int_equal(mt6d_rebind_server_verify(s, good, (size_t)n, &l, NOW, NULL), 0);
	mt6d_rebind_server_free(s);
}

/* ---- a deliberately naive verifier, for the randomized comparison ---- */

#define NL 5 /* 32 connections */

struct naive {
	uint32_t gen[1 << NL];
	uint64_t last_t[1 << NL];
};

static int naive_verify(struct naive *nv, const uint8_t *claim, size_t len,
                        const struct mt6d_rebind_loc *from, uint64_t now)
{
	uint64_t e = now / EPOCH;
	int found = 0;
	uint32_t conn = 0;

	if (len != MT6D_REBIND_CLAIM_LEN(NL))
		return -EMSGSIZE;
	/* Rebuild the tags of every connection in both epochs and compare. */
	for (uint64_t ep = e; ep + 1 >= e && ep <= e; ep--) {
		for (uint32_t c = 0; c < (1u << NL); c++) {
			struct mt6d_rebind_grant g = {.levels = NL, .conn = c, .epoch = ep};
			uint8_t mine[MT6D_REBIND_CLAIM_MAX];
			for (unsigned j = 0; j < NL; j++)
				mt6d_rebind_tree_key(g.tree_keys[j], master, ep, j,
				                     c >> (NL - 1 - j));
			mt6d_rebind_claim_nonce(mine, sizeof(mine), &g, 0, from, claim);
			if (memcmp(mine + 24, claim + 24, 16 * NL) == 0) {
				found++;
				conn = c;
			}
		}
		if (ep == 0)
			break;
	}
	if (found != 1)
		return -EBADMSG;
	uint8_t key[32], pt[30];
	mt6d_rebind_conn_key(key, master, conn, nv->gen[conn]);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL, claim + 24 + 16 * NL, 46,
	                                               claim + 24, 16 * NL, claim, key) != 0 ||
	    !(nv->gen[conn] & 1) || mt6d_get_be32(pt + 8) != conn)
		return -EBADMSG;
	if (memcmp(pt + 12, from->addr, 16) || mt6d_get_be16(pt + 28) != from->port)
		return -EADDRNOTAVAIL;
	uint64_t t = mt6d_get_be64(pt);
	if ((t > now ? t - now : now - t) > MT6D_REBIND_DEFAULT_WINDOW_MS)
		return -ESTALE;
	if (t <= nv->last_t[conn])
		return -EALREADY;
	nv->last_t[conn] = t;
	return 0;
}

static void test_against_naive(void **state)
{
	struct mt6d_rebind_server *s = server(NL);
	struct mt6d_rebind_grant grants[1 << NL][2]; /* [c][0] current, [1] previous holder */
	struct naive nv = {0};
	uint8_t claim[MT6D_REBIND_CLAIM_MAX], last_ok[MT6D_REBIND_CLAIM_MAX];
	struct mt6d_rebind_loc last_from;
	int have_last = 0;
	uint64_t now = NOW;
	int outcomes[8] = {0};

	for (uint32_t c = 0; c < (1u << NL); c++) {
		assert_int_equal(mt6d_rebind_server_assign_at(s, c, now, &grants[c][0]), 0);
		grants[c][1] = grants[c][0];
		nv.gen[c] = 1;
	}
	for (int round = 0; round < 3000; round++) {
		uint32_t c = randombytes_uniform(1u << NL), what = randombytes_uniform(10);
		struct mt6d_rebind_loc l = loc6((uint16_t)randombytes_uniform(3), 1), from = l;
		const struct mt6d_rebind_grant *g = &grants[c][what == 1];
		uint64_t t = now - 40000 + randombytes_uniform(80000);
		int n, want, got;

		now += randombytes_uniform(what == 9 ? (uint32_t)EPOCH : 2000);
		if (what == 2 && (nv.gen[c] & 1)) { /* release */
			assert_int_equal(mt6d_rebind_server_release(s, c), 0);
			nv.gen[c]++;
			continue;
		}
		if (what == 3 && !(nv.gen[c] & 1)) { /* reassign */
			grants[c][1] = grants[c][0];
			assert_int_equal(mt6d_rebind_server_assign_at(s, c, now, &grants[c][0]), 0);
			nv.gen[c]++;
			nv.last_t[c] = 0;
			continue;
		}
		if (what == 4 && (nv.gen[c] & 1)) /* renewal */
			assert_int_equal(mt6d_rebind_server_renew(s, c, now, &grants[c][0]), 0);
		n = make(claim, g, t, &l);
		if (what == 7 && have_last) { /* the last accepted claim again */
			memcpy(claim, last_ok, (size_t)n);
			l = from = last_from;
		}
		if (what == 5)
			claim[randombytes_uniform((uint32_t)n)] ^= 0x40;
		if (what == 6)
			from.port ^= 1;
		want = naive_verify(&nv, claim, (size_t)n, &from, now);
		got = mt6d_rebind_server_verify(s, claim, (size_t)n, &from, now, NULL);
		assert_int_equal(got, want);
		switch (got) {
		case 0:
			memcpy(last_ok, claim, (size_t)n);
			last_from = from;
			have_last = 1;
			outcomes[0]++;
			break;
		case -EBADMSG:
			outcomes[1]++;
			break;
		case -EADDRNOTAVAIL:
			outcomes[2]++;
			break;
		case -ESTALE:
			outcomes[3]++;
			break;
		case -EALREADY:
			outcomes[4]++;
			break;
		default:
			fail();
		}
	}
	/* Every outcome occurred, so the comparison covered them all. */
	for (int k = 0; k < 5; k++)
		assert_true(outcomes[k] > 0);
	print_message("naive comparison: %d accepted, %d bad, %d moved, %d stale, %d replayed\n",
	              outcomes[0], outcomes[1], outcomes[2], outcomes[3], outcomes[4]);
	mt6d_rebind_server_free(s);
}

/* ---- unlinkability ---- */

#define CLIENTS 20
#define PER     100

/*
 * For every byte position, the rate at which two claims have the same byte
 * there: over pairs of claims of one client, and over pairs of claims of
 * different clients. Returns the largest excess of the first over the
 * second, in standard deviations of the same-client estimate.
 */
static double worst_excess(uint8_t (*claims)[MT6D_REBIND_CLAIM_MAX], size_t len)
{
	double worst = -1e9;
	static unsigned cnt[CLIENTS][256], all[256];
	const double same_pairs = CLIENTS * (PER * (PER - 1) / 2.0);
	const double total_pairs = CLIENTS * PER * (CLIENTS * PER - 1) / 2.0;

	for (size_t pos = 0; pos < len; pos++) {
		double same = 0, every = 0, p_same, p_diff, sd;

		memset(cnt, 0, sizeof(cnt));
		memset(all, 0, sizeof(all));
		for (size_t k = 0; k < CLIENTS * PER; k++) {
			cnt[k / PER][claims[k][pos]]++;
			all[claims[k][pos]]++;
		}
		for (int v = 0; v < 256; v++) {
			for (int c = 0; c < CLIENTS; c++)
				same += cnt[c][v] * (cnt[c][v] - 1.0) / 2;
			every += all[v] * (all[v] - 1.0) / 2;
		}
		p_same = same / same_pairs;
		p_diff = (every - same) / (total_pairs - same_pairs);
		/* The spread expected of uniform bytes (p = 1/256), so a
		 * position where different clients never agree cannot divide
		 * by zero. */
		sd = sqrt((1.0 / 256) * (255.0 / 256) / same_pairs);
		if ((p_same - p_diff) / sd > worst)
			worst = (p_same - p_diff) / sd;
	}
	return worst;
}

static void claims_of_clients(uint8_t (*claims)[MT6D_REBIND_CLAIM_MAX], int fixed_nonce)
{
	struct mt6d_rebind_server *s = server(0);

	for (int c = 0; c < CLIENTS; c++) {
		struct mt6d_rebind_grant g;
		struct mt6d_rebind_loc l = loc6((uint16_t)(5000 + c), (uint8_t)c);
		uint8_t nonce[MT6D_REBIND_NONCE_LEN];

		randombytes_buf(nonce, sizeof(nonce));
		assert_int_equal(mt6d_rebind_server_assign(s, NOW, &g), 0);
		for (int k = 0; k < PER; k++) {
			uint8_t *out = claims[c * PER + k];
			uint64_t t = NOW + 1000u * (uint64_t)k;
			int n;
			if (fixed_nonce)
				n = mt6d_rebind_claim_nonce(out, MT6D_REBIND_CLAIM_MAX, &g, t, &l,
				                            nonce);
			else
				n = mt6d_rebind_claim(out, MT6D_REBIND_CLAIM_MAX, &g, t, &l);
			assert_int_equal(n, 326);
			/* Each one is a claim the server accepts. */
			assert_int_equal(mt6d_rebind_server_verify(s, out, 326, &l, t, NULL), 0);
		}
	}
	mt6d_rebind_server_free(s);
}

/*
 * An observer with 2000 claims of 20 clients finds no byte position where
 * claims of one client agree more often than claims of different clients.
 * The control (a client that reused its nonce) shows the statistic would
 * see a stable field if there were one.
 */
static void test_unlinkable(void **state)
{
	uint8_t(*claims)[MT6D_REBIND_CLAIM_MAX] = calloc(CLIENTS * PER, MT6D_REBIND_CLAIM_MAX);
	double real, control;

	assert_non_null(claims);
	claims_of_clients(claims, 0);
	real = worst_excess(claims, 326);
	claims_of_clients(claims, 1);
	control = worst_excess(claims, 326);
	print_message("unlinkability: worst same-client excess %.2f sd over 326 positions "
	              "(control with a reused nonce: %.0f sd)\n",
	              real, control);
	assert_true(real < 6.0);
	assert_true(control > 100.0);
	free(claims);
}

/* ---- replies and the rate limiter ---- */

/* (f) A reply is never longer than its trigger; short triggers get none. */
static void test_reply_size(void **state)
{
	uint8_t trig[200], out[64], echo[16];
	struct mt6d_rebind_loc from = loc6(40000, 0x42), got;

	randombytes_buf(trig, sizeof(trig));
	for (size_t len = 0; len <= sizeof(trig); len++) {
		int n = mt6d_rebind_reply_encode(out, sizeof(out), trig, len, &from);
		assert_true(n >= 0 && (size_t)n <= len);
		assert_int_equal(n, len < MT6D_REBIND_REPLY_LEN ? 0 : MT6D_REBIND_REPLY_LEN);
		if (n == 0)
			continue;
		assert_int_equal(mt6d_rebind_reply_decode(out, (size_t)n, echo, &got), 0);
		assert_memory_equal(echo, trig, 16);
		assert_memory_equal(got.addr, from.addr, 16);
		assert_int_equal(got.port, 40000);
	}
	assert_int_equal(mt6d_rebind_reply_encode(out, 33, trig, 100, &from), -EMSGSIZE);
	for (size_t len = 0; len < sizeof(out); len++)
		if (len != MT6D_REBIND_REPLY_LEN)
			assert_int_equal(mt6d_rebind_reply_decode(out, len, echo, &got), -EMSGSIZE);
}

/* The client acts only on a reply that echoes a datagram it sent recently,
 * and on each such reply once. */
static void test_reply_echo(void **state)
{
	static struct mt6d_rebind_echoes r; /* 256 KiB: not on the stack */
	struct mt6d_rebind_loc from = loc6(1, 1), got;
	uint8_t sent[80][48], reply[64], echo[16], forged[16], other[48];
	int n;

	memset(&r, 0, sizeof(r));
	randombytes_buf(sent, sizeof(sent));
	for (int k = 0; k < 80; k++) {
		mt6d_put_be16(sent[k], (uint16_t)(k * 200)); /* distinct entries */
		mt6d_rebind_echo_note(&r, sent[k], sizeof(sent[k]));
	}
	memcpy(other, sent[1], sizeof(other));
	other[0] ^= 0x80;                     /* another entry */
	mt6d_rebind_echo_note(&r, other, 33); /* too short to get a reply: not kept */
	assert_int_equal(mt6d_rebind_echo_take(&r, other), 0);
	n = mt6d_rebind_reply_encode(reply, sizeof(reply), sent[79], 48, &from);
	assert_int_equal(n, MT6D_REBIND_REPLY_LEN);
	assert_int_equal(mt6d_rebind_reply_decode(reply, (size_t)n, echo, &got), 0);
	assert_int_equal(mt6d_rebind_echo_take(&r, echo), 1);
	assert_int_equal(mt6d_rebind_echo_take(&r, echo), 0); /* once */
	for (int k = 0; k < 79; k++)
		assert_int_equal(mt6d_rebind_echo_take(&r, sent[k]), 1);
	/* A later datagram whose entry is the same replaces the earlier. */
	mt6d_rebind_echo_note(&r, sent[3], 48);
	memcpy(other, sent[3], sizeof(other));
	other[15] ^= 1;
	mt6d_rebind_echo_note(&r, other, 48);
	assert_int_equal(mt6d_rebind_echo_take(&r, sent[3]), 0);
	assert_int_equal(mt6d_rebind_echo_take(&r, other), 1);
	for (int k = 0; k < 1000; k++) {
		randombytes_buf(forged, sizeof(forged));
		mt6d_rebind_echo_note(&r, sent[k % 80], 48);
		assert_int_equal(mt6d_rebind_echo_take(&r, forged), 0);
	}
	memset(forged, 0, sizeof(forged)); /* an empty entry matches nothing */
	assert_int_equal(mt6d_rebind_echo_take(&r, forged), 0);
}

static void random_source(struct mt6d_rebind_loc *l)
{
	randombytes_buf(l, sizeof(*l));
	l->addr[0] = 0x20;
	l->addr[1] = 0x01;
	l->addr[2] = 0x0d;
	l->addr[3] = 0xb8;
}

/* (f) Ten seconds of junk from random prefixes, random lengths: replies
 * stay within the global budget, each no longer than its trigger. */
static void test_flood(void **state)
{
	struct mt6d_rebind_rl *rl = mt6d_rebind_rl_new(NULL);
	uint8_t trig[1500], out[64];
	size_t replies = 0, bytes_in = 0, bytes_out = 0;
	const int n = 200000;

	assert_non_null(rl);
	randombytes_buf(trig, sizeof(trig));
	for (int k = 0; k < n; k++) {
		struct mt6d_rebind_loc from;
		size_t len = randombytes_uniform(sizeof(trig) + 1);
		int r;

		random_source(&from);
		r = mt6d_rebind_reply(rl, out, sizeof(out), trig, len, &from,
		                      1000 + (uint64_t)k * 10000 / n);
		assert_true(r >= 0 && (size_t)r <= len);
		replies += r > 0;
		bytes_in += len;
		bytes_out += (size_t)r;
	}
	print_message("flood: %d junk datagrams in 10 s, %zu replies, %zu of %zu bytes\n", n,
	              replies, bytes_out, bytes_in);
	assert_true(replies <= 1000 + 1000 * 10);
	assert_true(replies >= 10000); /* the limiter is not just closed */
	assert_true(bytes_out < bytes_in);
	mt6d_rebind_rl_free(rl);
	mt6d_rebind_rl_free(NULL);
}

/* One /64 (any interface IDs) gets its burst then its rate; another /64 is
 * unaffected; IPv4 counts per /24. */
static void test_prefix_limit(void **state)
{
	struct mt6d_rebind_rl_params p = {.prefix_rate = 5, .prefix_burst = 10};
	struct mt6d_rebind_rl *rl = mt6d_rebind_rl_new(&p);
	struct mt6d_rebind_loc a = loc6(1, 1), b = loc6(1, 1);
	uint8_t v4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
	uint8_t v4b[16], v4c[16];
	int allowed = 0;

	assert_non_null(rl);
	b.addr[7] = 3; /* another /64 */
	for (int k = 0; k < 100000; k++) {
		randombytes_buf(a.addr + 8, 8);
		allowed += mt6d_rebind_rl_allow(rl, a.addr, 5000 + (uint64_t)k / 10);
	}
	/* 10 s: a burst of 10 and 5 per second. */
	assert_true(allowed >= 58 && allowed <= 60);
	for (int k = 0; k < 10; k++)
		assert_int_equal(mt6d_rebind_rl_allow(rl, b.addr, 15000), 1);
	assert_int_equal(mt6d_rebind_rl_allow(rl, b.addr, 15000), 0);
	/* Time that runs backwards gives nothing back. */
	assert_int_equal(mt6d_rebind_rl_allow(rl, b.addr, 1), 0);
	assert_int_equal(mt6d_rebind_rl_allow(rl, b.addr, 15000), 0);
	assert_int_equal(mt6d_rebind_rl_allow(rl, b.addr, 15200), 1);

	memcpy(v4b, v4, 16);
	memcpy(v4c, v4, 16);
	v4b[15] = 200; /* same /24 */
	v4c[14] = 3;   /* another /24 */
	for (int k = 0; k < 5; k++) {
		assert_int_equal(mt6d_rebind_rl_allow(rl, v4, 20000), 1);
		assert_int_equal(mt6d_rebind_rl_allow(rl, v4b, 20000), 1);
	}
	assert_int_equal(mt6d_rebind_rl_allow(rl, v4, 20000), 0);
	assert_int_equal(mt6d_rebind_rl_allow(rl, v4b, 20000), 0);
	assert_int_equal(mt6d_rebind_rl_allow(rl, v4c, 20000), 1);
	mt6d_rebind_rl_free(rl);
}

/* A tiny table under many prefixes: entries are evicted, memory stays
 * fixed, and the global bucket still bounds the total. */
static void test_global_limit(void **state)
{
	struct mt6d_rebind_rl_params p = {.global_rate = 100, .global_burst = 50, .slots = 8};
	struct mt6d_rebind_rl *rl = mt6d_rebind_rl_new(&p);
	int allowed = 0;

	assert_non_null(rl);
	for (int k = 0; k < 50000; k++) {
		struct mt6d_rebind_loc from;
		random_source(&from);
		allowed += mt6d_rebind_rl_allow(rl, from.addr, (uint64_t)k / 5); /* 10 s */
	}
	assert_true(allowed <= 50 + 100 * 10);
	assert_true(allowed >= 1000);
	mt6d_rebind_rl_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_accept),          cmocka_unit_test(test_replay),
	        cmocka_unit_test(test_colluders),       cmocka_unit_test(test_insider_view),
	        cmocka_unit_test(test_window),          cmocka_unit_test(test_epochs),
	        cmocka_unit_test(test_release),         cmocka_unit_test(test_levels),
	        cmocka_unit_test(test_grant_malformed), cmocka_unit_test(test_malformed_claims),
	        cmocka_unit_test(test_against_naive),   cmocka_unit_test(test_unlinkable),
	        cmocka_unit_test(test_reply_size),      cmocka_unit_test(test_reply_echo),
	        cmocka_unit_test(test_flood),           cmocka_unit_test(test_prefix_limit),
	        cmocka_unit_test(test_global_limit),
	};
	if (mt6d_init() < 0)
		return 1;
	randombytes_buf(master, sizeof(master));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
