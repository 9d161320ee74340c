/* SPDX-License-Identifier: MIT */
/*
 * Client operations: an iterative lookup towards a target, then, for
 * announces and puts, a store phase on the K closest nodes that answered.
 *
 * The lookup keeps up to DHT_OP_CANDS candidates sorted by XOR distance
 * (seeds of unknown id last). It keeps ALPHA queries in flight among the
 * K closest candidates not known to have failed; a query unanswered after
 * DHT_SLOW_MS stops counting towards ALPHA and towards the K closest the
 * lookup waits for (it may still answer and count again); one unanswered
 * after DHT_TIMEOUT_MS has failed, and is retried once only when the
 * lookup knows no more than K candidates. The lookup ends when the K
 * closest live candidates have all answered, or at DHT_OP_MAX_MS, or
 * after DHT_OP_MAX_QUERIES queries. A get or get_peers that has found
 * nothing by then asks the next K closest too (2K in all) before it ends:
 * after churn the nodes now closest may be new and empty while the ones
 * that hold the value are just behind them. A BEP 44 put is stored on the
 * put_replicas closest (config; K by default, the publisher asks 2K so an
 * item outlives the loss of most of its nodes): its lookup waits for that
 * many; an announce (up to 255 datagrams a node for port stuffing) goes to
 * the K closest. An address whose query timed out in the last minute is
 * not a candidate (unreach.c), except a seed. Each node's write token is
 * kept from its answer and reused for every announce or put sent to it.
 * An operation ends with exactly one call of its callback, unless it was
 * cancelled first; the requests still pending then forget it. Callbacks
 * never run inside the call that started an operation nor in the middle
 * of this file's work: a finished operation waits in the node's done list
 * until dht_ops_complete(), which the node calls as the last step of
 * mt6d_dht_input() and mt6d_dht_tick(), so a callback may start or cancel
 * any operation. This file calls down only: to the transport (rpc.c), the
 * routing table and the list of unreachable addresses.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dht/internal.h"
#include "core/internal.h"

static int cand_cmp(const struct dht_op *op, const struct dht_cand *a, const struct dht_cand *b)
{
	if (!a->id_known || !b->id_known)
		return a->id_known ? -1 : b->id_known ? 1 : 0;
	return dht_xor_cmp(op->target, a->id, b->id);
}

static struct dht_cand *cand_find(struct dht_op *op, const struct mt6d_endpoint *a)
{
	for (int i = 0; i < op->nc; i++)
		if (mt6d_endpoint_eq(&op->c[i].a, a))
			return &op->c[i];
	return NULL;
}

/* Insert keeping the order; the farthest falls off a full list. */
static struct dht_cand *cand_insert(struct dht_op *op, const struct dht_cand *c)
{
	int pos = op->nc;

	while (pos > 0 && cand_cmp(op, c, &op->c[pos - 1]) < 0)
		pos--;
	if (pos == DHT_OP_CANDS)
		return NULL;
	if (op->nc == DHT_OP_CANDS) {
		if (op->c[op->nc - 1].state == C_SENT && !op->c[op->nc - 1].slow)
			op->inflight--;
		op->nc--;
	}
	memmove(&op->c[pos + 1], &op->c[pos], (size_t)(op->nc - pos) * sizeof(op->c[0]));
	op->c[pos] = *c;
	op->nc++;
	return &op->c[pos];
}

static void cand_add(struct mt6d_dht *dht, struct dht_op *op, const uint8_t *id,
                     const struct mt6d_endpoint *a, uint8_t depth)
{
	struct dht_cand c, *old;

	if (a->port == 0 || (dht_ep_fam(a) == 4 ? !dht->cfg.ipv4 : !dht->cfg.ipv6))
		return;
	if (id && !memcmp(id, dht->id, MT6D_DHT_ID_LEN))
		return;
	/* timed out lately: not again (unreach.c); a seed is the caller's choice */
	if (id && dht_unreach_is(dht, a))
		return;
	old = cand_find(op, a);
	if (old) {
		if (depth < old->depth)
			old->depth = depth;
		return;
	}
	memset(&c, 0, sizeof(c));
	if (id) {
		memcpy(c.id, id, MT6D_DHT_ID_LEN);
		c.id_known = true;
	}
	c.a = *a;
	c.depth = depth;
	cand_insert(op, &c);
}

static void op_unlink(struct mt6d_dht *dht, struct dht_op *op)
{
	if (op->prev)
		op->prev->next = op->next;
	else
		dht->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	op->next = op->prev = NULL;
}

/* The result is made now; the callback runs from dht_ops_complete(). */
static void op_finish(struct mt6d_dht *dht, struct dht_op *op, int status)
{
	struct mt6d_dht_result res;
	int best = -1;

	memset(&res, 0, sizeof(res));
	memcpy(res.target, op->target, MT6D_DHT_ID_LEN);
	for (int i = 0; i < op->nc; i++)
		if (op->c[i].state == C_ANSWERED && op->c[i].id_known) {
			best = i;
			break;
		}
	res.hops = best >= 0 ? op->c[best].depth : 0;
	res.nodes_answered = op->answered;
	res.nodes_contacted = op->contacted;
	res.stored_on = op->stored_on;
	res.elapsed_ms = dht->now - op->start;
	res.seq = -1;
	if (op->type == OP_GET_PEERS) {
		res.peers = op->peers;
		res.npeers = op->npeers;
	}
	if (op->type == OP_GET && op->have_value) {
		res.value = op->v;
		res.value_len = op->vlen;
		if (op->is_mutable) {
			res.seq = op->seq;
			res.k = op->k;
			res.sig = op->sig;
		}
	}
	if (op->type == OP_PUT_MUT)
		res.seq = op->seq;
	if (!status && !op->answered)
		status = -ETIMEDOUT;
	if (!status && op->type == OP_GET && !op->have_value)
		status = -ENOENT;
	res.status = status;
	op->res = res;

	/* out of the live list; its callback waits for dht_ops_complete() */
	op_unlink(dht, op);
	dht_req_forget_op(dht, op);
	op->finished = true;
	op->next = NULL;
	op->prev = dht->done_tail;
	if (dht->done_tail)
		dht->done_tail->next = op;
	else
		dht->done_head = op;
	dht->done_tail = op;
}

static void op_free(struct dht_op *op)
{
	free(op->peers);
	free(op->ports);
	free(op);
}

void dht_ops_complete(struct mt6d_dht *dht)
{
	struct dht_op *op;

	/* one at a time from the head: a callback may cancel or start others */
	while ((op = dht->done_head)) {
		dht->done_head = op->next;
		if (dht->done_head)
			dht->done_head->prev = NULL;
		else
			dht->done_tail = NULL;
		if (op->done)
			op->done(op->arg, &op->res);
		op_free(op);
	}
}

int mt6d_dht_cancel(struct mt6d_dht *dht, int id)
{
	struct dht_op *op;

	if (!dht || id <= 0)
		return -EINVAL;
	for (op = dht->ops; op; op = op->next)
		if (op->id == id) {
			op_unlink(dht, op);
			dht_req_forget_op(dht, op);
			op_free(op);
			return 0;
		}
	for (op = dht->done_head; op; op = op->next)
		if (op->id == id) {
			if (op->prev)
				op->prev->next = op->next;
			else
				dht->done_head = op->next;
			if (op->next)
				op->next->prev = op->prev;
			else
				dht->done_tail = op->prev;
			op_free(op);
			return 0;
		}
	return -ENOENT;
}

static int send_lookup_query(struct mt6d_dht *dht, struct dht_op *op, struct dht_cand *c)
{
	struct krpc_msg m = {.y = KRPC_QUERY};

	switch (op->type) {
	case OP_FIND_NODE:
		m.method = KRPC_FIND_NODE;
		m.target = op->target;
		break;
	case OP_GET_PEERS:
	case OP_ANNOUNCE:
		m.method = KRPC_GET_PEERS;
		m.info_hash = op->target;
		break;
	default:
		m.method = KRPC_GET;
		m.target = op->target;
		break;
	}
	if (c->tries == 0)
		op->contacted++;
	c->tries++;
	c->sent = dht->now;
	c->slow = false;
	op->queries++;
	if (dht_send_query(dht, &c->a, &m, REQ_LOOKUP, op) < 0) {
		c->state = C_FAILED;
		return -1;
	}
	c->state = C_SENT;
	op->inflight++;
	return 0;
}

static void store_phase(struct mt6d_dht *dht, struct dht_op *op)
{
	int sent_to = 0;

	op->storing = true;
	for (int i = 0; i < op->nc && sent_to < op->width; i++) {
		struct dht_cand *c = &op->c[i];
		struct krpc_msg m = {.y = KRPC_QUERY};
		if (c->state != C_ANSWERED || !c->tokenlen)
			continue;
		sent_to++;
		m.token = c->token;
		m.tokenlen = c->tokenlen;
		if (op->type == OP_ANNOUNCE) {
			m.method = KRPC_ANNOUNCE_PEER;
			m.info_hash = op->target;
			m.has_port = true;
			for (size_t p = 0; p < op->nports; p++) {
				m.port = op->ports[p];
				if (dht_send_query(dht, &c->a, &m, REQ_STORE, op) == 0)
					op->store_pending++;
			}
			continue;
		}
		m.method = KRPC_PUT;
		m.v = op->v;
		m.vlen = op->vlen;
		if (op->is_mutable) {
			m.k = op->k;
			m.sig = op->sig;
			m.salt = op->salt;
			m.saltlen = op->saltlen;
			m.seq = op->seq;
			m.has_seq = true;
		}
		if (dht_send_query(dht, &c->a, &m, REQ_STORE, op) == 0)
			op->store_pending++;
	}
	if (!op->store_pending)
		op_finish(dht, op, 0);
}

/* Send what alpha allows; finish the lookup when nothing is left to ask. */
static void op_step(struct mt6d_dht *dht, struct dht_op *op)
{
	int live = 0;
	bool waiting = false;

	if (op->storing)
		return;
	for (int i = 0; i < op->nc && live < op->width; i++) {
		struct dht_cand *c = &op->c[i];
		/* a slow node may still answer, but the lookup does not wait for it */
		if (c->state == C_FAILED || (c->state == C_SENT && c->slow))
			continue;
		live++;
		if (c->state == C_SENT)
			waiting = true;
		if (c->state != C_NEW)
			continue;
		waiting = true;
		if (op->inflight >= MT6D_DHT_ALPHA || op->queries >= DHT_OP_MAX_QUERIES)
			continue;
		send_lookup_query(dht, op, c);
	}
	if (op->queries >= DHT_OP_MAX_QUERIES) {
		waiting = false;
		for (int i = 0; i < op->nc; i++)
			if (op->c[i].state == C_SENT)
				waiting = true;
	}
	if (waiting)
		return;
	if (op->width < DHT_MISS_WIDTH && ((op->type == OP_GET && !op->have_value) ||
	                                   (op->type == OP_GET_PEERS && op->npeers == 0))) {
		/* nothing found among the K closest: the next K, once */
		op->width = DHT_MISS_WIDTH;
		op_step(dht, op);
		return;
	}
	if (op->type == OP_ANNOUNCE || op->type == OP_PUT_IMM || op->type == OP_PUT_MUT)
		store_phase(dht, op);
	else
		op_finish(dht, op, 0);
}

static int peer_cmp(const void *a, const void *b)
{
	return mt6d_endpoint_cmp(a, b);
}

static void collect_peers(struct dht_op *op, const struct krpc_msg *m)
{
	for (size_t i = 0; i < m->nvalues; i++) {
		struct mt6d_endpoint p;
		bool dup = false;

		krpc_ep_from_compact(&p, m->values[i], m->values_len[i]);
		if (p.port == 0)
			continue;
		for (size_t j = 0; j < op->npeers && !dup; j++)
			dup = !peer_cmp(&op->peers[j], &p);
		if (dup)
			continue;
		if (op->npeers == op->peers_cap) {
			size_t n = op->peers_cap ? 2 * op->peers_cap : 32;
			struct mt6d_endpoint *np;
			if (n > 4096)
				return;
			np = realloc(op->peers, n * sizeof(*np));
			if (!np)
				return;
			op->peers = np;
			op->peers_cap = n;
		}
		op->peers[op->npeers++] = p;
	}
	/* grouped by IP, ports ascending: what a port-stuffing reader wants */
	if (op->npeers > 1)
		qsort(op->peers, op->npeers, sizeof(*op->peers), peer_cmp);
}

static void collect_item(struct dht_op *op, const struct krpc_msg *m)
{
	uint8_t h[MT6D_DHT_ID_LEN];

	if (!m->v)
		return;
	if (!op->is_mutable) {
		if (op->have_value)
			return;
		mt6d_sha1(h, m->v, m->vlen);
		if (memcmp(h, op->target, MT6D_DHT_ID_LEN))
			return;
	} else {
		if (!m->k || !m->sig || !m->has_seq || memcmp(m->k, op->k, 32))
			return;
		if (op->have_value && m->seq <= op->seq)
			return;
		if (!dht_item_verify(m->k, m->sig, op->salt, op->saltlen, m->seq, m->v, m->vlen))
			return;
		op->seq = m->seq;
		memcpy(op->sig, m->sig, 64);
	}
	memcpy(op->v, m->v, m->vlen);
	op->vlen = m->vlen;
	op->have_value = true;
}

/* req->op is live: op_finish() clears it in every pending request. */
void dht_op_response(struct mt6d_dht *dht, const struct dht_req *req, const struct krpc_msg *m)
{
	struct dht_op *op = req->op;
	struct dht_cand *c;

	if (!op)
		return;
	c = cand_find(op, &req->a);
	if (req->kind == REQ_STORE) {
		if (c && ++c->acks == (op->type == OP_ANNOUNCE ? op->nports : 1))
			op->stored_on++;
		if (--op->store_pending == 0)
			op_finish(dht, op, 0);
		return;
	}
	if (!c || c->state != C_SENT)
		return;
	c->state = C_ANSWERED;
	if (!c->slow)
		op->inflight--;
	op->answered++;
	if (m->token && m->tokenlen <= KRPC_MAX_TOKEN) {
		memcpy(c->token, m->token, m->tokenlen);
		c->tokenlen = (uint8_t)m->tokenlen;
	}
	if (!c->id_known || memcmp(c->id, m->id, MT6D_DHT_ID_LEN)) {
		/* a seed told us its id: move it to its place */
		struct dht_cand tmp = *c;
		memcpy(tmp.id, m->id, MT6D_DHT_ID_LEN);
		tmp.id_known = true;
		memmove(c, c + 1, (size_t)(op->nc - (c - op->c) - 1) * sizeof(*c));
		op->nc--;
		c = cand_insert(op, &tmp);
		if (!c)
			goto next;
	}
	{
		uint8_t depth = c->depth < 250 ? (uint8_t)(c->depth + 1) : c->depth;
		for (size_t i = 0; i + KRPC_NODE4_LEN <= m->nodes_len; i += KRPC_NODE4_LEN) {
			struct mt6d_endpoint a;
			krpc_ep_from_compact(&a, m->nodes + i + 20, 6);
			cand_add(dht, op, m->nodes + i, &a, depth);
		}
		for (size_t i = 0; i + KRPC_NODE6_LEN <= m->nodes6_len; i += KRPC_NODE6_LEN) {
			struct mt6d_endpoint a;
			krpc_ep_from_compact(&a, m->nodes6 + i + 20, 18);
			cand_add(dht, op, m->nodes6 + i, &a, depth);
		}
	}
	if (op->type == OP_GET_PEERS)
		collect_peers(op, m);
	if (op->type == OP_GET)
		collect_item(op, m);
next:
	op_step(dht, op);
}

static void cand_failed(struct mt6d_dht *dht, struct dht_op *op, const struct dht_req *req,
                        bool retry)
{
	struct dht_cand *c = cand_find(op, &req->a);

	if (req->kind == REQ_STORE) {
		if (--op->store_pending == 0)
			op_finish(dht, op, 0);
		return;
	}
	if (!c || c->state != C_SENT)
		return;
	if (!c->slow)
		op->inflight--;
	if (retry && c->tries < 2 && op->nc <= DHT_K) {
		/* once more when there is nobody else to ask and it is still one
		 * of the K closest live ones */
		int live = 0;
		for (int i = 0; i < op->nc && live < DHT_K; i++) {
			if (&op->c[i] == c) {
				c->state = C_NEW;
				break;
			}
			if (op->c[i].state != C_FAILED)
				live++;
		}
	}
	if (c->state == C_SENT)
		c->state = C_FAILED;
	op_step(dht, op);
}

void dht_op_timeout(struct mt6d_dht *dht, const struct dht_req *req)
{
	struct dht_op *op = req->op;

	if (op)
		cand_failed(dht, op, req, true);
}

void dht_op_error(struct mt6d_dht *dht, const struct dht_req *req, const struct krpc_msg *m)
{
	struct dht_op *op = req->op;

	(void)m;
	if (op)
		cand_failed(dht, op, req, false);
}

void dht_ops_tick(struct mt6d_dht *dht)
{
	struct dht_op *op = dht->ops, *next;

	for (; op; op = next) {
		next = op->next;
		if (dht->now - op->start >= DHT_OP_MAX_MS) {
			op_finish(dht, op, 0);
			continue;
		}
		if (op->storing)
			continue;
		for (int i = 0; i < op->nc; i++) {
			struct dht_cand *c = &op->c[i];
			if (c->state == C_SENT && !c->slow && dht->now - c->sent >= DHT_SLOW_MS) {
				c->slow = true;
				op->inflight--;
			}
		}
		op_step(dht, op);
	}
}

void dht_ops_cancel_all(struct mt6d_dht *dht)
{
	dht->closing = true; /* callbacks below start nothing new */
	while (dht->ops)
		op_finish(dht, dht->ops, -ECANCELED);
	dht_ops_complete(dht);
}

static struct dht_op *op_new(struct mt6d_dht *dht, uint8_t type, const uint8_t *target,
                             mt6d_dht_done_fn done, void *arg, uint64_t now)
{
	struct dht_op *op = calloc(1, sizeof(*op));
	struct dht_node best[2 * DHT_K];

	if (!op)
		return NULL;
	if (dht->closing) {
		free(op);
		return NULL;
	}
	if (now > dht->now)
		dht->now = now;
	op->type = type;
	/* ids are positive ints; one wraps after 2^31 operations */
	if (dht->next_op_id <= 0 || dht->next_op_id == INT_MAX)
		dht->next_op_id = 1;
	op->id = dht->next_op_id++;
	memcpy(op->target, target, MT6D_DHT_ID_LEN);
	op->done = done;
	op->arg = arg;
	op->start = dht->now;
	op->seq = -1;
	op->width = DHT_K;
	for (uint8_t fam = 4; fam <= 6; fam += 2) {
		int n = dht_closest(dht, fam, target, best, 2 * DHT_K, true);
		for (int i = 0; i < n; i++)
			cand_add(dht, op, best[i].id, &best[i].a, 1);
	}
	if (op->nc < DHT_K)
		for (int i = 0; i < dht->nseeds; i++)
			cand_add(dht, op, NULL, &dht->seeds[i], 1);
	return op;
}

/* How many nodes a put waits for and stores on. */
static uint8_t put_width(const struct mt6d_dht *dht)
{
	uint32_t n = dht->cfg.put_replicas;

	return (uint8_t)(n < DHT_K ? DHT_K : n > DHT_MAX_REPLICAS ? DHT_MAX_REPLICAS : n);
}

static int op_start(struct mt6d_dht *dht, struct dht_op *op)
{
	op->next = dht->ops;
	if (dht->ops)
		dht->ops->prev = op;
	dht->ops = op;
	if (!op->nc) {
		op_finish(dht, op, -EHOSTUNREACH);
		return op->id;
	}
	op_step(dht, op);
	/* op may be finished already (every send failed), not yet freed */
	return op->id;
}

int dht_lookup_nodes(struct mt6d_dht *dht, const uint8_t *target, mt6d_dht_done_fn done, void *arg)
{
	struct dht_op *op = op_new(dht, OP_FIND_NODE, target, done, arg, dht->now);

	if (!op)
		return -ENOMEM;
	return op_start(dht, op);
}

int mt6d_dht_get_peers(struct mt6d_dht *dht, const uint8_t infohash[static MT6D_DHT_ID_LEN],
                       mt6d_dht_done_fn done, void *arg, uint64_t now_ms)
{
	struct dht_op *op;

	if (!dht || !done)
		return -EINVAL;
	op = op_new(dht, OP_GET_PEERS, infohash, done, arg, now_ms);
	if (!op)
		return -ENOMEM;
	return op_start(dht, op);
}

int mt6d_dht_announce(struct mt6d_dht *dht, const uint8_t infohash[static MT6D_DHT_ID_LEN],
                      const uint16_t *ports, size_t nports, mt6d_dht_done_fn done, void *arg,
                      uint64_t now_ms)
{
	struct dht_op *op;

	if (!dht || !done || !ports || nports == 0 || nports > 255)
		return -EINVAL;
	for (size_t i = 0; i < nports; i++)
		if (ports[i] == 0)
			return -EINVAL;
	op = op_new(dht, OP_ANNOUNCE, infohash, done, arg, now_ms);
	if (!op)
		return -ENOMEM;
	op->ports = malloc(nports * sizeof(*ports));
	if (!op->ports) {
		free(op);
		return -ENOMEM;
	}
	memcpy(op->ports, ports, nports * sizeof(*ports));
	op->nports = nports;
	return op_start(dht, op);
}

int mt6d_dht_put_immutable(struct mt6d_dht *dht, const uint8_t *v, size_t vlen,
                           mt6d_dht_done_fn done, void *arg, uint64_t now_ms)
{
	uint8_t target[MT6D_DHT_ID_LEN];
	struct dht_op *op;

	if (!dht || !done || !v || vlen == 0 || vlen > MT6D_DHT_MAX_V)
		return -EINVAL;
	mt6d_sha1(target, v, vlen);
	op = op_new(dht, OP_PUT_IMM, target, done, arg, now_ms);
	if (!op)
		return -ENOMEM;
	memcpy(op->v, v, vlen);
	op->vlen = vlen;
	op->width = put_width(dht);
	return op_start(dht, op);
}

int mt6d_dht_put_mutable(struct mt6d_dht *dht, const uint8_t sk[static 64], const uint8_t *salt,
                         size_t saltlen, const uint8_t *v, size_t vlen, int64_t seq,
                         mt6d_dht_done_fn done, void *arg, uint64_t now_ms)
{
	uint8_t target[MT6D_DHT_ID_LEN], buf[MT6D_DHT_MAX_V + MT6D_DHT_MAX_SALT + 64];
	struct dht_op *op;
	int n;

	if (!dht || !done || !v || vlen == 0 || vlen > MT6D_DHT_MAX_V || seq < 0 ||
	    saltlen > MT6D_DHT_MAX_SALT || (saltlen && !salt))
		return -EINVAL;
	/* libsodium's secret key is seed || public key */
	mt6d_dht_mutable_target(target, sk + 32, salt, saltlen);
	op = op_new(dht, OP_PUT_MUT, target, done, arg, now_ms);
	if (!op)
		return -ENOMEM;
	n = mt6d_dht_sign_buffer(buf, sizeof(buf), salt, saltlen, seq, v, vlen);
	if (n < 0) {
		free(op);
		return n;
	}
	crypto_sign_detached(op->sig, NULL, buf, (unsigned long long)n, sk);
	memcpy(op->k, sk + 32, 32);
	if (saltlen)
		memcpy(op->salt, salt, saltlen);
	op->saltlen = saltlen;
	memcpy(op->v, v, vlen);
	op->vlen = vlen;
	op->seq = seq;
	op->is_mutable = true;
	op->width = put_width(dht);
	return op_start(dht, op);
}

int mt6d_dht_get(struct mt6d_dht *dht, const uint8_t target[static MT6D_DHT_ID_LEN],
                 const uint8_t *pk, const uint8_t *salt, size_t saltlen, mt6d_dht_done_fn done,
                 void *arg, uint64_t now_ms)
{
	uint8_t t[MT6D_DHT_ID_LEN];
	struct dht_op *op;

	if (!dht || !done || saltlen > MT6D_DHT_MAX_SALT || (saltlen && !salt))
		return -EINVAL;
	if (pk)
		mt6d_dht_mutable_target(t, pk, salt, saltlen);
	else
		memcpy(t, target, MT6D_DHT_ID_LEN);
	op = op_new(dht, OP_GET, t, done, arg, now_ms);
	if (!op)
		return -ENOMEM;
	if (pk) {
		op->is_mutable = true;
		memcpy(op->k, pk, 32);
		if (saltlen)
			memcpy(op->salt, salt, saltlen);
		op->saltlen = saltlen;
	}
	return op_start(dht, op);
}
