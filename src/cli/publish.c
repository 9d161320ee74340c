/* SPDX-License-Identifier: MIT */
/*
 * mt6d publish --config FILE [--once]: run the server's publication
 * (Algorithm 2) on its own DHT node. Progress is logged on stderr; the
 * control socket ([control] socket) answers "status" and "set period=N
 * rotation_ms=M" (mt6d set). SIGHUP reloads the client registry without
 * dropping the round in progress. --once prints one JSON line when the
 * first round is done and exits (1 if any publication failed).
 */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <sodium.h>

#include "cli.h"
#include "conf.h"
#include "control.h"
#include "dhtrun.h"
#include "mt6d/rendezvous.h"

struct publisher {
	bool started;      /* the first round began */
	uint64_t start_ms; /* mono */
	struct ev_loop *loop;
	struct conf conf;
	struct dhtrun run;
	struct mt6d_pub *pub;
	struct control ctl;
	ev_timer tick, progress;
	ev_signal sigint, sigterm, sighup;
	int once, exit_code;
	uint32_t last_round_logged;
	double max_slice_ms; /* longest mt6d_pub_tick(): how long the loop was held */
	uint64_t last_round_window;
	size_t last_done;
};

static void log_round(struct publisher *p, const struct mt6d_pub_status *st)
{
	fprintf(stderr, "mt6d: window %" PRIu64 ": %zu/%zu published, %zu failed, %zu in flight%s",
	        st->round_window, st->round_done, st->round_total, st->round_failed,
	        st->round_inflight, st->round_elapsed_ms ? "" : "\n");
	if (st->round_elapsed_ms)
		fprintf(stderr, ", done in %.3f s (%" PRIu64 " DHT messages so far)\n",
		        (double)st->round_elapsed_ms / 1000.0, st->dht_messages);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct publisher *p = w->data;
	struct mt6d_pub_status st;
	uint64_t mono = mt6d_mono_ms(), next;
	ev_tstamp t0 = ev_time(), slice;

	if (!p->started && !dhtrun_ready(&p->run, p->start_ms, 5000)) {
		ev_timer_set(w, 0.2, 0.);
		ev_timer_start(loop, w);
		return;
	}
	p->started = true;
	next = mt6d_pub_tick(p->pub, mono, mt6d_unix_ms());
	slice = (ev_time() - t0) * 1000.0;
	if (slice > p->max_slice_ms)
		p->max_slice_ms = slice;
	dhtrun_kick(&p->run);
	mt6d_pub_get_status(p->pub, &st);
	if (st.round_elapsed_ms &&
	    (st.round_window != p->last_round_window || st.round_started_ms != p->last_done)) {
		p->last_round_window = st.round_window;
		p->last_done = st.round_started_ms;
		log_round(p, &st);
		if (p->once) {
			struct mt6d_dht_stats ds;

			mt6d_dht_get_stats(p->run.dht, &ds);
			printf("{\"window\":%" PRIu64 ",\"clients\":%zu,\"operations\":%zu,"
			       "\"done\":%zu,\"failed\":%zu,\"elapsed_ms\":%" PRIu64
			       ",\"dht_messages\":%" PRIu64 ",\"stored_min\":%u,\"retried\":%zu,"
			       "\"max_slice_ms\":%.2f,\"transport\":\"%s\",\"dht_tx_queued\":"
			       "%" PRIu64 ",\"dht_tx_dropped\":%" PRIu64
			       ",\"dht_tx_errors\":%" PRIu64 ",\"dht_txq_max\":%u}\n",
			       st.round_window, st.clients, st.round_total, st.round_done,
			       st.round_failed, st.round_elapsed_ms, st.dht_messages,
			       st.round_stored_min, st.round_retried, p->max_slice_ms,
			       mt6d_rdv_transport_name(p->conf.transports), ds.tx_queued,
			       ds.tx_dropped, ds.tx_errors, ds.txq_max);
			fflush(stdout);
			p->exit_code = st.round_failed ? 1 : 0;
			ev_break(loop, EVBREAK_ALL);
			return;
		}
	}
	/* Also called through ev_feed_event while still armed (mt6d set). */
	ev_timer_stop(loop, w);
	ev_timer_set(w, next > mono ? (double)(next - mono) / 1000.0 : 0.0, 0.0);
	ev_timer_start(loop, w);
}

static void on_progress(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct publisher *p = w->data;
	struct mt6d_pub_status st;

	mt6d_pub_get_status(p->pub, &st);
	if (!st.round_elapsed_ms && st.round_total)
		log_round(p, &st);
}

static int reload(struct publisher *p)
{
	struct mt6d_registry reg;
	char err[300];
	int ret = mt6d_registry_load(&reg, p->conf.clients, err, sizeof(err));

	if (ret < 0) {
		fprintf(stderr, "mt6d: %s\n", err);
		return ret;
	}
	ret = mt6d_pub_set_clients(p->pub, &reg);
	if (ret == 0)
		fprintf(stderr, "mt6d: %zu registered clients\n", reg.n);
	mt6d_registry_free(&reg);
	return ret;
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct publisher *p = w->data;

	if (w->signum == SIGHUP) {
		if (reload(p) < 0)
			fprintf(stderr, "mt6d: keeping the previous registry\n");
		return;
	}
	ev_break(loop, EVBREAK_ALL);
}

static void on_control(void *arg, const char *req, FILE *out)
{
	struct publisher *p = arg;
	struct mt6d_pub_status st;
	struct mt6d_dht_stats ds;
	unsigned long period = 0, rot = 0;

	if (!strncmp(req, "set ", 4)) {
		const char *s = strstr(req, "period=");
		const char *r = strstr(req, "rotation_ms=");
		mt6d_pub_get_status(p->pub, &st);
		period = s ? strtoul(s + 7, NULL, 10) : st.period;
		rot = r ? strtoul(r + 12, NULL, 10) : st.rot_ms;
		if (period < 10 || period > 7 * 86400 || rot < 100 || rot > 3600000 ||
		    mt6d_pub_set_period(p->pub, (uint32_t)period, (uint32_t)rot) < 0) {
			fprintf(out, "{\"error\":\"period must be 10-604800 s and rotation_ms "
			             "100-3600000\"}");
			return;
		}
		fprintf(stderr, "mt6d: period set to %lu s, rotation %lu ms\n", period, rot);
		ev_feed_event(p->loop, &p->tick, EV_TIMER);
		fprintf(out, "{\"period\":%lu,\"rotation_ms\":%lu}", period, rot);
		return;
	}
	if (strcmp(req, "status") != 0) {
		fprintf(out, "{\"error\":\"unknown request\"}");
		return;
	}
	mt6d_pub_get_status(p->pub, &st);
	mt6d_dht_get_stats(p->run.dht, &ds);
	fprintf(out,
	        "{\"window\":%" PRIu64 ",\"period\":%" PRIu32 ",\"rotation_ms\":%" PRIu32
	        ",\"clients\":%zu,\"transport\":\"%s\",\"round\":{\"window\":%" PRIu64
	        ",\"total\":%zu,\"done\":%zu,\"failed\":%zu,\"inflight\":%zu,\"elapsed_ms\":"
	        "%" PRIu64 ",\"retried\":%zu},\"max_slice_ms\":%.2f,\"windows_live\":%u,\"ops_"
	        "started\":%" PRIu64 ",\"ops_failed\":%" PRIu64
	        ",\"dht\":{\"nodes\":%u,\"rx\":%" PRIu64 ",\"tx\":%" PRIu64
	        ",\"dropped_malformed\":%" PRIu64 "}}",
	        st.window, st.period, st.rot_ms, st.clients,
	        mt6d_rdv_transport_name(p->conf.transports), st.round_window, st.round_total,
	        st.round_done, st.round_failed, st.round_inflight, st.round_elapsed_ms,
	        st.round_retried, p->max_slice_ms, st.windows_live, st.ops_started, st.ops_failed,
	        ds.nodes4 + ds.nodes6, ds.rx, ds.tx, ds.dropped_malformed);
}

int cmd_publish(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"once", no_argument, NULL, 'o'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct publisher *p;
	struct mt6d_pub_config pc = {0};
	/* each BEP 44 item on 2K nodes: it outlives churn (docs/reliability.md) */
	struct mt6d_dht_config dc = {.put_replicas = MT6D_RDV_PUT_REPLICAS};
	const char *path = NULL;
	char err[512];
	int c, ret = 1;

	optind = 1;
	p = calloc(1, sizeof(*p));
	if (!p)
		return cli_fail("out of memory");
	p->ctl.fd = -1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'o':
			p->once = 1;
			break;
		default:
			goto usage;
		}
	}
	if (!path || optind != argc)
		goto usage;
	if (conf_load(&p->conf, path, 1) < 0) {
		cli_fail("%s", p->conf.error);
		goto out;
	}
	if (p->conf.nlisten == 0) {
		cli_fail("%s: [dht] listen = ADDRESS:PORT is required (mt6d publish has no "
		         "listen = auto; the server's default)",
		         path);
		goto out;
	}
	if (cli_privkey_file(pc.server_priv, "private_key", p->conf.private_key) < 0)
		goto out;
	/* A one-shot publisher must not enter other nodes' routing tables:
	 * it will be gone in a moment and lookups would wait on it (BEP 43). */
	dc.read_only = p->once;
	p->loop = ev_default_loop(EVFLAG_AUTO);
	if (dhtrun_start(&p->run, p->loop, &p->conf.listen[0], &dc, err, sizeof(err)) < 0) {
		cli_fail("%s", err);
		goto out;
	}
	if (p->conf.dht_state[0]) {
		p->run.state = p->conf.dht_state;
		(void)mt6d_dht_load(p->run.dht, p->run.state, mt6d_mono_ms());
	}
	if (dhtrun_bootstrap(&p->run, p->conf.bootstrap, p->conf.nbootstrap) == 0 &&
	    !p->conf.dht_state[0])
		fprintf(stderr,
		        "mt6d: warning: no bootstrap node of the listen address's family\n");
	pc.dht = p->run.dht;
	memcpy(pc.prefix, p->conf.prefix, sizeof(pc.prefix));
	pc.period = p->conf.period;
	pc.rot_ms = p->conf.rot_ms;
	pc.transports = p->conf.transports;
	pc.lead_s = p->conf.lead_s;
	pc.max_inflight = p->conf.max_inflight;
	memcpy(pc.underlay_addr, p->conf.underlay_addr, sizeof(pc.underlay_addr));
	pc.underlay_port = p->conf.underlay_port;
	p->pub = mt6d_pub_new(&pc);
	sodium_memzero(&pc, sizeof(pc));
	if (!p->pub || reload(p) < 0)
		goto out;
	if (p->conf.control_socket[0] && control_start(&p->ctl, p->loop, p->conf.control_socket,
	                                               on_control, p, err, sizeof(err)) < 0) {
		cli_fail("%s", err);
		goto out;
	}

	/* The first round waits for the routing table (dhtrun_ready). */
	p->start_ms = mt6d_mono_ms();
	ev_timer_init(&p->tick, on_tick, 0.2, 0.0);
	p->tick.data = p;
	ev_timer_start(p->loop, &p->tick);
	ev_timer_init(&p->progress, on_progress, 2.0, 2.0);
	p->progress.data = p;
	ev_timer_start(p->loop, &p->progress);
	ev_signal_init(&p->sigint, on_signal, SIGINT);
	ev_signal_init(&p->sigterm, on_signal, SIGTERM);
	ev_signal_init(&p->sighup, on_signal, SIGHUP);
	p->sigint.data = p->sigterm.data = p->sighup.data = p;
	ev_signal_start(p->loop, &p->sigint);
	ev_signal_start(p->loop, &p->sigterm);
	ev_signal_start(p->loop, &p->sighup);
	p->exit_code = 0;
	ev_run(p->loop, 0);
	ret = p->exit_code;
out:
	control_stop(&p->ctl);
	dhtrun_stop(&p->run); /* before the publisher: completes its operations */
	mt6d_pub_free(p->pub);
	sodium_memzero(p, sizeof(*p));
	free(p);
	return ret;
usage:
	free(p);
	fprintf(stderr, "Usage: %s publish --config FILE [--once]\n", cli_prog);
	return EXIT_USAGE;
}
