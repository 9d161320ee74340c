/* SPDX-License-Identifier: MIT */
/*
 * The DHT node: creation, the input path and the queries it serves, the
 * pending-request slots and the timers. Rules this file keeps:
 *  - every datagram goes through krpc_parse() first; anything it refuses,
 *    and any response that matches no pending request (transaction id,
 *    address), is dropped and counted, never answered;
 *  - a query is answered only after the rate limit (per /64 or /24 and
 *    global, dht/store.c) allowed it, and
 *    never in read-only mode (BEP 43); queries flagged "ro" are answered
 *    but their sender is not added to the routing table;
 *  - a transaction id is 4 bytes: the pending slot (2) and a random nonce
 *    (2), so a reply is matched in O(1) and a guessed one rarely matches;
 *  - replies carry the requester's address in "ip" (BEP 42), and the node
 *    moves to a BEP 42 id when enough replies agree on a public address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dht/internal.h"
#include "core/internal.h"

#define EXT_VOTES_NEEDED 5

/* The routing table chooses whom to ping; the node sends it. */
static void heard(struct mt6d_dht *dht, const uint8_t *id, const struct mt6d_endpoint *a,
                  bool replied)
{
	struct mt6d_endpoint ping;

	if (dht_node_heard(dht, id, a, replied, &ping))
		dht_ping(dht, &ping);
}

struct mt6d_dht *mt6d_dht_new(const struct mt6d_dht_config *cfg)
{
	struct mt6d_dht *dht;

	if (!cfg || !cfg->send) {
		errno = EINVAL;
		return NULL;
	}
	dht = calloc(1, sizeof(*dht));
	if (!dht)
		return NULL;
	dht->cfg = *cfg;
	if (!dht->cfg.ipv4 && !dht->cfg.ipv6)
		dht->cfg.ipv4 = true;
	if (cfg->have_id)
		memcpy(dht->id, cfg->id, MT6D_DHT_ID_LEN);
	else
		randombytes_buf(dht->id, MT6D_DHT_ID_LEN);
	randombytes_buf(dht->secret, sizeof(dht->secret));
	randombytes_buf(dht->rl_key, sizeof(dht->rl_key));
	dht->req_free = UINT32_MAX;
	return dht;
}

void mt6d_dht_free(struct mt6d_dht *dht)
{
	if (!dht)
		return;
	dht_ops_cancel_all(dht);
	dht_txq_free(dht);
	dht_table_free(&dht->t4);
	dht_table_free(&dht->t6);
	dht_store_free(dht);
	free(dht->req);
	sodium_memzero(dht->secret, sizeof(dht->secret));
	free(dht);
}

void mt6d_dht_get_id(const struct mt6d_dht *dht, uint8_t id[static MT6D_DHT_ID_LEN])
{
	memcpy(id, dht->id, MT6D_DHT_ID_LEN);
}

void mt6d_dht_get_stats(const struct mt6d_dht *dht, struct mt6d_dht_stats *st)
{
	const struct dht_op *op;

	*st = dht->st;
	dht_table_counts(&dht->t4, dht->now, &st->nodes4, &st->good4);
	dht_table_counts(&dht->t6, dht->now, &st->nodes6, &st->good6);
	st->buckets4 = (uint32_t)dht->t4.nb;
	st->buckets6 = (uint32_t)dht->t6.nb;
	st->hashes = dht->nhashes;
	st->peers = 0;
	for (uint32_t i = 0; i < dht->nhashes; i++)
		st->peers += dht->hashes[i].n;
	st->items = dht->nitems;
	st->ops_active = 0;
	for (op = dht->ops; op; op = op->next)
		st->ops_active++;
	st->requests_pending = dht->npending;
}

int mt6d_dht_add_node(struct mt6d_dht *dht, const struct sockaddr *sa, socklen_t salen,
                      uint64_t now_ms)
{
	struct krpc_msg m = {.y = KRPC_QUERY, .method = KRPC_FIND_NODE};
	struct mt6d_endpoint a;
	int ret;

	if (!dht)
		return -EINVAL;
	ret = mt6d_endpoint_from_sockaddr(&a, sa, salen);
	if (ret < 0)
		return ret;
	if (a.port == 0)
		return -EINVAL;
	if (now_ms > dht->now)
		dht->now = now_ms;
	for (int i = 0; i < dht->nseeds; i++)
		if (mt6d_endpoint_eq(&dht->seeds[i], &a))
			goto send;
	if (dht->nseeds < DHT_MAX_SEEDS)
		dht->seeds[dht->nseeds++] = a;
send:
	/* find_node of our own id: the answer also brings our neighbours */
	m.target = dht->id;
	return dht_send_query(dht, &a, &m, REQ_PING, NULL);
}

static void send_error(struct mt6d_dht *dht, const struct mt6d_endpoint *a,
                       const struct krpc_msg *q, int code, const char *msg)
{
	struct krpc_msg e = {.y = KRPC_ERROR, .t = q->t, .tlen = q->tlen, .ecode = code};

	e.emsg = (const uint8_t *)msg;
	e.emsglen = strlen(msg);
	dht->st.errors_sent++;
	dht_send_msg(dht, a, &e);
}

/* nodes and/or nodes6 for target, by "want" or else the requester's family. */
static void add_nodes(struct mt6d_dht *dht, struct krpc_msg *r, const struct krpc_msg *q,
                      const struct mt6d_endpoint *from, const uint8_t *target, uint8_t *n4,
                      uint8_t *n6)
{
	uint8_t want = q->want;

	if (!want)
		want = dht_ep_fam(from) == 4 ? KRPC_WANT4 : KRPC_WANT6;
	if ((want & KRPC_WANT4) && dht->cfg.ipv4) {
		r->nodes_len = dht_closest_compact(dht, 4, target, n4);
		r->nodes = n4;
	}
	if ((want & KRPC_WANT6) && dht->cfg.ipv6) {
		r->nodes6_len = dht_closest_compact(dht, 6, target, n6);
		r->nodes6 = n6;
	}
}

static int serve_put(struct mt6d_dht *dht, const struct krpc_msg *q,
                     const struct mt6d_endpoint *from, const char **err)
{
	uint8_t target[MT6D_DHT_ID_LEN];
	struct dht_item *it;

	if (q->vlen > MT6D_DHT_MAX_V) {
		*err = "message (v field) too big";
		return 205;
	}
	if (!q->k) {
		mt6d_sha1(target, q->v, q->vlen);
		it = dht_item_slot(dht, target, from);
		if (!it) {
			*err = "store full";
			return 202;
		}
		it->is_mutable = false;
		memcpy(it->v, q->v, q->vlen);
		it->vlen = q->vlen;
		it->expire = dht->now + DHT_ITEM_TTL_MS;
		return 0;
	}
	if (q->saltlen > MT6D_DHT_MAX_SALT) {
		*err = "salt (salt field) too big";
		return 207;
	}
	if (!dht_item_verify(q->k, q->sig, q->salt, q->saltlen, q->seq, q->v, q->vlen)) {
		*err = "invalid signature";
		return 206;
	}
	mt6d_dht_mutable_target(target, q->k, q->salt, q->saltlen);
	it = dht_item_find(dht, target);
	if (it && it->is_mutable) {
		if (q->has_cas && q->cas != it->seq) {
			*err = "CAS mismatch, re-read value and try again";
			return 301;
		}
		if (q->seq < it->seq) {
			*err = "sequence number less than current";
			return 302;
		}
		if (q->seq == it->seq) {
			/* as libtorrent: acknowledged, the stored value stays */
			it->expire = dht->now + DHT_ITEM_TTL_MS;
			return 0;
		}
	}
	if (!it)
		it = dht_item_slot(dht, target, from);
	if (!it) {
		*err = "store full";
		return 202;
	}
	it->is_mutable = true;
	memcpy(it->v, q->v, q->vlen);
	it->vlen = q->vlen;
	memcpy(it->k, q->k, 32);
	memcpy(it->sig, q->sig, 64);
	if (q->saltlen)
		memcpy(it->salt, q->salt, q->saltlen);
	it->saltlen = q->saltlen;
	it->seq = q->seq;
	it->expire = dht->now + DHT_ITEM_TTL_MS;
	return 0;
}

static void serve_query(struct mt6d_dht *dht, const struct krpc_msg *q,
                        const struct mt6d_endpoint *from)
{
	uint8_t n4[DHT_K * KRPC_NODE4_LEN], n6[DHT_K * KRPC_NODE6_LEN], ip[18],
	        token[DHT_TOKEN_LEN];
	uint8_t vstore[DHT_MAX_REPLY_VALUES * 18];
	struct krpc_msg *r;
	const char *err = NULL;
	int code = 0;

	r = calloc(1, sizeof(*r));
	if (!r)
		return;
	r->y = KRPC_RESPONSE;
	r->t = q->t;
	r->tlen = q->tlen;
	r->id = dht->id;
	r->ip = ip;
	r->iplen = krpc_ep_to_compact(ip, from);
	dht->st.queries_served[q->method < 7 ? q->method : 0]++;
	switch (q->method) {
	case KRPC_PING:
		break;
	case KRPC_FIND_NODE:
		add_nodes(dht, r, q, from, q->target, n4, n6);
		break;
	case KRPC_GET_PEERS:
		dht_token_make(dht, 0, from, token);
		r->token = token;
		r->tokenlen = DHT_TOKEN_LEN;
		r->nvalues = dht_peer_values(dht, q->info_hash, r->values, r->values_len, vstore,
		                             DHT_MAX_REPLY_VALUES);
		add_nodes(dht, r, q, from, q->info_hash, n4, n6);
		break;
	case KRPC_ANNOUNCE_PEER: {
		struct mt6d_endpoint p = *from;
		if (!dht_token_ok(dht, from, q->token, q->tokenlen)) {
			code = 203, err = "invalid token";
			break;
		}
		if (!q->implied_port && (q->port < 1 || q->port > 65535)) {
			code = 203, err = "invalid port";
			break;
		}
		p.port = q->implied_port ? from->port : (uint16_t)q->port;
		if (dht_peer_store(dht, q->info_hash, &p) < 0)
			code = 202, err = "peer store full";
		break;
	}
	case KRPC_GET: {
		struct dht_item *it = dht_item_find(dht, q->target);
		dht_token_make(dht, 0, from, token);
		r->token = token;
		r->tokenlen = DHT_TOKEN_LEN;
		add_nodes(dht, r, q, from, q->target, n4, n6);
		if (!it)
			break;
		if (it->is_mutable) {
			r->k = it->k;
			r->seq = it->seq;
			r->has_seq = true;
			if (q->has_seq && q->seq >= it->seq)
				break; /* the requester has it already */
			r->sig = it->sig;
		}
		r->v = it->v;
		r->vlen = it->vlen;
		break;
	}
	case KRPC_PUT:
		if (!dht_token_ok(dht, from, q->token, q->tokenlen)) {
			code = 203, err = "invalid token";
			break;
		}
		code = serve_put(dht, q, from, &err);
		break;
	default:
		/* BEP 5: an unknown method with a target or info_hash is find_node */
		if (q->target || q->info_hash) {
			add_nodes(dht, r, q, from, q->target ? q->target : q->info_hash, n4, n6);
			break;
		}
		code = 204, err = "method unknown";
		break;
	}
	if (code) {
		send_error(dht, from, q, code, err);
	} else {
		/* a reply too large for one datagram sheds values, then the
		 * nodes of the other family, then its own */
		int ret = dht_send_msg(dht, from, r);
		while (ret == -EMSGSIZE && r->nvalues) {
			r->nvalues /= 2;
			ret = dht_send_msg(dht, from, r);
		}
		if (ret == -EMSGSIZE) {
			if (dht_ep_fam(from) == 4)
				r->nodes6 = NULL;
			else
				r->nodes = NULL;
			ret = dht_send_msg(dht, from, r);
		}
		if (ret == -EMSGSIZE) {
			r->nodes = r->nodes6 = NULL;
			dht_send_msg(dht, from, r);
		}
	}
	free(r);
}

/* BEP 42: count the addresses others see us at; adopt a matching id. */
static void vote_external(struct mt6d_dht *dht, const struct krpc_msg *m)
{
	struct mt6d_endpoint a;
	const uint8_t *ip;
	size_t iplen;

	if (!m->ip || dht->cfg.have_id)
		return;
	krpc_ep_from_compact(&a, m->ip, m->iplen);
	a.port = 0;
	ip = mt6d_endpoint_ip(&a, &iplen);
	if (dht_ip_is_local(ip, iplen))
		return;
	if (mt6d_endpoint_eq(&a, &dht->ext)) {
		if (dht->ext_votes < 1000)
			dht->ext_votes++;
	} else if (dht->ext_votes > 0) {
		dht->ext_votes--;
	} else {
		dht->ext = a;
		dht->ext_votes = 1;
	}
	if (dht->ext_votes == EXT_VOTES_NEEDED && !mt6d_dht_bep42_ok(dht->id, ip, iplen)) {
		/* a new id: the old tables are arranged around the old one */
		struct dht_node keep[DHT_MAX_SEEDS];
		int n;
		mt6d_dht_bep42_id(dht->id, ip, iplen, (uint8_t)randombytes_uniform(256));
		/* nodes we know become seeds, so the new id can bootstrap */
		n = dht_closest(dht, dht->cfg.ipv4 ? 4 : 6, dht->id, keep, DHT_MAX_SEEDS, true);
		for (int i = 0; i < n && dht->nseeds < DHT_MAX_SEEDS; i++)
			dht->seeds[dht->nseeds++] = keep[i].a;
		dht_table_free(&dht->t4);
		dht_table_free(&dht->t6);
		/* prefix depths are relative to the id: refresh everything anew */
		memset(dht->refreshed4, 0, sizeof(dht->refreshed4));
		memset(dht->refreshed6, 0, sizeof(dht->refreshed6));
		memset(dht->backoff4, 0, sizeof(dht->backoff4));
		memset(dht->backoff6, 0, sizeof(dht->backoff6));
		dht->last_bootstrap = 0;
	}
}

static void handle_reply(struct mt6d_dht *dht, const struct krpc_msg *m,
                         const struct mt6d_endpoint *from)
{
	struct dht_req rc;

	if (!dht_req_take(dht, m, from, &rc)) {
		dht->st.dropped_unexpected++;
		return;
	}
	if (m->y == KRPC_ERROR) {
		if (rc.op)
			dht_op_error(dht, &rc, m);
		return;
	}
	heard(dht, m->id, from, true);
	vote_external(dht, m);
	if (rc.kind == REQ_PING && rc.method == KRPC_FIND_NODE) {
		/* bootstrap and refresh answers: learn whoever is listed */
		for (size_t i = 0; i + KRPC_NODE4_LEN <= m->nodes_len; i += KRPC_NODE4_LEN) {
			struct mt6d_endpoint a;
			krpc_ep_from_compact(&a, m->nodes + i + 20, 6);
			heard(dht, m->nodes + i, &a, false);
		}
		for (size_t i = 0; i + KRPC_NODE6_LEN <= m->nodes6_len; i += KRPC_NODE6_LEN) {
			struct mt6d_endpoint a;
			krpc_ep_from_compact(&a, m->nodes6 + i + 20, 18);
			heard(dht, m->nodes6 + i, &a, false);
		}
	}
	if (rc.op)
		dht_op_response(dht, &rc, m);
}

/* Every entry point sets the clock here; tokens rotate on time, not on
 * how often tick() happens to run. */
static void set_clock(struct mt6d_dht *dht, uint64_t now)
{
	/* callers may hand us times read before the last one we saw */
	if (now > dht->now)
		dht->now = now;
	now = dht->now;
	if (!dht->secret_rotated)
		dht->secret_rotated = now;
	if (now - dht->secret_rotated >= 2 * (uint64_t)DHT_TOKEN_ROTATE_MS)
		dht_token_rotate(dht);
	if (now - dht->secret_rotated >= DHT_TOKEN_ROTATE_MS)
		dht_token_rotate(dht);
}

int mt6d_dht_input(struct mt6d_dht *dht, const uint8_t *buf, size_t len,
                   const struct sockaddr *from, socklen_t fromlen, uint64_t now_ms)
{
	struct krpc_msg *m = NULL;
	struct mt6d_endpoint a;
	int ret;

	if (!dht || !buf)
		return -EINVAL;
	set_clock(dht, now_ms);
	dht->st.rx++;
	ret = mt6d_endpoint_from_sockaddr(&a, from, fromlen);
	if (ret < 0 || a.port == 0) {
		dht->st.dropped_malformed++;
		return -EINVAL;
	}
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	ret = krpc_parse(m, buf, len);
	if (ret < 0) {
		dht->st.dropped_malformed++;
		goto out;
	}
	dht_unreach_clear(dht, &a); /* it is alive (or back) */
	if (m->y == KRPC_QUERY) {
		if (dht->cfg.read_only) {
			dht->st.dropped_unexpected++;
			ret = -EPERM;
			goto out;
		}
		if (!dht_ratelimit_ok(dht, &a)) {
			dht->st.dropped_ratelimit++;
			ret = -EBUSY;
			goto out;
		}
		if (!m->ro)
			heard(dht, m->id, &a, false);
		serve_query(dht, m, &a);
	} else {
		handle_reply(dht, m, &a);
	}
	ret = 0;
out:
	free(m);
	dht_ops_complete(dht);
	return ret;
}

/* Time out requests; an operation's share goes through its own handler. */
static uint64_t expire_requests(struct mt6d_dht *dht)
{
	uint64_t next = dht->now + 1000;

	for (uint32_t i = 0; i < dht->nreq; i++) {
		struct dht_req *r = &dht->req[i];
		struct mt6d_endpoint ping;
		if (!r->used || r->queued)
			continue;
		if (dht->now - r->sent >= DHT_TIMEOUT_MS) {
			struct dht_req rc = *r;
			dht_req_release(dht, r);
			dht_unreach_note(dht, &rc.a);
			if (dht_node_failed(dht, &rc.a, &ping))
				dht_ping(dht, &ping);
			if (rc.op)
				dht_op_timeout(dht, &rc);
			continue;
		}
		if (r->sent + DHT_TIMEOUT_MS < next)
			next = r->sent + DHT_TIMEOUT_MS;
	}
	return next;
}

uint64_t mt6d_dht_tick(struct mt6d_dht *dht, uint64_t now_ms)
{
	uint64_t next;

	if (!dht)
		return now_ms + 1000;
	set_clock(dht, now_ms);
	mt6d_dht_flush(dht, now_ms);
	next = expire_requests(dht);
	dht_ops_tick(dht);
	if (now_ms >= dht->next_maint) {
		dht->next_maint = now_ms + 5000;
		dht_upkeep(dht);
	}
	if (now_ms >= dht->next_expire) {
		dht->next_expire = now_ms + 60000;
		dht_store_expire(dht);
	}
	if (dht->next_maint < next)
		next = dht->next_maint;
	for (struct dht_op *op = dht->ops; op; op = op->next)
		if (op->inflight && next > now_ms + 100)
			next = now_ms + 100;
	/* the socket was full: try again soon (the caller may also flush
	 * as soon as the socket is writable) */
	if (dht->txq_len && next > now_ms + 1)
		next = now_ms + 1;
	dht_ops_complete(dht);
	/* a callback may have started operations or queued datagrams */
	if ((dht->done_head || dht->txq_len) && next > now_ms + 1)
		next = now_ms + 1;
	return next;
}
