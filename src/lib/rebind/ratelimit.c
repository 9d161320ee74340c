/* SPDX-License-Identifier: MIT */
/*
 * Rate limiter for "unrecognized connection" replies (DESIGN.md fix 5;
 * docs/rebind.md). Token buckets per source prefix plus one global bucket.
 *
 * Rules this file keeps:
 * - Memory is fixed at creation: `slots` entries in 4-way sets. A prefix
 *   that finds no room evicts the least recently seen entry of its set, so
 *   a flood from many prefixes cannot grow the table; the global bucket
 *   bounds the total whatever the eviction does.
 * - The set is chosen by SipHash under a key drawn at creation, so a sender
 *   cannot pick prefixes that all land in one set and evict a victim.
 * - Buckets count thousandths of a token and refill by elapsed milliseconds
 *   times the rate per second: integer arithmetic, no drift. Time that runs
 *   backwards refills nothing.
 * - A token is taken from the global bucket only when the prefix bucket
 *   also has one, so a single noisy prefix cannot drain the global budget.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mt6d/rebind.h"

#define WAYS    4
#define MILLI   1000u
#define KEY_LEN 9 /* family(1) prefix(8) */

struct bucket {
	uint64_t tokens; /* thousandths */
	uint64_t last_ms;
};

struct entry {
	uint8_t key[KEY_LEN];
	uint8_t used;
	uint64_t seen; /* LRU stamp */
	struct bucket b;
};

struct mt6d_rebind_rl {
	uint32_t prefix_rate, prefix_burst;
	uint32_t global_rate, global_burst;
	size_t nsets;
	uint64_t clock; /* LRU counter */
	uint8_t hkey[crypto_shorthash_KEYBYTES];
	struct bucket global;
	struct entry *e;
};

struct mt6d_rebind_rl *mt6d_rebind_rl_new(const struct mt6d_rebind_rl_params *p)
{
	struct mt6d_rebind_rl *rl = calloc(1, sizeof(*rl));
	size_t slots = p && p->slots ? p->slots : 4096;
	size_t n = WAYS;

	if (!rl)
		return NULL;
	if (slots > ((size_t)1 << 24)) {
		free(rl);
		errno = EINVAL;
		return NULL;
	}
	while (n < slots)
		n <<= 1;
	rl->nsets = n / WAYS;
	rl->prefix_rate = p && p->prefix_rate ? p->prefix_rate : 5;
	rl->prefix_burst = p && p->prefix_burst ? p->prefix_burst : 10;
	rl->global_rate = p && p->global_rate ? p->global_rate : 1000;
	rl->global_burst = p && p->global_burst ? p->global_burst : 1000;
	rl->global.tokens = (uint64_t)rl->global_burst * MILLI;
	randombytes_buf(rl->hkey, sizeof(rl->hkey));
	rl->e = calloc(n, sizeof(*rl->e));
	if (!rl->e) {
		free(rl);
		errno = ENOMEM;
		return NULL;
	}
	return rl;
}

void mt6d_rebind_rl_free(struct mt6d_rebind_rl *rl)
{
	if (!rl)
		return;
	free(rl->e);
	sodium_memzero(rl, sizeof(*rl));
	free(rl);
}

static void refill(struct bucket *b, uint64_t now_ms, uint32_t rate, uint32_t burst)
{
	uint64_t cap = (uint64_t)burst * MILLI, elapsed;

	if (now_ms > b->last_ms) {
		elapsed = now_ms - b->last_ms;
		/* Past a full refill the exact amount no longer matters (and
		 * the product could overflow). */
		if (elapsed >= cap / (rate ? rate : 1) + 1)
			b->tokens = cap;
		else
			b->tokens += elapsed * rate;
		if (b->tokens > cap)
			b->tokens = cap;
		b->last_ms = now_ms;
	}
}

/* ::ffff:a.b.c.d counts per /24, everything else per /64. */
static void prefix_key(uint8_t key[static KEY_LEN], const uint8_t addr[static 16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(key, 0, KEY_LEN);
	if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
		key[0] = 4;
		memcpy(key + 1, addr + 12, 3);
	} else {
		key[0] = 6;
		memcpy(key + 1, addr, 8);
	}
}

static struct entry *lookup(struct mt6d_rebind_rl *rl, const uint8_t key[static KEY_LEN],
                            uint64_t now_ms)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t idx;
	struct entry *set, *victim;

	crypto_shorthash(h, key, KEY_LEN, rl->hkey);
	memcpy(&idx, h, sizeof(idx));
	set = rl->e + (size_t)(idx & (rl->nsets - 1)) * WAYS;
	victim = &set[0];
	for (int w = 0; w < WAYS; w++) {
		if (set[w].used && memcmp(set[w].key, key, KEY_LEN) == 0)
			return &set[w];
		if (!set[w].used)
			victim = victim->used ? &set[w] : victim;
		else if (victim->used && set[w].seen < victim->seen)
			victim = &set[w];
	}
	/* A prefix not seen recently starts with a full bucket. */
	memcpy(victim->key, key, KEY_LEN);
	victim->used = 1;
	victim->b.tokens = (uint64_t)rl->prefix_burst * MILLI;
	victim->b.last_ms = now_ms;
	return victim;
}

int mt6d_rebind_rl_allow(struct mt6d_rebind_rl *rl, const uint8_t addr[static 16], uint64_t now_ms)
{
	uint8_t key[KEY_LEN];
	struct entry *e;

	prefix_key(key, addr);
	e = lookup(rl, key, now_ms);
	e->seen = ++rl->clock;
	refill(&e->b, now_ms, rl->prefix_rate, rl->prefix_burst);
	refill(&rl->global, now_ms, rl->global_rate, rl->global_burst);
	if (e->b.tokens < MILLI || rl->global.tokens < MILLI)
		return 0;
	e->b.tokens -= MILLI;
	rl->global.tokens -= MILLI;
	return 1;
}

int mt6d_rebind_reply(struct mt6d_rebind_rl *rl, uint8_t *out, size_t cap, const uint8_t *trig,
                      size_t trig_len, const struct mt6d_rebind_loc *from, uint64_t now_ms)
{
	/* Size first: a trigger too short for a reply costs no token. */
	if (trig_len < MT6D_REBIND_REPLY_LEN)
		return 0;
	if (cap < MT6D_REBIND_REPLY_LEN)
		return -EMSGSIZE;
	if (!mt6d_rebind_rl_allow(rl, from->addr, now_ms))
		return 0;
	return mt6d_rebind_reply_encode(out, cap, trig, trig_len, from);
}
