/* SPDX-License-Identifier: MIT */
/*
 * The HTTP side of mt6d web: /, /api/v1/status, /api/v1/events (SSE), /metrics.
 *
 * Rules this file keeps:
 *  - Read-only: GET and HEAD only (405 otherwise); the daemon is only asked `status`.
 *  - With a token, every path but / (a static page holding no data) wants
 *    `Authorization: Bearer TOKEN`; the BLAKE2b hashes of the two are compared with
 *    sodium_memcmp, so the time taken says nothing about the token, not even its length.
 *  - Bounded: at most WEB_MAX_CONNS connections (more are closed on accept), 32 KiB of
 *    memory per connection (a larger request head gets 431 from libmicrohttpd), 30 s of
 *    inactivity; an SSE client that falls a whole ring behind is dropped.
 *  - One thread serves every connection (epoll); an SSE connection with nothing to send is
 *    suspended and resumed by the feed when an event arrives, never polled.
 *  - Responses carry numbers, endpoints, names and public keys only: the daemon's status
 *    and events hold no secret, and the token is never echoed.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "control.h"
#include "web.h"

#define WEB_MAX_CONNS 512
#define SSE_BLOCK     (64 * 1024)

struct web_sse {
	struct web *w;
	struct MHD_Connection *conn;
	struct web_sse *next; /* in w->waiting while suspended */
	bool suspended;
	uint64_t seq; /* next event to send */
	char pre[2 * WEB_STATE_MAX + 64];
	size_t pre_len, pre_off;
};

static volatile int stop_flag;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* Wake every suspended SSE connection (locked by the caller). */
static void web_wake_locked(struct web *w)
{
	while (w->waiting) {
		struct web_sse *s = w->waiting;

		w->waiting = s->next;
		s->next = NULL;
		s->suspended = false;
		MHD_resume_connection(s->conn);
	}
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *type,
                                const void *p, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)p, mode);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (!strncmp(type, "text/html", 9))
		MHD_add_response_header(
		        r, "Content-Security-Policy",
		        "default-src 'none'; script-src 'unsafe-inline'; "
		        "style-src 'unsafe-inline'; connect-src 'self'; img-src data:; "
		        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"mt6d\"");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, "Allow", "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	char body[256];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", msg);

	return send_buf(c, status, "application/json", body, (size_t)n, MHD_RESPMEM_MUST_COPY);
}

static bool authorized(struct web *w, struct MHD_Connection *c)
{
	const char *h;
	uint8_t got[32];
	bool ok;

	if (!w->have_token)
		return true;
	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncmp(h, "Bearer ", 7) != 0)
		return false;
	crypto_generichash(got, sizeof(got), (const uint8_t *)h + 7, strlen(h + 7), NULL, 0);
	ok = sodium_memcmp(got, w->token_hash, sizeof(got)) == 0;
	sodium_memzero(got, sizeof(got));
	return ok;
}

/* The daemon's status document, malloc'd; NULL with *err set. */
static char *fetch_status(struct web *w, size_t *len, int *err)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	int ret;

	if (!f) {
		*err = -ENOMEM;
		return NULL;
	}
	ret = control_request(w->socket, "status", f);
	fclose(f);
	if (ret < 0 || *len == 0 || buf[0] != '{') {
		*err = ret < 0 ? ret : -EIO;
		free(buf);
		return NULL;
	}
	return buf;
}

static enum MHD_Result serve_status(struct web *w, struct MHD_Connection *c)
{
	size_t len = 0;
	int err = 0;
	char *doc = fetch_status(w, &len, &err), msg[200];

	if (!doc) {
		snprintf(msg, sizeof(msg), "control socket: %s", strerror(-err));
		return send_error(c, MHD_HTTP_BAD_GATEWAY, msg);
	}
	return send_buf(c, MHD_HTTP_OK, "application/json", doc, len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result serve_metrics(struct web *w, struct MHD_Connection *c)
{
	size_t len = 0, olen = 0;
	int err = 0;
	char *doc = fetch_status(w, &len, &err), *out = NULL, msg[200];
	FILE *f;

	f = open_memstream(&out, &olen);
	if (!f) {
		free(doc);
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	}
	if (!doc || web_metrics(f, doc, len, w, msg, sizeof(msg)) < 0) {
		/* The daemon is away: say so, with this process's own series. */
		fprintf(f, "# HELP mt6d_up Whether the daemon answered on its control socket.\n"
		           "# TYPE mt6d_up gauge\nmt6d_up 0\n");
	}
	fclose(f);
	free(doc);
	return send_buf(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", out, olen,
	                MHD_RESPMEM_MUST_FREE);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct web_sse *s = cls;
	struct web *w = s->w;
	size_t n = 0;

	(void)pos;
	pthread_mutex_lock(&w->mu);
	if (w->closing) {
		pthread_mutex_unlock(&w->mu);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (s->pre_off < s->pre_len) {
		n = s->pre_len - s->pre_off < max ? s->pre_len - s->pre_off : max;
		memcpy(buf, s->pre + s->pre_off, n);
		s->pre_off += n;
	}
	if (s->seq + w->n < w->next) { /* a whole ring behind: events were lost */
		w->sse_dropped++;
		pthread_mutex_unlock(&w->mu);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	while (s->seq < w->next) {
		const struct web_ev *e = &w->ring[s->seq % WEB_RING];

		if (n + e->len > max)
			break;
		memcpy(buf + n, e->sse, e->len);
		n += e->len;
		s->seq++;
	}
	if (n == 0) {
		s->suspended = true;
		s->next = w->waiting;
		w->waiting = s;
		MHD_suspend_connection(s->conn);
	}
	pthread_mutex_unlock(&w->mu);
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	struct web_sse *s = cls;
	struct web *w = s->w;

	pthread_mutex_lock(&w->mu);
	for (struct web_sse **p = &w->waiting; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	w->sse_clients--;
	pthread_mutex_unlock(&w->mu);
	free(s);
}

static enum MHD_Result serve_events(struct web *w, struct MHD_Connection *c)
{
	struct web_sse *s = calloc(1, sizeof(*s));
	struct MHD_Response *r;
	enum MHD_Result ret;
	int n;

	if (!s)
		return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	s->w = w;
	s->conn = c;
	pthread_mutex_lock(&w->mu);
	s->seq = w->next;
	n = snprintf(s->pre, sizeof(s->pre), "retry: 1000\n: mt6d events\n\n%s%s", w->last_dht,
	             w->last_pub);
	s->pre_len = n > 0 && (size_t)n < sizeof(s->pre) ? (size_t)n : 0;
	w->sse_clients++;
	pthread_mutex_unlock(&w->mu);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_read, s, sse_free);
	if (!r) {
		sse_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **ctx)
{
	struct web *w = cls;

	(void)version;
	(void)upload;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		                  "read-only: only GET and HEAD are served");
	if (*upload_len) {
		*upload_len = 0; /* a GET with a body: ignored */
		return MHD_YES;
	}
	(void)ctx;
	if (!strcmp(url, "/"))
		return send_buf(c, MHD_HTTP_OK, "text/html; charset=utf-8", web_page, web_page_len,
		                MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/api/v1/status") != 0 && strcmp(url, "/api/v1/events") != 0 &&
	    strcmp(url, "/metrics") != 0)
		return send_error(c, MHD_HTTP_NOT_FOUND,
		                  "no such path; there are /, /api/v1/status, /api/v1/events and "
		                  "/metrics");
	if (!authorized(w, c))
		return send_error(c, MHD_HTTP_UNAUTHORIZED,
		                  "this path wants an Authorization: Bearer token");
	if (!strcmp(url, "/api/v1/status"))
		return serve_status(w, c);
	if (!strcmp(url, "/metrics"))
		return serve_metrics(w, c);
	return serve_events(w, c);
}

/* libmicrohttpd's logger: fmt is its own printf format. */
__attribute__((format(printf, 2, 0))) static void on_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fputs("mt6d web: ", stderr);
	vfprintf(stderr, fmt, ap);
}

int web_serve(struct web *w)
{
	struct MHD_Daemon *d;
	struct sigaction sa = {.sa_handler = on_stop_signal};
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	                 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (w->listen.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, w, MHD_OPTION_EXTERNAL_LOGGER,
	                     on_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&w->listen,
	                     MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_MAX_CONNS,
	                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
	                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "mt6d web: cannot listen on %s: %s\n", w->listen_text,
		        strerror(errno ? errno : EADDRINUSE));
		return 1;
	}
	fprintf(stderr, "mt6d web: serving http://%s/ for %s%s\n", w->listen_text, w->socket,
	        w->have_token ? " (bearer token required)" : "");
	pthread_mutex_lock(&w->mu);
	w->wake_locked = web_wake_locked;
	pthread_mutex_unlock(&w->mu);
	web_feed_run(w, &stop_flag);
	pthread_mutex_lock(&w->mu);
	w->closing = true;
	web_wake_locked(w);
	pthread_mutex_unlock(&w->mu);
	MHD_stop_daemon(d);
	fprintf(stderr, "mt6d web: stopped\n");
	return 0;
}
