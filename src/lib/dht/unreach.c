/* SPDX-License-Identifier: MIT */
/*
 * Addresses that did not answer lately. Rules this file keeps:
 *  - an address goes in when a query to it timed out (DHT_TIMEOUT_MS) and
 *    leaves when any well-formed message comes from it, or after
 *    DHT_UNREACH_MS;
 *  - lookups do not ask an address that is in (query.c), except a seed
 *    the caller gave: after a mass death the live nodes keep listing the
 *    dead for minutes, and each operation would otherwise wait
 *    DHT_SLOW_MS on every one of them;
 *  - a fixed table of DHT_UNREACH_SLOTS entries, the slot a keyed hash of
 *    the address (the key is the node's rate-limit key): a newer entry
 *    takes the slot of an older one, so the table never grows and the
 *    worst a collision does is let a dead address be asked again.
 */
#include <string.h>

#include <sodium.h>

#include "dht/internal.h"

static struct dht_unreach *slot(struct mt6d_dht *dht, const struct mt6d_endpoint *a)
{
	uint8_t key[18];
	uint64_t h;

	memcpy(key, a->addr, 16);
	key[16] = (uint8_t)(a->port >> 8);
	key[17] = (uint8_t)a->port;
	crypto_shorthash((uint8_t *)&h, key, sizeof(key), dht->rl_key);
	return &dht->unreach[h % DHT_UNREACH_SLOTS];
}

void dht_unreach_note(struct mt6d_dht *dht, const struct mt6d_endpoint *a)
{
	struct dht_unreach *u = slot(dht, a);

	u->a = *a;
	u->until = dht->now + DHT_UNREACH_MS;
}

void dht_unreach_clear(struct mt6d_dht *dht, const struct mt6d_endpoint *a)
{
	struct dht_unreach *u = slot(dht, a);

	if (u->until && mt6d_endpoint_eq(&u->a, a))
		u->until = 0;
}

bool dht_unreach_is(struct mt6d_dht *dht, const struct mt6d_endpoint *a)
{
	struct dht_unreach *u = slot(dht, a);

	return u->until > dht->now && mt6d_endpoint_eq(&u->a, a);
}
