/* SPDX-License-Identifier: MIT */
/*
 * Rebind claims verified per second on one core, side by side in one run:
 *
 * - tree:  libmt6d's key-tree claim (include/mt6d/rebind.h), 2^L connections
 *          all assigned; the server tries both children of the prefix found
 *          so far at every level (2L + 2 tag checks), then one final AEAD.
 * - naive: the same claim shape with a single tag under each connection's
 *          own key; the server tries every connection's key. "all" tries
 *          all 2^L (what a server must do to take the same time whatever
 *          the connection, as the tree does); "first" stops at the match
 *          (n/2 on average, and its timing tells which connection it was).
 *          The per-key check is the tree's per-level check (ChaCha20-Poly1305
 *          tag), so the comparison is of the search, not of the primitive.
 *
 * Time is CPU time of this thread (the machine is shared); wall time is
 * printed beside it. Every claim verified is a fresh, valid one.
 *
 *   bench_rebind [-l levels] [-n tree_claims] [-m naive_claims]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "mt6d/rebind.h"

#define NOW UINT64_C(1700000000000)

struct clocks {
	double cpu, wall;
};

static struct clocks now_clocks(void)
{
	struct timespec c, w;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
	clock_gettime(CLOCK_MONOTONIC, &w);
	return (struct clocks){c.tv_sec + c.tv_nsec * 1e-9, w.tv_sec + w.tv_nsec * 1e-9};
}

static struct clocks since(struct clocks a)
{
	struct clocks b = now_clocks();
	return (struct clocks){b.cpu - a.cpu, b.wall - a.wall};
}

/* ---- the naive scheme ---- */

#define NAIVE_LEN (24 + 16 + MT6D_REBIND_FINAL_LEN)

static void naive_tag(uint8_t tag[16], const uint8_t *nonce, const uint8_t key[32])
{
	uint8_t empty[1] = {0};

	crypto_aead_chacha20poly1305_ietf_encrypt_detached(empty, tag, NULL, empty, 0, nonce + 12,
	                                                   12, NULL, nonce, key);
}

static void naive_claim(uint8_t out[NAIVE_LEN], const uint8_t key[32], uint32_t conn, uint64_t t,
                        const struct mt6d_rebind_loc *loc)
{
	uint8_t pt[MT6D_REBIND_FINAL_PT_LEN];

	randombytes_buf(out, 24);
	naive_tag(out + 24, out, key);
	mt6d_put_be64(pt, t);
	mt6d_put_be32(pt + 8, conn);
	memcpy(pt + 12, loc->addr, 16);
	mt6d_put_be16(pt + 28, loc->port);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 40, NULL, pt, sizeof(pt), out + 24, 16,
	                                           NULL, out, key);
}

/* The connection the claim belongs to, or -1. */
static long naive_verify(const uint8_t *claim, const uint8_t (*keys)[32], size_t n, int all)
{
	uint8_t want[16], pt[MT6D_REBIND_FINAL_PT_LEN];
	long found = -1;

	for (size_t c = 0; c < n; c++) {
		naive_tag(want, claim, keys[c]);
		if (crypto_verify_16(want, claim + 24) == 0) {
			found = (long)c;
			if (!all)
				break;
		}
	}
	if (found < 0 ||
	    crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL, claim + 40,
	                                               MT6D_REBIND_FINAL_LEN, claim + 24, 16, claim,
	                                               keys[found]) != 0 ||
	    mt6d_get_be32(pt + 8) != (uint32_t)found)
		return -1;
	return found;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_rebind [-l levels] [-n tree_claims] [-m naive_claims]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned levels = 16;
	size_t ntree = 100000, nnaive = 40;
	struct mt6d_rebind_params p = {.window_ms = 600000};
	struct mt6d_rebind_loc loc = {.addr = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}, .port = 4433};
	uint8_t master[32];
	int opt;

	while ((opt = getopt(argc, argv, "l:n:m:")) != -1) {
		switch (opt) {
		case 'l':
			levels = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			ntree = strtoul(optarg, NULL, 10);
			break;
		case 'm':
			nnaive = strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (mt6d_init() < 0 || levels < 1 || levels > 20 || !ntree || !nnaive)
		usage();
	p.levels = levels;
	randombytes_buf(master, sizeof(master));

	size_t n = (size_t)1 << levels, len = MT6D_REBIND_CLAIM_LEN(levels);
	struct mt6d_rebind_server *s = mt6d_rebind_server_new(&p, master);
	uint8_t(*keys)[32] = calloc(n, 32);
	uint8_t *claims = malloc(ntree * len), *naive = malloc(nnaive * NAIVE_LEN);
	uint32_t *owner = malloc(nnaive * sizeof(*owner));
	struct mt6d_rebind_grant g;
	struct clocks t_tree, t_all, t_first;
	size_t ok = 0, ok_all = 0, ok_first = 0;

	if (!s || !keys || !claims || !naive || !owner) {
		fprintf(stderr, "bench_rebind: out of memory\n");
		return 1;
	}
	/* The first call fills the node-key tables of two epochs. */
	struct clocks t_fill = now_clocks();
	if (mt6d_rebind_server_assign(s, NOW, &g) != 0)
		return 1;
	t_fill = since(t_fill);
	memcpy(keys[g.conn], g.conn_key, 32);
	/* Every connection assigned; the naive server keeps each one's key. */
	for (uint32_t c = 1; c < n; c++) {
		if (mt6d_rebind_server_assign(s, NOW, &g) != 0)
			return 1;
		memcpy(keys[g.conn], g.conn_key, 32);
	}
	/* Claims of random connections, each newer than the last. */
	for (size_t k = 0; k < ntree; k++) {
		uint32_t c = randombytes_uniform((uint32_t)n);
		if (mt6d_rebind_server_renew(s, c, NOW, &g) != 0 ||
		    mt6d_rebind_claim(claims + k * len, len, &g, NOW - 300000 + k, &loc) !=
		            (int)len)
			return 1;
	}
	/* Owners drawn one from each of nnaive equal slices of the IDs, so
	 * the stop-at-match mean is not at the mercy of a few draws. */
	for (size_t k = 0; k < nnaive; k++) {
		owner[k] =
		        (uint32_t)(((uint64_t)k * n + randombytes_uniform((uint32_t)n)) / nnaive);
		naive_claim(naive + k * NAIVE_LEN, keys[owner[k]], owner[k], NOW, &loc);
	}
	mt6d_rebind_grant_wipe(&g);

	struct clocks t0 = now_clocks();
	for (size_t k = 0; k < ntree; k++)
		ok += mt6d_rebind_server_verify(s, claims + k * len, len, &loc, NOW, NULL) == 0;
	t_tree = since(t0);
	t0 = now_clocks();
	for (size_t k = 0; k < nnaive; k++)
		ok_all += naive_verify(naive + k * NAIVE_LEN, (const uint8_t(*)[32])keys, n, 1) ==
		          (long)owner[k];
	t_all = since(t0);
	t0 = now_clocks();
	for (size_t k = 0; k < nnaive; k++)
		ok_first += naive_verify(naive + k * NAIVE_LEN, (const uint8_t(*)[32])keys, n, 0) ==
		            (long)owner[k];
	t_first = since(t0);

	double r_tree = ntree / t_tree.cpu, r_all = nnaive / t_all.cpu,
	       r_first = nnaive / t_first.cpu;
	printf("rebind claims, L = %u (%zu connections, all assigned), one core, CPU time\n",
	       levels, n);
	printf("%-28s %8s %9s %12s %10s %9s\n", "scheme", "claims", "accepted", "claims/s",
	       "us/claim", "wall s");
	printf("%-28s %8zu %9zu %12.0f %10.2f %9.3f\n", "key tree (2L+2 tags)", ntree, ok, r_tree,
	       1e6 / r_tree, t_tree.wall);
	printf("%-28s %8zu %9zu %12.1f %10.0f %9.3f\n", "naive, every key", nnaive, ok_all, r_all,
	       1e6 / r_all, t_all.wall);
	printf("%-28s %8zu %9zu %12.1f %10.0f %9.3f\n", "naive, stop at match", nnaive, ok_first,
	       r_first, 1e6 / r_first, t_first.wall);
	printf("node-key tables of two epochs filled in %.1f ms CPU\n", t_fill.cpu * 1e3);
	printf("tree / naive every key:    %.0fx\n", r_tree / r_all);
	printf("tree / naive stop at match: %.0fx\n", r_tree / r_first);

	free(claims);
	free(naive);
	free(owner);
	sodium_memzero(keys, n * 32);
	free(keys);
	mt6d_rebind_server_free(s);
	return ok == ntree && ok_all == nnaive && ok_first == nnaive ? 0 : 1;
}
