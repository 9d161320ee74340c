/* SPDX-License-Identifier: MIT */
/*
 * A simulated network for DHT unit tests: N nodes at 127.0.0.1:BASE+i in
 * one process, a FIFO of datagrams, a fake clock. A "raw" endpoint at
 * SIM_RAW_PORT records what nodes send it, so tests can speak KRPC by
 * hand. Packets to unknown ports vanish (a dead node).
 */
#ifndef DHT_SIM_H
#define DHT_SIM_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "mt6d/dht.h"

#define SIM_BASE     20000
#define SIM_RAW_PORT 19999
#define SIM_MAX      256

struct sim_pkt {
	uint16_t from, to;
	size_t len;
	uint8_t data[1500];
};

struct sim;

struct sim_ep {
	struct sim *sim;
	uint16_t port;
};

struct sim {
	struct mt6d_dht *node[SIM_MAX];
	struct sim_ep ep[SIM_MAX];
	bool down[SIM_MAX];
	int n;
	struct sim_pkt *q;
	size_t qhead, qlen, qcap;
	uint64_t now;
	struct sim_pkt raw[64]; /* received by the raw endpoint */
	int nraw;
	uint64_t delivered;
	/* a node's socket takes at most sndbuf[i] datagrams per 10 ms step
	 * (0: no limit); the rest get EAGAIN, counted in eagain */
	unsigned sndbuf[SIM_MAX], sent_in_step[SIM_MAX];
	uint64_t eagain;
};

static inline struct sockaddr_in sim_addr(uint16_t port)
{
	struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons(port)};
	s.sin_addr.s_addr = htonl(0x7f000001);
	return s;
}

static inline void sim_enqueue(struct sim *s, uint16_t from, uint16_t to, const uint8_t *buf,
                               size_t len)
{
	struct sim_pkt *p;
	if (len > sizeof(p->data))
		return;
	if (s->qhead + s->qlen == s->qcap) {
		if (s->qhead) {
			memmove(s->q, s->q + s->qhead, s->qlen * sizeof(*s->q));
			s->qhead = 0;
		} else {
			s->qcap = s->qcap ? 2 * s->qcap : 256;
			s->q = realloc(s->q, s->qcap * sizeof(*s->q));
		}
	}
	p = &s->q[s->qhead + s->qlen++];
	p->from = from;
	p->to = to;
	p->len = len;
	memcpy(p->data, buf, len);
}

static inline int sim_send(void *ctx, const uint8_t *buf, size_t len, const struct sockaddr *to,
                           socklen_t tolen)
{
	struct sim_ep *ep = ctx;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)to;
	int i = ep->port - SIM_BASE;
	(void)tolen;
	if (ep->sim->sndbuf[i] && ep->sim->sent_in_step[i] >= ep->sim->sndbuf[i]) {
		ep->sim->eagain++;
		return -EAGAIN;
	}
	ep->sim->sent_in_step[i]++;
	sim_enqueue(ep->sim, ep->port, ntohs(sin->sin_port), buf, len);
	return 0;
}

static inline void sim_deliver(struct sim *s)
{
	while (s->qlen) {
		struct sim_pkt p = s->q[s->qhead];
		struct sockaddr_in from = sim_addr(p.from);
		s->qhead++;
		s->qlen--;
		if (p.to == SIM_RAW_PORT) {
			if (s->nraw < 64)
				s->raw[s->nraw++] = p;
			continue;
		}
		if (p.to < SIM_BASE || p.to >= SIM_BASE + s->n || s->down[p.to - SIM_BASE])
			continue;
		s->delivered++;
		mt6d_dht_input(s->node[p.to - SIM_BASE], p.data, p.len, (struct sockaddr *)&from,
		               sizeof(from), s->now);
	}
	s->qhead = 0;
}

/* Run the network for ms of fake time in 10 ms steps. */
static inline void sim_run(struct sim *s, uint64_t ms)
{
	uint64_t end = s->now + ms;
	while (s->now < end) {
		sim_deliver(s);
		s->now += 10;
		memset(s->sent_in_step, 0, sizeof(s->sent_in_step));
		for (int i = 0; i < s->n; i++)
			if (!s->down[i])
				mt6d_dht_tick(s->node[i], s->now);
		sim_deliver(s);
	}
}

static inline struct mt6d_dht *sim_add(struct sim *s, const struct mt6d_dht_config *base)
{
	struct mt6d_dht_config cfg = *base;
	int i = s->n++;
	s->ep[i].sim = s;
	s->ep[i].port = (uint16_t)(SIM_BASE + i);
	cfg.send = sim_send;
	cfg.send_ctx = &s->ep[i];
	s->node[i] = mt6d_dht_new(&cfg);
	return s->node[i];
}

/* n nodes, each bootstrapped from node 0, run until settled. */
static inline struct sim *sim_swarm(int n, uint64_t settle_ms)
{
	struct sim *s = calloc(1, sizeof(*s));
	struct mt6d_dht_config cfg = {.ipv4 = true};
	s->now = 1000000;
	for (int i = 0; i < n; i++) {
		sim_add(s, &cfg);
		if (i) {
			struct sockaddr_in a = sim_addr(SIM_BASE);
			mt6d_dht_add_node(s->node[i], (struct sockaddr *)&a, sizeof(a), s->now);
		}
		sim_run(s, 20);
	}
	sim_run(s, settle_ms);
	return s;
}

static inline void sim_free(struct sim *s)
{
	for (int i = 0; i < s->n; i++)
		mt6d_dht_free(s->node[i]);
	free(s->q);
	free(s);
}

/* The raw endpoint sends one datagram to node i. */
static inline void sim_raw_send(struct sim *s, int i, const void *buf, size_t len)
{
	sim_enqueue(s, SIM_RAW_PORT, (uint16_t)(SIM_BASE + i), buf, len);
	sim_deliver(s);
}

#endif
