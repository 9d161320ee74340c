/* SPDX-License-Identifier: MIT */
/*
 * mt6d web (docs/web.md): the dashboard, HTTP API and metrics of a running server or client,
 * in a process of its own that needs no privilege. It reads the daemon's control socket
 * (`status` per request, one `events` subscription kept open) and serves HTTP with
 * libmicrohttpd. Read-only: it sends the daemon no request that changes anything.
 * Grouped by file: feed.c (the event subscription, the ring every SSE client reads, the
 * duration histograms), metrics.c (status document to Prometheus text), http.c (the HTTP
 * server), page.html (the dashboard, embedded at build time).
 */
#ifndef MT6D_WEB_H
#define MT6D_WEB_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define WEB_RING      32768 /* events kept for SSE clients; one further behind is dropped */
#define WEB_HIST_MAX  12
#define WEB_STATE_MAX 2048 /* bytes of a remembered state event */
#define WEB_EVENT_MAX 4096 /* bytes of one event line from the daemon */

struct web_hist {
	unsigned n;                   /* buckets */
	double le[WEB_HIST_MAX];      /* upper bounds, seconds */
	uint64_t count[WEB_HIST_MAX]; /* non-cumulative */
	uint64_t total;
	double sum;
};

struct web_ev {
	char *sse; /* "id: N\nevent: T\ndata: {...}\n\n" */
	size_t len;
};

struct web_sse;

struct web {
	char socket[108];
	bool have_token;
	uint8_t token_hash[32]; /* BLAKE2b of the token; the token itself is wiped */
	struct sockaddr_storage listen;
	socklen_t listen_len;
	char listen_text[80];

	pthread_mutex_t mu; /* everything below */
	struct web_ev ring[WEB_RING];
	uint64_t next; /* sequence number of the next event; ring holds [next - n, next) */
	size_t n;
	struct web_sse *waiting; /* suspended SSE connections */
	/* Set by the HTTP side: wakes the waiting connections (called locked
	 * after each event), so that the feed needs nothing from above it. */
	void (*wake_locked)(struct web *w);
	bool closing, connected;
	uint64_t events_total, sse_dropped, sse_clients, reconnects;
	struct web_hist pub_hist, lookup_hist;
	uint64_t pub_observed_window;
	char last_dht[WEB_STATE_MAX], last_pub[WEB_STATE_MAX]; /* latest, as SSE text */
	double dht_nodes;
	bool have_dht;
};

/* ---- feed.c ---- */
void web_init(struct web *w);
void web_free(struct web *w);
/* One line from the daemon's event stream (no newline): 0, or -EINVAL when it is not a
 * JSON object with an "event" name (dropped). */
int web_feed_line(struct web *w, const char *line, size_t len);
/* Follow the event stream until *stop: reconnects every second while the daemon is away. */
void web_feed_run(struct web *w, volatile int *stop);

/* ---- metrics.c ---- */
/* The Prometheus text for a status document (len bytes) and the web process's own
 * histograms and counters (w may be NULL). 0, or -EINVAL with a message in err when the
 * document is not a status object. */
int web_metrics(FILE *out, const char *status, size_t len, struct web *w, char *err, size_t errlen);

/* ---- http.c ---- */
/* Serve until SIGINT or SIGTERM. Returns the exit code. */
int web_serve(struct web *w);

/* ---- page (generated from page.html) ---- */
extern const unsigned char web_page[];
extern const size_t web_page_len;

#endif
