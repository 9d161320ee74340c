/* SPDX-License-Identifier: MIT */
/*
 * mt6d server -c FILE: the patent's server (Algorithm 1) in one process.
 *
 * Start-up: signals; the state file (undo a crashed run); the TUN device
 * with the server's tunnel address; the routed /64 (`local` route on lo)
 * and the nftables TPROXY rule that brings every datagram to it to one
 * socket; the raw send socket; the session server (src/lib/session/server.c); the
 * DHT node and the publisher, whose every new window opens an introduction
 * endpoint (SeedIPv6_S, K); the control socket. Then one libev loop: the
 * TUN fd, the receive socket, the DHT socket, the rotation timer (every
 * slot edge), the publication timer.
 *
 * Rules this file keeps:
 *  - In steady state only the introduction endpoints of the live windows
 *    answer; everything else to the /64 is dropped (counted).
 *  - Nothing per session touches the kernel: receiving is one socket,
 *    sending one raw socket, so rotating 100,000 sessions is table work.
 *  - The local route and the nftables table are in the state file before
 *    they exist and leave it after they are gone; SIGINT and SIGTERM tear
 *    every session down (message 2) and remove both; after SIGKILL the next
 *    start removes them before adding its own.
 */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include "dhtauto.h"
#include "dhtrun.h"
#include "events.h"
#include "sessd.h"
#include "mt6d/rendezvous.h"
#include "mt6d/server.h"

#define WHO          "server"
#define BATCH        64
#define SLOT_SOCKETS 1024 /* send sockets of slots that carry bursts */

struct srvd {
	struct ev_loop *loop;
	struct conf conf;
	uint8_t pub_key[MT6D_KEY_LEN];
	struct dhtrun run; /* [dht] listen = ADDRESS:PORT */
	struct dhtauto da; /* [dht] listen = auto: identities under the /64 */
	struct mt6d_pub *pub;
	struct mt6d_srv *srv;
	struct control ctl;
	struct events_watch evw;
	struct nl *nl;
	struct state st;
	int tun_fd, rx_fd, tx_fd, ul_fd; /* ul_fd: the underlay socket, -1 without */
	unsigned tun_ifindex, lo_ifindex;
	bool local_route, nft_table, ndp_routing;
	struct ndp *ndp; /* mode = ndp: the NDP responder on the uplink */
	char table[16];
	ev_io tun_w, rx_w, ul_w;
	ev_timer pub_w, srv_w;
	ev_signal sig_int, sig_term, sig_hup;
	struct dp dp; /* the data path's I/O and its counters */
	unsigned slot_sockets;
	uint64_t slot_socket_errors;
	uint8_t *ubuf; /* a receive batch, opened in place */
	uint8_t *rbuf; /* virtio_net_hdr + a packet read from the TUN device */
	uint64_t started_ms;
	bool pub_started; /* the first publication round began */
	/* The live introduction configurations, stored (introfile.c) so that
	 * a restart opens the same endpoints at once. */
	struct mt6d_intro intros[3];
	size_t nintros;
	char intro_path[600];
	uint64_t pub_start_ms; /* mono */
	bool verbose;
};

/* ---- library callbacks ---- */

/*
 * A burst (TCP segments of one TSO packet) from a slot with no socket gets
 * one: bound (FREEBIND) to the slot's endpoint, it sends the burst in one
 * UDP GSO call where the raw socket needs one datagram per packet, and the
 * peer receives it as one GRO batch. It only sends: unconnected, it is not
 * what TPROXY's lookup for an established socket finds, so every datagram
 * still reaches the one receive socket. It closes when its slot leaves the
 * window; at most SLOT_SOCKETS are open (the rest send raw).
 */
static void on_send(void *arg, const struct mt6d_tx *tx)
{
	struct srvd *d = arg;
	struct mt6d_tun_slot *sl = tx->slot;

	if (sl && sl->fd < 0 && tx->n > 1 && d->slot_sockets < SLOT_SOCKETS) {
		int fd = dp_slot_socket(&sl->local);

		if (fd >= 0) {
			sl->fd = fd;
			d->slot_sockets++;
		} else {
			d->slot_socket_errors++;
		}
	}
	dp_send(&d->dp, tx);
}

static void on_deliver(void *arg, struct mt6d_srv_session *s, uint8_t *pkt, size_t len,
                       const struct mt6d_offload *off)
{
	struct srvd *d = arg;

	dp_tun_write(&d->dp, d->tun_fd, pkt, len, off);
}

static void on_slot(struct mt6d_tun_session *t, struct mt6d_tun_slot *sl, bool add, void *arg)
{
	struct srvd *d = arg;

	ndp_slot(d->ndp, sl->local.addr, add); /* sessions and introduction endpoints */
	if (!add && sl->fd >= 0) {
		close(sl->fd);
		sl->fd = -1;
		d->slot_sockets--;
	}
	if (t->user) /* a session, not an introduction endpoint */
		events_slot(&((struct srvd *)arg)->ctl, ((struct mt6d_srv_session *)t->user)->name,
		            t, sl, add);
}

static void on_session(void *arg, struct mt6d_srv_session *s, bool up, enum mt6d_srv_end why)
{
	char a[64], ep[80];

	events_session(&((struct srvd *)arg)->ctl, s->name, up,
	               up ? "established" : mt6d_srv_end_name(why));

	if (up && s->underlay)
		log_info("session up: %s, tunnel %s, underlay from %s", s->name,
		         sessd_addr(a, sizeof(a), s->client_tun),
		         mt6d_endpoint_format(ep, sizeof(ep), &s->peer));
	else if (up)
		log_info("session up: %s, tunnel %s, local %s", s->name,
		         sessd_addr(a, sizeof(a), s->client_tun),
		         mt6d_endpoint_format(ep, sizeof(ep),
		                              &s->tun.win[s->tun.cur % MT6D_TUN_SLOTS].local));
	else
		log_info("session down: %s (%s), %" PRIu64 " packets in, %" PRIu64 " out", s->name,
		         mt6d_srv_end_name(why), s->tun.stats.rx_packets, s->tun.stats.tx_packets);
}

/* Keep the stored copy of the live configurations current. */
static void intros_note(struct srvd *d, const struct mt6d_intro *intro, uint64_t window)
{
	size_t i;
	int ret;

	for (i = 0; i < d->nintros && d->intros[i].window != window; i++)
		;
	if (!intro && i < d->nintros) {
		d->intros[i] = d->intros[--d->nintros];
		sodium_memzero(&d->intros[d->nintros], sizeof(d->intros[0]));
	} else if (intro && (i < d->nintros || d->nintros < 3)) {
		d->intros[i] = *intro;
		if (i == d->nintros)
			d->nintros++;
	}
	if (d->intro_path[0] && (ret = introfile_save(d->intro_path, d->intros, d->nintros)) < 0)
		log_warn("cannot store the introduction configurations in `%s': %s", d->intro_path,
		         strerror(-ret));
}

/* After a restart: the configurations the previous run stored, whose
 * endpoints the clients find in the DHT, open now (issue 15). */
static void intros_restore(struct srvd *d)
{
	struct mt6d_intro v[3];
	char err[700];
	int n = introfile_load(d->intro_path, v, 3, err, sizeof(err));

	if (n == -ENOENT)
		return;
	if (n < 0) {
		log_warn("%s; making new introduction configurations", err);
		return;
	}
	for (int i = 0; i < n; i++) {
		int ret = mt6d_pub_restore(d->pub, &v[i], mt6d_unix_ms());

		if (ret == 0)
			log_info("window %" PRIu64 ": introduction configuration restored from %s",
			         v[i].window, d->intro_path);
		else if (ret != -ESTALE)
			log_warn("window %" PRIu64 ": stored configuration not used: %s",
			         v[i].window,
			         ret == -EINVAL ? "period, rotation or prefix changed"
			                        : strerror(-ret));
	}
	sodium_memzero(v, sizeof(v));
	/* What was not restored is gone from the file too. */
	if (introfile_save(d->intro_path, d->intros, d->nintros) < 0)
		unlink(d->intro_path);
}

static void on_intro(void *arg, const struct mt6d_intro *intro, uint64_t window)
{
	struct srvd *d = arg;
	char a[64];
	int ret;

	intros_note(d, intro, window);
	if (!intro) {
		mt6d_srv_intro_drop(d->srv, window);
		log_info("introduction endpoint of window %" PRIu64 " closed", window);
		return;
	}
	ret = mt6d_srv_intro_add(d->srv, intro, mt6d_unix_ms());
	if (ret < 0)
		log_warn("introduction endpoint of window %" PRIu64 ": %s", window, strerror(-ret));
	else
		log_info("introduction endpoint of window %" PRIu64
		         " open: seed %s, rotation %u ms",
		         window, sessd_addr(a, sizeof(a), intro->seed_addr), intro->rot_ms);
}

/* ---- loop callbacks ---- */

static void on_rx(struct ev_loop *loop, ev_io *w, int revents)
{
	struct srvd *d = w->data;

	for (int i = 0; i < BATCH; i++) {
		struct mt6d_endpoint from, to;
		size_t gso;
		int n = dp_recv(&d->dp, d->rx_fd, d->ubuf, DP_RX_BUF, &from, &to, &gso);

		if (n == -EAGAIN)
			break;
		if (n >= 0 && d->conf.dht_auto &&
		    dhtauto_input(&d->da, &to, &from, d->ubuf, (size_t)n, gso))
			continue;
		if (n >= 0)
			mt6d_srv_input_batch(d->srv, &to, &from, d->ubuf, (size_t)n, gso,
			                     mt6d_unix_ms());
	}
	mt6d_srv_flush(d->srv);
}

struct ul_batch {
	struct srvd *d;
	const struct mt6d_endpoint *from;
	uint64_t now;
};

static void ul_one(void *arg, uint8_t *dgram, size_t len)
{
	struct ul_batch *b = arg;

	mt6d_srv_input_underlay(b->d->srv, b->from, dgram, len, b->now);
}

static void on_underlay(struct ev_loop *loop, ev_io *w, int revents)
{
	struct srvd *d = w->data;

	for (int i = 0; i < BATCH; i++) {
		struct mt6d_endpoint from;
		struct ul_batch b = {.d = d, .from = &from, .now = mt6d_unix_ms()};
		size_t gso;
		int n = dp_recv(&d->dp, d->ul_fd, d->ubuf, DP_RX_BUF, &from, NULL, &gso);

		if (n == -EAGAIN)
			break;
		if (n >= 0)
			mt6d_batch_each(d->ubuf, (size_t)n, gso, ul_one, &b);
	}
}

static void on_tun(struct ev_loop *loop, ev_io *w, int revents)
{
	struct srvd *d = w->data;

	for (int i = 0; i < BATCH; i++) {
		struct mt6d_offload off;
		int n = dp_tun_read(&d->dp, d->tun_fd, d->rbuf, DP_VNET_LEN + MT6D_INNER_MAX, &off);

		if (n == -EAGAIN)
			break;
		if (n > 0)
			mt6d_srv_output(d->srv, d->rbuf + DP_VNET_LEN, (size_t)n, &off,
			                mt6d_unix_ms());
	}
}

static void on_srv_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct srvd *d = w->data;
	uint64_t now = mt6d_unix_ms(), next = mt6d_srv_tick(d->srv, now);

	events_poll_server(&d->ctl, &d->evw, d->srv, d->pub,
	                   d->conf.dht_auto ? dhtauto_dht(&d->da) : d->run.dht, now);
	/* 1 ms past the edge so the clock reads the new slot when it fires. */
	ev_timer_set(w, next > now ? (double)(next - now + 1) / 1000.0 : 0.001, 0.);
	ev_timer_start(loop, w);
}

static void on_pub_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct srvd *d = w->data;
	uint64_t mono = mt6d_mono_ms(), next;

	/* The first round waits for the routing table (dhtrun_ready). */
	if (!d->pub_started && !(d->conf.dht_auto ? dhtauto_ready(&d->da, d->pub_start_ms, 5000)
	                                          : dhtrun_ready(&d->run, d->pub_start_ms, 5000))) {
		ev_timer_stop(loop, w);
		ev_timer_set(w, 0.2, 0.);
		ev_timer_start(loop, w);
		return;
	}
	d->pub_started = true;
	next = mt6d_pub_tick(d->pub, mono, mt6d_unix_ms());
	if (d->conf.dht_auto)
		dhtauto_kick(&d->da);
	else
		dhtrun_kick(&d->run);
	ev_timer_stop(loop, w);
	ev_timer_set(w, next > mono ? (double)(next - mono) / 1000.0 : 0.0, 0.);
	ev_timer_start(loop, w);
}

static int reload(struct srvd *d)
{
	struct mt6d_registry reg;
	char err[300];
	int ret = mt6d_registry_load(&reg, d->conf.clients, err, sizeof(err));

	if (ret < 0) {
		log_warn("%s", err);
		return ret;
	}
	ret = mt6d_srv_set_clients(d->srv, &reg, mt6d_unix_ms());
	if (ret == 0 && d->pub)
		ret = mt6d_pub_set_clients(d->pub, &reg);
	if (ret == 0)
		log_info("%zu registered clients", reg.n);
	if (ret == 0 && d->pub_started) {
		/* Added clients are published now, not at the timer's next wake. */
		ev_timer_stop(d->loop, &d->pub_w);
		ev_timer_set(&d->pub_w, 0., 0.);
		ev_timer_start(d->loop, &d->pub_w);
	}
	if (ret < 0)
		log_warn("registry: %s", strerror(-ret));
	mt6d_registry_free(&reg);
	return ret;
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct srvd *d = w->data;

	if (w->signum == SIGHUP) {
		if (reload(d) < 0)
			log_warn("keeping the previous registry");
		return;
	}
	log_info("%s, tearing down %zu session(s) and cleaning up", strsignal(w->signum),
	         mt6d_srv_count(d->srv));
	ev_break(loop, EVBREAK_ALL);
}

/* ---- control socket ---- */

static void json_tun_stats(FILE *out, const struct mt6d_tun_stats *s)
{
	fprintf(out,
	        "\"rx_packets\":%" PRIu64 ",\"rx_bytes\":%" PRIu64 ",\"tx_packets\":%" PRIu64
	        ",\"tx_bytes\":%" PRIu64 ",\"rx_forged\":%" PRIu64 ",\"rx_replayed\":%" PRIu64
	        ",\"rx_truncated\":%" PRIu64 ",\"rx_bad_inner\":%" PRIu64 ",\"tx_errors\":%" PRIu64
	        ",\"rotations\":%" PRIu64,
	        s->rx_packets, s->rx_bytes, s->tx_packets, s->tx_bytes, s->rx_forged,
	        s->rx_replayed, s->rx_truncated, s->rx_bad_inner, s->tx_errors, s->rotations);
}

static void status_json(struct srvd *d, FILE *out, bool brief)
{
	uint64_t now = mt6d_unix_ms();
	struct mt6d_srv_intro_info in[4];
	struct mt6d_srv_stats st;
	struct mt6d_pub_status ps;
	char a[64], b[80], k[MT6D_KEY_B64_LEN + 1], j[SESSD_JSON_LEN(MT6D_NAME_MAX)];
	uint8_t tun[16] = {0};
	size_t ni = mt6d_srv_intros(d->srv, in, 4), first = 1;

	mt6d_srv_get_stats(d->srv, &st);
	mt6d_pub_get_status(d->pub, &ps);
	mt6d_key_to_base64(k, d->pub_key);
	memcpy(tun, d->conf.prefix, 8);
	fprintf(out, "{\"role\":\"server\",\"interface\":\"%s\",\"public_key\":\"%s\",",
	        sessd_json(j, sizeof(j), d->conf.ifname), k);
	fprintf(out, "\"prefix\":\"%s/64\",", sessd_addr(a, sizeof(a), tun));
	memcpy(tun, d->conf.tun_prefix, 8);
	tun[15] = 1;
	fprintf(out,
	        "\"tunnel_address\":\"%s/64\",\"now_ms\":%" PRIu64 ",\"uptime_s\":%" PRIu64
	        ",\"clients\":%zu,\"session_count\":%zu,",
	        sessd_addr(a, sizeof(a), tun), now, (now - d->started_ms) / 1000,
	        mt6d_srv_clients(d->srv), mt6d_srv_count(d->srv));
	fprintf(out,
	        "\"publisher\":{\"window\":%" PRIu64 ",\"period\":%u,\"rotation_ms\":%u,"
	        "\"round_window\":%" PRIu64 ",\"done\":%zu,\"total\":%zu,\"failed\":%zu},",
	        ps.window, ps.period, ps.rot_ms, ps.round_window, ps.round_done, ps.round_total,
	        ps.round_failed);
	if (d->conf.dht_auto)
		fprintf(out,
		        "\"dht_auto\":{\"identities_made\":%" PRIu64 ",\"closed\":%" PRIu64
		        ",\"closed_busy\":%" PRIu64 ",\"live\":%u,\"clients_max\":%d},",
		        d->da.made, d->da.closed, d->da.cut, d->da.live, DHTAUTO_CLIENTS);
	fprintf(out, "\"introduction\":[");
	for (size_t i = 0; i < ni && i < 4; i++)
		fprintf(out,
		        "%s{\"window\":%" PRIu64 ",\"seed\":\"%s\",\"slot\":%" PRIu64
		        ",\"endpoint\":\"%s\",\"rotation_ms\":%u}",
		        i ? "," : "", in[i].window, sessd_addr(a, sizeof(a), in[i].seed_addr),
		        in[i].slot, mt6d_endpoint_format(b, sizeof(b), &in[i].cur), in[i].rot_ms);
	fprintf(out,
	        "],\"stats\":{\"intro_rx\":%" PRIu64 ",\"intro_limited\":%" PRIu64
	        ",\"intro_unknown\":%" PRIu64 ",\"intro_bad_source\":%" PRIu64
	        ",\"intro_forged\":%" PRIu64 ",\"intro_replayed\":%" PRIu64
	        ",\"intro_stale\":%" PRIu64 ",\"intro_bad_msg\":%" PRIu64 ",\"requests\":%" PRIu64
	        ",\"requests_repeated\":%" PRIu64 ",\"refused_full\":%" PRIu64
	        ",\"sessions_created\":%" PRIu64 ",\"ended_teardown\":%" PRIu64
	        ",\"ended_idle\":%" PRIu64 ",\"ended_replaced\":%" PRIu64
	        ",\"ended_local\":%" PRIu64 ",\"ended_unregistered\":%" PRIu64
	        ",\"rx_no_session\":%" PRIu64 ",\"rx_forged\":%" PRIu64 ",\"rx_replayed\":%" PRIu64
	        ",\"rx_truncated\":%" PRIu64 ",\"rx_bad_inner\":%" PRIu64 ",\"rx_spoofed\":%" PRIu64
	        ",\"tx_no_session\":%" PRIu64 ",\"rx_datagrams\":%" PRIu64
	        ",\"tx_datagrams\":%" PRIu64 ",\"tx_errors\":%" PRIu64 ",\"tun_errors\":%" PRIu64
	        ",",
	        st.intro_rx, st.intro_limited, st.intro_unknown, st.intro_bad_source,
	        st.intro_forged, st.intro_replayed, st.intro_stale, st.intro_bad_msg, st.requests,
	        st.requests_repeated, st.refused_full, st.sessions_created,
	        st.sessions_ended[MT6D_SRV_END_TEARDOWN], st.sessions_ended[MT6D_SRV_END_IDLE],
	        st.sessions_ended[MT6D_SRV_END_REPLACED], st.sessions_ended[MT6D_SRV_END_LOCAL],
	        st.sessions_ended[MT6D_SRV_END_UNREGISTERED], st.rx_no_session, st.rx_forged,
	        st.rx_replayed, st.rx_truncated, st.rx_bad_inner, st.rx_spoofed, st.tx_no_session,
	        d->dp.st.rx_dgrams, d->dp.st.tx_dgrams, d->dp.st.tx_full + d->dp.st.tx_failed,
	        d->dp.st.tun_tx_failed + d->dp.st.tun_bad);
	fprintf(out,
	        "\"unrecognized\":%" PRIu64 ",\"replies\":%" PRIu64 ",\"replies_limited\":%" PRIu64
	        ",\"claims_accepted\":%" PRIu64 ",\"claims_refused_bad\":%" PRIu64
	        ",\"claims_refused_location\":%" PRIu64 ",\"claims_refused_stale\":%" PRIu64
	        ",\"claims_refused_replayed\":%" PRIu64 ",\"renewals\":%" PRIu64
	        ",\"conn_full\":%" PRIu64 ",\"intro_underlay\":%" PRIu64 "},",
	        st.unrecognized, st.replies, st.replies_limited, st.claims_accepted,
	        st.claims_refused[MT6D_SRV_CLAIM_BAD], st.claims_refused[MT6D_SRV_CLAIM_LOCATION],
	        st.claims_refused[MT6D_SRV_CLAIM_STALE], st.claims_refused[MT6D_SRV_CLAIM_REPLAYED],
	        st.grants_sent, st.conn_full, st.intro_underlay);
	fprintf(out,
	        "\"rebind\":{\"levels\":%u,\"epoch_s\":%u,\"window_s\":%u,\"connections\":%zu},",
	        mt6d_srv_rebind_levels(d->srv),
	        d->conf.rebind_epoch_s ? d->conf.rebind_epoch_s
	                               : MT6D_REBIND_DEFAULT_EPOCH_MS / 1000,
	        d->conf.rebind_window_s ? d->conf.rebind_window_s
	                                : MT6D_REBIND_DEFAULT_WINDOW_MS / 1000,
	        mt6d_srv_rebind_count(d->srv));
	if (d->ul_fd >= 0) {
		struct mt6d_endpoint ul = {.port = d->conf.underlay_port};
		memcpy(ul.addr, d->conf.underlay_addr, 16);
		fprintf(out, "\"underlay\":\"%s\",", mt6d_endpoint_format(b, sizeof(b), &ul));
	}
	{
		uint64_t no_slot = 0;

		for (const struct mt6d_srv_session *s = mt6d_srv_first(d->srv); s; s = s->next)
			no_slot += s->tun.stats.tx_errors;
		fprintf(out,
		        "\"dropped\":{\"rx_no_session\":%" PRIu64 ",\"rx_truncated\":%" PRIu64
		        ",\"rx_forged\":%" PRIu64 ",\"rx_replayed\":%" PRIu64
		        ",\"rx_bad_inner\":%" PRIu64 ",\"rx_spoofed\":%" PRIu64
		        ",\"tx_no_session\":%" PRIu64 ",\"tx_bad_inner\":%" PRIu64
		        ",\"tx_unsealed\":%" PRIu64 ",",
		        st.rx_no_session, st.rx_truncated + d->dp.st.rx_truncated, st.rx_forged,
		        st.rx_replayed, st.rx_bad_inner, st.rx_spoofed, st.tx_no_session,
		        st.tx_bad_inner, no_slot);
		dp_json_drops(out, &d->dp);
		fputs("},", out);
		dp_json_counts(out, &d->dp);
		fprintf(out, ",\"slot_sockets\":%u,\"slot_socket_errors\":%" PRIu64 ",",
		        d->slot_sockets, d->slot_socket_errors);
	}
	ndp_status_json(d->ndp, out);
	fprintf(out, "\"sessions\":[");
	for (const struct mt6d_srv_session *s = brief ? NULL : mt6d_srv_first(d->srv); s;
	     s = s->next) {
		struct mt6d_endpoint le, re;
		char l[80], r[80];

		mt6d_srv_session_endpoints(s, &le, &re);
		if (s->underlay) {
			memcpy(le.addr, d->conf.underlay_addr, 16);
			le.port = d->conf.underlay_port;
		}
		fprintf(out,
		        "%s{\"name\":\"%s\",\"tunnel\":\"%s\",\"slot\":%" PRIu64
		        ",\"local\":\"%s\",\"remote\":\"%s\",\"established_ms\":%" PRIu64
		        ",\"last_rx_ms\":%" PRIu64 ",\"rx_spoofed\":%" PRIu64
		        ",\"underlay\":%s,\"rebinds\":%" PRIu64 ",\"rebind_ms\":%" PRIu64 ",",
		        first ? "" : ",", sessd_json(j, sizeof(j), s->name),
		        sessd_addr(a, sizeof(a), s->client_tun), s->tun.cur,
		        mt6d_endpoint_format(l, sizeof(l), &le),
		        mt6d_endpoint_format(r, sizeof(r), &re), s->created_ms, s->last_rx_ms,
		        s->rx_spoofed, s->underlay ? "true" : "false", s->rebinds, s->rebind_ms);
		if (s->has_conn)
			fprintf(out, "\"conn\":%u,", s->conn);
		json_tun_stats(out, &s->tun.stats);
		fputc('}', out);
		first = 0;
	}
	fprintf(out, "]}");
}

static void show_text(struct srvd *d, FILE *out)
{
	uint64_t now = mt6d_unix_ms();
	struct mt6d_srv_intro_info in[4];
	char a[64], b[80], c[80], x[32], y[32], k[MT6D_KEY_B64_LEN + 1];
	uint8_t tun[16] = {0};
	size_t ni = mt6d_srv_intros(d->srv, in, 4);

	mt6d_key_to_base64(k, d->pub_key);
	fprintf(out, "server: %s\n  public key: %s\n", d->conf.ifname, k);
	memcpy(tun, d->conf.prefix, 8);
	fprintf(out, "  prefix: %s/64 (%s%s)\n", sessd_addr(a, sizeof(a), tun),
	        d->ndp ? "ndp on " : "routed", d->ndp ? d->conf.uplink : "");
	memcpy(tun, d->conf.tun_prefix, 8);
	tun[15] = 1;
	fprintf(out, "  tunnel address: %s/64\n", sessd_addr(a, sizeof(a), tun));
	fprintf(out, "  sessions: %zu of %zu registered clients\n", mt6d_srv_count(d->srv),
	        mt6d_srv_clients(d->srv));
	for (size_t i = 0; i < ni && i < 4; i++)
		fprintf(out,
		        "  introduction: window %" PRIu64 ", seed %s, slot %" PRIu64 " at %s\n",
		        in[i].window, sessd_addr(a, sizeof(a), in[i].seed_addr), in[i].slot,
		        mt6d_endpoint_format(b, sizeof(b), &in[i].cur));
	{
		struct mt6d_srv_stats st;

		mt6d_srv_get_stats(d->srv, &st);
		if (d->ul_fd >= 0) {
			struct mt6d_endpoint ul = {.port = d->conf.underlay_port};
			memcpy(ul.addr, d->conf.underlay_addr, 16);
			fprintf(out, "  underlay: %s\n", mt6d_endpoint_format(b, sizeof(b), &ul));
		}
		fprintf(out,
		        "  rebinding: %u levels; %" PRIu64 " unrecognized, %" PRIu64
		        " replies (%" PRIu64 " held back); claims %" PRIu64
		        " accepted, refused %" PRIu64 " bad, %" PRIu64 " location, %" PRIu64
		        " stale, %" PRIu64 " replayed\n",
		        mt6d_srv_rebind_levels(d->srv), st.unrecognized, st.replies,
		        st.replies_limited, st.claims_accepted,
		        st.claims_refused[MT6D_SRV_CLAIM_BAD],
		        st.claims_refused[MT6D_SRV_CLAIM_LOCATION],
		        st.claims_refused[MT6D_SRV_CLAIM_STALE],
		        st.claims_refused[MT6D_SRV_CLAIM_REPLAYED]);
	}
	for (const struct mt6d_srv_session *s = mt6d_srv_first(d->srv); s; s = s->next) {
		struct mt6d_endpoint le, re;

		mt6d_srv_session_endpoints(s, &le, &re);
		fprintf(out, "\nsession: %s\n  tunnel address: %s\n", s->name,
		        sessd_addr(a, sizeof(a), s->client_tun));
		if (s->underlay)
			fprintf(out, "  endpoint: %s (underlay)\n",
			        mt6d_endpoint_format(c, sizeof(c), &re));
		else
			fprintf(out,
			        "  endpoints: local %s, remote %s (slot %" PRIu64
			        ", every %u ms)\n",
			        mt6d_endpoint_format(b, sizeof(b), &le),
			        mt6d_endpoint_format(c, sizeof(c), &re), s->tun.cur, s->tun.rot_ms);
		if (s->rebinds)
			fprintf(out, "  rebinds: %" PRIu64 ", last %s\n", s->rebinds,
			        sessd_ago(x, sizeof(x), now, s->rebind_ms));
		fprintf(out, "  transfer: %s received, %s sent\n",
		        sessd_bytes(x, sizeof(x), s->tun.stats.rx_bytes),
		        sessd_bytes(y, sizeof(y), s->tun.stats.tx_bytes));
		fprintf(out, "  last packet: %s; established %s; %" PRIu64 " rotations\n",
		        sessd_ago(x, sizeof(x), now, s->last_rx_ms),
		        sessd_ago(y, sizeof(y), now, s->created_ms), s->tun.stats.rotations);
		if (s->tun.stats.rx_forged || s->tun.stats.rx_replayed || s->rx_spoofed)
			fprintf(out,
			        "  dropped: %" PRIu64 " forged, %" PRIu64 " replayed, %" PRIu64
			        " spoofed\n",
			        s->tun.stats.rx_forged, s->tun.stats.rx_replayed, s->rx_spoofed);
	}
}

static void on_control(void *arg, const char *req, FILE *out)
{
	struct srvd *d = arg;

	if (!strcmp(req, "status") || !strcmp(req, "status brief")) {
		status_json(d, out, req[6] != '\0');
	} else if (!strcmp(req, "show")) {
		show_text(d, out);
	} else if (!strncmp(req, "set ", 4)) {
		/* As mt6d publish: the next window made uses the new values; new
		 * sessions take the rotation of the window they came through. */
		struct mt6d_pub_status ps;
		const char *p = strstr(req, "period="), *r = strstr(req, "rotation_ms=");
		unsigned long period, rot;

		mt6d_pub_get_status(d->pub, &ps);
		period = p ? strtoul(p + 7, NULL, 10) : ps.period;
		rot = r ? strtoul(r + 12, NULL, 10) : ps.rot_ms;
		if (period < 10 || period > 7 * 86400 || rot < 100 || rot > 3600000 ||
		    mt6d_pub_set_period(d->pub, (uint32_t)period, (uint32_t)rot) < 0) {
			fprintf(out, "{\"error\":\"period must be 10-604800 s and rotation_ms "
			             "100-3600000\"}");
			return;
		}
		if (d->conf.dht_auto)
			dhtauto_set_period(&d->da, (uint32_t)period);
		log_info("period set to %lu s, rotation %lu ms", period, rot);
		ev_feed_event(d->loop, &d->pub_w, EV_TIMER);
		fprintf(out, "{\"period\":%lu,\"rotation_ms\":%lu}", period, rot);
	} else if (!strncmp(req, "teardown ", 9)) {
		struct mt6d_srv_session *s = mt6d_srv_find_name(d->srv, req + 9);
		char j[SESSD_JSON_LEN(MT6D_NAME_MAX)];

		if (!s) {
			fprintf(out, "{\"error\":\"no session for that client\"}");
			return;
		}
		fprintf(out, "{\"teardown\":\"%s\"}", sessd_json(j, sizeof(j), s->name));
		mt6d_srv_teardown(d->srv, s, mt6d_unix_ms());
	} else {
		fprintf(out, "{\"error\":\"unknown request\"}");
	}
}

/* ---- setup and teardown ---- */

static int setup(struct srvd *d, const uint8_t priv[static MT6D_KEY_LEN])
{
	struct conf *c = &d->conf;
	struct mt6d_srv_config sc = {
	        .idle_timeout_s = c->idle_timeout_s,
	        .keepalive_s = c->keepalive_s,
	        .max_sessions = c->max_sessions,
	        .send = on_send,
	        .deliver = on_deliver,
	        .on_session = on_session,
	        .on_slot = on_slot,
	        .arg = d,
	};
	struct mt6d_pub_config pc = {0};
	/* each BEP 44 item on 2K nodes: it outlives churn (docs/reliability.md) */
	struct mt6d_dht_config dc = {.put_replicas = MT6D_RDV_PUT_REPLICAS};
	struct state_item route = {.kind = STATE_ROUTE_LOCAL, .plen = 64, .ifname = "lo"};
	struct state_item table = {.kind = STATE_NFT_TABLE, .plen = 0};
	uint8_t tun[16] = {0};
	char err[512], script[1536];
	int ret;

	d->started_ms = mt6d_unix_ms();
	ret = nl_open(&d->nl);
	if (ret < 0)
		return log_error("netlink: %s", strerror(-ret)), ret;
	/* mode = ndp: its rule names the uplink (the server has no other) */
	ret = sessd_state_open(
	        &d->st, d->nl, c->state_file,
	        &(struct state_allow){.uplink = c->ndp ? c->uplink : NULL, .user = c->user}, WHO);
	if (ret < 0)
		return ret;

	/* The TUN device and the server's tunnel address. */
	d->tun_fd = dp_tun_open(c->ifname);
	if (d->tun_fd < 0)
		return log_error("TUN device `%s': %s", c->ifname, strerror(-d->tun_fd)), d->tun_fd;
	d->tun_ifindex = if_nametoindex(c->ifname);
	ret = nl_link_up(d->nl, d->tun_ifindex, MT6D_TUN_MTU);
	memcpy(tun, c->tun_prefix, 8);
	tun[15] = 1;
	if (ret == 0)
		ret = nl_addr(d->nl, true, d->tun_ifindex, tun, 64, false);
	if (ret < 0)
		return log_error("%s: link up, address: %s", c->ifname, strerror(-ret)), ret;

	/* The routed /64 and the one socket every datagram to it reaches. */
	d->lo_ifindex = if_nametoindex("lo");
	memcpy(route.addr, c->prefix, 8);
	if (c->ndp) { /* the /64 is local only as it arrives on the uplink (ndp.h) */
		ret = ndp_routing(d->nl, &d->st, true, c->uplink, c->prefix); /* logs */
		if (ret < 0)
			return ret;
		d->ndp_routing = true;
	} else {
		ret = state_add(&d->st, &route);
		if (ret == 0)
			ret = nl_route(d->nl, true, true, d->lo_ifindex, route.addr, 64);
		if (ret < 0) {
			state_del(&d->st, &route);
			return log_error("local route for the /64 on lo: %s", strerror(-ret)), ret;
		}
		d->local_route = true;
	}
	d->rx_fd = dp_tproxy_socket((uint16_t)c->tproxy_port);
	if (d->rx_fd < 0)
		return log_error("TPROXY socket on port %u: %s", c->tproxy_port,
		                 strerror(-d->rx_fd)),
		       d->rx_fd;
	snprintf(d->table, sizeof(d->table), "mt6d%u", c->tproxy_port);
	strcpy(table.ifname, d->table);
	ret = state_add(&d->st, &table);
	if (ret < 0)
		return log_error("state file: %s", strerror(-ret)), ret;
	d->nft_table = true;
	if (c->ndp) {
		uint8_t own[NDP_EXEMPT_MAX][16];
		int nown = nl_addrs_in64(d->nl, if_nametoindex(c->uplink), c->prefix, own,
		                         NDP_EXEMPT_MAX);

		ndp_tproxy_rules(script, sizeof(script), d->table, c->prefix,
		                 (uint16_t)c->tproxy_port, c->uplink, own,
		                 nown > 0 ? (size_t)nown : 0);
		d->ndp = ndp_open(d->loop, c->uplink, c->prefix, err, sizeof(err));
		if (!d->ndp)
			return log_error("ndp: %s", err), -errno;
	} else {
		dp_tproxy_rules(script, sizeof(script), d->table, c->prefix,
		                (uint16_t)c->tproxy_port);
	}
	ret = nft_run(script);
	if (ret < 0)
		return log_error("nftables: cannot add the TPROXY rule (is nft installed, and the "
		                 "nft_tproxy module available?)"),
		       ret;
	d->tx_fd = dp_raw_socket();
	if (d->tx_fd < 0)
		return log_error("raw socket: %s", strerror(-d->tx_fd)), d->tx_fd;
	d->dp.raw_fd = d->tx_fd;
	d->ubuf = malloc(DP_RX_BUF);
	d->rbuf = malloc(DP_VNET_LEN + MT6D_INNER_MAX);
	if (!d->ubuf || !d->rbuf)
		return -ENOMEM;

	/* Sessions, then the publisher that opens their introduction endpoints. */
	if (c->underlay_port) {
		memcpy(sc.underlay.addr, c->underlay_addr, 16);
		sc.underlay.port = c->underlay_port;
		d->ul_fd = d->dp.ul_fd = dp_dual_socket(&sc.underlay);
		if (d->ul_fd < 0)
			return log_error("underlay socket on %s: %s",
			                 mt6d_endpoint_format(err, sizeof(err), &sc.underlay),
			                 strerror(-d->ul_fd)),
			       d->ul_fd;
	}
	sc.rebind.levels = c->rebind_levels;
	sc.rebind.epoch_ms = c->rebind_epoch_s * 1000;
	sc.rebind.window_ms = c->rebind_window_s * 1000;
	sc.replies.prefix_rate = c->reply_rate;
	sc.replies.prefix_burst = c->reply_burst;
	memcpy(sc.server_priv, priv, MT6D_KEY_LEN);
	memcpy(sc.prefix, c->prefix, 8);
	memcpy(sc.tun_prefix, c->tun_prefix, 8);
	d->srv = mt6d_srv_new(&sc);
	sodium_memzero(&sc, sizeof(sc));
	if (!d->srv)
		return -errno;
	if (c->dht_auto) {
		/* Identities under the /64; their replies come through rx_fd. */
		if (dhtauto_start(&d->da, d->loop, c->prefix, c->period, (uint16_t)c->tproxy_port,
		                  d->ndp, c->bootstrap, c->nbootstrap, c->dht_state, err,
		                  sizeof(err)) < 0)
			return log_error("%s", err), -EIO;
		pc.pick_dht = dhtauto_pick;
		pc.pick_arg = &d->da;
	} else {
		if (dhtrun_start(&d->run, d->loop, &c->listen[0], &dc, err, sizeof(err)) < 0)
			return log_error("%s", err), -EIO;
		if (c->dht_state[0]) {
			d->run.state = c->dht_state;
			(void)mt6d_dht_load(d->run.dht, d->run.state, mt6d_mono_ms());
		}
		if (dhtrun_bootstrap(&d->run, c->bootstrap, c->nbootstrap) == 0 && !c->dht_state[0])
			log_warn("no bootstrap node of the DHT listen address's family");
		pc.dht = d->run.dht;
	}
	memcpy(pc.server_priv, priv, MT6D_KEY_LEN);
	memcpy(pc.prefix, c->prefix, 8);
	pc.period = c->period;
	pc.rot_ms = c->rot_ms;
	pc.transports = c->transports;
	pc.lead_s = c->lead_s;
	pc.max_inflight = c->max_inflight;
	memcpy(pc.underlay_addr, c->underlay_addr, sizeof(pc.underlay_addr));
	pc.underlay_port = c->underlay_port;
	pc.on_intro = on_intro;
	pc.arg = d;
	d->pub = mt6d_pub_new(&pc);
	sodium_memzero(&pc, sizeof(pc));
	if (!d->pub)
		return -ENOMEM;
	ret = reload(d);
	if (ret < 0)
		return ret;
	sessd_intro_path(d->intro_path, sizeof(d->intro_path), c->state_file);
	intros_restore(d);
	if (c->control_socket[0] &&
	    control_start(&d->ctl, d->loop, c->control_socket, on_control, d, err, sizeof(err)) < 0)
		return log_error("%s", err), -EIO;

	ev_io_init(&d->tun_w, on_tun, d->tun_fd, EV_READ);
	ev_io_init(&d->rx_w, on_rx, d->rx_fd, EV_READ);
	d->tun_w.data = d->rx_w.data = d->ul_w.data = d;
	ev_io_start(d->loop, &d->tun_w);
	ev_io_start(d->loop, &d->rx_w);
	if (d->ul_fd >= 0) {
		ev_io_init(&d->ul_w, on_underlay, d->ul_fd, EV_READ);
		ev_io_start(d->loop, &d->ul_w);
	}
	d->pub_start_ms = mt6d_mono_ms();
	ev_timer_init(&d->pub_w, on_pub_timer, 0.2, 0.);
	ev_timer_init(&d->srv_w, on_srv_timer, 0.1, 0.);
	d->pub_w.data = d->srv_w.data = d;
	ev_timer_start(d->loop, &d->pub_w);
	ev_timer_start(d->loop, &d->srv_w);
	ev_signal_init(&d->sig_int, on_signal, SIGINT);
	ev_signal_init(&d->sig_term, on_signal, SIGTERM);
	ev_signal_init(&d->sig_hup, on_signal, SIGHUP);
	d->sig_int.data = d->sig_term.data = d->sig_hup.data = d;
	ev_signal_start(d->loop, &d->sig_int);
	ev_signal_start(d->loop, &d->sig_term);
	ev_signal_start(d->loop, &d->sig_hup);
	memcpy(tun, c->prefix, 8);
	memset(tun + 8, 0, 8);
	log_info("%s up: prefix %s/64 %s%s to TPROXY port %u, %zu registered clients", c->ifname,
	         sessd_addr(err, sizeof(err), tun), c->ndp ? "answered by NDP on " : "routed",
	         c->ndp ? c->uplink : "", c->tproxy_port, mt6d_srv_clients(d->srv));
	if (d->ul_fd >= 0) {
		struct mt6d_endpoint ul = {.port = c->underlay_port};
		memcpy(ul.addr, c->underlay_addr, 16);
		log_info("underlay on %s", mt6d_endpoint_format(err, sizeof(err), &ul));
	}
	log_info("rebinding: %u levels (%zu connections), key epoch %u s, claim window %u s",
	         mt6d_srv_rebind_levels(d->srv), (size_t)1 << mt6d_srv_rebind_levels(d->srv),
	         c->rebind_epoch_s ? c->rebind_epoch_s : MT6D_REBIND_DEFAULT_EPOCH_MS / 1000,
	         c->rebind_window_s ? c->rebind_window_s : MT6D_REBIND_DEFAULT_WINDOW_MS / 1000);
	return 0;
}

static void teardown(struct srvd *d)
{
	if (d->srv && d->tx_fd >= 0)
		mt6d_srv_close(d->srv, mt6d_unix_ms());
	control_stop(&d->ctl);
	dhtrun_stop(&d->run); /* before the publisher: completes its operations */
	dhtauto_stop(&d->da);
	mt6d_pub_free(d->pub);
	mt6d_srv_free(d->srv);
	ndp_close(d->ndp);
	if (d->ndp_routing)
		ndp_routing(d->nl, &d->st, false, d->conf.uplink, d->conf.prefix);
	if (d->nft_table) {
		struct state_item it = {.kind = STATE_NFT_TABLE, .plen = 0};

		strcpy(it.ifname, d->table);
		if (nft_del_table(d->table) == 0)
			state_del(&d->st, &it);
		else
			log_warn("could not delete nftables table %s", d->table);
	}
	if (d->local_route) {
		struct state_item it = {.kind = STATE_ROUTE_LOCAL, .plen = 64, .ifname = "lo"};

		memcpy(it.addr, d->conf.prefix, 8);
		nl_route(d->nl, false, true, d->lo_ifindex, it.addr, 64);
		state_del(&d->st, &it);
	}
	if (d->rx_fd >= 0)
		close(d->rx_fd);
	if (d->tx_fd >= 0)
		close(d->tx_fd);
	if (d->ul_fd >= 0)
		close(d->ul_fd);
	if (d->tun_fd >= 0)
		close(d->tun_fd);
	sessd_state_close(&d->st, WHO);
	nl_close(d->nl);
	free(d->ubuf);
	free(d->rbuf);
	dp_free(&d->dp);
}

int srvd_main(const char *path)
{
	uint8_t priv[MT6D_KEY_LEN];
	struct srvd *d;
	int ret = 1;

	log_init("server", false);
	d = calloc(1, sizeof(*d));
	if (!d)
		return log_error("out of memory"), 1;
	d->tun_fd = d->rx_fd = d->tx_fd = d->ul_fd = -1;
	dp_init(&d->dp);
	d->ctl.fd = -1;
	if (conf_load(&d->conf, path, 1) < 0) {
		log_error("%s", d->conf.error);
		goto out;
	}
	if (!d->conf.have_tun_prefix) {
		log_error("%s: mt6d server needs [server] tunnel_prefix", path);
		goto out;
	}
	/* No [dht] listen: identities under the /64 (listen = auto, issue 14). */
	if (d->conf.nlisten == 0)
		d->conf.dht_auto = 1;
	if (d->conf.ndp && !d->conf.uplink[0]) {
		log_error("%s: mode = ndp needs [server] uplink (the interface of the on-link /64)",
		          path);
		goto out;
	}
	if (!d->conf.state_file[0])
		snprintf(d->conf.state_file, sizeof(d->conf.state_file),
		         "/run/mt6d/server-%s.state", d->conf.ifname);
	if (sessd_private_key(priv, d->conf.private_key) < 0)
		goto out;
	mt6d_key_public(d->pub_key, priv);
	signal(SIGPIPE, SIG_IGN);
	d->loop = ev_default_loop(EVFLAG_AUTO);
	if (!d->loop) {
		log_error("cannot start the event loop");
		goto out;
	}
	ret = setup(d, priv) < 0 ? 1 : 0;
	sodium_memzero(priv, sizeof(priv));
	if (ret == 0 &&
	    privdrop(WHO, d->conf.user,
	             &(struct privdrop_paths){.rewrite = {d->conf.state_file, d->conf.dht_state},
	                                      .reread = {d->conf.clients}}) < 0)
		ret = 1;
	if (ret == 0)
		ev_run(d->loop, 0);
out:
	sodium_memzero(priv, sizeof(priv));
	teardown(d);
	sodium_memzero(d, sizeof(*d));
	free(d);
	return ret;
}
