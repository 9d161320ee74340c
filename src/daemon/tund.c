/* SPDX-License-Identifier: MIT */
/*
 * mt6d tunnel -c FILE: the static two-peer MT6D tunnel (the original MT6D:
 * both ends configured with each other's prefix, seed IID and a pre-shared
 * session key). Session establishment will later fill the same
 * struct mt6d_tun_session and table.
 *
 * Rules this file keeps:
 *  - One libev loop: the TUN fd, one UDP socket per slot in the window
 *    (three), a timer that fires just after every slot edge, signals.
 *  - The window is i-1, i, i+1 from the wall clock (plus clock_offset_ms, a
 *    test knob). Sending always uses the slot the clock says at that
 *    moment, so a late timer never makes a datagram go out from a slot the
 *    peer has already dropped.
 *  - A slot's socket is bound (IPV6_FREEBIND) to its local address and
 *    port. In bind mode the address is added to the uplink with netlink
 *    (nodad) before the socket exists and removed after it is closed; in
 *    routed mode the whole local /64 is a `local` route added once.
 *  - Every address and route added outside the TUN device is in the state
 *    file before it is added, and removed at exit (SIGINT, SIGTERM); a start
 *    that finds a state file of a dead daemon undoes it first.
 *  - A datagram that is truncated, forged, replayed or carries no IPv6
 *    packet is counted and dropped; nothing a peer sends ends the session.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sodium.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#include "conf.h"
#include "daemon.h"
#include "daemons.h"
#include "datapath.h"
#include "log.h"
#include "privdrop.h"
#include "sessd.h"
#include "mt6d/tunnel.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

#define BATCH 64

struct tund {
	struct conf_tunnel cfg; /* conf.c */
	struct ev_loop *loop;
	struct nl *nl;
	struct state st;
	struct mt6d_tun_table *table;
	struct mt6d_tun_session sess;
	bool have_sess;
	int tun_fd;
	unsigned tun_ifindex, uplink_ifindex, lo_ifindex;
	bool local_route;
	ev_io tun_w, sock_w[MT6D_TUN_SLOTS];
	ev_timer rot_w;
	ev_signal sig_int, sig_term, sig_usr1;
	struct dp dp;    /* the data path's I/O and its counters */
	uint8_t *ubuf;   /* a receive batch, opened in place */
	uint8_t *rbuf;   /* virtio_net_hdr + a packet read from the TUN device */
	uint8_t *rx_buf; /* the coalescer's */
	struct mt6d_burst tx;
	struct mt6d_rx rx;
	int fatal; /* -errno of a failure inside a callback; ends the loop */
};

/* ---- configuration ---- */

/* The file is read by conf.c, the parser of every daemon. */
static int cfg_load(struct conf_tunnel *t, const char *path)
{
	struct conf *c = malloc(sizeof(*c));
	int ret;

	if (!c)
		return log_error("out of memory"), -1;
	ret = conf_load(c, path, CONF_TUNNEL);
	if (ret < 0)
		log_error("%s", c->error);
	else
		*t = c->tunnel;
	sodium_memzero(c, sizeof(*c));
	free(c);
	return ret < 0 ? -1 : 0;
}

/* ---- helpers ---- */

static uint64_t now_ms(const struct tund *d)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
	                  d->cfg.clock_offset_ms);
}

static void print_stats(const struct tund *d)
{
	const struct mt6d_tun_stats *s = &d->sess.stats;

	log_info("stats tx_packets=%" PRIu64 " tx_bytes=%" PRIu64 " rx_packets=%" PRIu64
	         " rx_bytes=%" PRIu64 " rx_truncated=%" PRIu64 " rx_forged=%" PRIu64
	         " rx_replayed=%" PRIu64 " rx_bad_inner=%" PRIu64 " rx_no_session=%" PRIu64
	         " tx_errors=%" PRIu64 " rotations=%" PRIu64,
	         s->tx_packets, s->tx_bytes, s->rx_packets, s->rx_bytes, s->rx_truncated,
	         s->rx_forged, s->rx_replayed, s->rx_bad_inner, s->rx_no_session, s->tx_errors,
	         s->rotations);
}

/* ---- data path (the library's bursts, datapath.c's I/O) ---- */

static void on_udp(struct ev_loop *loop, ev_io *w, int revents);

/*
 * One packet from the TUN device (a TCP superpacket of up to 64 KB with
 * TSO): sealed by the library into one burst for the slot the clock says,
 * sent in one UDP GSO call.
 */
static void on_tun(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tund *d = w->data;
	struct mt6d_tun_session *s = &d->sess;

	for (int i = 0; i < BATCH; i++) {
		struct mt6d_offload off;
		int n = dp_tun_read(&d->dp, d->tun_fd, d->rbuf, DP_VNET_LEN + MT6D_INNER_MAX, &off);
		struct mt6d_tun_slot *sl;

		if (n == -EAGAIN)
			break;
		if (n <= 0)
			continue;
		sl = mt6d_tun_session_tx_slot(s, now_ms(d));
		if (!sl || sl->fd < 0) {
			s->stats.tx_errors++;
			continue;
		}
		if (mt6d_burst_seal(s, d->rbuf + DP_VNET_LEN, (size_t)n, &off, &d->tx) > 0) {
			struct mt6d_tx tx = {.from = &sl->local,
			                     .to = &sl->remote,
			                     .slot = sl,
			                     .p = d->tx.buf,
			                     .n = d->tx.n,
			                     .stride = d->tx.stride,
			                     .total = d->tx.total};
			dp_send(&d->dp, &tx);
		}
	}
}

static void rx_deliver(void *arg, uint8_t *pkt, size_t len, const struct mt6d_offload *off)
{
	struct tund *d = arg;

	dp_tun_write(&d->dp, d->tun_fd, pkt, len, off);
}

struct rx_batch {
	struct tund *d;
	struct mt6d_tun_session *s;
};

static void rx_one(void *arg, uint8_t *dg, size_t len)
{
	struct rx_batch *b = arg;
	int n = mt6d_tun_open(b->s, dg, len);

	if (n > 0)
		mt6d_rx_push(&b->d->rx, dg + MT6D_ENCAP_INNER_OFF, (size_t)n);
}

static void on_udp(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tund *d = w->data;
	/* The socket is the slot; the session comes from the table keyed on
	 * the endpoint it is bound to, as it does for a server's many. */
	struct mt6d_tun_slot *bound = &d->sess.win[w - d->sock_w];

	for (int i = 0; i < BATCH; i++) {
		struct mt6d_endpoint from;
		struct rx_batch b = {.d = d};
		uint64_t slot;
		size_t gso;
		int n = dp_recv(&d->dp, w->fd, d->ubuf, DP_RX_BUF, &from, NULL, &gso);

		if (n == -EAGAIN)
			break;
		if (n < 0)
			continue;
		b.s = mt6d_tun_table_find(d->table, &bound->local, &slot);
		if (!b.s) {
			d->sess.stats.rx_no_session +=
			        mt6d_batch_each(d->ubuf, (size_t)n, gso, NULL, NULL);
			continue;
		}
		/* A GRO batch: consecutive segments of one TCP burst are
		 * joined again for the TUN device. */
		mt6d_batch_each(d->ubuf, (size_t)n, gso, rx_one, &b);
	}
	/* Coalesced across the reads of this wakeup: one session only. */
	mt6d_rx_flush(&d->rx);
}

/* ---- rotation ---- */

static void on_slot(struct mt6d_tun_session *s, struct mt6d_tun_slot *sl, bool add, void *arg)
{
	struct tund *d = arg;
	size_t idx = (size_t)(sl - s->win);
	struct state_item it = {.kind = STATE_ADDR, .plen = 128};
	char e1[64], e2[64];
	int ret;

	memcpy(it.addr, sl->local.addr, 16);
	strcpy(it.ifname, d->cfg.uplink);
	if (!add) {
		if (sl->fd >= 0) {
			ev_io_stop(d->loop, &d->sock_w[idx]);
			close(sl->fd);
			sl->fd = -1;
		}
		if (d->cfg.mode == CONF_TUN_BIND) {
			ret = nl_addr(d->nl, false, d->uplink_ifindex, sl->local.addr, 128, false);
			if (ret < 0 && ret != -EADDRNOTAVAIL)
				log_warn("removing %s: %s",
				         mt6d_endpoint_format(e1, sizeof(e1), &sl->local),
				         strerror(-ret));
			state_del(&d->st, &it);
		}
		return;
	}
	if (d->cfg.mode == CONF_TUN_BIND) {
		ret = state_add(&d->st, &it);
		if (ret == 0)
			ret = nl_addr(d->nl, true, d->uplink_ifindex, sl->local.addr, 128, true);
		if (ret < 0 && ret != -EEXIST) {
			log_error("adding %s to %s: %s",
			          mt6d_endpoint_format(e1, sizeof(e1), &sl->local), d->cfg.uplink,
			          strerror(-ret));
			d->fatal = ret;
			ev_break(d->loop, EVBREAK_ALL);
			return;
		}
	}
	ret = dp_slot_socket(&sl->local);
	if (ret < 0) {
		log_error("socket on %s: %s", mt6d_endpoint_format(e1, sizeof(e1), &sl->local),
		          strerror(-ret));
		d->fatal = ret;
		ev_break(d->loop, EVBREAK_ALL);
		return;
	}
	sl->fd = ret;
	ev_io_init(&d->sock_w[idx], on_udp, sl->fd, EV_READ);
	d->sock_w[idx].data = d;
	ev_io_start(d->loop, &d->sock_w[idx]);
	if (log_verbose())
		log_debug("slot %" PRIu64 " local %s remote %s", sl->slot,
		          mt6d_endpoint_format(e1, sizeof(e1), &sl->local),
		          mt6d_endpoint_format(e2, sizeof(e2), &sl->remote));
}

static void on_rotate(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tund *d = w->data;
	uint64_t ms = now_ms(d), slot = mt6d_slot(ms, d->cfg.rot_ms);
	int ret;

	/* What reached the socket of a slot that now leaves the window is
	 * read under the window it arrived in, not closed away with the
	 * socket: a late wakeup (a loaded host) then loses nothing. */
	for (int i = 0; i < MT6D_TUN_SLOTS; i++) {
		const struct mt6d_tun_slot *sl = &d->sess.win[i];

		if (sl->valid && sl->fd >= 0 && sl->slot + 1 < slot)
			on_udp(loop, &d->sock_w[i], EV_READ);
	}
	ret = mt6d_tun_session_rotate(d->table, &d->sess, slot, on_slot, d);
	if (ret < 0)
		log_warn("rotating to slot %" PRIu64 ": %s", slot, strerror(-ret));
	/* 1 ms past the edge so the clock reads the new slot when it fires. */
	ev_timer_set(w, (double)((slot + 1) * d->cfg.rot_ms - ms + 1) / 1000.0, 0.);
	ev_timer_start(loop, w);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct tund *d = w->data;

	if (w->signum == SIGUSR1) {
		print_stats(d);
		return;
	}
	log_info("%s, cleaning up", strsignal(w->signum));
	ev_break(loop, EVBREAK_ALL);
}

/* ---- setup and teardown ---- */

static int setup(struct tund *d)
{
	struct conf_tunnel *c = &d->cfg;
	int ret;

	ret = nl_open(&d->nl);
	if (ret < 0)
		return log_error("netlink: %s", strerror(-ret)), ret;
	/* The one state-file dance of every daemon (sessd.c): refuse a file a
	 * running mt6d owns, undo what a dead one left, start a new one. */
	ret = sessd_state_open(&d->st, d->nl, c->state_file,
	                       &(struct state_allow){.uplink = c->uplink, .user = c->user},
	                       "tunnel");
	if (ret < 0)
		return ret;

	if (c->mode == CONF_TUN_BIND) {
		d->uplink_ifindex = if_nametoindex(c->uplink);
		if (!d->uplink_ifindex)
			return log_error("uplink `%s': %s", c->uplink, strerror(errno)), -ENODEV;
	}
	d->tun_fd = dp_tun_open(c->name);
	if (d->tun_fd < 0)
		return log_error("TUN device `%s': %s", c->name, strerror(-d->tun_fd)), d->tun_fd;
	d->tun_ifindex = if_nametoindex(c->name);
	ret = nl_link_up(d->nl, d->tun_ifindex, c->mtu);
	if (ret < 0)
		return log_error("%s: link up, MTU %u: %s", c->name, c->mtu, strerror(-ret)), ret;
	for (size_t i = 0; i < c->naddrs; i++) {
		ret = nl_addr(d->nl, true, d->tun_ifindex, c->addrs[i].addr, c->addrs[i].plen,
		              false);
		if (ret < 0)
			return log_error("%s: adding address: %s", c->name, strerror(-ret)), ret;
	}
	for (size_t i = 0; i < c->nroutes; i++) {
		ret = nl_route(d->nl, true, false, d->tun_ifindex, c->routes[i].addr,
		               c->routes[i].plen);
		if (ret < 0 && ret != -EEXIST)
			return log_error("%s: adding route: %s", c->name, strerror(-ret)), ret;
	}
	if (c->mode == CONF_TUN_ROUTED) {
		struct state_item it = {.kind = STATE_ROUTE_LOCAL, .plen = 64, .ifname = "lo"};

		d->lo_ifindex = if_nametoindex("lo");
		memcpy(it.addr, c->local.prefix, 8);
		ret = state_add(&d->st, &it);
		if (ret == 0)
			ret = nl_route(d->nl, true, true, d->lo_ifindex, it.addr, 64);
		if (ret < 0)
			return log_error("local route for the /64 on lo: %s", strerror(-ret)), ret;
		d->local_route = true;
	}

	d->table = mt6d_tun_table_new();
	d->ubuf = malloc(DP_RX_BUF);
	d->rbuf = malloc(DP_VNET_LEN + MT6D_INNER_MAX);
	d->tx.buf = malloc(MT6D_BURST_BUF);
	d->rx_buf = malloc(MT6D_RX_HEADROOM + MT6D_RX_BUF);
	mt6d_rx_init(&d->rx, d->rx_buf, rx_deliver, d);
	if (!d->table || !d->ubuf || !d->rbuf || !d->tx.buf || !d->rx_buf)
		return -ENOMEM;
	{
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		/* Counters start at the time in ns: above anything a previous
		 * run with this static key sent (docs/protocol.md, "Data plane"). */
		ret = mt6d_tun_session_init(
		        &d->sess, c->ks, &c->local, &c->remote, c->role, c->rot_ms,
		        (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
		if (ret < 0)
			return ret;
		mt6d_tun_session_clock(&d->sess, now_ms(d)); /* no replay across a restart */
		d->have_sess = true;
	}

	ev_io_init(&d->tun_w, on_tun, d->tun_fd, EV_READ);
	d->tun_w.data = d;
	ev_io_start(d->loop, &d->tun_w);
	ev_init(&d->rot_w, on_rotate);
	d->rot_w.data = d;
	on_rotate(d->loop, &d->rot_w, 0);
	if (d->fatal)
		return d->fatal;
	ev_signal_init(&d->sig_int, on_signal, SIGINT);
	ev_signal_init(&d->sig_term, on_signal, SIGTERM);
	ev_signal_init(&d->sig_usr1, on_signal, SIGUSR1);
	d->sig_int.data = d->sig_term.data = d->sig_usr1.data = d;
	ev_signal_start(d->loop, &d->sig_int);
	ev_signal_start(d->loop, &d->sig_term);
	ev_signal_start(d->loop, &d->sig_usr1);
	log_info("%s up, %s mode, rotation %u ms", c->name,
	         c->mode == CONF_TUN_BIND ? "bind" : "routed", c->rot_ms);
	return 0;
}

static void teardown(struct tund *d)
{
	if (d->have_sess) {
		/* Reports every slot as leaving: sockets closed, addresses gone. */
		for (int i = 0; i < MT6D_TUN_SLOTS; i++)
			if (d->sess.win[i].valid)
				on_slot(&d->sess, &d->sess.win[i], false, d);
		mt6d_tun_session_clear(d->table, &d->sess);
	}
	if (d->local_route) {
		struct state_item it = {.kind = STATE_ROUTE_LOCAL, .plen = 64, .ifname = "lo"};

		memcpy(it.addr, d->cfg.local.prefix, 8);
		nl_route(d->nl, false, true, d->lo_ifindex, it.addr, 64);
		state_del(&d->st, &it);
	}
	if (d->tun_fd >= 0)
		close(d->tun_fd);
	sessd_state_close(&d->st, "tunnel");
	mt6d_tun_table_free(d->table);
	free(d->ubuf);
	free(d->rbuf);
	free(d->tx.buf);
	free(d->rx_buf);
	dp_free(&d->dp);
	nl_close(d->nl);
	sodium_memzero(&d->cfg, sizeof(d->cfg));
}

int tund_main(const char *path, bool verbose)
{
	struct tund *d;
	int ret = 1;

	log_init("tunnel", verbose);
	d = calloc(1, sizeof(*d));
	if (!d)
		return log_error("out of memory"), 1;
	d->tun_fd = -1;
	dp_init(&d->dp);
	if (cfg_load(&d->cfg, path) < 0)
		goto out;
	d->loop = ev_default_loop(EVFLAG_AUTO);
	if (!d->loop) {
		log_error("cannot start the event loop");
		goto out;
	}
	if (setup(d) < 0 || privdrop("tunnel", d->cfg.user,
	                             &(struct privdrop_paths){.rewrite = {d->cfg.state_file}}) < 0)
		goto out;
	ev_run(d->loop, 0);
	ret = d->fatal ? 1 : 0;
	print_stats(d);
out:
	teardown(d);
	free(d);
	return ret;
}
