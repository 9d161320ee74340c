/* SPDX-License-Identifier: MIT */
/*
 * mt6d lookup: a client's rendezvous (FIG. 5) from the command line. Runs a
 * read-only DHT node (BEP 43) on an ephemeral port, looks up the server's
 * configuration for this client and prints its fields as key=value lines
 * (underlay=ADDR:PORT last, for a version 2 configuration);
 * on failure says which step failed and exits 1.
 *
 * mt6d set / mt6d status: talk to a running daemon's control socket.
 */
#include <arpa/inet.h>
#include <errno.h>
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

struct lookup_run {
	struct mt6d_lookup_result res;
	int done;
	struct ev_loop *loop;
};

static void on_done(void *arg, const struct mt6d_lookup_result *res)
{
	struct lookup_run *lr = arg;

	lr->res = *res;
	lr->done = 1;
	ev_break(lr->loop, EVBREAK_ALL);
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

/* "900" or "900,300": at most MT6D_LOOKUP_MAX_PERIODS values of 10..604800. */
static int parse_periods(uint32_t out[MT6D_LOOKUP_MAX_PERIODS], const char *s)
{
	char buf[128], *save = NULL, *tok;
	int n = 0;

	if (strlen(s) >= sizeof(buf))
		goto bad;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		if (n == MT6D_LOOKUP_MAX_PERIODS || cli_u64(&v, "--period", tok, 10, 7 * 86400) < 0)
			goto bad;
		out[n++] = (uint32_t)v;
	}
	if (n)
		return 0;
bad:
	cli_fail("--period is not 1 to %d comma-separated periods of 10-604800 s: `%s'",
	         MT6D_LOOKUP_MAX_PERIODS, s);
	return -1;
}

int cmd_lookup(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"key", required_argument, NULL, 'k'},
	        {"server", required_argument, NULL, 's'},
	        {"bootstrap", required_argument, NULL, 'b'},
	        {"period", required_argument, NULL, 'n'},
	        {"transport", required_argument, NULL, 't'},
	        {"listen", required_argument, NULL, 'l'},
	        {"time", required_argument, NULL, 'T'},
	        {"timeout", required_argument, NULL, 'w'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct mt6d_lookup_config lc = {0};
	struct mt6d_dht_config dc = {.read_only = true};
	struct mt6d_endpoint boot[CONF_MAX_BOOTSTRAP], listen;
	struct lookup_run lr = {0};
	struct dhtrun run = {0};
	struct mt6d_lookup *lk = NULL;
	const char *key = NULL, *server = NULL, *listen_s = NULL;
	uint64_t at_ms = 0, timeout = 30;
	ev_timer deadline;
	char err[256], addr[INET6_ADDRSTRLEN], khex[33], underlay[INET6_ADDRSTRLEN + 8];
	int nboot = 0, c, ret = 1, t;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			key = optarg;
			break;
		case 's':
			server = optarg;
			break;
		case 'b':
			if (nboot == CONF_MAX_BOOTSTRAP ||
			    mt6d_endpoint_parse(&boot[nboot], optarg, MT6D_EP_PORT) < 0)
				return cli_fail("--bootstrap is not ADDRESS:PORT or [ADDRESS]:PORT "
				                "(at most %d): `%s'",
				                CONF_MAX_BOOTSTRAP, optarg);
			nboot++;
			break;
		case 'n':
			if (parse_periods(lc.periods, optarg) < 0)
				return 1;
			break;
		case 't':
			t = mt6d_rdv_transport_parse(optarg);
			if (t < 0)
				return cli_fail(
				        "--transport is neither bep44, stuffing nor both: `%s'",
				        optarg);
			lc.transports = t;
			break;
		case 'l':
			listen_s = optarg;
			break;
		case 'T': {
			uint64_t v;
			if (cli_u64(&v, "--time", optarg, 1, UINT64_MAX / 1000) < 0)
				return 1;
			at_ms = v * 1000;
			break;
		}
		case 'w':
			if (cli_u64(&timeout, "--timeout", optarg, 1, 3600) < 0)
				return 1;
			break;
		default:
			goto usage;
		}
	}
	if (!key || !server || !nboot || optind != argc)
		goto usage;
	if (cli_pubkey(lc.server_pub, "--server", server) < 0 ||
	    cli_privkey_file(lc.client_priv, "--key", key) < 0)
		goto out;
	if (listen_s) {
		if (mt6d_endpoint_parse(&listen, listen_s, MT6D_EP_PORT) < 0) {
			cli_fail("--listen is not ADDRESS:PORT or [ADDRESS]:PORT: `%s'", listen_s);
			goto out;
		}
	} else {
		/* An ephemeral port of the first bootstrap node's family, on the
		 * wildcard address only if that node is not on loopback. */
		bool v4 = mt6d_endpoint_is_v4(&boot[0]);
		uint8_t any[4] = {0};

		if (v4 && boot[0].addr[12] == 127)
			any[0] = 127, any[3] = 1;
		mt6d_endpoint_set(&listen, v4 ? any : (const uint8_t[16]){0}, v4 ? 4 : 16, 0);
	}
	lr.loop = ev_default_loop(EVFLAG_AUTO);
	if (dhtrun_start(&run, lr.loop, &listen, &dc, err, sizeof(err)) < 0) {
		cli_fail("%s", err);
		goto out;
	}
	if (dhtrun_bootstrap(&run, boot, nboot) == 0) {
		cli_fail("no --bootstrap node of the listen address's family");
		goto out;
	}
	lc.dht = run.dht;
	lk = mt6d_lookup_start(&lc, mt6d_mono_ms(), at_ms ? at_ms : mt6d_unix_ms(), on_done, &lr);
	if (!lk) {
		cli_fail("cannot start the lookup: %s",
		         errno == EINVAL ? "the keys give an all-zero shared secret"
		                         : strerror(errno));
		goto out;
	}
	dhtrun_kick(&run);
	ev_timer_init(&deadline, on_deadline, (double)timeout, 0.0);
	ev_timer_start(lr.loop, &deadline);
	if (!lr.done)
		ev_run(lr.loop, 0);
	ev_timer_stop(lr.loop, &deadline);
	if (!lr.done) {
		cli_fail("lookup timed out after %" PRIu64 " s", timeout);
		goto out;
	}
	if (lr.res.step != MT6D_LOOKUP_OK) {
		cli_fail("lookup failed: %s (%u windows tried, %u DHT answers, %u candidates)",
		         mt6d_lookup_step_name(lr.res.step), lr.res.windows_tried,
		         lr.res.nodes_answered, lr.res.candidates);
		goto out;
	}
	inet_ntop(AF_INET6, lr.res.config.seed_addr, addr, sizeof(addr));
	mt6d_hex_encode(khex, lr.res.config.intro_key, sizeof(lr.res.config.intro_key));
	printf("version=%u\nwindow=%" PRIu64 "\nrot_ms=%" PRIu32 "\nseed_address=%s\n"
	       "intro_key=%s\ntransport=%s\ncandidates=%u\nelapsed_ms=%" PRIu64 "\n",
	       lr.res.config.version, lr.res.config.window, lr.res.config.rot_ms, addr, khex,
	       mt6d_rdv_transport_name(lr.res.transport), lr.res.candidates, lr.res.elapsed_ms);
	if (lr.res.config.underlay_port) {
		struct mt6d_endpoint ep = {.port = lr.res.config.underlay_port};

		memcpy(ep.addr, lr.res.config.underlay_addr, 16);
		printf("underlay=%s\n", mt6d_endpoint_format(underlay, sizeof(underlay), &ep));
	}
	sodium_memzero(khex, sizeof(khex));
	ret = fflush(stdout) == 0 ? 0 : 1;
out:
	mt6d_lookup_free(lk);
	dhtrun_stop(&run);
	sodium_memzero(&lc, sizeof(lc));
	sodium_memzero(&lr, sizeof(lr));
	return ret;
usage:
	fprintf(stderr,
	        "Usage: %s lookup --key CLIENTPRIVFILE --server SERVERPUBKEY --bootstrap ADDR:PORT "
	        "[--bootstrap ...]\n"
	        "       [--period SEC[,SEC...]] [--transport bep44|stuffing|both] "
	        "[--listen ADDR:PORT] [--time UNIXSEC] [--timeout SEC]\n",
	        cli_prog);
	return EXIT_USAGE;
}

#define DEFAULT_SOCKET "/run/mt6d/mt6d.sock"

static int control_cmd(const char *sock, const char *req)
{
	int ret = control_request(sock, req, stdout);

	if (ret < 0)
		return cli_fail("control socket `%s': %s", sock, strerror(-ret));
	return 0;
}

int cmd_status(int argc, char **argv)
{
	const char *sock = DEFAULT_SOCKET;

	if (argc == 3 && !strcmp(argv[1], "--socket"))
		sock = argv[2];
	else if (argc != 1)
		return cli_usage("Usage: %s status [--socket PATH]", cli_prog);
	return control_cmd(sock, "status");
}

/* mt6d set [--socket PATH] period SEC [rotation-ms MS] */
int cmd_set(int argc, char **argv)
{
	const char *sock = DEFAULT_SOCKET;
	uint64_t period = 0, rot = 0;
	char req[128];
	int i = 1;

	if (argc >= 3 && !strcmp(argv[1], "--socket")) {
		sock = argv[2];
		i = 3;
	}
	if (i == argc)
		goto usage;
	for (; i < argc; i += 2) {
		if (i + 1 >= argc)
			goto usage;
		if (!strcmp(argv[i], "period")) {
			if (cli_u64(&period, "period", argv[i + 1], 10, 7 * 86400) < 0)
				return 1;
		} else if (!strcmp(argv[i], "rotation-ms")) {
			if (cli_u64(&rot, "rotation-ms", argv[i + 1], 100, 3600000) < 0)
				return 1;
		} else {
			goto usage;
		}
	}
	snprintf(req, sizeof(req), "set");
	if (period)
		snprintf(req + strlen(req), sizeof(req) - strlen(req), " period=%" PRIu64, period);
	if (rot)
		snprintf(req + strlen(req), sizeof(req) - strlen(req), " rotation_ms=%" PRIu64,
		         rot);
	return control_cmd(sock, req);
usage:
	return cli_usage("Usage: %s set [--socket PATH] [period SEC] [rotation-ms MS]", cli_prog);
}
