/* SPDX-License-Identifier: MIT */
/*
 * mt6d client -c FILE: the patent's client (FIG. 5) in one process. It
 * finds the server's configuration in the DHT knowing only the server's
 * public key, asks the introduction endpoint for a session, and keeps the
 * session: one TUN device, one MT6D session, a UDP socket per slot of the
 * window (three at a time). The state machine is src/lib/session/client.c; this
 * file is its I/O.
 *
 * Rules this file keeps:
 *  - A slot's socket exists while its slot is in the window. In bind mode
 *    its address is added to the uplink (nodad, deprecated so nothing else
 *    picks it as a source) before the socket and removed after it; in
 *    routed mode the client's /64 is a `local` route added once.
 *  - The TUN device carries the tunnel address only while a session is up,
 *    so nothing is routed into a session that does not exist.
 *  - A rendezvous runs on a read-only DHT node (BEP 43), bounded by
 *    lookup_timeout: the client state machine starts, cancels and takes
 *    the result of its own lookup; this file only runs the node.
 *  - Everything added outside the TUN device is in the state file first;
 *    SIGINT and SIGTERM send a teardown (message 2) and remove it all.
 *  - The clock: the server's keepalives say how far this host's clock is
 *    from the server's (struct mt6d_clock_est, against CLOCK_BOOTTIME, which
 *    does not step and counts a suspend); beyond half a slot the daemon
 *    says so once, again when it moves by a second or more, and when it is
 *    right again (then it retries at once). MT6D_TEST_CLOCK_FILE, a test
 *    knob, names a file holding a shift of the wall clock in ms, read at
 *    start and every second (docs/sessions.md, "Clocks").
 */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <sodium.h>

#include "conf.h"
#include "control.h"
#include "daemon.h"
#include "daemons.h"
#include "datapath.h"
#include "log.h"
#include "ndp.h"
#include "privdrop.h"
#include "dhtrun.h"
#include "events.h"
#include "sessd.h"
#include "mt6d/rendezvous.h"
#include "mt6d/client.h"

#define WHO   "client"
#define BATCH 64

struct clid {
	struct ev_loop *loop;
	struct conf conf;
	struct dhtrun run;
	ev_timer tick_w, prefix_w, test_clock_w;
	struct mt6d_cli *cli;
	struct control ctl;
	struct events_watch evw;
	struct nl *nl;
	struct state st;
	int tun_fd, ul_fd; /* ul_fd: the underlay socket (mode = underlay), else -1 */
	ev_io ul_w;
	unsigned tun_ifindex, uplink_ifindex, lo_ifindex;
	bool local_route, tun_addr, ndp_routing;
	struct ndp *ndp; /* mode = ndp: the NDP responder on the uplink */
	uint8_t tun_addr_v[16];
	unsigned tun_plen;
	ev_io tun_w, sock_w[MT6D_TUN_SLOTS];
	ev_signal sig_int, sig_term;
	struct dp dp;  /* the data path's I/O and its counters */
	uint8_t *ubuf; /* a receive batch, opened in place */
	uint8_t *rbuf; /* virtio_net_hdr + a packet read from the TUN device */
	uint64_t started_ms, first_session_ms;
	int fatal;
	/* the clock against the server's */
	struct mt6d_clock_est clock;
	uint32_t clock_rot_ms; /* the rotation last seen: its tolerance */
	const char *test_clock_file;
};

/* ---- slots: addresses and sockets ---- */

static void on_udp(struct ev_loop *loop, ev_io *w, int revents);

static void on_slot(struct mt6d_tun_session *s, struct mt6d_tun_slot *sl, bool add, void *arg)
{
	struct clid *d = arg;
	size_t idx = (size_t)(sl - s->win);
	struct state_item it = {.kind = STATE_ADDR, .plen = 128};
	char e[80];
	int ret;

	events_slot(&d->ctl, EVENTS_CLIENT_SESSION, s, sl, add);
	if (d->conf.underlay)
		return; /* one socket, no MT6D addresses */
	ndp_slot(d->ndp, sl->local.addr, add);
	memcpy(it.addr, sl->local.addr, 16);
	strcpy(it.ifname, d->conf.uplink);
	if (!add) {
		if (sl->fd >= 0) {
			ev_io_stop(d->loop, &d->sock_w[idx]);
			close(sl->fd);
			sl->fd = -1;
		}
		if (!d->conf.routed && !d->conf.ndp) {
			ret = nl_addr(d->nl, false, d->uplink_ifindex, sl->local.addr, 128, false);
			if (ret < 0 && ret != -EADDRNOTAVAIL)
				log_warn("removing %s: %s",
				         mt6d_endpoint_format(e, sizeof(e), &sl->local),
				         strerror(-ret));
			state_del(&d->st, &it);
			sessd_state_note(&d->st, WHO);
		}
		return;
	}
	if (!d->conf.routed && !d->conf.ndp) {
		ret = state_add(&d->st, &it);
		sessd_state_note(&d->st, WHO);
		if (ret < 0 && ret == d->st.err)
			ret = 0; /* listed in memory: removed at exit all the same */
		if (ret == 0)
			ret = nl_addr(d->nl, true, d->uplink_ifindex, sl->local.addr, 128, true);
		if (ret < 0 && ret != -EEXIST) {
			log_error("adding %s to %s: %s",
			          mt6d_endpoint_format(e, sizeof(e), &sl->local), d->conf.uplink,
			          strerror(-ret));
			d->fatal = ret;
			ev_break(d->loop, EVBREAK_ALL);
			return;
		}
	}
	ret = dp_slot_socket(&sl->local);
	if (ret < 0) {
		log_error("socket on %s: %s", mt6d_endpoint_format(e, sizeof(e), &sl->local),
		          strerror(-ret));
		d->fatal = ret;
		ev_break(d->loop, EVBREAK_ALL);
		return;
	}
	sl->fd = ret;
	ev_io_init(&d->sock_w[idx], on_udp, sl->fd, EV_READ);
	d->sock_w[idx].data = d;
	ev_io_start(d->loop, &d->sock_w[idx]);
}

/* ---- library callbacks ---- */

static void on_send(void *arg, const struct mt6d_tx *tx)
{
	struct clid *d = arg;

	dp_send(&d->dp, tx);
}

static void on_deliver(void *arg, uint8_t *pkt, size_t len, const struct mt6d_offload *off)
{
	struct clid *d = arg;

	dp_tun_write(&d->dp, d->tun_fd, pkt, len, off);
}

static void set_tun_addr(struct clid *d, bool up)
{
	char a[64];
	int ret;

	if (up == d->tun_addr)
		return;
	if (up) {
		memcpy(d->tun_addr_v, d->cli->client_tun, 16);
		d->tun_plen = d->cli->tun_prefix_len;
	}
	ret = nl_addr(d->nl, up, d->tun_ifindex, d->tun_addr_v, d->tun_plen, false);
	if (ret < 0 && ret != -EEXIST && ret != -EADDRNOTAVAIL)
		log_info("%s tunnel address %s/%u: %s", up ? "adding" : "removing",
		         sessd_addr(a, sizeof(a), d->tun_addr_v), d->tun_plen, strerror(-ret));
	d->tun_addr = up;
}

static void on_state(void *arg, enum mt6d_cli_state from, enum mt6d_cli_state to)
{
	struct clid *d = arg;
	struct mt6d_cli *c = d->cli;
	uint64_t now = mt6d_unix_ms();
	char a[64], b[64], e[80];

	events_client_state(&d->ctl, c, from, to);
	if (from == MT6D_CLI_SESSION)
		set_tun_addr(d, false);
	switch (to) {
	case MT6D_CLI_LOOKUP:
		log_info("rendezvous: looking up the server's configuration");
		/* the client starts its lookup: run the node's timers soon */
		if (d->run.dht)
			dhtrun_kick(&d->run);
		break;
	case MT6D_CLI_INTRO:
		log_info("introduction: window %" PRIu64 ", server seed %s, request from %s",
		         c->intro.window, sessd_addr(a, sizeof(a), c->intro.seed_addr),
		         mt6d_endpoint_format(e, sizeof(e),
		                              &c->tun.win[c->tun.cur % MT6D_TUN_SLOTS].local));
		break;
	case MT6D_CLI_SESSION:
		set_tun_addr(d, true);
		if (!d->first_session_ms)
			d->first_session_ms = now;
		log_info("session up: tunnel %s/%u, server %s, local %s, %" PRIu64
		         " ms after start",
		         sessd_addr(a, sizeof(a), c->client_tun), c->tun_prefix_len,
		         sessd_addr(b, sizeof(b), c->server_tun),
		         mt6d_endpoint_format(e, sizeof(e),
		                              &c->tun.win[c->tun.cur % MT6D_TUN_SLOTS].local),
		         now - d->started_ms);
		break;
	case MT6D_CLI_BACKOFF:
		log_info("%s; back to the rendezvous in %.1f s%s",
		         from == MT6D_CLI_SESSION ? "session down"
		         : from == MT6D_CLI_INTRO ? "no answer from the introduction endpoint"
		                                  : "rendezvous failed",
		         (double)(c->next_ms > now ? c->next_ms - now : 0) / 1000.0,
		         from == MT6D_CLI_INTRO && !d->clock.have
		                 ? " (the server is down, or this host's clock is more than a "
		                   "slot off the server's: is it set right? (NTP))"
		                 : "");
		break;
	case MT6D_CLI_CLOSED:
		break;
	}
	/* The tick's deadline may have moved (a new session, a backoff). */
	if (d->tick_w.data) {
		ev_timer_stop(d->loop, &d->tick_w);
		ev_timer_set(&d->tick_w, 0., 0.);
		ev_timer_start(d->loop, &d->tick_w);
	}
}

/* ---- rendezvous ---- */

/* The client's own lookup ended (NULL: timed out or did not start). */
static void on_lookup(void *arg, const struct mt6d_lookup_result *res, uint64_t ms)
{
	struct clid *d = arg;

	events_lookup(&d->ctl, res, ms);
	if (res && res->step == MT6D_LOOKUP_OK)
		log_info("rendezvous: found window %" PRIu64 " through %s in %" PRIu64 " ms",
		         res->window, mt6d_rdv_transport_name(res->transport), ms);
	else
		log_warn("rendezvous failed: %s",
		         res ? mt6d_lookup_step_name(res->step) : "timed out or did not start");
}

static void read_clock(void *arg, uint64_t *mono_ms, uint64_t *unix_ms)
{
	(void)arg;
	*mono_ms = mt6d_mono_ms();
	*unix_ms = mt6d_unix_ms();
}

/* ---- the clock against the server's ---- */

/* A clock that does not step and goes on during a suspend. */
static uint64_t boot_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_server_time(void *arg, int64_t offset_ms, uint64_t unix_ms)
{
	struct clid *d = arg;

	mt6d_clock_est_sample(&d->clock, offset_ms, unix_ms, boot_ms());
}

/* "5.0 s ahead of", "60.0 s behind", "12 ms ahead of" */
static const char *clock_words(char *buf, size_t len, int64_t off)
{
	uint64_t a = (uint64_t)(off < 0 ? -off : off);

	if (a < 1000)
		snprintf(buf, len, "%" PRIu64 " ms %s", a, off < 0 ? "behind" : "ahead of");
	else
		snprintf(buf, len, "%.1f s %s", (double)a / 1000.0,
		         off < 0 ? "behind" : "ahead of");
	return buf;
}

static void clock_check(struct clid *d, uint64_t now)
{
	const struct mt6d_cli *c = d->cli;
	uint32_t tol;
	int64_t off = 0;
	char w[48];

	if (c->have_tun && c->tun.rot_ms)
		d->clock_rot_ms = c->tun.rot_ms;
	tol = mt6d_clock_tolerance_ms(d->clock_rot_ms);
	switch (mt6d_clock_est_news(&d->clock, now, boot_ms(), tol, &off)) {
	case MT6D_CLOCK_OFF:
	case MT6D_CLOCK_MOVED:
		log_warn("clock: this host's clock seems %s the server's (sessions need it within "
		         "%u ms, half a slot): fix the clock (NTP); until then no session can be "
		         "made",
		         clock_words(w, sizeof(w), off), tol);
		break;
	case MT6D_CLOCK_BACK:
		log_info("clock: %s the server's, within %u ms again%s",
		         clock_words(w, sizeof(w), off), tol,
		         c->state == MT6D_CLI_BACKOFF || c->state == MT6D_CLI_INTRO
		                 ? "; trying again now"
		                 : "");
		mt6d_cli_retry(d->cli, now);
		break;
	case MT6D_CLOCK_NO_NEWS:
		break;
	}
}

/* MT6D_TEST_CLOCK_FILE: a test knob, the wall clock shifted by the number
 * of ms in the file (tests/netns/test_clock.sh). */
static void test_clock_read(struct clid *d)
{
	char buf[32], *end;
	long long v;
	FILE *f = fopen(d->test_clock_file, "r");
	size_t n;

	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	errno = 0;
	v = strtoll(buf, &end, 10);
	while (*end == ' ' || *end == '\n')
		end++;
	if (end == buf || *end || errno || v < -86400000LL || v > 86400000LL) {
		log_warn("MT6D_TEST_CLOCK_FILE `%s': `%.20s' is not a shift in ms (-86400000 to "
		         "86400000)",
		         d->test_clock_file, buf);
		return;
	}
	if (v != mt6d_test_clock_shift_ms) {
		log_warn("test clock: the wall clock is shifted by %+lld ms (MT6D_TEST_CLOCK_FILE)",
		         v);
		mt6d_test_clock_shift_ms = v;
	}
}

static void on_test_clock(struct ev_loop *loop, ev_timer *w, int revents)
{
	test_clock_read(w->data);
}

/* ---- data path and timers ---- */

static void on_udp(struct ev_loop *loop, ev_io *w, int revents)
{
	struct clid *d = w->data;
	struct mt6d_tun_slot *sl = &d->cli->tun.win[w - d->sock_w];
	int fd = w->fd;

	for (int i = 0; i < BATCH; i++) {
		struct mt6d_endpoint from, local;
		size_t gso;
		int n = dp_recv(&d->dp, fd, d->ubuf, DP_RX_BUF, &from, NULL, &gso);

		if (n == -EAGAIN)
			break;
		if (n < 0)
			continue;
		local = sl->local;
		mt6d_cli_input_batch(d->cli, &local, &from, d->ubuf, (size_t)n, gso,
		                     mt6d_unix_ms());
		/* The input may have changed the session: this socket may be
		 * closed and its slot reused. */
		if (!ev_is_active(w) || w->fd != fd || sl->fd != fd)
			break;
	}
	mt6d_cli_flush(d->cli);
}

static void on_underlay(struct ev_loop *loop, ev_io *w, int revents)
{
	static const struct mt6d_endpoint any;
	struct clid *d = w->data;

	for (int i = 0; i < BATCH; i++) {
		struct mt6d_endpoint from;
		size_t gso;
		int n = dp_recv(&d->dp, d->ul_fd, d->ubuf, DP_RX_BUF, &from, NULL, &gso);

		if (n == -EAGAIN)
			break;
		if (n >= 0)
			mt6d_cli_input_batch(d->cli, &any, &from, d->ubuf, (size_t)n, gso,
			                     mt6d_unix_ms());
	}
	mt6d_cli_flush(d->cli);
}

/* prefix = auto: the uplink's /64, checked every second. The current one
 * is kept while an address in it is there (a renumbering adds the new
 * prefix before it removes the old); when it is gone, another one moves
 * the session there (a claim); none at all changes nothing yet. */
static void on_prefix_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct clid *d = w->data;
	uint8_t p[8], a[16] = {0}, b[16] = {0};
	char x[64], y[64];

	if (nl_prefix64(d->nl, d->uplink_ifindex, p, d->cli->cfg.prefix) == 0 &&
	    memcmp(p, d->cli->cfg.prefix, 8) != 0) {
		memcpy(a, d->cli->cfg.prefix, 8);
		memcpy(b, p, 8);
		log_info("prefix of %s changed: %s/64 -> %s/64%s", d->conf.uplink,
		         sessd_addr(x, sizeof(x), a), sessd_addr(y, sizeof(y), b),
		         d->cli->state == MT6D_CLI_SESSION ? ", rebinding the session" : "");
		mt6d_cli_set_prefix(d->cli, p, mt6d_unix_ms());
	}
}

static void on_tun(struct ev_loop *loop, ev_io *w, int revents)
{
	struct clid *d = w->data;

	for (int i = 0; i < BATCH; i++) {
		struct mt6d_offload off;
		int n = dp_tun_read(&d->dp, d->tun_fd, d->rbuf, DP_VNET_LEN + MT6D_INNER_MAX, &off);

		if (n == -EAGAIN)
			break;
		if (n > 0)
			mt6d_cli_output(d->cli, d->rbuf + DP_VNET_LEN, (size_t)n, &off,
			                mt6d_unix_ms());
	}
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct clid *d = w->data;
	uint64_t now = mt6d_unix_ms(), next;

	clock_check(d, now); /* first: it may end a backoff */
	next = mt6d_cli_tick(d->cli, now);
	events_poll_client(&d->ctl, &d->evw, d->cli, d->run.dht, now);
	ev_timer_stop(loop, w);
	ev_timer_set(w, next > now ? (double)(next - now + 1) / 1000.0 : 0.001, 0.);
	ev_timer_start(loop, w);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_info("%s, ending the session and cleaning up", strsignal(w->signum));
	ev_break(loop, EVBREAK_ALL);
}

/* ---- control socket ---- */

static void status_json(struct clid *d, FILE *out)
{
	const struct mt6d_cli *c = d->cli;
	const struct mt6d_tun_slot *sl =
	        c->have_tun ? &c->tun.win[c->tun.cur % MT6D_TUN_SLOTS] : NULL;
	const struct mt6d_tun_stats *ts = &c->tun.stats;
	char a[64], b[64], l[80], r[80], k[MT6D_KEY_B64_LEN + 1], j[SESSD_JSON_LEN(16)];

	mt6d_key_to_base64(k, d->conf.server_pub);
	fprintf(out,
	        "{\"role\":\"client\",\"interface\":\"%s\",\"server_public_key\":\"%s\","
	        "\"state\":\"%s\",\"now_ms\":%" PRIu64 ",\"started_ms\":%" PRIu64
	        ",\"first_session_ms\":%" PRIu64 ",\"mode\":\"%s\",",
	        sessd_json(j, sizeof(j), d->conf.ifname), k, mt6d_cli_state_name(c->state),
	        mt6d_unix_ms(), d->started_ms, d->first_session_ms,
	        d->conf.underlay ? "underlay"
	        : d->conf.routed ? "routed"
	        : d->conf.ndp    ? "ndp"
	                         : "bind");
	ndp_status_json(d->ndp, out);
	if (!d->conf.underlay) {
		uint8_t p[16] = {0};
		memcpy(p, c->cfg.prefix, 8);
		fprintf(out, "\"prefix\":\"%s/64\",", sessd_addr(a, sizeof(a), p));
	} else if (c->state == MT6D_CLI_INTRO || c->state == MT6D_CLI_SESSION) {
		fprintf(out, "\"underlay\":\"%s\",",
		        mt6d_endpoint_format(l, sizeof(l), &c->underlay));
	}
	if (c->have_grant)
		fprintf(out, "\"conn\":%u,\"grant_epoch\":%" PRIu64 ",", c->grant.conn,
		        c->grant.epoch);
	{
		int64_t off;

		if (mt6d_clock_est_get(&d->clock, mt6d_unix_ms(), boot_ms(), &off))
			fprintf(out, "\"clock_offset_ms\":%" PRId64 ",", off);
		else
			fputs("\"clock_offset_ms\":null,", out);
		fprintf(out, "\"clock_tolerance_ms\":%u,\"clock_samples\":%" PRIu64 ",",
		        mt6d_clock_tolerance_ms(d->clock_rot_ms), d->clock.samples);
	}
	if (c->state == MT6D_CLI_SESSION)
		fprintf(out,
		        "\"tunnel\":\"%s\",\"server_tunnel\":\"%s\",\"session_ms\":%" PRIu64 ",",
		        sessd_addr(a, sizeof(a), c->client_tun),
		        sessd_addr(b, sizeof(b), c->server_tun), c->session_ms);
	if (c->state == MT6D_CLI_INTRO || c->state == MT6D_CLI_SESSION)
		fprintf(out, "\"window\":%" PRIu64 ",\"seed\":\"%s\",", c->intro.window,
		        sessd_addr(a, sizeof(a), c->intro.seed_addr));
	if (sl && d->conf.underlay)
		fprintf(out, "\"remote\":\"%s\",",
		        mt6d_endpoint_format(r, sizeof(r), &c->underlay));
	else if (sl)
		fprintf(out,
		        "\"slot\":%" PRIu64
		        ",\"local\":\"%s\",\"remote\":\"%s\",\"rotation_ms\":%u,",
		        c->tun.cur, mt6d_endpoint_format(l, sizeof(l), &sl->local),
		        mt6d_endpoint_format(r, sizeof(r), &sl->remote), c->tun.rot_ms);
	fprintf(out,
	        "\"last_rx_ms\":%" PRIu64 ",\"rx_packets\":%" PRIu64 ",\"rx_bytes\":%" PRIu64
	        ",\"tx_packets\":%" PRIu64 ",\"tx_bytes\":%" PRIu64 ",\"rotations\":%" PRIu64 ",",
	        c->last_rx_ms, ts->rx_packets, ts->rx_bytes, ts->tx_packets, ts->tx_bytes,
	        ts->rotations);
	fprintf(out,
	        "\"dropped\":{\"rx_not_ours\":%" PRIu64 ",\"rx_truncated\":%" PRIu64
	        ",\"rx_forged\":%" PRIu64 ",\"rx_replayed\":%" PRIu64 ",\"rx_bad_inner\":%" PRIu64
	        ",\"rx_bad_msg\":%" PRIu64 ",\"tx_no_session\":%" PRIu64 ",\"tx_unsealed\":%" PRIu64
	        ",",
	        c->stats.rx_not_ours, c->stats.rx_truncated + d->dp.st.rx_truncated,
	        c->stats.rx_forged, c->stats.rx_replayed, c->stats.rx_bad_inner,
	        c->stats.rx_bad_msg, c->stats.tx_no_session, ts->tx_errors);
	dp_json_drops(out, &d->dp);
	fputs("},", out);
	dp_json_counts(out, &d->dp);
	fputc(',', out);
	fprintf(out,
	        "\"stats\":{\"lookups\":%" PRIu64 ",\"lookups_failed\":%" PRIu64
	        ",\"requests_sent\":%" PRIu64 ",\"responses\":%" PRIu64 ",\"sessions\":%" PRIu64
	        ",\"rx_not_ours\":%" PRIu64 ",\"rx_forged\":%" PRIu64 ",\"rx_replayed\":%" PRIu64
	        ",\"rx_truncated\":%" PRIu64 ",\"rx_bad_inner\":%" PRIu64 ",\"rx_bad_msg\":%" PRIu64
	        ",\"tx_no_session\":%" PRIu64 ",\"teardowns_rx\":%" PRIu64
	        ",\"server_silent\":%" PRIu64 ",\"intro_timeouts\":%" PRIu64
	        ",\"tx_errors\":%" PRIu64 ",\"tun_errors\":%" PRIu64 ",",
	        c->stats.lookups, c->stats.lookups_failed, c->stats.requests_sent,
	        c->stats.responses, c->stats.sessions, c->stats.rx_not_ours, c->stats.rx_forged,
	        c->stats.rx_replayed, c->stats.rx_truncated, c->stats.rx_bad_inner,
	        c->stats.rx_bad_msg, c->stats.tx_no_session, c->stats.teardowns_rx,
	        c->stats.server_silent, c->stats.intro_timeouts,
	        d->dp.st.tx_full + d->dp.st.tx_failed, d->dp.st.tun_tx_failed + d->dp.st.tun_bad);
	fprintf(out,
	        "\"replies_rx\":%" PRIu64 ",\"replies_ignored\":%" PRIu64
	        ",\"claims_sent\":%" PRIu64 ",\"rebinds\":%" PRIu64 ",\"prefix_changes\":%" PRIu64
	        ",\"renewals_rx\":%" PRIu64 ",\"no_underlay\":%" PRIu64 "}}",
	        c->stats.replies_rx, c->stats.replies_ignored, c->stats.claims_sent,
	        c->stats.rebinds, c->stats.prefix_changes, c->stats.renewals_rx,
	        c->stats.no_underlay);
}

static void show_text(struct clid *d, FILE *out)
{
	const struct mt6d_cli *c = d->cli;
	uint64_t now = mt6d_unix_ms();
	char a[64], b[80], e[80], x[32], y[32], k[MT6D_KEY_B64_LEN + 1];

	mt6d_key_to_base64(k, d->conf.server_pub);
	fprintf(out, "client: %s\n  server public key: %s\n  state: %s\n", d->conf.ifname, k,
	        mt6d_cli_state_name(c->state));
	if (c->state == MT6D_CLI_INTRO || c->state == MT6D_CLI_SESSION)
		fprintf(out, "  introduction: window %" PRIu64 ", server seed %s\n",
		        c->intro.window, sessd_addr(a, sizeof(a), c->intro.seed_addr));
	if (c->state == MT6D_CLI_SESSION) {
		fprintf(out, "  tunnel address: %s/%u (server %s)\n",
		        sessd_addr(a, sizeof(a), c->client_tun), c->tun_prefix_len,
		        sessd_addr(b, sizeof(b), c->server_tun));
		fprintf(out, "  established: %s\n", sessd_ago(x, sizeof(x), now, c->session_ms));
	}
	if (c->have_tun) {
		const struct mt6d_tun_slot *sl = &c->tun.win[c->tun.cur % MT6D_TUN_SLOTS];
		if (d->conf.underlay)
			fprintf(out, "  endpoint: server underlay %s\n",
			        mt6d_endpoint_format(e, sizeof(e), &c->underlay));
		else
			fprintf(out,
			        "  endpoints: local %s, remote %s (slot %" PRIu64
			        ", every %u ms)\n",
			        mt6d_endpoint_format(b, sizeof(b), &sl->local),
			        mt6d_endpoint_format(e, sizeof(e), &sl->remote), c->tun.cur,
			        c->tun.rot_ms);
		if (c->stats.claims_sent)
			fprintf(out,
			        "  rebinding: %" PRIu64 " rebinds, %" PRIu64
			        " claims sent, %" PRIu64 " replies (%" PRIu64 " ignored), %" PRIu64
			        " prefix changes\n",
			        c->stats.rebinds, c->stats.claims_sent, c->stats.replies_rx,
			        c->stats.replies_ignored, c->stats.prefix_changes);
		fprintf(out, "  transfer: %s received, %s sent\n",
		        sessd_bytes(x, sizeof(x), c->tun.stats.rx_bytes),
		        sessd_bytes(y, sizeof(y), c->tun.stats.tx_bytes));
		fprintf(out, "  last packet: %s; %" PRIu64 " rotations\n",
		        sessd_ago(x, sizeof(x), now, c->last_rx_ms), c->tun.stats.rotations);
	} else if (c->state == MT6D_CLI_BACKOFF) {
		fprintf(out, "  next rendezvous in %.1f s\n",
		        (double)(c->next_ms > now ? c->next_ms - now : 0) / 1000.0);
	}
	fprintf(out, "  sessions so far: %" PRIu64 ", lookups: %" PRIu64 " (%" PRIu64 " failed)\n",
	        c->stats.sessions, c->stats.lookups, c->stats.lookups_failed);
	{
		uint32_t tol = mt6d_clock_tolerance_ms(d->clock_rot_ms);
		int64_t off;
		char w[48];

		if (!mt6d_clock_est_get(&d->clock, now, boot_ms(), &off))
			fputs("  clock: unknown (no keepalive from the server yet)\n", out);
		else if (off > (int64_t)tol || off < -(int64_t)tol)
			fprintf(out,
			        "  clock: %s the server's, beyond %u ms: fix the clock (NTP)\n",
			        clock_words(w, sizeof(w), off), tol);
		else
			fprintf(out, "  clock: %s the server's (within %u ms)\n",
			        clock_words(w, sizeof(w), off), tol);
	}
}

static void on_control(void *arg, const char *req, FILE *out)
{
	struct clid *d = arg;

	if (!strcmp(req, "status") || !strcmp(req, "status brief"))
		status_json(d, out);
	else if (!strcmp(req, "show"))
		show_text(d, out);
	else
		fprintf(out, "{\"error\":\"unknown request\"}");
}

/* ---- setup and teardown ---- */

static int setup(struct clid *d, const uint8_t priv[static MT6D_KEY_LEN])
{
	struct conf *c = &d->conf;
	struct mt6d_cli_config cc = {
	        .keepalive_s = c->keepalive_s,
	        .send = on_send,
	        .deliver = on_deliver,
	        .on_slot = on_slot,
	        .on_state = on_state,
	        .arg = d,
	};
	struct mt6d_dht_config dc = {.read_only = true};
	char err[512];
	int ret;

	d->test_clock_file = getenv("MT6D_TEST_CLOCK_FILE");
	if (d->test_clock_file && !d->test_clock_file[0])
		d->test_clock_file = NULL;
	if (d->test_clock_file)
		test_clock_read(d);
	d->started_ms = mt6d_unix_ms();
	ret = nl_open(&d->nl);
	if (ret < 0)
		return log_error("netlink: %s", strerror(-ret)), ret;
	ret = sessd_state_open(&d->st, d->nl, c->state_file,
	                       &(struct state_allow){.uplink = c->uplink, .user = c->user}, WHO);
	if (ret < 0)
		return ret;
	d->tun_fd = dp_tun_open(c->ifname);
	if (d->tun_fd < 0)
		return log_error("TUN device `%s': %s", c->ifname, strerror(-d->tun_fd)), d->tun_fd;
	d->tun_ifindex = if_nametoindex(c->ifname);
	ret = nl_link_up(d->nl, d->tun_ifindex, MT6D_TUN_MTU);
	if (ret < 0)
		return log_error("%s: link up: %s", c->ifname, strerror(-ret)), ret;
	if (c->underlay) {
		struct mt6d_endpoint any = {.port = 0};

		d->ul_fd = d->dp.ul_fd = dp_dual_socket(&any);
		if (d->ul_fd < 0)
			return log_error("underlay socket: %s", strerror(-d->ul_fd)), d->ul_fd;
	} else if (c->routed) {
		struct state_item it = {.kind = STATE_ROUTE_LOCAL, .plen = 64, .ifname = "lo"};

		d->lo_ifindex = if_nametoindex("lo");
		memcpy(it.addr, c->prefix, 8);
		ret = state_add(&d->st, &it);
		if (ret == 0)
			ret = nl_route(d->nl, true, true, d->lo_ifindex, it.addr, 64);
		if (ret < 0) {
			state_del(&d->st, &it);
			return log_error("local route for the /64 on lo: %s", strerror(-ret)), ret;
		}
		d->local_route = true;
	} else if (c->ndp) { /* the /64 is local only as it arrives on the uplink (ndp.h) */
		ret = ndp_routing(d->nl, &d->st, true, c->uplink, c->prefix); /* logs */
		if (ret < 0)
			return ret;
		d->ndp_routing = true;
		d->ndp = ndp_open(d->loop, c->uplink, c->prefix, err, sizeof(err));
		if (!d->ndp)
			return log_error("ndp: %s", err), -errno;
	} else {
		d->uplink_ifindex = if_nametoindex(c->uplink);
		if (!d->uplink_ifindex)
			return log_error("uplink `%s': %s", c->uplink, strerror(errno)), -ENODEV;
		if (c->prefix_auto &&
		    (ret = nl_prefix64(d->nl, d->uplink_ifindex, c->prefix, NULL)) < 0)
			return log_error("prefix = auto: `%s' has no global /64 address",
			                 c->uplink),
			       ret;
	}
	d->ubuf = malloc(DP_RX_BUF);
	d->rbuf = malloc(DP_VNET_LEN + MT6D_INNER_MAX);
	if (!d->ubuf || !d->rbuf)
		return -ENOMEM;

	if (dhtrun_start(&d->run, d->loop, &c->listen[0], &dc, err, sizeof(err)) < 0)
		return log_error("%s", err), -EIO;
	if (dhtrun_bootstrap(&d->run, c->bootstrap, c->nbootstrap) == 0)
		log_warn("no bootstrap node of the DHT listen address's family");

	memcpy(cc.client_priv, priv, MT6D_KEY_LEN);
	memcpy(cc.server_pub, c->server_pub, MT6D_KEY_LEN);
	if (!c->underlay)
		memcpy(cc.prefix, c->prefix, 8);
	cc.underlay = c->underlay;
	/* the client state machine runs its own rendezvous on this node */
	cc.dht = d->run.dht;
	memcpy(cc.periods, c->periods, sizeof(cc.periods));
	cc.transports = c->transports;
	cc.lookup_timeout_ms = (uint32_t)c->lookup_timeout_s * 1000;
	cc.clock = read_clock;
	cc.on_lookup = on_lookup;
	cc.on_server_time = on_server_time;
	d->cli = mt6d_cli_new(&cc);
	sodium_memzero(&cc, sizeof(cc));
	if (!d->cli)
		return log_error("the keys give an all-zero shared secret"), -EINVAL;
	if (c->control_socket[0] &&
	    control_start(&d->ctl, d->loop, c->control_socket, on_control, d, err, sizeof(err)) < 0)
		return log_error("%s", err), -EIO;

	ev_io_init(&d->tun_w, on_tun, d->tun_fd, EV_READ);
	d->tun_w.data = d;
	ev_io_start(d->loop, &d->tun_w);
	if (d->ul_fd >= 0) {
		ev_io_init(&d->ul_w, on_underlay, d->ul_fd, EV_READ);
		d->ul_w.data = d;
		ev_io_start(d->loop, &d->ul_w);
	}
	if (d->test_clock_file) {
		ev_timer_init(&d->test_clock_w, on_test_clock, 1., 1.);
		d->test_clock_w.data = d;
		ev_timer_start(d->loop, &d->test_clock_w);
	}
	if (c->prefix_auto) {
		ev_timer_init(&d->prefix_w, on_prefix_timer, 1., 1.);
		d->prefix_w.data = d;
		ev_timer_start(d->loop, &d->prefix_w);
	}
	ev_signal_init(&d->sig_int, on_signal, SIGINT);
	ev_signal_init(&d->sig_term, on_signal, SIGTERM);
	d->sig_int.data = d->sig_term.data = d;
	ev_signal_start(d->loop, &d->sig_int);
	ev_signal_start(d->loop, &d->sig_term);
	if (c->underlay) {
		log_info("%s up, underlay mode", c->ifname);
	} else {
		uint8_t a[16] = {0};
		char x[64];

		memcpy(a, c->prefix, 8);
		log_info("%s up, %s mode, prefix %s/64%s on %s", c->ifname,
		         c->routed ? "routed"
		         : c->ndp  ? "ndp"
		                   : "bind",
		         sessd_addr(x, sizeof(x), a), c->prefix_auto ? " (auto)" : "",
		         c->routed ? "lo" : c->uplink);
	}
	/* The first lookup starts at once: the bootstrap nodes are its seeds
	 * (mt6d_dht_add_node), as for mt6d lookup. */
	mt6d_cli_start(d->cli, mt6d_unix_ms());
	ev_timer_init(&d->tick_w, on_tick, 0.1, 0.);
	d->tick_w.data = d;
	ev_timer_start(d->loop, &d->tick_w);
	return 0;
}

static void teardown(struct clid *d)
{
	if (d->cli) {
		/* Sends message 2 from the current slot, then closes them all. */
		mt6d_cli_close(d->cli, mt6d_unix_ms());
		set_tun_addr(d, false);
	}
	control_stop(&d->ctl);
	/* mt6d_cli_close cancelled the client's lookup: the node may go */
	dhtrun_stop(&d->run);
	mt6d_cli_free(d->cli);
	ndp_close(d->ndp);
	if (d->ndp_routing)
		ndp_routing(d->nl, &d->st, false, d->conf.uplink, d->conf.prefix);
	if (d->local_route) {
		struct state_item it = {.kind = STATE_ROUTE_LOCAL, .plen = 64, .ifname = "lo"};

		memcpy(it.addr, d->conf.prefix, 8);
		nl_route(d->nl, false, true, d->lo_ifindex, it.addr, 64);
		state_del(&d->st, &it);
	}
	if (d->tun_fd >= 0)
		close(d->tun_fd);
	if (d->ul_fd >= 0)
		close(d->ul_fd);
	sessd_state_close(&d->st, WHO);
	nl_close(d->nl);
	free(d->ubuf);
	free(d->rbuf);
	dp_free(&d->dp);
}

int clid_main(const char *path)
{
	uint8_t priv[MT6D_KEY_LEN];
	struct clid *d;
	int ret = 1;

	log_init("client", false);
	d = calloc(1, sizeof(*d));
	if (!d)
		return log_error("out of memory"), 1;
	d->tun_fd = d->ul_fd = -1;
	dp_init(&d->dp);
	d->ctl.fd = -1;
	if (conf_load(&d->conf, path, 0) < 0) {
		log_error("%s", d->conf.error);
		goto out;
	}
	if (d->conf.nlisten == 0 ||
	    (!d->conf.underlay && ((!d->conf.have_prefix && !d->conf.prefix_auto) ||
	                           (!d->conf.routed && !d->conf.uplink[0])))) {
		log_error(
		        "%s: mt6d client needs [dht] listen and, unless mode = underlay, [client] "
		        "prefix and uplink (or mode = routed)",
		        path);
		goto out;
	}
	if (d->conf.prefix_auto && (d->conf.routed || d->conf.ndp)) {
		log_error("%s: prefix = auto needs mode = bind (the uplink's /64)", path);
		goto out;
	}
	if (!d->conf.state_file[0])
		snprintf(d->conf.state_file, sizeof(d->conf.state_file),
		         "/run/mt6d/client-%s.state", d->conf.ifname);
	if (sessd_private_key(priv, d->conf.private_key) < 0)
		goto out;
	signal(SIGPIPE, SIG_IGN);
	d->loop = ev_default_loop(EVFLAG_AUTO);
	if (!d->loop) {
		log_error("cannot start the event loop");
		goto out;
	}
	ret = setup(d, priv) < 0 ? 1 : 0;
	sodium_memzero(priv, sizeof(priv));
	if (ret == 0 && privdrop(WHO, d->conf.user,
	                         &(struct privdrop_paths){
	                                 .rewrite = {d->conf.state_file, d->conf.dht_state}}) < 0)
		ret = 1;
	if (ret == 0) {
		ev_run(d->loop, 0);
		ret = d->fatal ? 1 : 0;
	}
out:
	sodium_memzero(priv, sizeof(priv));
	teardown(d);
	sodium_memzero(d, sizeof(*d));
	free(d);
	return ret;
}
