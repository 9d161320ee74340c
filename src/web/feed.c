/* SPDX-License-Identifier: MIT */
/*
 * The daemon's event stream, kept for the HTTP side.
 *
 * Rules this file keeps:
 *  - One subscription to the daemon, whatever the number of browsers: every line becomes
 *    one SSE message in a ring of WEB_RING, with a sequence number as its id. SSE clients
 *    read the ring at their own pace; one that falls a whole ring behind is dropped
 *    (http.c), so a browser that stops reading costs the ring nothing and the daemon
 *    nothing (the daemon drops this process only if this process stops reading).
 *  - A line that is not a JSON object with a plain "event" name is dropped, not relayed.
 *  - The newest `dht` and `publication` events are remembered, so a page that connects
 *    later learns the current state at once.
 *  - Durations of publication rounds and lookups become histograms for /metrics.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "control.h"
#include "web.h"

static const double pub_le[] = {0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
static const double lookup_le[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

static void hist_init(struct web_hist *h, const double *le, unsigned n)
{
	memset(h, 0, sizeof(*h));
	h->n = n;
	memcpy(h->le, le, n * sizeof(*le));
}

static void hist_observe(struct web_hist *h, double v)
{
	unsigned i = 0;

	while (i < h->n && v > h->le[i])
		i++;
	if (i < h->n)
		h->count[i]++;
	h->total++;
	h->sum += v;
}

void web_init(struct web *w)
{
	pthread_mutex_init(&w->mu, NULL);
	hist_init(&w->pub_hist, pub_le, sizeof(pub_le) / sizeof(pub_le[0]));
	hist_init(&w->lookup_hist, lookup_le, sizeof(lookup_le) / sizeof(lookup_le[0]));
}

void web_free(struct web *w)
{
	for (size_t i = 0; i < WEB_RING; i++)
		free(w->ring[i].sse);
	pthread_mutex_destroy(&w->mu);
}

static bool plain_name(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || s[n] == '_') || n >= 32)
			return false;
	return n > 0;
}

static double num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_number(v) ? json_number_value(v) : -1;
}

int web_feed_line(struct web *w, const char *line, size_t len)
{
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	const char *type = o ? json_string_value(json_object_get(o, "event")) : NULL;
	struct web_ev *e;
	char *sse;
	int n;

	if (!o || !json_is_object(o) || !type || !plain_name(type) || memchr(line, '\n', len)) {
		json_decref(o);
		return -EINVAL;
	}
	if (!strcmp(type, "hello")) {
		json_decref(o);
		return 0; /* the daemon's greeting: not an event of the daemon's state */
	}
	pthread_mutex_lock(&w->mu);
	n = asprintf(&sse, "id: %llu\nevent: %s\ndata: %.*s\n\n", (unsigned long long)w->next, type,
	             (int)len, line);
	if (n < 0) {
		pthread_mutex_unlock(&w->mu);
		json_decref(o);
		return -ENOMEM;
	}
	e = &w->ring[w->next % WEB_RING];
	free(e->sse);
	e->sse = sse;
	e->len = (size_t)n;
	w->next++;
	if (w->n < WEB_RING)
		w->n++;
	w->events_total++;
	if (!strcmp(type, "lookup") && num(o, "duration_ms") >= 0) {
		hist_observe(&w->lookup_hist, num(o, "duration_ms") / 1000.0);
	} else if (!strcmp(type, "publication")) {
		double total = num(o, "total"), done = num(o, "done"), failed = num(o, "failed");
		double el = num(o, "elapsed_ms"), rw = num(o, "round_window");

		if ((size_t)n < sizeof(w->last_pub))
			memcpy(w->last_pub, sse, (size_t)n + 1);
		/* A round is over when every operation ended; elapsed is 0 while it runs. */
		if (total > 0 && done + failed >= total && el > 0 && rw >= 0 &&
		    (uint64_t)rw != w->pub_observed_window) {
			w->pub_observed_window = (uint64_t)rw;
			hist_observe(&w->pub_hist, el / 1000.0);
		}
	} else if (!strcmp(type, "dht")) {
		if ((size_t)n < sizeof(w->last_dht))
			memcpy(w->last_dht, sse, (size_t)n + 1);
		w->dht_nodes = num(o, "nodes");
		w->have_dht = w->dht_nodes >= 0;
	}
	if (w->wake_locked)
		w->wake_locked(w);
	pthread_mutex_unlock(&w->mu);
	json_decref(o);
	return 0;
}

static void set_connected(struct web *w, bool up)
{
	char line[96];
	int n;

	pthread_mutex_lock(&w->mu);
	if (w->connected == up) {
		pthread_mutex_unlock(&w->mu);
		return;
	}
	w->connected = up;
	if (!up)
		w->reconnects++;
	pthread_mutex_unlock(&w->mu);
	n = snprintf(line, sizeof(line), "{\"event\":\"daemon\",\"connected\":%s}",
	             up ? "true" : "false");
	web_feed_line(w, line, (size_t)n);
}

void web_feed_run(struct web *w, volatile int *stop)
{
	static char buf[WEB_EVENT_MAX * 4];
	size_t have = 0;
	bool skipping = false; /* inside a line longer than WEB_EVENT_MAX */
	int fd = -1;

	while (!*stop) {
		struct pollfd p;
		ssize_t n;
		char *nl;

		if (fd < 0) {
			fd = control_connect(w->socket, "events");
			if (fd < 0) {
				set_connected(w, false);
				for (int i = 0; i < 10 && !*stop; i++)
					usleep(100000);
				continue;
			}
			have = 0;
			skipping = false;
			set_connected(w, true);
		}
		p.fd = fd;
		p.events = POLLIN;
		if (poll(&p, 1, 500) <= 0)
			continue;
		n = read(fd, buf + have, sizeof(buf) - have);
		if (n <= 0) {
			close(fd);
			fd = -1;
			set_connected(w, false);
			continue;
		}
		have += (size_t)n;
		while ((nl = memchr(buf, '\n', have))) {
			size_t len = (size_t)(nl - buf);

			if (!skipping)
				(void)web_feed_line(w, buf, len);
			skipping = false;
			memmove(buf, nl + 1, have - len - 1);
			have -= len + 1;
		}
		if (have > WEB_EVENT_MAX) {
			have = 0;
			skipping = true;
		}
	}
	if (fd >= 0)
		close(fd);
}
