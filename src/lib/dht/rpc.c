/* SPDX-License-Identifier: MIT */
/*
 * The DHT node's transport: encoding and sending KRPC messages, the
 * pending-request slots replies are matched against, and the send queue.
 * It is the lowest layer of the node: it knows nothing of lookups or of
 * the routing table (a request carries its operation as an opaque
 * pointer). Rules this file keeps:
 *  - a transaction id is 4 bytes: the pending slot (2) and a random nonce
 *    (2), so a reply is matched in O(1) and a guessed one rarely matches;
 *  - a datagram the caller's send callback refuses with EAGAIN (or
 *    ENOBUFS: the socket's buffer is full) is queued, never dropped, and
 *    so is everything after it while the queue is not empty: datagrams
 *    leave in the order they were made. The queue is sent as fast as the
 *    socket takes it (mt6d_dht_flush, and every tick), which paces a burst
 *    (a port-stuffing announce is 85 datagrams to each of 8 nodes) at the
 *    socket's own drain rate. Only a queue of DHT_TXQ_MAX datagrams is
 *    full (counted in tx_dropped);
 *  - a query waiting in the queue has not been sent: its timeout starts
 *    when it leaves.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dht/internal.h"

#define DHT_VERSION "M6\x00\x01"

struct dht_txq_entry {
	struct sockaddr_storage to;
	socklen_t tolen;
	uint32_t req; /* pending slot of a query, else UINT32_MAX */
	uint16_t nonce;
	uint16_t len;
	uint8_t buf[];
};

static bool would_block(int ret)
{
	return ret == -EAGAIN || ret == -EWOULDBLOCK || ret == -ENOBUFS;
}

static int txq_push(struct mt6d_dht *dht, const uint8_t *buf, size_t len,
                    const struct sockaddr_storage *to, socklen_t tolen, uint32_t req,
                    uint16_t nonce)
{
	struct dht_txq_entry *e;

	if (dht->txq_len >= DHT_TXQ_MAX) {
		dht->st.tx_dropped++;
		return -ENOBUFS;
	}
	if (dht->txq_head + dht->txq_len == dht->txq_cap) {
		if (dht->txq_head) {
			memmove(dht->txq, dht->txq + dht->txq_head,
			        dht->txq_len * sizeof(*dht->txq));
			dht->txq_head = 0;
		} else {
			size_t cap = dht->txq_cap ? 2 * dht->txq_cap : 64;
			struct dht_txq_entry **nq = realloc(dht->txq, cap * sizeof(*nq));
			if (!nq) {
				dht->st.tx_dropped++;
				return -ENOMEM;
			}
			dht->txq = nq;
			dht->txq_cap = cap;
		}
	}
	e = malloc(sizeof(*e) + len);
	if (!e) {
		dht->st.tx_dropped++;
		return -ENOMEM;
	}
	e->to = *to;
	e->tolen = tolen;
	e->req = req;
	e->nonce = nonce;
	e->len = (uint16_t)len;
	memcpy(e->buf, buf, len);
	dht->txq[dht->txq_head + dht->txq_len++] = e;
	dht->st.tx_queued++;
	if (dht->txq_len > dht->st.txq_max)
		dht->st.txq_max = (uint32_t)dht->txq_len;
	return 0;
}

/* Send one datagram now, or queue it behind those already waiting. */
static int transmit(struct mt6d_dht *dht, const uint8_t *buf, size_t len,
                    const struct sockaddr_storage *to, socklen_t tolen, uint32_t req,
                    uint16_t nonce)
{
	int ret;

	if (dht->txq_len)
		return txq_push(dht, buf, len, to, tolen, req, nonce);
	ret = dht->cfg.send(dht->cfg.send_ctx, buf, len, (const struct sockaddr *)to, tolen);
	if (would_block(ret))
		return txq_push(dht, buf, len, to, tolen, req, nonce);
	if (ret < 0) {
		dht->st.tx_errors++;
		return ret;
	}
	dht->st.tx++;
	return 0;
}

int mt6d_dht_flush(struct mt6d_dht *dht, uint64_t now_ms)
{
	if (!dht)
		return -EINVAL;
	if (now_ms > dht->now)
		dht->now = now_ms;
	while (dht->txq_len) {
		struct dht_txq_entry *e = dht->txq[dht->txq_head];
		int ret = dht->cfg.send(dht->cfg.send_ctx, e->buf, e->len,
		                        (const struct sockaddr *)&e->to, e->tolen);
		if (would_block(ret))
			break;
		if (ret < 0) {
			dht->st.tx_errors++;
		} else {
			dht->st.tx++;
			if (e->req < dht->nreq && dht->req[e->req].used &&
			    dht->req[e->req].nonce == e->nonce) {
				dht->req[e->req].queued = false;
				dht->req[e->req].sent = dht->now;
			}
		}
		free(e);
		dht->txq_head++;
		dht->txq_len--;
	}
	if (!dht->txq_len)
		dht->txq_head = 0;
	return (int)dht->txq_len;
}

size_t mt6d_dht_tx_queued(const struct mt6d_dht *dht)
{
	return dht ? dht->txq_len : 0;
}

void dht_txq_free(struct mt6d_dht *dht)
{
	for (size_t i = 0; i < dht->txq_len; i++)
		free(dht->txq[dht->txq_head + i]);
	free(dht->txq);
	dht->txq = NULL;
	dht->txq_head = dht->txq_len = dht->txq_cap = 0;
}

static int send_encoded(struct mt6d_dht *dht, const struct mt6d_endpoint *a, struct krpc_msg *m,
                        uint32_t req, uint16_t nonce)
{
	uint8_t buf[KRPC_MAX_SEND];
	struct sockaddr_storage ss;
	socklen_t sl;
	int len;

	if (m->y == KRPC_QUERY && dht->cfg.read_only)
		m->ro = true;
	m->ver = (const uint8_t *)DHT_VERSION;
	m->verlen = 4;
	len = krpc_encode(buf, sizeof(buf), m);
	if (len < 0) {
		dht->st.tx_errors++;
		return len;
	}
	sl = mt6d_endpoint_to_sockaddr(&ss, a);
	return transmit(dht, buf, (size_t)len, &ss, sl, req, nonce);
}

int dht_send_msg(struct mt6d_dht *dht, const struct mt6d_endpoint *a, struct krpc_msg *m)
{
	return send_encoded(dht, a, m, UINT32_MAX, 0);
}

static struct dht_req *req_alloc(struct mt6d_dht *dht, uint32_t *idx)
{
	if (dht->req_free == UINT32_MAX) {
		uint32_t n = dht->nreq ? dht->nreq * 2 : 64;
		struct dht_req *nr;
		if (n > DHT_MAX_PENDING)
			n = DHT_MAX_PENDING;
		if (n <= dht->nreq)
			return NULL;
		nr = realloc(dht->req, n * sizeof(*nr));
		if (!nr)
			return NULL;
		memset(nr + dht->nreq, 0, (n - dht->nreq) * sizeof(*nr));
		for (uint32_t i = dht->nreq; i < n; i++)
			nr[i].next_free = i + 1 < n ? i + 1 : UINT32_MAX;
		dht->req_free = dht->nreq;
		dht->req = nr;
		dht->nreq = n;
	}
	*idx = dht->req_free;
	dht->req_free = dht->req[*idx].next_free;
	dht->npending++;
	return &dht->req[*idx];
}

void dht_req_release(struct mt6d_dht *dht, struct dht_req *r)
{
	uint32_t idx = (uint32_t)(r - dht->req);

	r->used = false;
	r->op = NULL;
	r->next_free = dht->req_free;
	dht->req_free = idx;
	dht->npending--;
}

void dht_req_forget_op(struct mt6d_dht *dht, const struct dht_op *op)
{
	for (uint32_t i = 0; i < dht->nreq; i++)
		if (dht->req[i].used && dht->req[i].op == op)
			dht->req[i].op = NULL;
}

bool dht_req_take(struct mt6d_dht *dht, const struct krpc_msg *m, const struct mt6d_endpoint *from,
                  struct dht_req *out)
{
	struct dht_req *r;
	uint32_t idx;
	uint16_t nonce;

	if (m->tlen != 4)
		return false;
	idx = (uint32_t)m->t[0] << 8 | m->t[1];
	nonce = (uint16_t)(m->t[2] << 8 | m->t[3]);
	if (idx >= dht->nreq)
		return false;
	r = &dht->req[idx];
	if (!r->used || r->queued || r->nonce != nonce || !mt6d_endpoint_eq(&r->a, from))
		return false;
	/* released first: what follows may send, and sending may move dht->req */
	*out = *r;
	dht_req_release(dht, r);
	return true;
}

int dht_send_query(struct mt6d_dht *dht, const struct mt6d_endpoint *a, struct krpc_msg *m,
                   uint8_t kind, struct dht_op *op)
{
	uint8_t tid[4];
	uint32_t idx;
	struct dht_req *r = req_alloc(dht, &idx);
	uint16_t nonce;
	int ret;

	if (!r)
		return -ENOBUFS;
	nonce = (uint16_t)randombytes_uniform(65536);
	r->used = true;
	r->queued = false;
	r->kind = kind;
	r->method = m->method;
	r->nonce = nonce;
	r->a = *a;
	r->sent = dht->now;
	r->op = op;
	tid[0] = (uint8_t)(idx >> 8);
	tid[1] = (uint8_t)idx;
	tid[2] = (uint8_t)(nonce >> 8);
	tid[3] = (uint8_t)nonce;
	m->y = KRPC_QUERY;
	m->t = tid;
	m->tlen = 4;
	m->id = dht->id;
	if (dht->cfg.ipv4 && dht->cfg.ipv6 &&
	    (m->method == KRPC_FIND_NODE || m->method == KRPC_GET_PEERS || m->method == KRPC_GET))
		m->want = KRPC_WANT4 | KRPC_WANT6;
	ret = send_encoded(dht, a, m, idx, nonce);
	if (ret < 0) {
		dht_req_release(dht, &dht->req[idx]);
		return ret;
	}
	/* it went to the queue after all (the socket was full) */
	if (dht->txq_len && dht->txq[dht->txq_head + dht->txq_len - 1]->req == idx &&
	    dht->txq[dht->txq_head + dht->txq_len - 1]->nonce == nonce)
		dht->req[idx].queued = true;
	return 0;
}

int dht_ping(struct mt6d_dht *dht, const struct mt6d_endpoint *a)
{
	struct krpc_msg m = {.y = KRPC_QUERY, .method = KRPC_PING};

	return dht_send_query(dht, a, &m, REQ_PING, NULL);
}

int dht_find_node(struct mt6d_dht *dht, const struct mt6d_endpoint *a, const uint8_t *target)
{
	struct krpc_msg m = {.y = KRPC_QUERY, .method = KRPC_FIND_NODE};

	m.target = target;
	return dht_send_query(dht, a, &m, REQ_PING, NULL);
}
