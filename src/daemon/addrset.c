/* SPDX-License-Identifier: MIT */
/*
 * The live outer addresses the NDP responder answers for: an open-address
 * hash table (linear probing, deletion by backward shift, so no tombstones
 * and no slow-down after many rotations), keyed by SipHash (libsodium's
 * crypto_shorthash) under a key drawn at creation.
 *
 * Rules this file keeps:
 *  - At most half the buckets are used; the table doubles before that and
 *    never shrinks below 64 buckets.
 *  - A lookup for an address a scanner picked costs one hash and a short
 *    probe: the stored addresses come from our own key derivation, and the
 *    bucket of any address depends on a secret key.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ndp.h"

struct entry {
	uint8_t addr[16];
	uint32_t refs; /* 0: empty */
};

struct addrset {
	struct entry *tab;
	size_t cap, n; /* cap a power of two */
	uint8_t key[crypto_shorthash_KEYBYTES];
};

static size_t bucket(const struct addrset *s, const uint8_t addr[static 16])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, addr, 16, s->key);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & (s->cap - 1);
}

static struct entry *find(const struct addrset *s, const uint8_t addr[static 16])
{
	for (size_t i = bucket(s, addr);; i = (i + 1) & (s->cap - 1)) {
		struct entry *e = &s->tab[i];

		if (!e->refs || !memcmp(e->addr, addr, 16))
			return e;
	}
}

struct addrset *addrset_new(void)
{
	struct addrset *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cap = 64;
	s->tab = calloc(s->cap, sizeof(*s->tab));
	if (!s->tab) {
		free(s);
		return NULL;
	}
	randombytes_buf(s->key, sizeof(s->key));
	return s;
}

void addrset_free(struct addrset *s)
{
	if (!s)
		return;
	free(s->tab);
	sodium_memzero(s->key, sizeof(s->key));
	free(s);
}

static int grow(struct addrset *s)
{
	struct entry *old = s->tab;
	size_t ocap = s->cap;

	s->tab = calloc(ocap * 2, sizeof(*s->tab));
	if (!s->tab) {
		s->tab = old;
		return -ENOMEM;
	}
	s->cap = ocap * 2;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].refs)
			*find(s, old[i].addr) = old[i];
	free(old);
	return 0;
}

int addrset_add(struct addrset *s, const uint8_t addr[static 16])
{
	struct entry *e;

	if ((s->n + 1) * 2 > s->cap && grow(s) < 0)
		return -ENOMEM;
	e = find(s, addr);
	if (!e->refs) {
		memcpy(e->addr, addr, 16);
		s->n++;
	}
	e->refs++;
	return 0;
}

int addrset_del(struct addrset *s, const uint8_t addr[static 16])
{
	struct entry *e = find(s, addr);
	size_t i, j, mask = s->cap - 1;

	if (!e->refs)
		return -ENOENT;
	if (--e->refs)
		return 0;
	s->n--;
	/* Backward shift: move later members of the probe run into the hole
	 * when their home bucket does not lie between the hole and them. */
	i = (size_t)(e - s->tab);
	for (j = (i + 1) & mask; s->tab[j].refs; j = (j + 1) & mask) {
		size_t home = bucket(s, s->tab[j].addr);

		if (((j - home) & mask) >= ((j - i) & mask)) {
			s->tab[i] = s->tab[j];
			i = j;
		}
	}
	memset(&s->tab[i], 0, sizeof(s->tab[i]));
	return 0;
}

bool addrset_has(const struct addrset *s, const uint8_t addr[static 16])
{
	return find(s, addr)->refs != 0;
}

size_t addrset_count(const struct addrset *s)
{
	return s->n;
}
