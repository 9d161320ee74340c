/* SPDX-License-Identifier: MIT */
/*
 * One DHT node on one UDP socket in a libev loop: the I/O that libmt6d's
 * DHT leaves to its caller. Used by every command that talks to the DHT.
 * A send that meets a full socket (EAGAIN) is queued by the node; the
 * queue goes out as the socket drains (an EV_WRITE watcher while it is
 * not empty), so a burst is paced by the socket, not dropped.
 */
#ifndef MT6D_DHTRUN_H
#define MT6D_DHTRUN_H

#include <stdint.h>

#include <stdbool.h>

#include <ev.h>

#include "mt6d/mt6d.h"
#include "mt6d/dht.h"

struct dhtrun {
	struct ev_loop *loop;
	struct mt6d_dht *dht;
	int fd, family;
	ev_io io;
	ev_io wio; /* writable, while the node's send queue is not empty */
	ev_timer timer;
	const char *state; /* routing table file, saved every 5 min and at stop */
	uint64_t last_save;
	uint64_t until_ms; /* unix ms: from then on it sends nothing (0: no end) */
};

uint64_t mt6d_mono_ms(void);
/* The wall clock in ms, plus mt6d_test_clock_shift_ms: a test knob (0;
 * only mt6d client sets it, from MT6D_TEST_CLOCK_FILE, see clid.c). */
uint64_t mt6d_unix_ms(void);
extern int64_t mt6d_test_clock_shift_ms;

/* Bind listen, create the node with cfg (send callback and families are
 * filled in). 0, or -errno with a message in err. */
int dhtrun_start(struct dhtrun *r, struct ev_loop *loop, const struct mt6d_endpoint *listen,
                 struct mt6d_dht_config *cfg, char *err, size_t errlen);
/* The same on a socket the caller opened and bound (it is closed by
 * dhtrun_stop; on failure the caller closes it). */
int dhtrun_start_fd(struct dhtrun *r, struct ev_loop *loop, int fd, struct mt6d_dht_config *cfg,
                    char *err, size_t errlen);
/* A datagram for this node that reached another socket (the server's
 * TPROXY socket, for an identity of `listen = auto`). */
void dhtrun_input(struct dhtrun *r, const uint8_t *buf, size_t len,
                  const struct mt6d_endpoint *from);
/* Frees the node (its operations complete with -ECANCELED) and the socket. */
void dhtrun_stop(struct dhtrun *r);
/* Ping the bootstrap nodes of the socket's family; returns how many. */
int dhtrun_bootstrap(struct dhtrun *r, const struct mt6d_endpoint *boot, int n);
/*
 * Whether a publisher should start: the routing table holds at least 16
 * good nodes, or `wait_ms` passed since `since_ms` (mono) for a smaller
 * network. A put traversal from a table of a handful of nodes can end on
 * nodes far from its target, where no reader looks.
 */
bool dhtrun_ready(const struct dhtrun *r, uint64_t since_ms, uint64_t wait_ms);
/* Run the node's timers now (after starting operations). */
void dhtrun_kick(struct dhtrun *r);

#endif
