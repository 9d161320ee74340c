/* SPDX-License-Identifier: MIT */
/*
 * Rebinding claims (docs/rebind.md; every layout in include/mt6d/rebind.h).
 *
 * Rules this file keeps:
 * - A claim has no cleartext byte that depends on who made it: N is random,
 *   every level tag and the final part are PRF/AEAD outputs under a fresh N.
 * - The server finds the connection ID with 2L tag checks (plus two at
 *   level 0 for the previous epoch) and always does all of them, so how
 *   long a verification takes says nothing about which connection it was.
 * - The level tags only say which key a level used. What makes a claim
 *   count is the final AEAD under P[c, g], which only connection c (of
 *   generation g) and the server know; holders of complementary tree keys
 *   can pass every level for any c but cannot make that final part.
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

#include "internal.h"
#include "mt6d/rebind.h"

#define EPOCH_MAX (UINT64_C(1) << 58) /* 64*e + 2*j + b must fit in 64 bits */

struct mt6d_rebind_server {
	unsigned levels;
	uint32_t epoch_ms;
	uint32_t window_ms;
	uint8_t master[MT6D_REBIND_KEY_LEN];
	/* Tree keys of epoch `epoch` ([0]) and epoch - 1 ([1], when have_prev). */
	int have_keys;
	int have_prev;
	uint64_t epoch;
	uint8_t keys[2][MT6D_REBIND_MAX_LEVELS][2][MT6D_REBIND_KEY_LEN];
	/* Per connection: generation (odd while assigned) and replay mark. */
	uint32_t *gen;
	uint64_t *last_t;
	size_t count;
};

int mt6d_rebind_tree_key(uint8_t key[static MT6D_REBIND_KEY_LEN],
                         const uint8_t master[static MT6D_REBIND_KEY_LEN], uint64_t epoch,
                         unsigned level, unsigned bit)
{
	if (level >= MT6D_REBIND_MAX_LEVELS || bit > 1 || epoch >= EPOCH_MAX)
		return -EINVAL;
	crypto_kdf_derive_from_key(key, MT6D_REBIND_KEY_LEN, epoch * 64 + level * 2 + bit,
	                           MT6D_REBIND_KDF_TREE, master);
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
	return levels_ok(g->levels) && (uint64_t)g->conn < (UINT64_C(1) << g->levels) &&
	       g->epoch < EPOCH_MAX;
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
	s->epoch_ms = p && p->epoch_ms ? p->epoch_ms : MT6D_REBIND_DEFAULT_EPOCH_MS;
	s->window_ms = p && p->window_ms ? p->window_ms : MT6D_REBIND_DEFAULT_WINDOW_MS;
	memcpy(s->master, master, MT6D_REBIND_KEY_LEN);
	s->gen = calloc(n, sizeof(*s->gen));
	s->last_t = calloc(n, sizeof(*s->last_t));
	if (!s->gen || !s->last_t) {
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

static void fill_epoch(struct mt6d_rebind_server *s, int which, uint64_t epoch)
{
	/* levels <= MAX_LEVELS always; saying so lets GCC see the bound. */
	for (unsigned j = 0; j < s->levels && j < MT6D_REBIND_MAX_LEVELS; j++)
		for (unsigned b = 0; b < 2; b++)
			mt6d_rebind_tree_key(s->keys[which][j][b], s->master, epoch, j, b);
}

/* Make keys[0] the current epoch's and keys[1] the previous one's. */
static int set_epoch(struct mt6d_rebind_server *s, uint64_t now_ms)
{
	uint64_t e = now_ms / s->epoch_ms;

	if (e >= EPOCH_MAX)
		return -EINVAL;
	if (s->have_keys && e == s->epoch)
		return 0;
	if (s->have_keys && e == s->epoch + 1)
		memcpy(s->keys[1], s->keys[0], sizeof(s->keys[0]));
	else if (e > 0)
		fill_epoch(s, 1, e - 1);
	fill_epoch(s, 0, e);
	s->epoch = e;
	s->have_prev = e > 0;
	s->have_keys = 1;
	return 0;
}

static void fill_grant(const struct mt6d_rebind_server *s, uint32_t conn,
                       struct mt6d_rebind_grant *g)
{
	memset(g, 0, sizeof(*g));
	g->levels = (uint8_t)s->levels;
	g->conn = conn;
	g->epoch = s->epoch;
	mt6d_rebind_conn_key(g->conn_key, s->master, conn, s->gen[conn]);
	for (unsigned j = 0; j < s->levels; j++)
		memcpy(g->tree_keys[j], s->keys[0][j][(conn >> (s->levels - 1 - j)) & 1],
		       MT6D_REBIND_KEY_LEN);
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
	unsigned which, bit, ok0, ok1, okp0 = 0, okp1 = 0;
	uint32_t conn, gen;
	uint64_t t;
	int err;

	if (len != MT6D_REBIND_CLAIM_LEN(s->levels))
		return -EMSGSIZE;
	err = set_epoch(s, now_ms);
	if (err < 0)
		return err;

	/* Level 0 also tells the epoch: four candidates, all tried. */
	ok0 = (unsigned)level_check(tags, nonce, s->keys[0][0][0]);
	ok1 = (unsigned)level_check(tags, nonce, s->keys[0][0][1]);
	if (s->have_prev) {
		okp0 = (unsigned)level_check(tags, nonce, s->keys[1][0][0]);
		okp1 = (unsigned)level_check(tags, nonce, s->keys[1][0][1]);
	}
	if (ok0 + ok1 + okp0 + okp1 != 1)
		return -EBADMSG;
	which = okp0 | okp1;
	conn = ok1 | okp1;
	for (unsigned j = 1; j < s->levels; j++) {
		const uint8_t *tag = tags + MT6D_REBIND_TAG_LEN * j;

		ok0 = (unsigned)level_check(tag, nonce, s->keys[which][j][0]);
		ok1 = (unsigned)level_check(tag, nonce, s->keys[which][j][1]);
		if (ok0 + ok1 != 1)
			return -EBADMSG;
		bit = ok1;
		conn = conn << 1 | bit;
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
		res->epoch = s->epoch - which;
	}
	err = 0;
out:
	sodium_memzero(pt, sizeof(pt));
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
