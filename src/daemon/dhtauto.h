/* SPDX-License-Identifier: MIT */
/*
 * `[dht] listen = auto`: the server's DHT presence moves with its prefix.
 * Each identity is an address of the MT6D /64, a port and a node id made
 * for that address under BEP 42, read-only (BEP 43); it carries the
 * operations of at most DHTAUTO_CLIENTS clients and lives inside one
 * publication window. What the routing table learned passes from each
 * identity to the next (mt6d_dht_adopt), never through a datagram.
 *
 * Rules this file keeps:
 *  - An identity's socket only sends: bound (IPV6_FREEBIND) like a slot's
 *    send socket, its replies reach the one TPROXY socket, which hands
 *    them here (dhtauto_input) by their original destination.
 *  - No identity outlives its window: at the edge it is closed with what
 *    it still runs (the publisher tries those again on a new identity).
 *  - Identities are never freed from inside dhtauto_pick (the publisher
 *    calls it in the middle of its round); the timer frees them.
 */
#ifndef MT6D_DHTAUTO_H
#define MT6D_DHTAUTO_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "dhtrun.h"

#define DHTAUTO_CLIENTS 4 /* clients' items per identity, at most */

struct ndp;

struct dhtid {
	struct dhtrun run;
	struct mt6d_endpoint ep;
	uint64_t window; /* the publication window it lives in */
	unsigned clients;
	struct dhtid *next;
};

struct dhtauto {
	struct ev_loop *loop;
	uint8_t prefix[8];
	uint32_t period;      /* s: the publication window's length */
	uint16_t avoid_port;  /* the TPROXY port */
	struct ndp *ndp;      /* mode = ndp: identities' addresses are answered */
	struct mt6d_dht *mem; /* the table between identities: never ticked, sends nothing */
	struct dhtid *cur;    /* takes the next clients */
	struct dhtid *old;    /* full: closed when idle or at their window's end */
	unsigned live;
	ev_timer timer;
	const struct mt6d_endpoint *boot;
	int nboot;
	const char *state; /* routing table file: loaded by the first identity, saved at stop */
	uint64_t made, closed, cut; /* identities made, closed, closed with work in flight */
};

/* No identity yet but the first, which bootstraps. 0 or -errno (err). */
int dhtauto_start(struct dhtauto *a, struct ev_loop *loop, const uint8_t prefix[static 8],
                  uint32_t period, uint16_t avoid_port, struct ndp *ndp,
                  const struct mt6d_endpoint *boot, int nboot, const char *state, char *err,
                  size_t errlen);
/* Frees every identity (their operations complete with -ECANCELED). */
void dhtauto_stop(struct dhtauto *a);
/* The node for one more client's operations (mt6d_pub_config.pick_dht). */
struct mt6d_dht *dhtauto_pick(void *arg);
/* A datagram the TPROXY socket received for to: true when it was an
 * identity's (handed to its node), false when it is not the DHT's. */
bool dhtauto_input(struct dhtauto *a, const struct mt6d_endpoint *to,
                   const struct mt6d_endpoint *from, const uint8_t *buf, size_t len, size_t gso);
/* The newest identity's node (status, readiness), or the table memory. */
struct mt6d_dht *dhtauto_dht(struct dhtauto *a);
bool dhtauto_ready(struct dhtauto *a, uint64_t since_ms, uint64_t wait_ms);
void dhtauto_kick(struct dhtauto *a);
void dhtauto_set_period(struct dhtauto *a, uint32_t period);

#endif
