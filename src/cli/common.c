/* SPDX-License-Identifier: MIT */
/* Argument parsers shared by every subcommand; each error names the option
 * and quotes the value it refused. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"

__attribute__((format(printf, 1, 0))) static void vsay(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", cli_prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int cli_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	return 1;
}

int cli_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

int cli_u64(uint64_t *v, const char *opt, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long x;

	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+')
		goto bad;
	x = strtoull(s, &end, 10);
	if (errno || *end || x < min || x > max)
		goto bad;
	*v = x;
	return 0;
bad:
	cli_fail("%s is not an integer from %" PRIu64 " to %" PRIu64 ": `%s'", opt, min, max,
	         s ? s : "");
	return -1;
}

int cli_hex(uint8_t *out, size_t len, const char *opt, const char *s)
{
	if (mt6d_hex_decode(out, len, s) == 0)
		return 0;
	cli_fail("%s is not %zu hex digits: `%s'", opt, 2 * len, s ? s : "");
	return -1;
}

int cli_pubkey(uint8_t key[static MT6D_KEY_LEN], const char *opt, const char *s)
{
	if (mt6d_key_from_base64(key, s) == 0)
		return 0;
	cli_fail("%s is not a base64 key of 32 bytes: `%s'", opt, s ? s : "");
	return -1;
}

int cli_privkey_file(uint8_t key[static MT6D_KEY_LEN], const char *opt, const char *path)
{
	int ret = mt6d_key_load_private(key, path);

	if (ret == 0)
		return 0;
	if (ret == -EPERM)
		cli_fail("%s: private key file `%s' is accessible by group or others; "
		         "chmod 600 it",
		         opt, path);
	else if (ret == -EINVAL)
		cli_fail("%s: `%s' does not hold one base64 key of 32 bytes", opt, path);
	else
		cli_fail("%s: `%s': %s", opt, path, strerror(-ret));
	return -1;
}

int cli_ipv6(uint8_t addr[static 16], const char *opt, const char *s)
{
	if (s && inet_pton(AF_INET6, s, addr) == 1)
		return 0;
	cli_fail("%s is not an IPv6 address: `%s'", opt, s ? s : "");
	return -1;
}

int cli_prefix64(uint8_t prefix[static 8], const char *opt, const char *s)
{
	uint8_t a[16];
	unsigned plen;

	if (mt6d_prefix_parse(a, &plen, s, 64) == 0) {
		memcpy(prefix, a, 8);
		return 0;
	}
	cli_fail("%s is not an IPv6 prefix of length 64 (ADDRESS/64): `%s'", opt, s ? s : "");
	return -1;
}

int cli_endpoint(uint8_t addr[static 16], uint16_t *port, const char *opt, const char *s)
{
	struct mt6d_endpoint a;

	if (mt6d_endpoint_parse(&a, s, MT6D_EP_PORT) == 0) {
		memcpy(addr, a.addr, 16);
		*port = a.port;
		return 0;
	}
	cli_fail("%s is not ADDRESS:PORT or [ADDRESS]:PORT with a port of 1-65535: `%s'", opt,
	         s ? s : "");
	return -1;
}

int cli_daemon_opts(int argc, char **argv, const char *cmd, const char **path, bool *verbose)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"verbose", no_argument, NULL, 'v'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	int c;

	*path = NULL;
	optind = 1;
	while ((c = getopt_long(argc, argv, verbose ? "c:vh" : "c:h", opts, NULL)) != -1) {
		if (c == 'c') {
			*path = optarg;
		} else if (c == 'v' && verbose) {
			*verbose = true;
		} else if (c == 'h') {
			printf("Usage: %s %s -c FILE%s\n", cli_prog, cmd, verbose ? " [-v]" : "");
			return -1;
		} else {
			break;
		}
	}
	if (c != -1 || !*path || optind != argc) {
		fprintf(stderr, "Usage: %s %s -c FILE%s\n", cli_prog, cmd, verbose ? " [-v]" : "");
		return EXIT_USAGE;
	}
	return 0;
}

int cli_read_stdin(char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;

	while ((n = read(STDIN_FILENO, buf + len, cap - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cli_fail("reading stdin: %s", strerror(errno)), -1;
		len += (size_t)n;
		if (len == cap - 1) {
			char c;
			if (read(STDIN_FILENO, &c, 1) > 0)
				return cli_fail("stdin is longer than %zu bytes", cap - 1), -1;
			break;
		}
	}
	buf[len] = '\0';
	return 0;
}

int cli_shared_secret(uint8_t s[static MT6D_KEY_LEN], const char *keyfile, const char *peer)
{
	uint8_t priv[MT6D_KEY_LEN], pub[MT6D_KEY_LEN];
	int ret = -1;

	if (!keyfile || !peer) {
		cli_usage("--key and --peer are required");
		return -2;
	}
	if (cli_privkey_file(priv, "--key", keyfile) < 0 || cli_pubkey(pub, "--peer", peer) < 0)
		goto out;
	if (mt6d_shared_secret(s, priv, pub) < 0) {
		cli_fail("--peer `%s' gives an all-zero shared secret (a low-order point)", peer);
		goto out;
	}
	ret = 0;
out:
	sodium_memzero(priv, sizeof(priv));
	return ret;
}
