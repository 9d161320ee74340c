/* SPDX-License-Identifier: MIT */
/*
 * The server's moving DHT identities (dhtauto.h). An identity is made when
 * the publisher asks for a node and the current one is full or from an
 * earlier window: a random address of the /64 (never one below ::100, where
 * static addresses sit), a random port, a BEP 42 id for that address, a
 * read-only node that adopts the table memory and the current identity's
 * table. A timer every second closes the identities that are done (full and
 * idle) or past their window, and passes their tables to the memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "datapath.h"
#include "dhtauto.h"
#include "log.h"
#include "ndp.h"
#include "mt6d/rendezvous.h"

static int mem_send(void *ctx, const uint8_t *buf, size_t len, const struct sockaddr *to,
                    socklen_t tolen)
{
	return -ENETDOWN; /* the memory never sends */
}

static uint64_t window_now(const struct dhtauto *a)
{
	return mt6d_window(mt6d_unix_ms() / 1000, a->period);
}

static void id_close(struct dhtauto *a, struct dhtid *id)
{
	struct mt6d_dht_stats st;

	mt6d_dht_get_stats(id->run.dht, &st);
	if (st.ops_active)
		a->cut++;
	(void)mt6d_dht_adopt(a->mem, id->run.dht, mt6d_mono_ms());
	dhtrun_stop(&id->run); /* completes what it still runs: -ECANCELED */
	ndp_slot(a->ndp, id->ep.addr, false);
	a->closed++;
	a->live--;
	free(id);
}

static struct dhtid *id_make(struct dhtauto *a, char *err, size_t errlen)
{
	/* each BEP 44 item on 2K nodes, as the static node (srvd.c) */
	struct mt6d_dht_config dc = {
	        .have_id = true, .read_only = true, .put_replicas = MT6D_RDV_PUT_REPLICAS};
	struct dhtid *id = calloc(1, sizeof(*id));
	uint64_t now = mt6d_mono_ms();
	int fd;

	if (!id) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(id->ep.addr, a->prefix, 8);
	do
		randombytes_buf(id->ep.addr + 8, 8);
	while (!id->ep.addr[8] && !id->ep.addr[9] && !id->ep.addr[10] && !id->ep.addr[11] &&
	       !id->ep.addr[12] && !id->ep.addr[13] && !id->ep.addr[14]);
	do
		id->ep.port = (uint16_t)(1024 + randombytes_uniform(65536 - 1024));
	while (id->ep.port == a->avoid_port);
	mt6d_dht_bep42_id(dc.id, id->ep.addr, 16, (uint8_t)randombytes_uniform(256));
	fd = dp_slot_socket(&id->ep);
	if (fd < 0) {
		snprintf(err, errlen, "DHT identity socket: %s", strerror(-fd));
		free(id);
		return NULL;
	}
	if (dhtrun_start_fd(&id->run, a->loop, fd, &dc, err, errlen) < 0) {
		close(fd);
		free(id);
		return NULL;
	}
	id->window = window_now(a);
	/* Not a datagram past its window, even before the timer closes it. */
	id->run.until_ms = (id->window + a->period) * 1000;
	(void)mt6d_dht_adopt(id->run.dht, a->mem, now);
	if (a->cur)
		(void)mt6d_dht_adopt(id->run.dht, a->cur->run.dht, now);
	ndp_slot(a->ndp, id->ep.addr, true);
	a->made++;
	a->live++;
	return id;
}

/* Every second, and just past each window's edge. */
static void timer_arm(struct dhtauto *a)
{
	uint64_t now = mt6d_unix_ms(), edge = (window_now(a) + a->period) * 1000;
	double in = edge - now < 1000 ? (double)(edge - now + 2) / 1000.0 : 1.0;

	ev_timer_stop(a->loop, &a->timer);
	ev_timer_set(&a->timer, in, 0.0);
	ev_timer_start(a->loop, &a->timer);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dhtauto *a = w->data;
	uint64_t T = window_now(a);
	struct dhtid **pp = &a->old;

	timer_arm(a);

	while (*pp) {
		struct dhtid *id = *pp;
		struct mt6d_dht_stats st;

		mt6d_dht_get_stats(id->run.dht, &st);
		if (st.ops_active == 0 || id->window != T) {
			*pp = id->next;
			id_close(a, id);
		} else {
			pp = &id->next;
		}
	}
	if (a->cur && a->cur->window != T) {
		struct dhtid *id = a->cur;
		/* The next identity adopts what this one learned, through the memory. */
		a->cur = NULL;
		id_close(a, id);
	}
}

int dhtauto_start(struct dhtauto *a, struct ev_loop *loop, const uint8_t prefix[static 8],
                  uint32_t period, uint16_t avoid_port, struct ndp *ndp,
                  const struct mt6d_endpoint *boot, int nboot, const char *state, char *err,
                  size_t errlen)
{
	struct mt6d_dht_config mc = {.send = mem_send, .ipv6 = true, .read_only = true};
	int n = 0;

	memset(a, 0, sizeof(*a));
	a->loop = loop;
	memcpy(a->prefix, prefix, 8);
	a->period = period ? period : MT6D_DEFAULT_PERIOD;
	a->avoid_port = avoid_port;
	a->ndp = ndp;
	a->boot = boot;
	a->nboot = nboot;
	a->state = state && state[0] ? state : NULL;
	a->mem = mt6d_dht_new(&mc);
	if (!a->mem) {
		snprintf(err, errlen, "cannot create a DHT node: %s", strerror(errno));
		return -ENOMEM;
	}
	a->cur = id_make(a, err, errlen);
	if (!a->cur)
		return -EIO;
	if (a->state)
		(void)mt6d_dht_load(a->cur->run.dht, a->state, mt6d_mono_ms());
	n = dhtrun_bootstrap(&a->cur->run, boot, nboot);
	if (n == 0 && !a->state)
		log_warn("listen = auto: no IPv6 bootstrap node");
	ev_timer_init(&a->timer, on_timer, 1.0, 0.0);
	a->timer.data = a;
	timer_arm(a);
	return 0;
}

void dhtauto_stop(struct dhtauto *a)
{
	if (!a->mem)
		return;
	ev_timer_stop(a->loop, &a->timer);
	while (a->old) {
		struct dhtid *id = a->old;
		a->old = id->next;
		id_close(a, id);
	}
	if (a->cur) {
		id_close(a, a->cur);
		a->cur = NULL;
	}
	if (a->state)
		(void)mt6d_dht_save(a->mem, a->state);
	mt6d_dht_free(a->mem);
	a->mem = NULL;
}

struct mt6d_dht *dhtauto_pick(void *arg)
{
	struct dhtauto *a = arg;
	char err[256];

	if (a->cur && (a->cur->clients >= DHTAUTO_CLIENTS || a->cur->window != window_now(a))) {
		a->cur->next = a->old;
		a->old = a->cur;
		a->cur = NULL;
	}
	if (!a->cur) {
		/* The full identity is still on the old list: the new one adopts
		 * its table too (id_make reads a->cur, so pass it through). */
		a->cur = a->old;
		struct dhtid *id = id_make(a, err, sizeof(err));
		a->cur = id;
		if (!id) {
			log_warn("listen = auto: %s", err);
			return NULL;
		}
	}
	a->cur->clients++;
	return a->cur->run.dht;
}

bool dhtauto_input(struct dhtauto *a, const struct mt6d_endpoint *to,
                   const struct mt6d_endpoint *from, const uint8_t *buf, size_t len, size_t gso)
{
	struct dhtid *id = a->cur;

	if (!id || id->ep.port != to->port || memcmp(id->ep.addr, to->addr, 16)) {
		for (id = a->old; id; id = id->next)
			if (id->ep.port == to->port && !memcmp(id->ep.addr, to->addr, 16))
				break;
		if (!id)
			return false;
	}
	if (!gso || gso >= len) {
		dhtrun_input(&id->run, buf, len, from);
		return true;
	}
	/* A GRO batch: equal datagrams from one node, each handed alone. */
	for (size_t off = 0; off < len; off += gso)
		dhtrun_input(&id->run, buf + off, len - off < gso ? len - off : gso, from);
	return true;
}

struct mt6d_dht *dhtauto_dht(struct dhtauto *a)
{
	return a->cur ? a->cur->run.dht : a->mem;
}

bool dhtauto_ready(struct dhtauto *a, uint64_t since_ms, uint64_t wait_ms)
{
	struct mt6d_dht_stats st;

	mt6d_dht_get_stats(dhtauto_dht(a), &st);
	return st.good4 + st.good6 >= 16 || mt6d_mono_ms() >= since_ms + wait_ms;
}

void dhtauto_kick(struct dhtauto *a)
{
	if (a->cur)
		dhtrun_kick(&a->cur->run);
	for (struct dhtid *id = a->old; id; id = id->next)
		dhtrun_kick(&id->run);
}

void dhtauto_set_period(struct dhtauto *a, uint32_t period)
{
	a->period = period;
}
