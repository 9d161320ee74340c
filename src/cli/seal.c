/* SPDX-License-Identifier: MIT */
/* mt6d seal / mt6d open: the sealed configuration m, as hex. With
 * --underlay, seal makes version 2 (103 bytes); open reads either version. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"

static const struct option options[] = {
        {"key", required_argument, NULL, 'k'},
        {"peer", required_argument, NULL, 'p'},
        {"time", required_argument, NULL, 't'},
        {"period", required_argument, NULL, 'n'},
        {"rot-ms", required_argument, NULL, 'r'},
        {"seed-address", required_argument, NULL, 'a'},
        {"intro-key", required_argument, NULL, 'K'},
        {"underlay", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
};

int cmd_seal(int argc, char **argv)
{
	const char *key = NULL, *peer = NULL;
	uint64_t t = 0, period = MT6D_DEFAULT_PERIOD, rot = MT6D_DEFAULT_ROT_MS;
	int have_time = 0, have_seed = 0, have_k = 0, c, ret = 1;
	struct mt6d_config cfg = {0};
	uint8_t priv[MT6D_KEY_LEN], pub[MT6D_KEY_LEN], m[MT6D_SEALED_MAX];
	char hex[2 * MT6D_SEALED_MAX + 1];
	int len;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'k':
			key = optarg;
			break;
		case 'p':
			peer = optarg;
			break;
		case 't':
			if (cli_u64(&t, "--time", optarg, 0, UINT64_MAX) < 0)
				return 1;
			have_time = 1;
			break;
		case 'n':
			if (cli_u64(&period, "--period", optarg, 1, UINT32_MAX) < 0)
				return 1;
			break;
		case 'r':
			if (cli_u64(&rot, "--rot-ms", optarg, 1, UINT32_MAX) < 0)
				return 1;
			break;
		case 'a':
			if (cli_ipv6(cfg.seed_addr, "--seed-address", optarg) < 0)
				return 1;
			have_seed = 1;
			break;
		case 'K':
			if (cli_hex(cfg.intro_key, sizeof(cfg.intro_key), "--intro-key", optarg) <
			    0)
				return 1;
			have_k = 1;
			break;
		case 'u':
			if (cli_endpoint(cfg.underlay_addr, &cfg.underlay_port, "--underlay",
			                 optarg) < 0)
				return 1;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc || !key || !peer || !have_time || !have_seed || !have_k)
		goto usage;
	cfg.window = mt6d_window(t, (uint32_t)period);
	cfg.rot_ms = (uint32_t)rot;
	if (cli_privkey_file(priv, "--key", key) < 0 || cli_pubkey(pub, "--peer", peer) < 0)
		goto out;
	len = mt6d_config_seal(m, &cfg, pub, priv);
	if (len < 0) {
		cli_fail("--peer `%s' gives an all-zero shared secret", peer);
		goto out;
	}
	mt6d_hex_encode(hex, m, (size_t)len);
	puts(hex);
	ret = 0;
out:
	sodium_memzero(priv, sizeof(priv));
	sodium_memzero(&cfg, sizeof(cfg));
	return ret;
usage:
	fprintf(stderr,
	        "Usage: %s seal --key SERVERPRIVFILE --peer CLIENTPUBKEY --time UNIXSEC "
	        "[--period SEC] [--rot-ms MS] --seed-address IPV6 --intro-key HEX32 "
	        "[--underlay ADDR:PORT]\n",
	        cli_prog);
	return EXIT_USAGE;
}

int cmd_open(int argc, char **argv)
{
	const char *key = NULL, *peer = NULL;
	uint8_t priv[MT6D_KEY_LEN], pub[MT6D_KEY_LEN], m[MT6D_SEALED_MAX];
	struct mt6d_config cfg;
	char buf[1024], *p, *e, addr[INET6_ADDRSTRLEN], khex[2 * MT6D_INTRO_KEY_LEN + 1];
	char underlay[INET6_ADDRSTRLEN + 8];
	size_t len;
	int c, ret = 1, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'k':
			key = optarg;
			break;
		case 'p':
			peer = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc || !key || !peer)
		goto usage;
	if (cli_privkey_file(priv, "--key", key) < 0)
		return 1;
	if (cli_pubkey(pub, "--peer", peer) < 0 || cli_read_stdin(buf, sizeof(buf)) < 0)
		goto out;
	for (p = buf; *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'; p++)
		;
	for (e = p + strlen(p);
	     e > p && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\t' || e[-1] == '\r');)
		*--e = '\0';
	len = strlen(p) / 2;
	if ((strlen(p) != 2 * MT6D_SEALED_LEN && strlen(p) != 2 * MT6D_SEALED_V2_LEN) ||
	    mt6d_hex_decode(m, len, p) < 0) {
		cli_fail("stdin is not a sealed configuration: expected %d or %d hex digits, got "
		         "%zu characters",
		         2 * MT6D_SEALED_LEN, 2 * MT6D_SEALED_V2_LEN, strlen(p));
		goto out;
	}
	err = mt6d_config_open(&cfg, m, len, pub, priv);
	if (err == -EBADMSG) {
		cli_fail("the message does not open with this key pair (wrong keys, or tampered)");
		goto out;
	} else if (err == -EPROTONOSUPPORT) {
		cli_fail("the message opens but has an unsupported version");
		goto out;
	} else if (err < 0) {
		cli_fail("the message opens but is malformed: %s", strerror(-err));
		goto out;
	}
	inet_ntop(AF_INET6, cfg.seed_addr, addr, sizeof(addr));
	mt6d_hex_encode(khex, cfg.intro_key, sizeof(cfg.intro_key));
	printf("version=%u\nwindow=%" PRIu64 "\nrot_ms=%" PRIu32 "\nseed_address=%s\n"
	       "intro_key=%s\n",
	       cfg.version, cfg.window, cfg.rot_ms, addr, khex);
	if (cfg.underlay_port) {
		struct mt6d_endpoint ep = {.port = cfg.underlay_port};

		memcpy(ep.addr, cfg.underlay_addr, 16);
		printf("underlay=%s\n", mt6d_endpoint_format(underlay, sizeof(underlay), &ep));
	}
	ret = 0;
	sodium_memzero(&cfg, sizeof(cfg));
	sodium_memzero(khex, sizeof(khex));
out:
	sodium_memzero(priv, sizeof(priv));
	return ret;
usage:
	fprintf(stderr, "Usage: %s open --key CLIENTPRIVFILE --peer SERVERPUBKEY < message.hex\n",
	        cli_prog);
	return EXIT_USAGE;
}
