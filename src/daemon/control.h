/* SPDX-License-Identifier: MIT */
/*
 * The daemon's control socket: a Unix stream socket with no group or other access. A
 * connection sends one request line and gets one JSON object, then is closed; the request
 * `events` instead keeps it open as a subscriber that receives newline-delimited JSON
 * events (docs/web.md). Peers are checked with SO_PEERCRED: only root and the daemon's own
 * user. Nothing here blocks the daemon's loop.
 */
#ifndef MT6D_CONTROL_H
#define MT6D_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <ev.h>

/* Answer one request: write a JSON object to out. */
typedef void (*control_fn)(void *arg, const char *request, FILE *out);

#define CONTROL_MAX_CONNS     64        /* more at once are closed on accept */
#define CONTROL_REQUEST_MAX   512       /* bytes of a request line */
#define CONTROL_SUB_QUEUE_MAX (1 << 20) /* a subscriber this far behind is dropped */

struct control_conn;

struct control_stats {
	uint64_t accepted, refused_peer, refused_full, timeouts, answered;
	uint64_t events, subscribers_dropped;
};

struct control {
	struct ev_loop *loop;
	int fd;
	ev_io io;
	char path[108];
	control_fn fn;
	void *arg;
	struct control_conn *conns; /* every open connection */
	size_t nconns, nsubs;
	struct control_stats st;
};

int control_start(struct control *c, struct ev_loop *loop, const char *path, control_fn fn,
                  void *arg, char *err, size_t errlen);
/* Closes every connection too. */
void control_stop(struct control *c);
/* Whether anyone subscribed (callers skip formatting an event otherwise). */
static inline bool control_listening(const struct control *c)
{
	return c->fd >= 0 && c->nsubs > 0;
}
/* Queue one event (a JSON object, without newline) to every subscriber. A subscriber whose
 * queue would pass CONTROL_SUB_QUEUE_MAX is closed. */
void control_emit(struct control *c, const char *json, size_t len);
void control_emitf(struct control *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Client side: send request, copy the answer to out. 0 or -errno. */
int control_request(const char *path, const char *request, FILE *out);
/* Client side: connect and send request without reading; the socket fd (blocking), or
 * -errno. For `events`, read lines from it until EOF. */
int control_connect(const char *path, const char *request);

#endif
