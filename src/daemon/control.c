/* SPDX-License-Identifier: MIT */
/*
 * Control socket. Requests are short lines ("status", "set period=300", "events").
 *
 * Rules this file keeps:
 *  - Nothing blocks the loop: every socket is non-blocking, a request is gathered across
 *    reads, an answer is written as the peer takes it. A peer that sends no full request
 *    line within 1 s, or does not take its answer within 5 s, is closed; at most
 *    CONTROL_MAX_CONNS connections are open, more are closed on accept.
 *  - An `events` subscriber gets events queued in memory and written as it reads; one that
 *    falls CONTROL_SUB_QUEUE_MAX bytes behind is closed, so a reader that never reads
 *    costs at most that much memory and never delays anything else.
 *  - Permission: the socket file is 0600 and the peer's uid must be 0 or ours
 *    (SO_PEERCRED), so group or ACL mistakes do not open it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

#define READ_TIMEOUT_S  1.0
#define WRITE_TIMEOUT_S 5.0

enum conn_state { CONN_READ, CONN_WRITE, CONN_SUB };

struct control_conn {
	struct control *c;
	struct control_conn *prev, *next;
	int fd;
	enum conn_state state;
	ev_io io;
	ev_timer timer;
	char req[CONTROL_REQUEST_MAX + 1];
	size_t reqlen;
	char *out; /* queued bytes: out[off..len) */
	size_t len, off, cap;
};

static void conn_close(struct control_conn *k)
{
	struct control *c = k->c;

	ev_io_stop(c->loop, &k->io);
	ev_timer_stop(c->loop, &k->timer);
	close(k->fd);
	if (k->state == CONN_SUB)
		c->nsubs--;
	if (k->prev)
		k->prev->next = k->next;
	else
		c->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	c->nconns--;
	free(k->out);
	free(k);
}

static void conn_watch(struct control_conn *k, int events)
{
	if (k->io.events == events && ev_is_active(&k->io))
		return;
	ev_io_stop(k->c->loop, &k->io);
	ev_io_set(&k->io, k->fd, events);
	ev_io_start(k->c->loop, &k->io);
}

/* Write what the peer takes now. 0, or -1 when the connection was closed. */
static int conn_flush(struct control_conn *k)
{
	while (k->off < k->len) {
		ssize_t n =
		        send(k->fd, k->out + k->off, k->len - k->off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			conn_close(k);
			return -1;
		}
		k->off += (size_t)n;
	}
	if (k->off == k->len) {
		k->off = k->len = 0;
		if (k->state == CONN_WRITE) {
			k->c->st.answered++;
			conn_close(k);
			return -1;
		}
		conn_watch(k, EV_READ);
	} else {
		if (k->off > k->cap / 2) {
			memmove(k->out, k->out + k->off, k->len - k->off);
			k->len -= k->off;
			k->off = 0;
		}
		conn_watch(k, k->state == CONN_SUB ? EV_READ | EV_WRITE : EV_WRITE);
	}
	return 0;
}

static int conn_append(struct control_conn *k, const char *p, size_t len)
{
	if (k->len + len > k->cap) {
		size_t cap = k->cap ? k->cap : 4096;
		char *o;

		while (cap < k->len + len)
			cap *= 2;
		o = realloc(k->out, cap);
		if (!o)
			return -ENOMEM;
		k->out = o;
		k->cap = cap;
	}
	memcpy(k->out + k->len, p, len);
	k->len += len;
	return 0;
}

static void conn_answer(struct control_conn *k)
{
	struct control *c = k->c;
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	ev_timer_stop(c->loop, &k->timer);
	if (!strcmp(k->req, "events")) {
		char hello[96];
		int n = snprintf(hello, sizeof(hello), "{\"event\":\"hello\",\"queue_max\":%d}\n",
		                 CONTROL_SUB_QUEUE_MAX);

		k->state = CONN_SUB;
		c->nsubs++;
		if (conn_append(k, hello, (size_t)n) < 0) {
			conn_close(k);
			return;
		}
		conn_flush(k);
		return;
	}
	out = open_memstream(&buf, &len);
	if (!out) {
		conn_close(k);
		return;
	}
	if (k->reqlen > CONTROL_REQUEST_MAX)
		fprintf(out, "{\"error\":\"request longer than %d bytes\"}", CONTROL_REQUEST_MAX);
	else
		c->fn(c->arg, k->req, out);
	fputc('\n', out);
	if (fclose(out) != 0) {
		free(buf);
		conn_close(k);
		return;
	}
	free(k->out);
	k->out = buf;
	k->len = len;
	k->cap = len;
	k->off = 0;
	k->state = CONN_WRITE;
	ev_timer_set(&k->timer, WRITE_TIMEOUT_S, 0.);
	ev_timer_start(c->loop, &k->timer);
	conn_flush(k);
}

static void on_conn_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control_conn *k = w->data;

	if (revents & EV_READ) {
		char tmp[CONTROL_REQUEST_MAX + 1], *nl;
		char *dst = k->state == CONN_READ ? k->req + k->reqlen : tmp;
		size_t room = k->state == CONN_READ ? CONTROL_REQUEST_MAX - k->reqlen : sizeof(tmp);
		ssize_t n = recv(k->fd, dst, room ? room : 1, MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0) { /* EOF or error: nobody to answer */
			conn_close(k);
			return;
		}
		if (k->state == CONN_READ) {
			k->reqlen += (size_t)n;
			k->req[k->reqlen] = '\0';
			nl = memchr(k->req, '\n', k->reqlen);
			if (nl || k->reqlen == CONTROL_REQUEST_MAX) {
				if (nl) {
					*nl = '\0';
					if (nl > k->req && nl[-1] == '\r')
						nl[-1] = '\0';
				} else {
					k->reqlen = CONTROL_REQUEST_MAX + 1; /* too long */
				}
				conn_answer(k);
			}
			return;
		}
		/* A subscriber's or a writer's input is ignored. */
	}
	if (revents & EV_WRITE)
		conn_flush(k);
}

static void on_conn_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct control_conn *k = w->data;

	k->c->st.timeouts++;
	conn_close(k);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control *c = w->data;

	for (int i = 0; i < 16; i++) {
		struct ucred cred;
		socklen_t cl = sizeof(cred);
		struct control_conn *k;
		int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
		    (cred.uid != 0 && cred.uid != geteuid())) {
			c->st.refused_peer++;
			close(fd);
			continue;
		}
		if (c->nconns >= CONTROL_MAX_CONNS || !(k = calloc(1, sizeof(*k)))) {
			c->st.refused_full++;
			close(fd);
			continue;
		}
		c->st.accepted++;
		k->c = c;
		k->fd = fd;
		k->state = CONN_READ;
		k->next = c->conns;
		if (c->conns)
			c->conns->prev = k;
		c->conns = k;
		c->nconns++;
		ev_io_init(&k->io, on_conn_io, fd, EV_READ);
		k->io.data = k;
		ev_io_start(loop, &k->io);
		ev_timer_init(&k->timer, on_conn_timer, READ_TIMEOUT_S, 0.);
		k->timer.data = k;
		ev_timer_start(loop, &k->timer);
	}
}

void control_emit(struct control *c, const char *json, size_t len)
{
	struct control_conn *k, *nx;

	if (!control_listening(c))
		return;
	c->st.events++;
	for (k = c->conns; k; k = nx) {
		bool idle;

		nx = k->next;
		if (k->state != CONN_SUB)
			continue;
		if (k->len - k->off + len + 1 > CONTROL_SUB_QUEUE_MAX) {
			c->st.subscribers_dropped++;
			conn_close(k);
			continue;
		}
		idle = k->off == k->len;
		if (conn_append(k, json, len) < 0 || conn_append(k, "\n", 1) < 0) {
			c->st.subscribers_dropped++;
			conn_close(k);
			continue;
		}
		if (idle)
			conn_flush(k);
	}
}

void control_emitf(struct control *c, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	if (!control_listening(c))
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(buf))
		control_emit(c, buf, (size_t)n);
}

int control_start(struct control *c, struct ev_loop *loop, const char *path, control_fn fn,
                  void *arg, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	mode_t old;
	int ret;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path too long: `%s'", path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		return ret;
	}
	/* A stale socket of a dead daemon is replaced; a live one is refused. */
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		snprintf(err, errlen, "`%s' is in use by a running daemon", path);
		close(c->fd);
		c->fd = -1;
		return -EADDRINUSE;
	}
	close(c->fd);
	c->fd = -1;
	/* Replace only a stale socket: a mistyped path must never delete a
	 * file (say, the private key) that happens to be there. */
	{
		struct stat st;
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "`%s' exists and is not a socket", path);
			return -EEXIST;
		}
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		return ret;
	}
	(void)unlink(path);
	old = umask(077);
	ret = bind(c->fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (ret < 0 || listen(c->fd, 64) < 0) {
		ret = -errno;
		snprintf(err, errlen, "control socket `%s': %s", path, strerror(errno));
		close(c->fd);
		c->fd = -1;
		return ret;
	}
	strcpy(c->path, path);
	c->loop = loop;
	c->fn = fn;
	c->arg = arg;
	ev_io_init(&c->io, on_accept, c->fd, EV_READ);
	c->io.data = c;
	ev_io_start(loop, &c->io);
	return 0;
}

void control_stop(struct control *c)
{
	if (c->fd < 0)
		return;
	while (c->conns)
		conn_close(c->conns);
	ev_io_stop(c->loop, &c->io);
	close(c->fd);
	c->fd = -1;
	(void)unlink(c->path);
}

int control_connect(const char *path, const char *request)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char line[CONTROL_REQUEST_MAX + 2];
	int fd, ret;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	if (strlen(request) > CONTROL_REQUEST_MAX)
		return -EMSGSIZE;
	snprintf(line, sizeof(line), "%s\n", request);
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    send(fd, line, strlen(line), MSG_NOSIGNAL) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int control_request(const char *path, const char *request, FILE *out)
{
	struct timeval tv = {.tv_sec = 5};
	char buf[4096];
	ssize_t n;
	int fd = control_connect(path, request), ret = 0;

	if (fd < 0)
		return fd;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		fwrite(buf, 1, (size_t)n, out);
	if (n < 0)
		ret = -errno;
	close(fd);
	return ret;
}
