/* SPDX-License-Identifier: MIT */
/*
 * Routing tables (BEP 5 k-buckets, one table per address family as
 * BEP 32 asks). Invariants: a node appears at most once per table (by id
 * and by address); bucket i < nb-1 holds only nodes whose id shares
 * exactly i leading bits with ours and the last bucket the rest, so only
 * the bucket where our own id falls ever splits; bucket i holds at most
 * bucket_cap(i) nodes: K, or more for the first DHT_WIDE_BUCKETS, which
 * saves a hop on most lookups for a few kilobytes; a full bucket takes a
 * new node only in place of a bad one, otherwise the newcomer waits in
 * the replacement cache while the most questionable member is pinged.
 * Nodes that never answered us are kept but never handed to others.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dht/internal.h"

int dht_xor_cmp(const uint8_t *target, const uint8_t *a, const uint8_t *b)
{
	for (int i = 0; i < MT6D_DHT_ID_LEN; i++) {
		uint8_t da = a[i] ^ target[i], db = b[i] ^ target[i];
		if (da != db)
			return da < db ? -1 : 1;
	}
	return 0;
}

static int common_bits(const uint8_t *a, const uint8_t *b)
{
	for (int i = 0; i < MT6D_DHT_ID_LEN; i++) {
		uint8_t x = a[i] ^ b[i];
		if (x) {
			int n = i * 8;
			while (!(x & 0x80)) {
				x <<= 1;
				n++;
			}
			return n;
		}
	}
	return 160;
}

struct dht_table *dht_table_for(struct mt6d_dht *dht, uint8_t fam)
{
	return fam == 6 ? &dht->t6 : &dht->t4;
}

static int bucket_cap(int bi)
{
	return bi < DHT_WIDE_BUCKETS ? DHT_K << (DHT_WIDE_BUCKETS - bi) : DHT_K;
}

/* Room for one more node, within the bucket's capacity. */
static struct dht_node *bucket_push(struct dht_bucket *b, int bi)
{
	if (b->count >= bucket_cap(bi))
		return NULL;
	if (b->count == b->alloc) {
		uint16_t n = b->alloc ? (uint16_t)(2 * b->alloc) : DHT_K;
		struct dht_node *nn = realloc(b->n, n * sizeof(*nn));
		if (!nn)
			return NULL;
		b->n = nn;
		b->alloc = n;
	}
	return &b->n[b->count++];
}

void dht_table_free(struct dht_table *t)
{
	for (int i = 0; i < t->nb; i++)
		free(t->b[i].n);
	free(t->b);
	t->b = NULL;
	t->nb = 0;
}

static int table_init(struct dht_table *t)
{
	if (t->b)
		return 0;
	t->b = calloc(1, sizeof(*t->b));
	if (!t->b)
		return -ENOMEM;
	t->nb = 1;
	return 0;
}

static int bucket_index(const struct mt6d_dht *dht, const struct dht_table *t, const uint8_t *id)
{
	int cb = common_bits(dht->id, id);
	return cb < t->nb - 1 ? cb : t->nb - 1;
}

static bool node_good(const struct dht_node *n, uint64_t now)
{
	if (n->fails || !n->last_reply)
		return false;
	return now - n->last_reply < DHT_GOOD_MS || now - n->last_query < DHT_GOOD_MS;
}

static bool node_bad(const struct dht_node *n)
{
	return n->fails >= DHT_BAD_FAILS;
}

/* Split the last bucket: nodes sharing more bits with us move down one. */
static int split_last(struct mt6d_dht *dht, struct dht_table *t)
{
	struct dht_bucket *nb, *old, *nw;
	int last = t->nb - 1;
	struct dht_bucket tmp;

	if (t->nb >= 160)
		return -ENOSPC;
	nb = realloc(t->b, (size_t)(t->nb + 1) * sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	t->b = nb;
	t->nb++;
	old = &t->b[last];
	nw = &t->b[last + 1];
	tmp = *old;
	memset(old, 0, sizeof(*old));
	memset(nw, 0, sizeof(*nw));
	old->last_changed = nw->last_changed = tmp.last_changed;
	for (int i = 0; i < tmp.count + tmp.nrepl; i++) {
		const struct dht_node *src = i < tmp.count ? &tmp.n[i] : &tmp.repl[i - tmp.count];
		bool down = common_bits(dht->id, src->id) > last;
		struct dht_bucket *to = down ? nw : old;
		struct dht_node *slot = bucket_push(to, down ? last + 1 : last);
		if (!slot && to->nrepl < DHT_REPL)
			slot = &to->repl[to->nrepl++];
		if (slot)
			*slot = *src;
	}
	free(tmp.n);
	return 0;
}

static struct dht_node *find_in_table(struct dht_table *t, const struct mt6d_endpoint *a, int *bi)
{
	for (int b = 0; b < t->nb; b++)
		for (int i = 0; i < t->b[b].count; i++)
			if (mt6d_endpoint_eq(&t->b[b].n[i].a, a)) {
				*bi = b;
				return &t->b[b].n[i];
			}
	return NULL;
}

static void bucket_remove(struct dht_bucket *b, int i)
{
	b->n[i] = b->n[--b->count];
}

/* The caller pings the node: note when, and tell it whom. */
static bool ping_node(struct mt6d_dht *dht, struct dht_node *n, struct mt6d_endpoint *ping)
{
	n->last_ping = dht->now;
	*ping = n->a;
	return true;
}

bool dht_node_heard(struct mt6d_dht *dht, const uint8_t *id, const struct mt6d_endpoint *a,
                    bool replied, struct mt6d_endpoint *ping)
{
	bool want = false;

	struct dht_table *t = dht_table_for(dht, dht_ep_fam(a));
	struct dht_node *n;
	struct dht_bucket *b;
	int bi;

	if (dht_ep_fam(a) == 4 ? !dht->cfg.ipv4 : !dht->cfg.ipv6)
		return false;
	if (!memcmp(id, dht->id, MT6D_DHT_ID_LEN) || a->port == 0)
		return false;
	if (dht->cfg.enforce_bep42) {
		size_t iplen;
		const uint8_t *ip = mt6d_endpoint_ip(a, &iplen);
		if (!mt6d_dht_bep42_ok(id, ip, iplen))
			return false;
	}
	if (table_init(t) < 0)
		return false;
	n = find_in_table(t, a, &bi);
	if (n && memcmp(n->id, id, MT6D_DHT_ID_LEN)) {
		/* same address, new id: the old entry is stale */
		bucket_remove(&t->b[bi], (int)(n - t->b[bi].n));
		n = NULL;
	}
	if (n) {
		if (replied) {
			n->last_reply = dht->now;
			n->fails = 0;
			t->b[bi].last_changed = dht->now;
		} else {
			n->last_query = dht->now;
		}
		return false;
	}
	for (;;) {
		bi = bucket_index(dht, t, id);
		b = &t->b[bi];
		if (b->count < bucket_cap(bi))
			break;
		if (bi == t->nb - 1 && split_last(dht, t) == 0)
			continue;
		break;
	}
	n = bucket_push(b, bi);
	if (n)
		goto fill;
	for (int i = 0; i < b->count; i++)
		if (node_bad(&b->n[i])) {
			n = &b->n[i];
			goto fill;
		}
	/* full of good or questionable nodes: keep the newcomer in reserve and
	 * ping the least recently heard questionable one */
	{
		struct dht_node *q = NULL;
		for (int i = 0; i < b->count; i++)
			if (!node_good(&b->n[i], dht->now) &&
			    (!q || b->n[i].last_reply < q->last_reply))
				q = &b->n[i];
		if (q && dht->now - q->last_ping > 5000)
			want = ping_node(dht, q, ping);
	}
	for (int i = 0; i < b->nrepl; i++)
		if (mt6d_endpoint_eq(&b->repl[i].a, a)) {
			if (replied)
				b->repl[i].last_reply = dht->now;
			return want;
		}
	if (b->nrepl < DHT_REPL) {
		n = &b->repl[b->nrepl++];
	} else {
		/* drop the oldest reserve, preferring one that never answered */
		int w = 0;
		for (int i = 1; i < b->nrepl; i++)
			if (b->repl[i].last_reply < b->repl[w].last_reply)
				w = i;
		n = &b->repl[w];
	}
	memset(n, 0, sizeof(*n));
	memcpy(n->id, id, MT6D_DHT_ID_LEN);
	n->a = *a;
	if (replied)
		n->last_reply = dht->now;
	else
		n->last_query = dht->now;
	return want;
fill:
	memset(n, 0, sizeof(*n));
	memcpy(n->id, id, MT6D_DHT_ID_LEN);
	n->a = *a;
	if (replied)
		n->last_reply = dht->now;
	else
		n->last_query = dht->now;
	b->last_changed = dht->now;
	/* a node we only heard of is handed to nobody until it answers us */
	if (!replied)
		want = ping_node(dht, n, ping);
	return want;
}

bool dht_node_failed(struct mt6d_dht *dht, const struct mt6d_endpoint *a,
                     struct mt6d_endpoint *ping)
{
	struct dht_table *t = dht_table_for(dht, dht_ep_fam(a));
	struct dht_node *n;
	struct dht_bucket *b;
	int bi, best = -1;

	n = find_in_table(t, a, &bi);
	if (!n)
		return false;
	if (n->fails < 255)
		n->fails++;
	if (!node_bad(n) && n->last_reply)
		return false;
	b = &t->b[bi];
	for (int i = 0; i < b->nrepl; i++)
		if (best < 0 || b->repl[i].last_reply > b->repl[best].last_reply)
			best = i;
	if (best < 0) {
		if (!n->last_reply)
			bucket_remove(b, (int)(n - b->n)); /* never answered: forget */
		return false;
	}
	*n = b->repl[best];
	b->repl[best] = b->repl[--b->nrepl];
	b->last_changed = dht->now;
	return !n->last_reply && ping_node(dht, n, ping);
}

int dht_closest(struct mt6d_dht *dht, uint8_t fam, const uint8_t *target, struct dht_node *out,
                int max, bool verified_only)
{
	struct dht_table *t = dht_table_for(dht, fam);
	int n = 0;

	for (int b = 0; b < t->nb; b++)
		for (int i = 0; i < t->b[b].count; i++) {
			const struct dht_node *c = &t->b[b].n[i];
			int j;
			if (verified_only && (!c->last_reply || node_bad(c)))
				continue;
			if (n == max && dht_xor_cmp(target, c->id, out[n - 1].id) >= 0)
				continue;
			j = n < max ? n++ : n - 1;
			while (j > 0 && dht_xor_cmp(target, c->id, out[j - 1].id) < 0) {
				out[j] = out[j - 1];
				j--;
			}
			out[j] = *c;
		}
	return n;
}

size_t dht_closest_compact(struct mt6d_dht *dht, uint8_t fam, const uint8_t *target, uint8_t *out)
{
	struct dht_node best[DHT_K];
	int n = dht_closest(dht, fam, target, best, DHT_K, true);
	size_t len = 0;

	for (int i = 0; i < n; i++) {
		memcpy(out + len, best[i].id, MT6D_DHT_ID_LEN);
		len += MT6D_DHT_ID_LEN;
		len += krpc_ep_to_compact(out + len, &best[i].a);
	}
	return len;
}

void dht_table_counts(const struct dht_table *t, uint64_t now, uint32_t *nodes, uint32_t *good)
{
	*nodes = *good = 0;
	for (int b = 0; b < t->nb; b++)
		for (int i = 0; i < t->b[b].count; i++) {
			(*nodes)++;
			if (node_good(&t->b[b].n[i], now))
				(*good)++;
		}
}

/*
 * For maintenance (refresh.c): how many nodes share each number of
 * leading bits with our id, the deepest such number, and up to maxping
 * questionable nodes not pinged for 15 s, noted as pinged now.
 */
int dht_routing_survey(struct mt6d_dht *dht, uint8_t fam, uint16_t counts[161], int *deepest,
                       struct mt6d_endpoint *ping, int maxping)
{
	struct dht_table *t = dht_table_for(dht, fam);
	int pings = 0;

	memset(counts, 0, 161 * sizeof(counts[0]));
	*deepest = 0;
	for (int bi = 0; bi < t->nb; bi++) {
		struct dht_bucket *b = &t->b[bi];
		for (int i = 0; i < b->count; i++) {
			struct dht_node *n = &b->n[i];
			int c = common_bits(dht->id, n->id);
			counts[c]++;
			if (c > *deepest)
				*deepest = c;
			if (pings < maxping && !node_good(n, dht->now) &&
			    dht->now - n->last_ping > 15000)
				ping_node(dht, n, &ping[pings++]);
		}
	}
	return pings;
}

int dht_table_buckets(struct mt6d_dht *dht, uint8_t fam)
{
	return dht_table_for(dht, fam)->nb;
}
