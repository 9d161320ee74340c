/* SPDX-License-Identifier: MIT */
/*
 * Keeping the routing tables full: pings of questionable nodes, the
 * self-lookups (bootstrap) and the refresh lookups, every 5 s from the
 * node's tick. It sits above both the routing table (which only counts
 * and chooses whom to ping) and the lookups (query.c, which know nothing
 * of why they run: the lookups here end in this file's callbacks).
 *
 * Refresh goes by prefix depth rather than by bucket: for every depth d
 * down to our deepest known neighbour, a lookup of a random id sharing
 * exactly d bits with ours when that range was never looked up, holds
 * fewer than K nodes after DHT_REFRESH_SPARSE_MS, holds none after a
 * backoff from 10 s up, or was not looked up for DHT_REFRESH_MS; and a
 * lookup of our own id. Bucket by bucket is not enough: while the wide
 * first bucket has not split, the far half of the id space would never be
 * looked up, and lookups through us would stop in our own neighbourhood.
 */
#include <string.h>

#include <sodium.h>

#include "dht/internal.h"

static void on_bootstrap_done(void *arg, const struct mt6d_dht_result *res)
{
	struct mt6d_dht *dht = arg;

	dht->bootstrap_running = false;
	dht->bootstrap_ok = res->nodes_answered >= DHT_K;
}

static void on_refresh_done(void *arg, const struct mt6d_dht_result *res)
{
	struct mt6d_dht *dht = arg;

	(void)res;
	if (dht->refresh_running)
		dht->refresh_running--;
}

static void refresh_lookup(struct mt6d_dht *dht, const uint8_t *target)
{
	if (dht_lookup_nodes(dht, target, on_refresh_done, dht) > 0)
		dht->refresh_running++;
}

static void bootstrap_lookup(struct mt6d_dht *dht)
{
	dht->last_bootstrap = dht->now;
	if (!dht->first_bootstrap)
		dht->first_bootstrap = dht->now;
	if (dht_lookup_nodes(dht, dht->id, on_bootstrap_done, dht) > 0)
		dht->bootstrap_running = true;
}

static void refresh_table(struct mt6d_dht *dht, uint8_t fam, uint64_t *refreshed, uint32_t *backoff)
{
	struct mt6d_endpoint ping[4];
	uint16_t counts[161];
	int deepest, n;

	n = dht_routing_survey(dht, fam, counts, &deepest, ping, 4);
	for (int i = 0; i < n; i++)
		dht_ping(dht, &ping[i]);
	if (dht->bootstrap_running || !dht->last_bootstrap || !dht_table_buckets(dht, fam))
		return;
	for (int d = 0; d <= deepest && d < 160 && dht->refresh_running < DHT_MAX_REFRESH; d++) {
		uint8_t target[MT6D_DHT_ID_LEN], bit;
		uint64_t age = dht->now - refreshed[d];
		bool due = !refreshed[d] || age >= DHT_REFRESH_MS ||
		           (counts[d] < DHT_K && age >= DHT_REFRESH_SPARSE_MS) ||
		           (counts[d] == 0 && age >= backoff[d]);
		if (!due)
			continue;
		refreshed[d] = dht->now;
		randombytes_buf(target, sizeof(target));
		for (int k = 0; k < d; k++) {
			bit = (uint8_t)(0x80 >> (k % 8));
			target[k / 8] = (uint8_t)((target[k / 8] & ~bit) | (dht->id[k / 8] & bit));
		}
		bit = (uint8_t)(0x80 >> (d % 8));
		target[d / 8] = (uint8_t)((target[d / 8] & ~bit) | (~dht->id[d / 8] & bit));
		if (counts[d] == 0) {
			/* Still nobody there: the lookup starts from our own table,
			 * whose nodes may all lack that range too (nodes that joined
			 * together), so ask the bootstrap nodes as well, and try
			 * again sooner, backing off to the sparse interval. */
			backoff[d] = backoff[d] ? 2 * backoff[d] : 10000;
			if (backoff[d] > DHT_REFRESH_SPARSE_MS)
				backoff[d] = DHT_REFRESH_SPARSE_MS;
			for (int i = 0; i < dht->nseeds; i++)
				if (dht_ep_fam(&dht->seeds[i]) == fam)
					dht_find_node(dht, &dht->seeds[i], target);
		} else {
			backoff[d] = 0;
		}
		refresh_lookup(dht, target);
	}
	if (dht->refresh_running < DHT_MAX_REFRESH &&
	    (!refreshed[160] || dht->now - refreshed[160] >= DHT_REFRESH_SPARSE_MS)) {
		refreshed[160] = dht->now;
		refresh_lookup(dht, dht->id);
	}
}

void dht_upkeep(struct mt6d_dht *dht)
{
	uint64_t now = dht->now;
	uint32_t nodes, good;

	/* read-only nodes too: their lookups need a table as much */
	refresh_table(dht, 4, dht->refreshed4, dht->backoff4);
	refresh_table(dht, 6, dht->refreshed6, dht->backoff6);
	dht_table_counts(dht_table_for(dht, dht->cfg.ipv4 ? 4 : 6), now, &nodes, &good);
	/* too few nodes: look ourselves up again, more often while empty;
	 * and every 5 s in our first 30 s, when the nodes that joined
	 * with us (a restarted swarm, a new network) are still joining:
	 * our first lookup cannot have found those that came after it */
	if (!dht->bootstrap_running && (dht->nseeds || nodes) &&
	    (!dht->last_bootstrap ||
	     (now - dht->first_bootstrap < 30000 && now - dht->last_bootstrap >= 5000) ||
	     now - dht->last_bootstrap >
	             (good < DHT_K || !dht->bootstrap_ok ? 10000u : 15u * 60 * 1000)))
		bootstrap_lookup(dht);
}
