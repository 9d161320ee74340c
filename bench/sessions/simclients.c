/* SPDX-License-Identifier: MIT */
/*
 * simclients: N session clients (src/lib/session/client.c) in one process, so one
 * machine can hold a server with 100,000 sessions (bench/sessions/run.sh).
 *
 *   simclients keys N DIR
 *       Deterministic keys: client i's private key is
 *       SHA-256("mt6d bench sim" || i(8)); writes DIR/registry (one
 *       "PUBLICKEY simI" line each, sim0 first) and DIR/sim0.key.
 *   simclients run N SERVERPUB PREFIX/64 SEED_ADDRESS K WINDOW ROT_MS RATE PORT SECONDS
 *       Start N clients, RATE per second, all with the introduction
 *       configuration given (what a lookup by sim0 found: every registered
 *       client gets the same K and seed in a window, each sealed for it),
 *       and keep their sessions for SECONDS after the last start. Their
 *       addresses live in PREFIX/64, which the caller routes here, makes
 *       local and steers (TPROXY) to PORT, as mt6d server does: one receive
 *       socket and one raw send socket for all of them. Prints one JSON line
 *       of progress every 5 s and one at the end.
 *
 * Each client is an ordinary mt6d_cli; only the lookup is short-circuited.
 * A benchmark, not a test: errors end it with a message.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <ev.h>
#include <sodium.h>

#include "datapath.h"
#include "mt6d/client.h"

struct sim;

struct simc {
	struct sim *sim;
	struct mt6d_cli *cli;
	bool want_lookup;
};

struct sim {
	struct ev_loop *loop;
	struct simc *c;
	size_t n, started, next_tick;
	double rate;
	struct mt6d_config cfg;
	struct mt6d_tun_table *table;
	int rx, tx;
	struct dp dp;
	uint8_t *buf;
	uint64_t t0, last_start_ms, seconds, rx_dgrams, tx_dgrams, tx_errors, delivered;
	uint64_t first_session_ms, all_sessions_ms;
	size_t *pending; /* clients waiting for their "lookup" */
	size_t npending;
	ev_io rx_w;
	ev_timer tick_w, report_w;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void key_of(uint8_t priv[32], uint64_t i)
{
	static const char label[] = "mt6d bench sim";
	crypto_hash_sha256_state st;
	uint8_t be[8];

	mt6d_put_be64(be, i);
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)label, sizeof(label) - 1);
	crypto_hash_sha256_update(&st, be, 8);
	crypto_hash_sha256_final(&st, priv);
}

static int cmd_keys(size_t n, const char *dir)
{
	char path[4096], b64[MT6D_KEY_B64_LEN + 1];
	uint8_t priv[32], pub[32];
	FILE *f;

	snprintf(path, sizeof(path), "%s/registry", dir);
	f = fopen(path, "w");
	if (!f)
		return perror(path), 1;
	for (size_t i = 0; i < n; i++) {
		key_of(priv, i);
		mt6d_key_public(pub, priv);
		mt6d_key_to_base64(b64, pub);
		fprintf(f, "%s sim%zu\n", b64, i);
	}
	fclose(f);
	key_of(priv, 0);
	snprintf(path, sizeof(path), "%s/sim0.key", dir);
	if (mt6d_key_save_private(path, priv) < 0)
		return fprintf(stderr, "cannot write %s\n", path), 1;
	sodium_memzero(priv, sizeof(priv));
	return 0;
}

static struct mt6d_cli *cli_of(struct mt6d_tun_session *t)
{
	return (struct mt6d_cli *)(void *)((char *)t - offsetof(struct mt6d_cli, tun));
}

static void on_slot(struct mt6d_tun_session *t, struct mt6d_tun_slot *sl, bool add, void *arg)
{
	struct simc *c = arg;

	if (add)
		mt6d_tun_table_add(c->sim->table, &sl->local, t, sl->slot);
	else
		mt6d_tun_table_del(c->sim->table, &sl->local, t);
}

static void on_send(void *arg, const struct mt6d_tx *tx)
{
	struct sim *s = ((struct simc *)arg)->sim;
	uint64_t fails = s->dp.st.tx_full + s->dp.st.tx_failed;

	dp_send(&s->dp, tx);
	if (s->dp.st.tx_full + s->dp.st.tx_failed != fails)
		s->tx_errors++;
	else
		s->tx_dgrams++;
}

static void on_deliver(void *arg, uint8_t *pkt, size_t len, const struct mt6d_offload *off)
{
	((struct simc *)arg)->sim->delivered++;
}

static void on_state(void *arg, enum mt6d_cli_state from, enum mt6d_cli_state to)
{
	struct simc *c = arg;

	if (to == MT6D_CLI_LOOKUP && !c->want_lookup) {
		c->want_lookup = true;
		c->sim->pending[c->sim->npending++] = (size_t)(c - c->sim->c);
	}
}

static void on_rx(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sim *s = w->data;

	for (int i = 0; i < 256; i++) {
		struct mt6d_endpoint from, to;
		struct mt6d_tun_session *t;
		size_t gso;
		int n = dp_recv(&s->dp, s->rx, s->buf, DP_RX_BUF, &from, &to, &gso);

		if (n == -EAGAIN)
			break;
		if (n < 0)
			continue;
		s->rx_dgrams++;
		t = mt6d_tun_table_find(s->table, &to, NULL);
		if (t)
			mt6d_cli_input_batch(cli_of(t), &to, &from, s->buf, (size_t)n, gso,
			                     now_ms());
	}
}

static void count(struct sim *s, size_t by[5])
{
	memset(by, 0, 5 * sizeof(*by));
	for (size_t i = 0; i < s->started; i++)
		by[s->c[i].cli->state]++;
}

static void report(struct sim *s, const char *what)
{
	size_t by[5];
	struct rusage ru;

	count(s, by);
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"%s\":true,\"elapsed_ms\":%" PRIu64 ",\"started\":%zu,\"session\":%zu,"
	       "\"introduction\":%zu,\"lookup\":%zu,\"backoff\":%zu,\"rx\":%" PRIu64
	       ",\"tx\":%" PRIu64 ",\"tx_errors\":%" PRIu64 ",\"first_session_ms\":%" PRIu64
	       ",\"all_sessions_ms\":%" PRIu64 ",\"cpu_s\":%.2f,\"maxrss_kb\":%ld}\n",
	       what, now_ms() - s->t0, s->started, by[MT6D_CLI_SESSION], by[MT6D_CLI_INTRO],
	       by[MT6D_CLI_LOOKUP], by[MT6D_CLI_BACKOFF], s->rx_dgrams, s->tx_dgrams, s->tx_errors,
	       s->first_session_ms, s->all_sessions_ms,
	       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
	       ru.ru_maxrss);
	fflush(stdout);
}

static void on_report(struct ev_loop *loop, ev_timer *w, int revents)
{
	report(w->data, "progress");
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sim *s = w->data;
	uint64_t now = now_ms();
	size_t want = (size_t)((double)(now - s->t0) / 1000.0 * s->rate), per, by[5];

	/* Start clients at the rate asked. */
	if (want > s->n)
		want = s->n;
	while (s->started < want) {
		mt6d_cli_start(s->c[s->started].cli, now);
		s->started++;
		s->last_start_ms = now;
	}
	/* Their lookups all find the same configuration. */
	for (size_t k = 0; k < s->npending; k++) {
		struct simc *c = &s->c[s->pending[k]];
		c->want_lookup = false;
		mt6d_cli_lookup_done(c->cli, &s->cfg, now);
	}
	s->npending = 0;
	/* Tick a tenth of them each 100 ms: every client once a second. */
	per = s->started / 10 + 1;
	for (size_t k = 0; k < per && s->started; k++) {
		if (s->next_tick >= s->started)
			s->next_tick = 0;
		mt6d_cli_tick(s->c[s->next_tick++].cli, now);
	}
	if (!s->first_session_ms || !s->all_sessions_ms) {
		count(s, by);
		if (by[MT6D_CLI_SESSION] && !s->first_session_ms)
			s->first_session_ms = now - s->t0;
		if (by[MT6D_CLI_SESSION] == s->n && !s->all_sessions_ms)
			s->all_sessions_ms = now - s->t0;
	}
	if (s->started == s->n && now >= s->last_start_ms + s->seconds * 1000) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	ev_timer_again(loop, w);
}

static int cmd_run(char **a)
{
	struct sim s = {0};
	uint8_t spub[32], prefix[16];
	struct mt6d_cli_config cc = {
	        .send = on_send, .deliver = on_deliver, .on_slot = on_slot, .on_state = on_state};
	char *slash;

	s.n = strtoull(a[0], NULL, 10);
	if (mt6d_key_from_base64(spub, a[1]) < 0)
		return fprintf(stderr, "bad server key\n"), 1;
	slash = strchr(a[2], '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET6, a[2], prefix) != 1 ||
	    inet_pton(AF_INET6, a[3], s.cfg.seed_addr) != 1 ||
	    mt6d_hex_decode(s.cfg.intro_key, 16, a[4]) < 0)
		return fprintf(stderr, "bad prefix, seed address or K\n"), 1;
	s.cfg.version = 1;
	s.cfg.window = strtoull(a[5], NULL, 10);
	s.cfg.rot_ms = (uint32_t)strtoul(a[6], NULL, 10);
	s.rate = strtod(a[7], NULL);
	s.seconds = strtoull(a[9], NULL, 10);
	s.rx = dp_tproxy_socket((uint16_t)strtoul(a[8], NULL, 10));
	s.tx = dp_raw_socket();
	if (s.rx < 0 || s.tx < 0)
		return fprintf(stderr, "sockets: %s\n", strerror(-(s.rx < 0 ? s.rx : s.tx))), 1;
	s.table = mt6d_tun_table_new();
	s.c = calloc(s.n, sizeof(*s.c));
	s.pending = calloc(s.n, sizeof(*s.pending));
	dp_init(&s.dp);
	s.dp.raw_fd = s.tx;
	s.buf = malloc(DP_RX_BUF);
	/* One pair of data-path buffers for all: one thread, one at a time. */
	cc.tx_buf = malloc(MT6D_IID_LEN + MT6D_BURST_BUF);
	cc.rx_buf = malloc(MT6D_RX_HEADROOM + MT6D_RX_BUF);
	if (!s.table || !s.c || !s.pending || !s.buf || !cc.tx_buf || !cc.rx_buf)
		return fprintf(stderr, "out of memory\n"), 1;
	memcpy(cc.server_pub, spub, 32);
	memcpy(cc.prefix, prefix, 8);
	for (size_t i = 0; i < s.n; i++) {
		key_of(cc.client_priv, i);
		s.c[i].sim = &s;
		cc.arg = &s.c[i];
		s.c[i].cli = mt6d_cli_new(&cc);
		if (!s.c[i].cli)
			return fprintf(stderr, "client %zu: %s\n", i, strerror(errno)), 1;
	}
	sodium_memzero(cc.client_priv, 32);
	s.loop = ev_default_loop(0);
	s.t0 = now_ms();
	ev_io_init(&s.rx_w, on_rx, s.rx, EV_READ);
	s.rx_w.data = &s;
	ev_io_start(s.loop, &s.rx_w);
	ev_init(&s.tick_w, on_tick);
	s.tick_w.repeat = 0.1;
	s.tick_w.data = &s;
	ev_timer_again(s.loop, &s.tick_w);
	ev_timer_init(&s.report_w, on_report, 5., 5.);
	s.report_w.data = &s;
	ev_timer_start(s.loop, &s.report_w);
	ev_run(s.loop, 0);
	report(&s, "done");
	return 0;
}

int main(int argc, char **argv)
{
	if (mt6d_init() < 0)
		return 1;
	if (argc == 4 && !strcmp(argv[1], "keys"))
		return cmd_keys(strtoull(argv[2], NULL, 10), argv[3]);
	if (argc == 12 && !strcmp(argv[1], "run"))
		return cmd_run(argv + 2);
	fprintf(stderr,
	        "Usage: %s keys N DIR\n"
	        "       %s run N SERVERPUB PREFIX/64 SEED_ADDRESS K WINDOW ROT_MS RATE PORT "
	        "SECONDS\n",
	        argv[0], argv[0]);
	return 2;
}
