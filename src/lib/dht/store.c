/* SPDX-License-Identifier: MIT */
/*
 * What a node keeps for others: announced peers (BEP 5) and BEP 44 items,
 * plus the write tokens that guard both and the per-IP query budget.
 *
 * Tokens are BLAKE2b(secret, ip)[0..8): bound to the IP only (as
 * libtorrent does, so a client may announce from another port than it
 * looked up from); the secret rotates every 5 minutes and the previous
 * one is still accepted, so a token lives 5 to 10 minutes.
 * Peers are keyed by infohash, IP and port, expire after 30 minutes and
 * are capped per infohash (the entry closest to expiry makes room); the
 * number of infohashes and items is capped too, and a full store refuses
 * new keys rather than evicting live ones. Items live 2 hours after their
 * last put. The rate limiter is a fixed table of token buckets keyed by
 * source IP (SipHash index, four probes, the least recently used entry
 * is recycled), so a flood of spoofed sources costs no memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dht/internal.h"

void dht_token_make(const struct mt6d_dht *dht, int which, const struct mt6d_endpoint *a,
                    uint8_t out[DHT_TOKEN_LEN])
{
	size_t iplen;
	const uint8_t *ip = mt6d_endpoint_ip(a, &iplen);

	crypto_generichash(out, DHT_TOKEN_LEN, ip, iplen, dht->secret[which],
	                   sizeof(dht->secret[which]));
}

bool dht_token_ok(const struct mt6d_dht *dht, const struct mt6d_endpoint *a, const uint8_t *tok,
                  size_t len)
{
	uint8_t t[DHT_TOKEN_LEN];

	if (len != DHT_TOKEN_LEN)
		return false;
	for (int i = 0; i < 2; i++) {
		dht_token_make(dht, i, a, t);
		if (sodium_memcmp(t, tok, DHT_TOKEN_LEN) == 0)
			return true;
	}
	return false;
}

void dht_token_rotate(struct mt6d_dht *dht)
{
	memcpy(dht->secret[1], dht->secret[0], sizeof(dht->secret[0]));
	randombytes_buf(dht->secret[0], sizeof(dht->secret[0]));
	dht->secret_rotated = dht->now;
}

bool dht_ratelimit_ok(struct mt6d_dht *dht, const struct mt6d_endpoint *a)
{
	uint32_t rate = dht->cfg.rate_limit, burst, h;
	uint8_t key[16];
	uint64_t hash;
	struct dht_rl *e = NULL, *lru = NULL;

	if (!rate)
		return true;
	if (!dht->rl) {
		dht->rl = calloc(DHT_RL_SLOTS, sizeof(*dht->rl));
		if (!dht->rl)
			return true;
	}
	burst = rate * 2 * 1000;
	memcpy(key, a->addr, 16);
	crypto_shorthash((uint8_t *)&hash, key, sizeof(key), dht->rl_key);
	h = (uint32_t)hash;
	for (int i = 0; i < 4; i++) {
		struct dht_rl *c = &dht->rl[(h + (uint32_t)i) % DHT_RL_SLOTS];
		if (!memcmp(c->a.addr, a->addr, 16)) {
			e = c;
			break;
		}
		if (!lru || c->last < lru->last)
			lru = c;
	}
	if (!e) {
		e = lru;
		e->a = *a;
		e->a.port = 0;
		e->tokens = burst;
		e->last = dht->now;
	}
	{
		uint64_t add = (dht->now - e->last) * rate; /* thousandths per ms */
		e->tokens = (uint32_t)((uint64_t)e->tokens + add > burst ? burst : e->tokens + add);
		e->last = dht->now;
	}
	if (e->tokens < 1000)
		return false;
	e->tokens -= 1000;
	return true;
}

static struct dht_hash_entry *hash_find(struct mt6d_dht *dht, const uint8_t *ih)
{
	for (uint32_t i = 0; i < dht->nhashes; i++)
		if (!memcmp(dht->hashes[i].ih, ih, MT6D_DHT_ID_LEN))
			return &dht->hashes[i];
	return NULL;
}

int dht_peer_store(struct mt6d_dht *dht, const uint8_t *ih, const struct mt6d_endpoint *p)
{
	uint32_t cap_hashes = dht->cfg.max_hashes ? dht->cfg.max_hashes : 4096;
	uint32_t cap_peers = dht->cfg.max_peers_per_hash ? dht->cfg.max_peers_per_hash : 500;
	struct dht_hash_entry *h = hash_find(dht, ih);
	struct dht_peer_entry *e = NULL;

	if (!h) {
		if (dht->nhashes >= cap_hashes)
			return -ENOSPC;
		if (!(dht->nhashes & (dht->nhashes - 1)) || !dht->nhashes) {
			size_t n = dht->nhashes ? 2 * (size_t)dht->nhashes : 8;
			struct dht_hash_entry *nh = realloc(dht->hashes, n * sizeof(*nh));
			if (!nh)
				return -ENOMEM;
			dht->hashes = nh;
		}
		h = &dht->hashes[dht->nhashes++];
		memset(h, 0, sizeof(*h));
		memcpy(h->ih, ih, MT6D_DHT_ID_LEN);
	}
	for (uint32_t i = 0; i < h->n; i++) {
		struct mt6d_endpoint *q = &h->peers[i].p;
		if (mt6d_endpoint_eq(q, p)) {
			e = &h->peers[i];
			break;
		}
	}
	if (!e && h->n < cap_peers) {
		if (h->n == h->cap) {
			uint32_t n = h->cap ? 2 * h->cap : 8;
			struct dht_peer_entry *np;
			if (n > cap_peers)
				n = cap_peers;
			np = realloc(h->peers, n * sizeof(*np));
			if (!np)
				return -ENOMEM;
			h->peers = np;
			h->cap = n;
		}
		e = &h->peers[h->n++];
	}
	if (!e) {
		e = &h->peers[0];
		for (uint32_t i = 1; i < h->n; i++)
			if (h->peers[i].expire < e->expire)
				e = &h->peers[i];
	}
	e->p = *p;
	e->expire = dht->now + DHT_PEER_TTL_MS;
	return 0;
}

size_t dht_peer_values(struct mt6d_dht *dht, const uint8_t *ih, const uint8_t **values,
                       uint8_t *lens, uint8_t *storage, size_t max)
{
	struct dht_hash_entry *h = hash_find(dht, ih);
	size_t n = 0, budget = 900, start;

	if (!h || !h->n)
		return 0;
	/* start at a random entry so every stored peer gets its turn */
	start = h->n > max ? randombytes_uniform(h->n) : 0;
	for (uint32_t k = 0; k < h->n && n < max; k++) {
		const struct mt6d_endpoint *p = &h->peers[(start + k) % h->n].p;
		size_t l = mt6d_endpoint_is_v4(p) ? 6 : 18;
		uint8_t *s = storage + n * 18;
		if (l + 3 > budget)
			break;
		budget -= l + 3;
		krpc_ep_to_compact(s, p);
		values[n] = s;
		lens[n++] = (uint8_t)l;
	}
	return n;
}

struct dht_item *dht_item_find(struct mt6d_dht *dht, const uint8_t *target)
{
	for (uint32_t i = 0; i < dht->nitems; i++)
		if (!memcmp(dht->items[i].target, target, MT6D_DHT_ID_LEN))
			return &dht->items[i];
	return NULL;
}

struct dht_item *dht_item_slot(struct mt6d_dht *dht, const uint8_t *target)
{
	uint32_t cap = dht->cfg.max_items ? dht->cfg.max_items : 4096;
	struct dht_item *it = dht_item_find(dht, target);

	if (it)
		return it;
	if (dht->nitems >= cap)
		return NULL;
	if (!dht->nitems || !(dht->nitems & (dht->nitems - 1))) {
		size_t n = dht->nitems ? 2 * (size_t)dht->nitems : 4;
		struct dht_item *ni = realloc(dht->items, n * sizeof(*ni));
		if (!ni)
			return NULL;
		dht->items = ni;
	}
	it = &dht->items[dht->nitems++];
	memset(it, 0, sizeof(*it));
	memcpy(it->target, target, MT6D_DHT_ID_LEN);
	it->seq = -1;
	return it;
}

void dht_store_expire(struct mt6d_dht *dht)
{
	for (uint32_t i = 0; i < dht->nhashes;) {
		struct dht_hash_entry *h = &dht->hashes[i];
		for (uint32_t j = 0; j < h->n;) {
			if (h->peers[j].expire <= dht->now)
				h->peers[j] = h->peers[--h->n];
			else
				j++;
		}
		if (!h->n) {
			free(h->peers);
			*h = dht->hashes[--dht->nhashes];
		} else {
			i++;
		}
	}
	for (uint32_t i = 0; i < dht->nitems;) {
		if (dht->items[i].expire <= dht->now)
			dht->items[i] = dht->items[--dht->nitems];
		else
			i++;
	}
}

void dht_store_free(struct mt6d_dht *dht)
{
	for (uint32_t i = 0; i < dht->nhashes; i++)
		free(dht->hashes[i].peers);
	free(dht->hashes);
	free(dht->items);
	free(dht->rl);
	dht->hashes = NULL;
	dht->items = NULL;
	dht->rl = NULL;
	dht->nhashes = dht->nitems = 0;
}
