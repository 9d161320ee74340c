/* SPDX-License-Identifier: MIT */
/*
 * What a node keeps for others: announced peers (BEP 5) and BEP 44 items,
 * plus the write tokens that guard both and the query budgets.
 *
 * Tokens are BLAKE2b(secret, ip)[0..8): bound to the IP only (as
 * libtorrent does, so a client may announce from another port than it
 * looked up from); the secret rotates every 5 minutes and the previous
 * one is still accepted, so a token lives 5 to 10 minutes.
 * Peers are keyed by infohash, IP and port, expire after 30 minutes and
 * are capped per infohash (the entry closest to expiry makes room); the
 * number of infohashes and items is capped too, and a full store refuses
 * new keys rather than evicting live ones. Items live 2 hours after their
 * last put.
 *
 * Rules this file keeps against amplification and exhaustion (the numbers
 * are in docs/security.md):
 *  - a source is its network, an IPv6 /64 or an IPv4 /24: one host holds
 *    a whole /64, and a spoofer picks any address in it;
 *  - every query passes two token buckets, its source network's and one
 *    global bucket; the first keeps one network from being reflected at,
 *    the second bounds what all sources together draw, spread as they
 *    may be. The limit is never off: 0 in the configuration is the default;
 *  - the per-network buckets live in a fixed table (SipHash index, four
 *    probes, the least recently used entry recycled), so a flood of
 *    spoofed sources costs no memory;
 *  - once the store is half full, a source network may add no more than
 *    its share of the items and of the announced peers; the counts are a
 *    count-min sketch (two rows, keyed SipHash), charged when an entry is
 *    made and discharged when it expires or is evicted, so a count is
 *    never below the truth and costs O(1) whatever the store holds;
 *  - loopback sources (127/8, ::1) are exempt: no other host can send
 *    from them (the kernel drops them as martians), and the one-process
 *    test swarms share them.
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

bool dht_source_net(struct mt6d_endpoint *net, const struct mt6d_endpoint *a)
{
	static const uint8_t loop6[16] = {[15] = 1};
	bool v4 = mt6d_endpoint_is_v4(a);

	memset(net, 0, sizeof(*net));
	if (v4 ? a->addr[12] == 127 : !memcmp(a->addr, loop6, 16))
		return false;
	/* ::ffff:a.b.c.0 for a /24, the first 8 bytes for a /64 */
	memcpy(net->addr, a->addr, v4 ? 15 : 8);
	net->port = 1;
	return true;
}

static uint64_t source_hash(const struct mt6d_dht *dht, const struct mt6d_endpoint *net)
{
	uint64_t hash;

	crypto_shorthash((uint8_t *)&hash, net->addr, sizeof(net->addr), dht->rl_key);
	return hash;
}

/* Refill a bucket of rate per second (burst twice that), take one query. */
static bool bucket_take(struct dht_rl *e, uint32_t rate, uint64_t now)
{
	uint64_t burst = (uint64_t)rate * 2 * 1000, add = (now - e->last) * (uint64_t)rate;

	/* thousandths of a query; rate per second is thousandths per ms */
	e->tokens = e->tokens + add > burst ? burst : e->tokens + add;
	e->last = now;
	if (e->tokens < 1000)
		return false;
	e->tokens -= 1000;
	return true;
}

static uint32_t dht_rate(const struct mt6d_dht *dht, bool global)
{
	uint32_t rate = dht->cfg.rate_limit ? dht->cfg.rate_limit : DHT_RATE_DEFAULT;

	if (!global)
		return rate;
	if (dht->cfg.rate_limit_global)
		return dht->cfg.rate_limit_global;
	return rate > DHT_RATE_GLOBAL_MIN / 10 ? rate * 10 : DHT_RATE_GLOBAL_MIN;
}

bool dht_ratelimit_ok(struct mt6d_dht *dht, const struct mt6d_endpoint *a)
{
	uint32_t rate = dht_rate(dht, false), h;
	struct dht_rl *e = NULL, *lru = NULL;
	struct mt6d_endpoint net;

	if (!dht_source_net(&net, a))
		return true;
	if (!dht->rl) {
		dht->rl = calloc(DHT_RL_SLOTS, sizeof(*dht->rl));
		if (!dht->rl)
			return false;
		dht->rl_global.tokens = (uint64_t)dht_rate(dht, true) * 2 * 1000;
		dht->rl_global.last = dht->now;
	}
	h = (uint32_t)source_hash(dht, &net);
	for (int i = 0; i < 4; i++) {
		struct dht_rl *c = &dht->rl[(h + (uint32_t)i) % DHT_RL_SLOTS];
		if (mt6d_endpoint_eq(&c->a, &net)) {
			e = c;
			break;
		}
		if (!lru || c->last < lru->last)
			lru = c;
	}
	if (!e) {
		e = lru;
		e->a = net;
		e->tokens = (uint64_t)rate * 2 * 1000;
		e->last = dht->now;
	}
	if (!bucket_take(e, rate, dht->now))
		return false;
	return bucket_take(&dht->rl_global, dht_rate(dht, true), dht->now);
}

/* kind 0: items, 1: peers. The two counters of net, or false (no memory). */
static bool source_slots(struct mt6d_dht *dht, int kind, const struct mt6d_endpoint *net,
                         uint32_t *c[2])
{
	uint64_t hash;

	if (!dht->srcc) {
		dht->srcc = calloc(2 * 2 * DHT_SRC_SLOTS, sizeof(*dht->srcc));
		if (!dht->srcc)
			return false;
	}
	hash = source_hash(dht, net);
	c[0] = &dht->srcc[(size_t)(kind * 2 + 0) * DHT_SRC_SLOTS + (uint32_t)hash % DHT_SRC_SLOTS];
	c[1] = &dht->srcc[(size_t)(kind * 2 + 1) * DHT_SRC_SLOTS +
	                  (uint32_t)(hash >> 32) % DHT_SRC_SLOTS];
	return true;
}

/* May net store one more of kind? Charges it when so. A source's share
 * binds only under pressure (the store at least half full): a lone heavy
 * publisher, such as a server putting one item per client into a private
 * swarm of a few nodes, may use the free half, and once it is taken no
 * source network gets past its share of what is left. */
static bool source_charge(struct mt6d_dht *dht, int kind, const struct mt6d_endpoint *net,
                          bool pressure)
{
	uint32_t cap, *c[2];

	if (kind == 0)
		cap = dht->cfg.max_items_per_source ? dht->cfg.max_items_per_source
		                                    : DHT_SRC_ITEMS_DEFAULT;
	else
		cap = dht->cfg.max_peers_per_source ? dht->cfg.max_peers_per_source
		                                    : DHT_SRC_PEERS_DEFAULT;
	if (!source_slots(dht, kind, net, c))
		return false;
	if (pressure && (*c[0] < *c[1] ? *c[0] : *c[1]) >= cap)
		return false;
	(*c[0])++;
	(*c[1])++;
	return true;
}

static void source_discharge(struct mt6d_dht *dht, int kind, const struct mt6d_endpoint *net)
{
	uint32_t *c[2];

	if (!dht->srcc || !source_slots(dht, kind, net, c))
		return;
	for (int i = 0; i < 2; i++)
		if (*c[i])
			(*c[i])--;
}

static void peer_discharge(struct mt6d_dht *dht, const struct mt6d_endpoint *p)
{
	struct mt6d_endpoint net;

	if (dht_source_net(&net, p))
		source_discharge(dht, 1, &net);
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
	struct mt6d_endpoint net;
	bool charged = dht_source_net(&net, p);

	if (h) {
		for (uint32_t i = 0; i < h->n; i++) {
			if (mt6d_endpoint_eq(&h->peers[i].p, p)) {
				h->peers[i].expire = dht->now + DHT_PEER_TTL_MS;
				return 0; /* a refresh: charged already */
			}
		}
	}
	/* a new entry: its source network pays before anything is made */
	if (charged && !source_charge(dht, 1, &net, dht->nhashes >= cap_hashes / 2))
		return -ENOSPC;
	if (!h) {
		if (dht->nhashes >= cap_hashes)
			goto full;
		if (!(dht->nhashes & (dht->nhashes - 1)) || !dht->nhashes) {
			size_t n = dht->nhashes ? 2 * (size_t)dht->nhashes : 8;
			struct dht_hash_entry *nh = realloc(dht->hashes, n * sizeof(*nh));
			if (!nh) {
				if (charged)
					source_discharge(dht, 1, &net);
				return -ENOMEM;
			}
			dht->hashes = nh;
		}
		h = &dht->hashes[dht->nhashes++];
		memset(h, 0, sizeof(*h));
		memcpy(h->ih, ih, MT6D_DHT_ID_LEN);
	}
	if (h->n < cap_peers) {
		if (h->n == h->cap) {
			uint32_t n = h->cap ? 2 * h->cap : 8;
			struct dht_peer_entry *np;
			if (n > cap_peers)
				n = cap_peers;
			np = realloc(h->peers, n * sizeof(*np));
			if (!np) {
				if (charged)
					source_discharge(dht, 1, &net);
				return -ENOMEM; /* an empty new hash expires at the next sweep */
			}
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
		peer_discharge(dht, &e->p);
	}
	e->p = *p;
	e->expire = dht->now + DHT_PEER_TTL_MS;
	return 0;
full:
	if (charged)
		source_discharge(dht, 1, &net);
	return -ENOSPC;
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

struct dht_item *dht_item_slot(struct mt6d_dht *dht, const uint8_t *target,
                               const struct mt6d_endpoint *src)
{
	uint32_t cap = dht->cfg.max_items ? dht->cfg.max_items : 4096;
	struct dht_item *it = dht_item_find(dht, target);
	struct mt6d_endpoint net;
	bool charged;

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
	charged = dht_source_net(&net, src);
	if (charged && !source_charge(dht, 0, &net, dht->nitems >= cap / 2))
		return NULL;
	it = &dht->items[dht->nitems++];
	memset(it, 0, sizeof(*it));
	memcpy(it->target, target, MT6D_DHT_ID_LEN);
	it->seq = -1;
	if (charged)
		it->src = net;
	return it;
}

void dht_store_expire(struct mt6d_dht *dht)
{
	for (uint32_t i = 0; i < dht->nhashes;) {
		struct dht_hash_entry *h = &dht->hashes[i];
		for (uint32_t j = 0; j < h->n;) {
			if (h->peers[j].expire <= dht->now) {
				peer_discharge(dht, &h->peers[j].p);
				h->peers[j] = h->peers[--h->n];
			} else
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
		if (dht->items[i].expire <= dht->now) {
			if (dht->items[i].src.port)
				source_discharge(dht, 0, &dht->items[i].src);
			dht->items[i] = dht->items[--dht->nitems];
		} else
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
	free(dht->srcc);
	dht->srcc = NULL;
	dht->hashes = NULL;
	dht->items = NULL;
	dht->rl = NULL;
	dht->nhashes = dht->nitems = 0;
}
