/* SPDX-License-Identifier: MIT */
/*
 * Rebinding claims (docs/rebind.md; every layout in include/mt6d/rebind.h).
 *
 * Rules this file keeps:
 * - A claim has no cleartext byte that depends on who made it: N is random,
 *   every level tag and the final part are PRF/AEAD outputs under a fresh N.
 * - The keys form a binary tree: connection c holds the L node keys on its
 *   path, so another client can test a claim's tags only down to where
 *   their IDs part, and learns no more of the claimant's ID than that.
 * - The server finds the connection ID with 2L tag checks (plus two at
 *   level 0 for the previous epoch): at every level it checks both
 *   children, never stopping at the first that matches, so a claim whose
 *   levels all pass (an authentic one, or a replay of one) costs the same
 *   whatever its connection, and its time says nothing about c. A claim
 *   stops at the first level where not exactly one child matches: the work
 *   of a refused claim shows the level it failed at, which depends on the
 *   tags it carries, not on any connection's ID (docs/rebind.md, "Constant
 *   work"). It keeps the node keys of the top 16 levels of two epochs in
 *   tables.
 * - The level tags only say which path a claim took. What makes a claim
 *   count is the final AEAD under P[c, g], which only connection c (of
 *   generation g) and the server know; whoever holds tree keys of c's path
 *   (a departed holder of c, colluders covering its prefixes) can pass the
 *   levels but cannot make that final part.
 * - Replays are refused by a per-connection mark: the time of the last
 *   claim accepted for c. A claim must be newer. That needs 8 bytes per
 *   connection and no cache that junk could fill or evict.
 * - The server keeps no per-connection key: P[c, g] is derived from the
 *   master secret when a claim for c authenticates its levels.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/internal.h"
#include "mt6d/rebind.h"

/* The node keys of one epoch: E_e, and the keys of levels 0 .. depth-1
 * precomputed, node (j, p) at index 2^(j+1) - 2 + p. The table is 64-byte
 * aligned, so the two children of a node share one cache line and its four
 * grandchildren two. */
struct epoch_keys {
	uint64_t epoch;
	uint8_t ekey[MT6D_REBIND_KEY_LEN];
	uint8_t (*tab)[MT6D_REBIND_KEY_LEN];
};

struct mt6d_rebind_server {
	unsigned levels;
	unsigned depth; /* levels whose node keys are in the tables */
	uint32_t epoch_ms;
	uint32_t window_ms;
	uint8_t master[MT6D_REBIND_KEY_LEN];
	/* ep[cur] is the current epoch, ep[!cur] the previous one (when
	 * have_prev); have_keys once either is filled. */
	int have_keys;
	int have_prev;
	int cur;
	struct epoch_keys ep[2];
	/* Per connection: generation (odd while assigned) and replay mark. */
	uint32_t *gen;
	uint64_t *last_t;
	size_t count;
};

void mt6d_rebind_epoch_key(uint8_t key[static MT6D_REBIND_KEY_LEN],
                           const uint8_t master[static MT6D_REBIND_KEY_LEN], uint64_t epoch)
{
	crypto_kdf_derive_from_key(key, MT6D_REBIND_KEY_LEN, epoch, MT6D_REBIND_KDF_EPOCH, master);
}

static void node_key(uint8_t key[static MT6D_REBIND_KEY_LEN],
                     const uint8_t ekey[static MT6D_REBIND_KEY_LEN], unsigned level,
                     uint32_t prefix)
{
	crypto_kdf_derive_from_key(key, MT6D_REBIND_KEY_LEN, (uint64_t)level << 32 | prefix,
	                           MT6D_REBIND_KDF_TREE, ekey);
}

int mt6d_rebind_tree_key(uint8_t key[static MT6D_REBIND_KEY_LEN],
                         const uint8_t master[static MT6D_REBIND_KEY_LEN], uint64_t epoch,
                         unsigned level, uint32_t prefix)
{
	uint8_t ekey[MT6D_REBIND_KEY_LEN];

	if (level >= MT6D_REBIND_MAX_LEVELS || (uint64_t)prefix >> (level + 1))
		return -EINVAL;
	mt6d_rebind_epoch_key(ekey, master, epoch);
	node_key(key, ekey, level, prefix);
	sodium_memzero(ekey, sizeof(ekey));
	return 0;
}

void mt6d_rebind_conn_key(uint8_t key[static MT6D_REBIND_KEY_LEN],
                          const uint8_t master[static MT6D_REBIND_KEY_LEN], uint32_t conn,
                          uint32_t gen)
{
	crypto_kdf_derive_from_key(key, MT6D_REBIND_KEY_LEN, (uint64_t)gen << 32 | conn,
	                           MT6D_REBIND_KDF_CONN, master);
}

static int levels_ok(unsigned levels)
{
	return levels >= MT6D_REBIND_MIN_LEVELS && levels <= MT6D_REBIND_MAX_LEVELS;
}

static int grant_ok(const struct mt6d_rebind_grant *g)
{
	return levels_ok(g->levels) && (uint64_t)g->conn < (UINT64_C(1) << g->levels);
}

/* ---- grant ---- */

int mt6d_rebind_grant_encode(uint8_t *out, size_t cap, const struct mt6d_rebind_grant *g)
{
	size_t len;

	if (!grant_ok(g))
		return -EINVAL;
	len = MT6D_REBIND_GRANT_LEN(g->levels);
	if (cap < len)
		return -EMSGSIZE;
	out[0] = MT6D_REBIND_GRANT_VERSION;
	out[1] = g->levels;
	out[2] = out[3] = 0;
	mt6d_put_be32(out + 4, g->conn);
	mt6d_put_be64(out + 8, g->epoch);
	memcpy(out + 16, g->conn_key, MT6D_REBIND_KEY_LEN);
	memcpy(out + 48, g->tree_keys, MT6D_REBIND_KEY_LEN * (size_t)g->levels);
	return (int)len;
}

int mt6d_rebind_grant_decode(struct mt6d_rebind_grant *g, const uint8_t *in, size_t len)
{
	if (len < 48)
		return -EMSGSIZE;
	if (in[0] != MT6D_REBIND_GRANT_VERSION)
		return -EPROTONOSUPPORT;
	if (!levels_ok(in[1]) || in[2] || in[3])
		return -EBADMSG;
	if (len != MT6D_REBIND_GRANT_LEN(in[1]))
		return -EMSGSIZE;
	memset(g, 0, sizeof(*g));
	g->levels = in[1];
	g->conn = mt6d_get_be32(in + 4);
	g->epoch = mt6d_get_be64(in + 8);
	if (!grant_ok(g)) {
		memset(g, 0, sizeof(*g));
		return -EBADMSG;
	}
	memcpy(g->conn_key, in + 16, MT6D_REBIND_KEY_LEN);
	memcpy(g->tree_keys, in + 48, MT6D_REBIND_KEY_LEN * (size_t)g->levels);
	return 0;
}

void mt6d_rebind_grant_wipe(struct mt6d_rebind_grant *g)
{
	sodium_memzero(g, sizeof(*g));
}

/* ---- claim ---- */

static void level_tag(uint8_t tag[static MT6D_REBIND_TAG_LEN],
                      const uint8_t nonce[static MT6D_REBIND_NONCE_LEN],
                      const uint8_t key[static MT6D_REBIND_KEY_LEN])
{
	uint8_t empty[1] = {0}; /* no plaintext; a real pointer keeps UBSan quiet */

	crypto_aead_chacha20poly1305_ietf_encrypt_detached(
	        empty, tag, NULL, empty, 0, nonce + MT6D_REBIND_LEVEL_NONCE,
	        MT6D_REBIND_NONCE_LEN - MT6D_REBIND_LEVEL_NONCE, NULL, nonce, key);
}

/* 1 when tag is key's tag for nonce; constant time in the tag. */
static int level_check(const uint8_t tag[static MT6D_REBIND_TAG_LEN],
                       const uint8_t nonce[static MT6D_REBIND_NONCE_LEN],
                       const uint8_t key[static MT6D_REBIND_KEY_LEN])
{
	uint8_t want[MT6D_REBIND_TAG_LEN];
	int ok;

	level_tag(want, nonce, key);
	ok = crypto_verify_16(want, tag) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}

static void final_pt(uint8_t pt[static MT6D_REBIND_FINAL_PT_LEN], uint64_t t_ms, uint32_t conn,
                     const struct mt6d_rebind_loc *loc)
{
	mt6d_put_be64(pt, t_ms);
	mt6d_put_be32(pt + 8, conn);
	memcpy(pt + 12, loc->addr, 16);
	mt6d_put_be16(pt + 28, loc->port);
}

int mt6d_rebind_claim_nonce(uint8_t *out, size_t cap, const struct mt6d_rebind_grant *g,
                            uint64_t t_ms, const struct mt6d_rebind_loc *loc,
                            const uint8_t nonce[static 24])
{
	uint8_t pt[MT6D_REBIND_FINAL_PT_LEN];
	size_t len, tags_len;
	uint8_t *tags;

	if (!grant_ok(g))
		return -EINVAL;
	len = MT6D_REBIND_CLAIM_LEN(g->levels);
	if (cap < len)
		return -EMSGSIZE;
	memmove(out, nonce, MT6D_REBIND_NONCE_LEN);
	tags = out + MT6D_REBIND_NONCE_LEN;
	tags_len = MT6D_REBIND_TAG_LEN * (size_t)g->levels;
	for (unsigned j = 0; j < g->levels; j++)
		level_tag(tags + MT6D_REBIND_TAG_LEN * j, out, g->tree_keys[j]);
	final_pt(pt, t_ms, g->conn, loc);
	crypto_aead_xchacha20poly1305_ietf_encrypt(tags + tags_len, NULL, pt, sizeof(pt), tags,
	                                           tags_len, NULL, out, g->conn_key);
	sodium_memzero(pt, sizeof(pt));
	return (int)len;
}

int mt6d_rebind_claim(uint8_t *out, size_t cap, const struct mt6d_rebind_grant *g, uint64_t t_ms,
                      const struct mt6d_rebind_loc *loc)
{
	uint8_t nonce[MT6D_REBIND_NONCE_LEN];

	randombytes_buf(nonce, sizeof(nonce));
	return mt6d_rebind_claim_nonce(out, cap, g, t_ms, loc, nonce);
}

/* ---- server ---- */

struct mt6d_rebind_server *mt6d_rebind_server_new(const struct mt6d_rebind_params *p,
                                                  const uint8_t master[static MT6D_REBIND_KEY_LEN])
{
	struct mt6d_rebind_server *s;
	unsigned levels = p && p->levels ? p->levels : MT6D_REBIND_DEFAULT_LEVELS;
	size_t n;

	if (!levels_ok(levels)) {
		errno = EINVAL;
		return NULL;
	}
	n = (size_t)1 << levels;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->levels = levels;
	s->depth = levels < MT6D_REBIND_TABLE_LEVELS ? levels : MT6D_REBIND_TABLE_LEVELS;
	s->epoch_ms = p && p->epoch_ms ? p->epoch_ms : MT6D_REBIND_DEFAULT_EPOCH_MS;
	s->window_ms = p && p->window_ms ? p->window_ms : MT6D_REBIND_DEFAULT_WINDOW_MS;
	memcpy(s->master, master, MT6D_REBIND_KEY_LEN);
	s->gen = calloc(n, sizeof(*s->gen));
	s->last_t = calloc(n, sizeof(*s->last_t));
	/* 32 * (2^(depth+1) - 2) = 64 * (2^depth - 1): a multiple of the alignment. */
	for (int i = 0; i < 2; i++)
		s->ep[i].tab =
		        aligned_alloc(64, MT6D_REBIND_KEY_LEN * (((size_t)2 << s->depth) - 2));
	if (!s->gen || !s->last_t || !s->ep[0].tab || !s->ep[1].tab) {
		mt6d_rebind_server_free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

void mt6d_rebind_server_free(struct mt6d_rebind_server *s)
{
	if (!s)
		return;
	free(s->gen);
	free(s->last_t);
	for (int i = 0; i < 2; i++) {
		if (s->ep[i].tab)
			sodium_memzero(s->ep[i].tab,
			               MT6D_REBIND_KEY_LEN * (((size_t)2 << s->depth) - 2));
		free(s->ep[i].tab);
	}
	sodium_memzero(s, sizeof(*s));
	free(s);
}

unsigned mt6d_rebind_server_levels(const struct mt6d_rebind_server *s)
{
	return s->levels;
}

size_t mt6d_rebind_server_count(const struct mt6d_rebind_server *s)
{
	return s->count;
}

static void fill_epoch(const struct mt6d_rebind_server *s, struct epoch_keys *k, uint64_t epoch)
{
	k->epoch = epoch;
	mt6d_rebind_epoch_key(k->ekey, s->master, epoch);
	for (unsigned j = 0; j < s->depth; j++)
		for (uint32_t p = 0; p < (2u << j); p++)
			node_key(k->tab[(2u << j) - 2 + p], k->ekey, j, p);
}

/* The key of node (level, prefix) of epoch k: from the table, or derived
 * into scratch below the tabled levels. */
static const uint8_t *node(const struct mt6d_rebind_server *s, const struct epoch_keys *k,
                           unsigned level, uint32_t prefix, uint8_t scratch[static 32])
{
	if (level < s->depth)
		return k->tab[(2u << level) - 2 + prefix];
	node_key(scratch, k->ekey, level, prefix);
	return scratch;
}

/*
 * The deep tables do not fit in cache, and each level's lookup depends on
 * the level before. While the two tags of level j are computed, fetch the
 * four nodes of level j + 1 that can come next (two cache lines), so
 * the lookup does not wait on memory. The addresses depend on the prefix
 * of c, as the lookups themselves do: visible only to code that shares
 * this machine's caches (docs/rebind.md, "Constant work").
 */
static void prefetch_grandchildren(const struct mt6d_rebind_server *s, const struct epoch_keys *k,
                                   unsigned level, uint32_t parent)
{
#if defined(__GNUC__) || defined(__clang__)
	if (level + 1 < s->depth) {
		const uint8_t *p = k->tab[(2u << (level + 1)) - 2 + (parent << 2)];
		__builtin_prefetch(p);
		__builtin_prefetch(p + 64);
	}
#else
	(void)s, (void)k, (void)level, (void)parent;
#endif
}

/* Make ep[cur] the current epoch's keys and ep[!cur] the previous one's. */
static int set_epoch(struct mt6d_rebind_server *s, uint64_t now_ms)
{
	uint64_t e = now_ms / s->epoch_ms;

	if (s->have_keys && e == s->ep[s->cur].epoch)
		return 0;
	if (s->have_keys && e == s->ep[s->cur].epoch + 1) {
		s->cur = !s->cur; /* the old current becomes the previous */
	} else if (e > 0) {
		fill_epoch(s, &s->ep[!s->cur], e - 1);
	}
	fill_epoch(s, &s->ep[s->cur], e);
	s->have_prev = e > 0;
	s->have_keys = 1;
	return 0;
}

static void fill_grant(const struct mt6d_rebind_server *s, uint32_t conn,
                       struct mt6d_rebind_grant *g)
{
	const struct epoch_keys *k = &s->ep[s->cur];
	uint8_t scratch[MT6D_REBIND_KEY_LEN];

	memset(g, 0, sizeof(*g));
	g->levels = (uint8_t)s->levels;
	g->conn = conn;
	g->epoch = k->epoch;
	mt6d_rebind_conn_key(g->conn_key, s->master, conn, s->gen[conn]);
	for (unsigned j = 0; j < s->levels && j < MT6D_REBIND_MAX_LEVELS; j++)
		memcpy(g->tree_keys[j], node(s, k, j, conn >> (s->levels - 1 - j), scratch),
		       MT6D_REBIND_KEY_LEN);
	sodium_memzero(scratch, sizeof(scratch));
}

int mt6d_rebind_server_assign_at(struct mt6d_rebind_server *s, uint32_t conn, uint64_t now_ms,
                                 struct mt6d_rebind_grant *g)
{
	int err;

	if ((uint64_t)conn >= (UINT64_C(1) << s->levels))
		return -EINVAL;
	if (s->gen[conn] & 1)
		return -EBUSY;
	err = set_epoch(s, now_ms);
	if (err < 0)
		return err;
	s->gen[conn]++;
	s->last_t[conn] = 0;
	s->count++;
	fill_grant(s, conn, g);
	return 0;
}

int mt6d_rebind_server_assign(struct mt6d_rebind_server *s, uint64_t now_ms,
                              struct mt6d_rebind_grant *g)
{
	size_t n = (size_t)1 << s->levels;
	uint32_t c;

	if (s->count >= n)
		return -ENOSPC;
	/* A random start; the expected probe length stays short below full load. */
	c = randombytes_uniform((uint32_t)n);
	while (s->gen[c] & 1)
		c = (uint32_t)((c + 1) & (n - 1));
	return mt6d_rebind_server_assign_at(s, c, now_ms, g);
}

int mt6d_rebind_server_renew(struct mt6d_rebind_server *s, uint32_t conn, uint64_t now_ms,
                             struct mt6d_rebind_grant *g)
{
	int err;

	if ((uint64_t)conn >= (UINT64_C(1) << s->levels) || !(s->gen[conn] & 1))
		return -ENOENT;
	err = set_epoch(s, now_ms);
	if (err < 0)
		return err;
	fill_grant(s, conn, g);
	return 0;
}

int mt6d_rebind_server_release(struct mt6d_rebind_server *s, uint32_t conn)
{
	if ((uint64_t)conn >= (UINT64_C(1) << s->levels) || !(s->gen[conn] & 1))
		return -ENOENT;
	s->gen[conn]++;
	s->last_t[conn] = 0;
	s->count--;
	return 0;
}

int mt6d_rebind_server_verify(struct mt6d_rebind_server *s, const uint8_t *claim, size_t len,
                              const struct mt6d_rebind_loc *from, uint64_t now_ms,
                              struct mt6d_rebind_result *res)
{
	const uint8_t *nonce = claim, *tags = claim + MT6D_REBIND_NONCE_LEN;
	size_t tags_len = MT6D_REBIND_TAG_LEN * (size_t)s->levels;
	uint8_t pt[MT6D_REBIND_FINAL_PT_LEN], pkey[MT6D_REBIND_KEY_LEN];
	uint8_t scratch[MT6D_REBIND_KEY_LEN];
	const struct epoch_keys *cur, *prev, *k;
	unsigned ok0, ok1, okp0 = 0, okp1 = 0;
	uint32_t conn, gen;
	uint64_t t;
	int err;

	if (len != MT6D_REBIND_CLAIM_LEN(s->levels))
		return -EMSGSIZE;
	err = set_epoch(s, now_ms);
	if (err < 0)
		return err;

	/* Level 0 also tells the epoch: four candidates, all tried. */
	cur = &s->ep[s->cur];
	prev = &s->ep[!s->cur];
	ok0 = (unsigned)level_check(tags, nonce, node(s, cur, 0, 0, scratch));
	ok1 = (unsigned)level_check(tags, nonce, node(s, cur, 0, 1, scratch));
	if (s->have_prev) {
		okp0 = (unsigned)level_check(tags, nonce, node(s, prev, 0, 0, scratch));
		okp1 = (unsigned)level_check(tags, nonce, node(s, prev, 0, 1, scratch));
	}
	if (ok0 + ok1 + okp0 + okp1 != 1) {
		err = -EBADMSG;
		goto out;
	}
	k = okp0 | okp1 ? prev : cur;
	conn = ok1 | okp1;
	/* Below, the two children of the prefix found so far. */
	for (unsigned j = 1; j < s->levels; j++) {
		const uint8_t *tag = tags + MT6D_REBIND_TAG_LEN * j;

		prefetch_grandchildren(s, k, j, conn);
		ok0 = (unsigned)level_check(tag, nonce, node(s, k, j, conn << 1, scratch));
		ok1 = (unsigned)level_check(tag, nonce, node(s, k, j, conn << 1 | 1, scratch));
		if (ok0 + ok1 != 1) {
			err = -EBADMSG;
			goto out;
		}
		conn = conn << 1 | ok1;
	}

	gen = s->gen[conn];
	mt6d_rebind_conn_key(pkey, s->master, conn, gen);
	err = crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL, tags + tags_len,
	                                                 MT6D_REBIND_FINAL_LEN, tags, tags_len,
	                                                 nonce, pkey);
	sodium_memzero(pkey, sizeof(pkey));
	if (err != 0 || !(gen & 1) || mt6d_get_be32(pt + 8) != conn) {
		err = -EBADMSG;
		goto out;
	}
	if (memcmp(pt + 12, from->addr, 16) != 0 || mt6d_get_be16(pt + 28) != from->port) {
		err = -EADDRNOTAVAIL;
		goto out;
	}
	t = mt6d_get_be64(pt);
	if ((t > now_ms ? t - now_ms : now_ms - t) > s->window_ms) {
		err = -ESTALE;
		goto out;
	}
	if (t <= s->last_t[conn]) {
		err = -EALREADY;
		goto out;
	}
	s->last_t[conn] = t;
	if (res) {
		res->conn = conn;
		res->t_ms = t;
		res->epoch = k->epoch;
	}
	err = 0;
out:
	sodium_memzero(pt, sizeof(pt));
	sodium_memzero(scratch, sizeof(scratch));
	return err;
}

/* ---- unrecognized-connection reply ---- */

int mt6d_rebind_reply_encode(uint8_t *out, size_t cap, const uint8_t *trig, size_t trig_len,
                             const struct mt6d_rebind_loc *from)
{
	if (trig_len < MT6D_REBIND_REPLY_LEN)
		return 0;
	if (cap < MT6D_REBIND_REPLY_LEN)
		return -EMSGSIZE;
	memmove(out, trig, MT6D_REBIND_ECHO_LEN);
	memcpy(out + MT6D_REBIND_ECHO_LEN, from->addr, 16);
	mt6d_put_be16(out + MT6D_REBIND_ECHO_LEN + 16, from->port);
	return MT6D_REBIND_REPLY_LEN;
}

int mt6d_rebind_reply_decode(const uint8_t *in, size_t len,
                             uint8_t echo[static MT6D_REBIND_ECHO_LEN], struct mt6d_rebind_loc *loc)
{
	if (len != MT6D_REBIND_REPLY_LEN)
		return -EMSGSIZE;
	memcpy(echo, in, MT6D_REBIND_ECHO_LEN);
	memcpy(loc->addr, in + MT6D_REBIND_ECHO_LEN, 16);
	loc->port = mt6d_get_be16(in + MT6D_REBIND_ECHO_LEN + 16);
	return 0;
}

static size_t echo_slot(const uint8_t *e)
{
	return (size_t)mt6d_get_be16(e) & (MT6D_REBIND_ECHO_SLOTS - 1);
}

void mt6d_rebind_echo_note(struct mt6d_rebind_echoes *r, const uint8_t *dgram, size_t len)
{
	if (len >= MT6D_REBIND_REPLY_LEN)
		memcpy(r->echo[echo_slot(dgram)], dgram, MT6D_REBIND_ECHO_LEN);
}

int mt6d_rebind_echo_take(struct mt6d_rebind_echoes *r,
                          const uint8_t echo[static MT6D_REBIND_ECHO_LEN])
{
	uint8_t *e = r->echo[echo_slot(echo)];

	if (sodium_is_zero(e, MT6D_REBIND_ECHO_LEN) ||
	    sodium_memcmp(e, echo, MT6D_REBIND_ECHO_LEN) != 0)
		return 0;
	memset(e, 0, MT6D_REBIND_ECHO_LEN);
	return 1;
}
