/* SPDX-License-Identifier: MIT */
/*
 * mt6d derive descriptor|seed-iid|address|bep44: one protocol v1 value per
 * call, for scripts and for checking another implementation against ours.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"

enum {
	OPT_KEY = 'k',
	OPT_PEER = 'p',
	OPT_TIME = 't',
	OPT_PERIOD = 'n',
	OPT_INTRO = 'K',
	OPT_PREFIX = 'P',
	OPT_IID = 'i',
	OPT_SKEY = 's',
	OPT_TIME_MS = 'm',
	OPT_ROT = 'r',
	OPT_HELP = 'h'
};

static const struct option options[] = {
        {"key", required_argument, NULL, OPT_KEY},
        {"peer", required_argument, NULL, OPT_PEER},
        {"time", required_argument, NULL, OPT_TIME},
        {"period", required_argument, NULL, OPT_PERIOD},
        {"intro-key", required_argument, NULL, OPT_INTRO},
        {"prefix", required_argument, NULL, OPT_PREFIX},
        {"iid", required_argument, NULL, OPT_IID},
        {"session-key", required_argument, NULL, OPT_SKEY},
        {"time-ms", required_argument, NULL, OPT_TIME_MS},
        {"rot-ms", required_argument, NULL, OPT_ROT},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
};

static int usage(void)
{
	fprintf(stderr,
	        "Usage: %s derive descriptor --key PRIVFILE --peer PUBKEY --time UNIXSEC "
	        "[--period SEC]\n"
	        "       %s derive bep44 --key PRIVFILE --peer PUBKEY --time UNIXSEC "
	        "[--period SEC]\n"
	        "       %s derive seed-iid --key PRIVFILE --peer PUBKEY --intro-key HEX32\n"
	        "       %s derive address --prefix IPV6PREFIX/64 --iid HEX16 "
	        "--session-key HEX32 --time-ms UNIXMS --rot-ms MS\n",
	        cli_prog, cli_prog, cli_prog, cli_prog);
	return EXIT_USAGE;
}

int cmd_derive(int argc, char **argv)
{
	const char *what, *key = NULL, *peer = NULL, *time = NULL, *intro = NULL, *prefix = NULL,
	                  *iid = NULL, *skey = NULL, *time_ms = NULL, *rot = NULL;
	uint64_t period = MT6D_DEFAULT_PERIOD, t = 0, rot_ms = 0;
	uint8_t s[MT6D_KEY_LEN], k[MT6D_INTRO_KEY_LEN], pfx[8], host[8], out[32];
	char hex[65];
	int c, ret = 1;

	if (argc < 2 || argv[1][0] == '-')
		return usage();
	what = argv[1];
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_KEY:
			key = optarg;
			break;
		case OPT_PEER:
			peer = optarg;
			break;
		case OPT_TIME:
			time = optarg;
			break;
		case OPT_PERIOD:
			if (cli_u64(&period, "--period", optarg, 1, UINT32_MAX) < 0)
				return 1;
			break;
		case OPT_INTRO:
			intro = optarg;
			break;
		case OPT_PREFIX:
			prefix = optarg;
			break;
		case OPT_IID:
			iid = optarg;
			break;
		case OPT_SKEY:
			skey = optarg;
			break;
		case OPT_TIME_MS:
			time_ms = optarg;
			break;
		case OPT_ROT:
			rot = optarg;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc - 1)
		return usage();

	if (!strcmp(what, "descriptor") || !strcmp(what, "bep44")) {
		if (!time)
			return cli_usage("derive %s needs --time", what);
		if (cli_u64(&t, "--time", time, 0, UINT64_MAX) < 0)
			return 1;
		if ((c = cli_shared_secret(s, key, peer)) < 0)
			return c == -2 ? EXIT_USAGE : 1;
		t = mt6d_window(t, (uint32_t)period);
		if (what[0] == 'd') {
			mt6d_descriptor(out, s, t);
			mt6d_hex_encode(hex, out, MT6D_DESC_LEN);
			puts(hex);
		} else {
			uint8_t pk[32], sk[64], target[20];
			char pkhex[65];
			mt6d_bep44_keypair(pk, sk, s, t);
			mt6d_bep44_target(target, pk);
			mt6d_hex_encode(hex, target, sizeof(target));
			mt6d_hex_encode(pkhex, pk, sizeof(pk));
			printf("%s %s\n", hex, pkhex);
			sodium_memzero(sk, sizeof(sk));
		}
		ret = 0;
	} else if (!strcmp(what, "seed-iid")) {
		if (!intro)
			return cli_usage("derive seed-iid needs --intro-key");
		if (cli_hex(k, sizeof(k), "--intro-key", intro) < 0)
			return 1;
		if ((c = cli_shared_secret(s, key, peer)) < 0)
			return c == -2 ? EXIT_USAGE : 1;
		mt6d_client_seed_iid(out, s, k);
		mt6d_hex_encode(hex, out, MT6D_IID_LEN);
		puts(hex);
		ret = 0;
	} else if (!strcmp(what, "address")) {
		uint8_t addr[16];
		uint16_t port;
		char text[INET6_ADDRSTRLEN];

		if (!prefix || !iid || !skey || !time_ms || !rot)
			return cli_usage("derive address needs --prefix, --iid, --session-key, "
			                 "--time-ms and --rot-ms");
		if (cli_prefix64(pfx, "--prefix", prefix) < 0 ||
		    cli_hex(host, sizeof(host), "--iid", iid) < 0 ||
		    cli_hex(k, sizeof(k), "--session-key", skey) < 0 ||
		    cli_u64(&t, "--time-ms", time_ms, 0, UINT64_MAX) < 0 ||
		    cli_u64(&rot_ms, "--rot-ms", rot, 1, UINT32_MAX) < 0)
			return 1;
		mt6d_slot_address(addr, &port, pfx, host, k, mt6d_slot(t, (uint32_t)rot_ms));
		inet_ntop(AF_INET6, addr, text, sizeof(text));
		printf("%s %u\n", text, port);
		ret = 0;
	} else {
		cli_fail("invalid value to derive `%s'", what);
		return usage();
	}
	sodium_memzero(s, sizeof(s));
	sodium_memzero(k, sizeof(k));
	return ret;
}
