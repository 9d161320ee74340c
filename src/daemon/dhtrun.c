/* SPDX-License-Identifier: MIT */
/*
 * A DHT node's socket and timer in a libev loop. Datagrams are read in
 * batches of up to 64 per wake-up; the timer is always set to the wake-up
 * time mt6d_dht_tick() returned. The socket keeps the system's default
 * send buffer: a datagram it cannot take waits in the node's send queue
 * and leaves when the socket is writable again.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dhtrun.h"

uint64_t mt6d_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t mt6d_test_clock_shift_ms;

uint64_t mt6d_unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)((int64_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000) +
	                  mt6d_test_clock_shift_ms);
}

static int send_cb(void *ctx, const uint8_t *buf, size_t len, const struct sockaddr *to,
                   socklen_t tolen)
{
	struct dhtrun *r = ctx;

	if (r->until_ms && mt6d_unix_ms() >= r->until_ms)
		return -ETIMEDOUT; /* an identity past its window (dhtauto.c): counted */
	if (sendto(r->fd, buf, len, 0, to, tolen) < 0)
		return -errno;
	return 0;
}

static void rearm(struct dhtrun *r, uint64_t next)
{
	uint64_t now = mt6d_mono_ms();

	if (mt6d_dht_tx_queued(r->dht)) {
		if (!ev_is_active(&r->wio))
			ev_io_start(r->loop, &r->wio);
	} else if (ev_is_active(&r->wio)) {
		ev_io_stop(r->loop, &r->wio);
	}

	ev_timer_stop(r->loop, &r->timer);
	ev_timer_set(&r->timer, next > now ? (double)(next - now) / 1000.0 : 0.0, 0.0);
	ev_timer_start(r->loop, &r->timer);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dhtrun *r = w->data;
	uint64_t now = mt6d_mono_ms();

	if (r->state && now - r->last_save > 5 * 60 * 1000) {
		r->last_save = now;
		(void)mt6d_dht_save(r->dht, r->state);
	}
	rearm(r, mt6d_dht_tick(r->dht, now));
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dhtrun *r = w->data;
	uint64_t now = mt6d_mono_ms();

	(void)mt6d_dht_flush(r->dht, now);
	rearm(r, mt6d_dht_tick(r->dht, now));
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dhtrun *r = w->data;
	uint8_t buf[4096]; /* larger than any KRPC datagram we parse */
	struct sockaddr_storage from;
	uint64_t now = mt6d_mono_ms();

	for (int i = 0; i < 64; i++) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(r->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			break;
		(void)mt6d_dht_input(r->dht, buf, (size_t)n, (struct sockaddr *)&from, fl, now);
	}
	rearm(r, mt6d_dht_tick(r->dht, now));
}

int dhtrun_start(struct dhtrun *r, struct ev_loop *loop, const struct mt6d_endpoint *listen,
                 struct mt6d_dht_config *cfg, char *err, size_t errlen)
{
	int one = 1, bufsz = 1 << 20, fd, ret;
	char text[MT6D_ENDPOINT_STRLEN];
	struct sockaddr_storage ss;
	socklen_t sslen = mt6d_endpoint_to_sockaddr(&ss, listen);

	memset(r, 0, sizeof(*r));
	mt6d_endpoint_format(text, sizeof(text), listen);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open a socket for %s: %s", text, strerror(errno));
		return ret;
	}
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	if (bind(fd, (const struct sockaddr *)&ss, sslen) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot listen on %s: %s", text, strerror(errno));
		close(fd);
		return ret;
	}
	ret = dhtrun_start_fd(r, loop, fd, cfg, err, errlen);
	if (ret < 0)
		close(fd);
	return ret;
}

int dhtrun_start_fd(struct dhtrun *r, struct ev_loop *loop, int fd, struct mt6d_dht_config *cfg,
                    char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int ret;

	memset(r, 0, sizeof(*r));
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
		ret = -errno;
		snprintf(err, errlen, "DHT socket: %s", strerror(errno));
		return ret;
	}
	r->loop = loop;
	r->fd = fd;
	r->family = ss.ss_family;
	cfg->send = send_cb;
	cfg->send_ctx = r;
	cfg->ipv4 = r->family == AF_INET;
	cfg->ipv6 = r->family == AF_INET6;
	r->dht = mt6d_dht_new(cfg);
	if (!r->dht) {
		ret = -errno;
		snprintf(err, errlen, "cannot create a DHT node: %s", strerror(errno));
		r->fd = -1;
		return ret;
	}
	ev_io_init(&r->io, on_readable, fd, EV_READ);
	r->io.data = r;
	ev_io_start(loop, &r->io);
	ev_io_init(&r->wio, on_writable, fd, EV_WRITE);
	r->wio.data = r;
	ev_timer_init(&r->timer, on_timer, 0.0, 0.0);
	r->timer.data = r;
	ev_timer_start(loop, &r->timer);
	return 0;
}

void dhtrun_input(struct dhtrun *r, const uint8_t *buf, size_t len,
                  const struct mt6d_endpoint *from)
{
	struct sockaddr_storage ss;
	socklen_t sl = mt6d_endpoint_to_sockaddr(&ss, from);
	uint64_t now = mt6d_mono_ms();

	(void)mt6d_dht_input(r->dht, buf, len, (struct sockaddr *)&ss, sl, now);
	rearm(r, mt6d_dht_tick(r->dht, now));
}

void dhtrun_stop(struct dhtrun *r)
{
	if (!r->dht)
		return;
	if (r->state)
		(void)mt6d_dht_save(r->dht, r->state);
	ev_io_stop(r->loop, &r->io);
	ev_io_stop(r->loop, &r->wio);
	ev_timer_stop(r->loop, &r->timer);
	mt6d_dht_free(r->dht);
	r->dht = NULL;
	close(r->fd);
	r->fd = -1;
}

int dhtrun_bootstrap(struct dhtrun *r, const struct mt6d_endpoint *boot, int n)
{
	int count = 0;

	for (int i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t len = mt6d_endpoint_to_sockaddr(&ss, &boot[i]);

		if (ss.ss_family == r->family &&
		    mt6d_dht_add_node(r->dht, (const struct sockaddr *)&ss, len, mt6d_mono_ms()) ==
		            0)
			count++;
	}
	return count;
}

bool dhtrun_ready(const struct dhtrun *r, uint64_t since_ms, uint64_t wait_ms)
{
	struct mt6d_dht_stats st;

	mt6d_dht_get_stats(r->dht, &st);
	return st.good4 + st.good6 >= 16 || mt6d_mono_ms() >= since_ms + wait_ms;
}

void dhtrun_kick(struct dhtrun *r)
{
	rearm(r, mt6d_mono_ms());
}
