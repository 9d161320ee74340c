/* SPDX-License-Identifier: MIT */
/*
 * mt6d dht: run DHT nodes (one, or a swarm of N in one process) and the
 * client operations, over UDP sockets in a libev loop. This file owns the
 * I/O the library leaves to its caller: one socket per node, a timer set
 * to the wake-up time mt6d_dht_tick() returns, SIGINT/SIGTERM. Client
 * operations run on a read-only node (BEP 43) on an ephemeral port and
 * print one JSON object on stdout (mt6d-dht(8)).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <sodium.h>

#include "cli.h"
#include "conf.h"
#include "dhtrun.h"
#include "mt6d/dht.h"

#define MAX_BOOTSTRAP 16
#define MAX_PORTS     255

/* A BEP 44 value as this command puts and shows it: one bencoded string,
 * "LEN:BYTES" (the only bencode the command line needs; the DHT's own
 * codec stays inside the library). */
static int value_encode(uint8_t *out, size_t cap, size_t *len, const char *s)
{
	size_t n = strlen(s);
	int h = snprintf((char *)out, cap, "%zu:", n);

	if (h < 0 || (size_t)h + n > cap || (size_t)h + n > MT6D_DHT_MAX_V)
		return -1;
	memcpy(out + h, s, n);
	*len = (size_t)h + n;
	return 0;
}

/* The string of a value that is exactly one bencoded string: -1 for
 * anything else (an integer, a list, trailing bytes, a leading zero). */
static int value_decode(const uint8_t **str, size_t *slen, const uint8_t *v, size_t len)
{
	size_t i = 0, n = 0;

	if (len < 2 || v[0] < '0' || v[0] > '9' || (v[0] == '0' && v[1] != ':'))
		return -1;
	for (; i < len && i < 8 && v[i] >= '0' && v[i] <= '9'; i++)
		n = n * 10 + (size_t)(v[i] - '0');
	if (i == len || v[i] != ':' || len - i - 1 != n)
		return -1;
	*str = v + i + 1;
	*slen = n;
	return 0;
}

/* "A.B.C.D:PORT" or "[V6]:PORT" (port 0 allowed); with want_port false, an
 * address alone. */
static int parse_addr(struct mt6d_endpoint *a, const char *opt, const char *s, bool want_port)
{
	if (mt6d_endpoint_parse(a, s, want_port ? MT6D_EP_PORT0 : MT6D_EP_HOST) == 0)
		return 0;
	cli_fail("%s is not %s: `%s'", opt,
	         want_port ? "ADDRESS:PORT (A.B.C.D:PORT or [IPv6]:PORT)" : "an IP address",
	         s ? s : "");
	return -1;
}

static int runner_start(struct dhtrun *r, struct ev_loop *loop, const struct mt6d_endpoint *listen,
                        struct mt6d_dht_config *cfg)
{
	char err[200];

	if (dhtrun_start(r, loop, listen, cfg, err, sizeof(err)) < 0)
		return cli_fail("%s", err), -1;
	return 0;
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w, (void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* ---- node and swarm ---- */

enum { OPT_LISTEN = 1000, OPT_BOOT, OPT_STATE, OPT_RO, OPT_RATE, OPT_COUNT, OPT_BASE };

static const char node_usage[] =
        "Usage: %s dht node --listen ADDR:PORT [--bootstrap ADDR:PORT ...] [--state FILE]\n"
        "                   [--read-only] [--rate-limit N]";
static const char swarm_usage[] =
        "Usage: %s dht swarm --count N --listen ADDR --base-port P [--bootstrap ADDR:PORT ...]\n"
        "                    [--rate-limit N]";

static int run_nodes(int argc, char **argv, bool swarm)
{
	static const struct option opts[] = {
	        {"listen", required_argument, NULL, OPT_LISTEN},
	        {"bootstrap", required_argument, NULL, OPT_BOOT},
	        {"state", required_argument, NULL, OPT_STATE},
	        {"read-only", no_argument, NULL, OPT_RO},
	        {"rate-limit", required_argument, NULL, OPT_RATE},
	        {"count", required_argument, NULL, OPT_COUNT},
	        {"base-port", required_argument, NULL, OPT_BASE},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct mt6d_endpoint listen = {0}, boot[MAX_BOOTSTRAP];
	const char *listen_s = NULL, *state = NULL;
	uint64_t count = 1, base = 0, rate = 100;
	bool ro = false;
	int nboot = 0, c, ret = 1;
	struct dhtrun *rs = NULL;
	struct ev_loop *loop = EV_DEFAULT;
	ev_signal sigint, sigterm;
	char idhex[41], t[80];

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			listen_s = optarg;
			break;
		case OPT_BOOT:
			if (nboot == MAX_BOOTSTRAP)
				return cli_usage("at most %d --bootstrap", MAX_BOOTSTRAP);
			if (parse_addr(&boot[nboot++], "--bootstrap", optarg, true) < 0)
				return EXIT_USAGE;
			break;
		case OPT_STATE:
			if (swarm)
				return cli_usage(swarm_usage, cli_prog);
			state = optarg;
			break;
		case OPT_RO:
			if (swarm)
				return cli_usage(swarm_usage, cli_prog);
			ro = true;
			break;
		case OPT_RATE:
			/* no 0: a node that answers everyone is an amplifier */
			if (cli_u64(&rate, "--rate-limit", optarg, 1, 1000000) < 0)
				return EXIT_USAGE;
			break;
		case OPT_COUNT:
			if (!swarm || cli_u64(&count, "--count", optarg, 1, 20000) < 0)
				return swarm ? EXIT_USAGE : cli_usage(node_usage, cli_prog);
			break;
		case OPT_BASE:
			if (!swarm || cli_u64(&base, "--base-port", optarg, 1, 65535) < 0)
				return swarm ? EXIT_USAGE : cli_usage(node_usage, cli_prog);
			break;
		case 'h':
			printf(swarm ? swarm_usage : node_usage, cli_prog);
			putchar('\n');
			return 0;
		default:
			return cli_usage(swarm ? swarm_usage : node_usage, cli_prog);
		}
	}
	if (optind != argc || !listen_s || (swarm && !base))
		return cli_usage(swarm ? swarm_usage : node_usage, cli_prog);
	if (parse_addr(&listen, "--listen", listen_s, !swarm) < 0)
		return EXIT_USAGE;
	if (swarm && base + count - 1 > 65535)
		return cli_usage("--base-port %" PRIu64 " + --count %" PRIu64 " passes port 65535",
		                 base, count);
	raise_fd_limit();
	rs = calloc(count, sizeof(*rs));
	if (!rs)
		return cli_fail("out of memory");
	for (uint64_t i = 0; i < count; i++) {
		struct mt6d_dht_config cfg = {.read_only = ro, .rate_limit = (uint32_t)rate};
		if (swarm)
			listen.port = (uint16_t)(base + i);
		if (runner_start(&rs[i], loop, &listen, &cfg) < 0)
			goto out;
		rs[i].state = state;
		if (state) {
			int lr = mt6d_dht_load(rs[i].dht, state, mt6d_mono_ms());
			if (lr < 0 && lr != -ENOENT)
				fprintf(stderr, "%s: state file `%s' not loaded: %s\n", cli_prog,
				        state, strerror(-lr));
		}
		(void)dhtrun_bootstrap(&rs[i], boot, nboot);
		if (swarm && i > 0) {
			/* everyone also knows the first node of the swarm */
			struct mt6d_endpoint first = listen;
			struct sockaddr_storage ss;
			socklen_t sslen;

			first.port = (uint16_t)base;
			sslen = mt6d_endpoint_to_sockaddr(&ss, &first);
			mt6d_dht_add_node(rs[i].dht, (const struct sockaddr *)&ss, sslen,
			                  mt6d_mono_ms());
		}
	}
	ev_signal_init(&sigint, on_signal, SIGINT);
	ev_signal_init(&sigterm, on_signal, SIGTERM);
	ev_signal_start(loop, &sigint);
	ev_signal_start(loop, &sigterm);
	signal(SIGPIPE, SIG_IGN);
	{
		uint8_t id[MT6D_DHT_ID_LEN];
		mt6d_dht_get_id(rs[0].dht, id);
		mt6d_hex_encode(idhex, id, sizeof(id));
		mt6d_endpoint_format(t, sizeof(t), &listen);
		if (swarm)
			printf("{\"nodes\":%" PRIu64 ",\"first_port\":%" PRIu64 "}\n", count, base);
		else
			printf("{\"id\":\"%s\",\"listen\":\"%s\"}\n", idhex, t);
		fflush(stdout);
	}
	ev_run(loop, 0);
	ret = 0;
	if (state && mt6d_dht_save(rs[0].dht, state) < 0)
		ret = cli_fail("cannot save the state file `%s'", state);
	if (count)
		rs[0].state = NULL; /* saved (or reported) once; not again at stop */
out:
	for (uint64_t i = 0; i < count; i++)
		dhtrun_stop(&rs[i]);
	free(rs);
	return ret;
}

/* ---- client operations ---- */

struct client {
	struct dhtrun r;
	int exit_code;
	bool done;
	bool stats;
	bool batch;     /* dht batch: next line of stdin after each result */
	uint64_t t0_us; /* dht batch: when the operation started */
	ev_timer warmup;
	enum { C_GET_PEERS, C_ANNOUNCE, C_PUT, C_GET } kind;
	bool is_mutable;
	uint8_t pk[32];
};

static void json_str(FILE *f, const uint8_t *p, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '"' || p[i] == '\\')
			fprintf(f, "\\%c", p[i]);
		else if (p[i] < 0x20 || p[i] == 0x7f)
			fprintf(f, "\\u%04x", p[i]);
		else
			fputc(p[i], f);
	}
	fputc('"', f);
}

static void json_hex(FILE *f, const uint8_t *p, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
	fputc('"', f);
}

/* Printable UTF-8 without control characters prints as text. */
static bool is_text(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t extra;
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0)
			extra = 1;
		else if ((p[i] & 0xf0) == 0xe0)
			extra = 2;
		else if ((p[i] & 0xf8) == 0xf0)
			extra = 3;
		else
			return false;
		if (extra >= n - i)
			return false;
		for (size_t k = 1; k <= extra; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
		i += extra + 1;
	}
	return true;
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void print_stats(const struct client *cl, const struct mt6d_dht_result *res)
{
	if (cl->stats)
		printf(",\"hops\":%u,\"nodes_contacted\":%u,\"elapsed_ms\":%" PRIu64, res->hops,
		       res->nodes_contacted, res->elapsed_ms);
	if (cl->t0_us)
		printf(",\"elapsed_us\":%" PRIu64, now_us() - cl->t0_us);
}

static void batch_next(struct client *cl);

static void on_result(void *arg, const struct mt6d_dht_result *res)
{
	struct client *cl = arg;

	cl->done = true;
	printf("{\"%s\":",
	       cl->kind == C_GET_PEERS || cl->kind == C_ANNOUNCE ? "infohash" : "target");
	json_hex(stdout, res->target, MT6D_DHT_ID_LEN);
	switch (cl->kind) {
	case C_GET_PEERS:
		printf(",\"peers\":[");
		for (size_t i = 0; i < res->npeers; i++) {
			char t[MT6D_ENDPOINT_STRLEN];
			mt6d_endpoint_format(t, sizeof(t), &res->peers[i]);
			printf("%s\"%s\"", i ? "," : "", t);
		}
		printf("],\"nodes_answered\":%u", res->nodes_answered);
		cl->exit_code = res->status < 0 ? 1 : 0;
		break;
	case C_ANNOUNCE:
		printf(",\"stored_on\":%u", res->stored_on);
		cl->exit_code = res->stored_on ? 0 : 1;
		break;
	case C_PUT:
		printf(",\"stored_on\":%u", res->stored_on);
		if (cl->is_mutable) {
			printf(",\"seq\":%" PRId64 ",\"public_key\":", res->seq);
			json_hex(stdout, cl->pk, 32);
		} else {
			printf(",\"seq\":null");
		}
		cl->exit_code = res->stored_on ? 0 : 1;
		break;
	case C_GET: {
		const uint8_t *str;
		size_t slen;
		printf(",\"value\":");
		if (res->status < 0 || !res->value) {
			printf("null");
		} else if (value_decode(&str, &slen, res->value, res->value_len) == 0 &&
		           is_text(str, slen)) {
			json_str(stdout, str, slen);
		} else if (value_decode(&str, &slen, res->value, res->value_len) == 0) {
			json_hex(stdout, str, slen);
		} else {
			json_hex(stdout, res->value, res->value_len);
		}
		if (res->seq >= 0)
			printf(",\"seq\":%" PRId64, res->seq);
		else
			printf(",\"seq\":null");
		printf(",\"nodes_answered\":%u", res->nodes_answered);
		cl->exit_code = res->status < 0 ? 1 : 0;
		break;
	}
	}
	print_stats(cl, res);
	printf("}\n");
	fflush(stdout);
	if (cl->batch)
		batch_next(cl);
	else
		ev_break(cl->r.loop, EVBREAK_ALL);
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w, (void)revents;
	ev_break(loop, EVBREAK_ALL);
}

enum {
	OPT_INFOHASH = 2000,
	OPT_PORT,
	OPT_VALUE,
	OPT_SEED,
	OPT_SALT,
	OPT_SEQ,
	OPT_TARGET,
	OPT_PK,
	OPT_TIMEOUT,
	OPT_STATS
};

static const char *const client_usage[] = {
        [C_GET_PEERS] = "dht get-peers --bootstrap ADDR:PORT --infohash HEX40",
        [C_ANNOUNCE] = "dht announce --bootstrap ADDR:PORT --infohash HEX40 --port P "
                       "[--port P ...]",
        [C_PUT] = "dht put --bootstrap ADDR:PORT --value TEXT "
                  "[--seed HEX64 [--salt TEXT] [--seq N]]",
        [C_GET] = "dht get --bootstrap ADDR:PORT (--target HEX40 | --public-key HEX64 "
                  "[--salt TEXT])",
};

static int run_client(int argc, char **argv, int kind)
{
	static const struct option opts[] = {
	        {"bootstrap", required_argument, NULL, OPT_BOOT},
	        {"infohash", required_argument, NULL, OPT_INFOHASH},
	        {"port", required_argument, NULL, OPT_PORT},
	        {"value", required_argument, NULL, OPT_VALUE},
	        {"seed", required_argument, NULL, OPT_SEED},
	        {"salt", required_argument, NULL, OPT_SALT},
	        {"seq", required_argument, NULL, OPT_SEQ},
	        {"target", required_argument, NULL, OPT_TARGET},
	        {"public-key", required_argument, NULL, OPT_PK},
	        {"timeout", required_argument, NULL, OPT_TIMEOUT},
	        {"stats", no_argument, NULL, OPT_STATS},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct mt6d_endpoint boot[MAX_BOOTSTRAP], listen = {0};
	uint8_t ih[MT6D_DHT_ID_LEN], seed[32], sk[64], vbuf[MT6D_DHT_MAX_V + 8];
	uint16_t ports[MAX_PORTS];
	const char *value = NULL, *salt = NULL;
	bool have_ih = false, have_seed = false, have_pk = false, have_seq = false;
	uint64_t seq = 0, timeout = 30, v;
	int nboot = 0, nports = 0, c, ret = 1;
	struct client cl;
	struct ev_loop *loop = EV_DEFAULT;
	ev_timer deadline;
	size_t vlen = 0, saltlen = 0;

	memset(&cl, 0, sizeof(cl));
	cl.kind = kind;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_BOOT:
			if (nboot == MAX_BOOTSTRAP)
				return cli_usage("at most %d --bootstrap", MAX_BOOTSTRAP);
			if (parse_addr(&boot[nboot++], "--bootstrap", optarg, true) < 0)
				return EXIT_USAGE;
			break;
		case OPT_INFOHASH:
		case OPT_TARGET:
			if (cli_hex(ih, sizeof(ih), c == OPT_INFOHASH ? "--infohash" : "--target",
			            optarg) < 0)
				return EXIT_USAGE;
			have_ih = true;
			break;
		case OPT_PORT:
			if (nports == MAX_PORTS)
				return cli_usage("at most %d --port", MAX_PORTS);
			if (cli_u64(&v, "--port", optarg, 1, 65535) < 0)
				return EXIT_USAGE;
			ports[nports++] = (uint16_t)v;
			break;
		case OPT_VALUE:
			value = optarg;
			break;
		case OPT_SEED:
			if (cli_hex(seed, sizeof(seed), "--seed", optarg) < 0)
				return EXIT_USAGE;
			have_seed = true;
			break;
		case OPT_PK:
			if (cli_hex(cl.pk, sizeof(cl.pk), "--public-key", optarg) < 0)
				return EXIT_USAGE;
			have_pk = true;
			break;
		case OPT_SALT:
			salt = optarg;
			saltlen = strlen(salt);
			if (saltlen > MT6D_DHT_MAX_SALT)
				return cli_usage("--salt is longer than %d bytes: `%s'",
				                 MT6D_DHT_MAX_SALT, salt);
			break;
		case OPT_SEQ:
			if (cli_u64(&seq, "--seq", optarg, 0, INT64_MAX) < 0)
				return EXIT_USAGE;
			have_seq = true;
			break;
		case OPT_TIMEOUT:
			if (cli_u64(&timeout, "--timeout", optarg, 1, 3600) < 0)
				return EXIT_USAGE;
			break;
		case OPT_STATS:
			cl.stats = true;
			break;
		case 'h':
			printf("Usage: %s %s", cli_prog, client_usage[kind]);
			putchar('\n');
			return 0;
		default:
			return cli_usage("Usage: %s %s", cli_prog, client_usage[kind]);
		}
	}
	if (optind != argc || !nboot)
		return cli_usage("Usage: %s %s", cli_prog, client_usage[kind]);
	switch (kind) {
	case C_GET_PEERS:
		if (!have_ih || nports || value || have_seed || have_pk || salt || have_seq)
			return cli_usage("Usage: %s %s", cli_prog, client_usage[kind]);
		break;
	case C_ANNOUNCE:
		if (!have_ih || !nports || value || have_seed || have_pk || salt || have_seq)
			return cli_usage("Usage: %s %s", cli_prog, client_usage[kind]);
		break;
	case C_PUT:
		if (!value || have_ih || nports || have_pk || ((salt || have_seq) && !have_seed))
			return cli_usage("Usage: %s %s", cli_prog, client_usage[kind]);
		break;
	case C_GET:
		if (have_ih == have_pk || nports || value || have_seed || have_seq ||
		    (salt && !have_pk))
			return cli_usage("Usage: %s %s", cli_prog, client_usage[kind]);
		break;
	}
	if (value && value_encode(vbuf, sizeof(vbuf), &vlen, value) < 0)
		return cli_usage("--value bencodes to more than %d bytes", MT6D_DHT_MAX_V);
	raise_fd_limit();
	/* our socket: the family of the first bootstrap node, any port */
	mt6d_endpoint_set(&listen, (const uint8_t[16]){0}, mt6d_endpoint_is_v4(&boot[0]) ? 4 : 16,
	                  0);
	{
		struct mt6d_dht_config cfg = {.read_only = true};
		if (runner_start(&cl.r, loop, &listen, &cfg) < 0)
			return 1;
	}
	(void)dhtrun_bootstrap(&cl.r, boot, nboot);
	switch (kind) {
	case C_GET_PEERS:
		ret = mt6d_dht_get_peers(cl.r.dht, ih, on_result, &cl, mt6d_mono_ms());
		break;
	case C_ANNOUNCE:
		ret = mt6d_dht_announce(cl.r.dht, ih, ports, (size_t)nports, on_result, &cl,
		                        mt6d_mono_ms());
		break;
	case C_PUT:
		if (have_seed) {
			struct timespec ts;
			crypto_sign_seed_keypair(cl.pk, sk, seed);
			cl.is_mutable = true;
			if (!have_seq) {
				/* as DESIGN.md: Unix time in microseconds, always increasing */
				clock_gettime(CLOCK_REALTIME, &ts);
				seq = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
			}
			ret = mt6d_dht_put_mutable(cl.r.dht, sk, (const uint8_t *)salt, saltlen,
			                           vbuf, vlen, (int64_t)seq, on_result, &cl,
			                           mt6d_mono_ms());
			sodium_memzero(sk, sizeof(sk));
			sodium_memzero(seed, sizeof(seed));
		} else {
			ret = mt6d_dht_put_immutable(cl.r.dht, vbuf, vlen, on_result, &cl,
			                             mt6d_mono_ms());
		}
		break;
	case C_GET:
		ret = mt6d_dht_get(cl.r.dht, ih, have_pk ? cl.pk : NULL, (const uint8_t *)salt,
		                   saltlen, on_result, &cl, mt6d_mono_ms());
		break;
	}
	if (ret < 0) {
		dhtrun_stop(&cl.r);
		return cli_fail("cannot start the operation: %s", strerror(-ret));
	}
	if (!cl.done) {
		ev_timer_init(&deadline, on_deadline, (double)timeout, 0.0);
		ev_timer_start(loop, &deadline);
		ev_run(loop, 0);
		ev_timer_stop(loop, &deadline);
	}
	ret = cl.done ? cl.exit_code : cli_fail("no result within %" PRIu64 " s", timeout);
	dhtrun_stop(&cl.r);
	return ret;
}

/*
 * dht batch: one long-lived node runs the lookups read from stdin one after
 * another, after a warm-up that fills its routing table (read-only, as a
 * client's node would be). Lines: "get-peers HEX40", "get HEX40",
 * "get-mutable PUBKEY-HEX64 [SALT]". Used by bench/dht.
 */
static void batch_next(struct client *cl)
{
	char line[512], op[16], a[200], b[100];
	uint8_t id[MT6D_DHT_ID_LEN];
	int n, ret = -EINVAL;

	while (fgets(line, sizeof(line), stdin)) {
		b[0] = '\0';
		n = sscanf(line, "%15s %199s %99s", op, a, b);
		if (n < 2)
			continue;
		cl->t0_us = now_us();
		if (!strcmp(op, "get-peers") && mt6d_hex_decode(id, 20, a) == 0) {
			cl->kind = C_GET_PEERS;
			ret = mt6d_dht_get_peers(cl->r.dht, id, on_result, cl, mt6d_mono_ms());
		} else if (!strcmp(op, "get") && mt6d_hex_decode(id, 20, a) == 0) {
			cl->kind = C_GET;
			ret = mt6d_dht_get(cl->r.dht, id, NULL, NULL, 0, on_result, cl,
			                   mt6d_mono_ms());
		} else if (!strcmp(op, "get-mutable") && mt6d_hex_decode(cl->pk, 32, a) == 0) {
			cl->kind = C_GET;
			ret = mt6d_dht_get(cl->r.dht, id, cl->pk, (const uint8_t *)b, strlen(b),
			                   on_result, cl, mt6d_mono_ms());
		} else {
			fprintf(stderr, "%s: dht batch: cannot read the line `%s'\n", cli_prog, a);
			continue;
		}
		if (ret > 0)
			return;
		fprintf(stderr, "%s: dht batch: %s\n", cli_prog, strerror(-ret));
	}
	ev_break(cl->r.loop, EVBREAK_ALL);
}

static void on_warm(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	batch_next(w->data);
}

static int run_batch(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"bootstrap", required_argument, NULL, OPT_BOOT},
	        {"listen", required_argument, NULL, OPT_LISTEN},
	        {"warmup", required_argument, NULL, OPT_TIMEOUT},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	static const char usage[] =
	        "Usage: %s dht batch --bootstrap ADDR:PORT [--listen ADDR:PORT] "
	        "[--warmup SEC] < lookups";
	struct mt6d_endpoint boot[MAX_BOOTSTRAP], listen = {0};
	const char *listen_s = NULL;
	uint64_t warm = 20;
	int nboot = 0, c;
	struct client cl;
	struct ev_loop *loop = EV_DEFAULT;
	/* read-only: nobody keeps a batch node that exits when its input ends */
	struct mt6d_dht_config cfg = {.read_only = true};

	memset(&cl, 0, sizeof(cl));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_BOOT:
			if (nboot == MAX_BOOTSTRAP)
				return cli_usage("at most %d --bootstrap", MAX_BOOTSTRAP);
			if (parse_addr(&boot[nboot++], "--bootstrap", optarg, true) < 0)
				return EXIT_USAGE;
			break;
		case OPT_LISTEN:
			listen_s = optarg;
			break;
		case OPT_TIMEOUT:
			if (cli_u64(&warm, "--warmup", optarg, 0, 3600) < 0)
				return EXIT_USAGE;
			break;
		case 'h':
			printf(usage, cli_prog);
			putchar('\n');
			return 0;
		default:
			return cli_usage(usage, cli_prog);
		}
	}
	if (optind != argc || !nboot)
		return cli_usage(usage, cli_prog);
	if (listen_s) {
		if (parse_addr(&listen, "--listen", listen_s, true) < 0)
			return EXIT_USAGE;
	} else {
		mt6d_endpoint_set(&listen, (const uint8_t[16]){0},
		                  mt6d_endpoint_is_v4(&boot[0]) ? 4 : 16, 0);
	}
	cl.batch = true;
	cl.stats = true;
	if (runner_start(&cl.r, loop, &listen, &cfg) < 0)
		return 1;
	(void)dhtrun_bootstrap(&cl.r, boot, nboot);
	ev_timer_init(&cl.warmup, on_warm, (double)warm, 0.0);
	cl.warmup.data = &cl;
	ev_timer_start(loop, &cl.warmup);
	ev_run(loop, 0);
	dhtrun_stop(&cl.r);
	return 0;
}

static const struct {
	const char *name;
	int kind;
	const char *summary;
} dht_cmds[] = {
        {"node", -1, "run one DHT node until SIGINT or SIGTERM"},
        {"swarm", -2, "run N DHT nodes on consecutive ports (tests, benchmarks)"},
        {"get-peers", C_GET_PEERS, "look up the peers announced under an infohash"},
        {"announce", C_ANNOUNCE, "announce ports under an infohash"},
        {"put", C_PUT, "store a BEP 44 item (immutable, or mutable with --seed)"},
        {"get", C_GET, "read a BEP 44 item"},
        {"batch", -3, "run lookups read from stdin on one warmed-up node (bench/dht)"},
};

int cmd_dht(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: %s dht <cmd> [<args>]\n\n", cli_prog);
		for (size_t i = 0; i < sizeof(dht_cmds) / sizeof(dht_cmds[0]); i++)
			printf("  %-10s %s\n", dht_cmds[i].name, dht_cmds[i].summary);
		return 0;
	}
	if (argc < 2)
		goto usage;
	for (size_t i = 0; i < sizeof(dht_cmds) / sizeof(dht_cmds[0]); i++) {
		if (strcmp(argv[1], dht_cmds[i].name))
			continue;
		if (dht_cmds[i].kind == -1)
			return run_nodes(argc - 1, argv + 1, false);
		if (dht_cmds[i].kind == -2)
			return run_nodes(argc - 1, argv + 1, true);
		if (dht_cmds[i].kind == -3)
			return run_batch(argc - 1, argv + 1);
		return run_client(argc - 1, argv + 1, dht_cmds[i].kind);
	}
usage:
	fprintf(stderr, "Usage: %s dht <cmd> [<args>]\n\n", cli_prog);
	for (size_t i = 0; i < sizeof(dht_cmds) / sizeof(dht_cmds[0]); i++)
		fprintf(stderr, "  %-10s %s\n", dht_cmds[i].name, dht_cmds[i].summary);
	return EXIT_USAGE;
}
