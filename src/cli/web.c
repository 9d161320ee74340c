/* SPDX-License-Identifier: MIT */
/*
 * mt6d web --socket PATH [--listen ADDR:PORT] [--token-file F]: the dashboard, HTTP API and
 * metrics of a running server or client (src/web/, docs/web.md). Runs as an ordinary user
 * that may use the control socket (root or the daemon's user); no HTTP parser runs in the
 * daemon.
 *
 * Listening anywhere but loopback needs --token-file: a file (mode 0600 or stricter)
 * holding one token line; requests then need `Authorization: Bearer TOKEN`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "cli.h"
#include "web.h"

#define USAGE "Usage: %s web --socket PATH [--listen ADDR:PORT] [--token-file FILE]"

static bool loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static int parse_listen(struct web *w, const char *s)
{
	uint8_t a[16];
	uint16_t port;

	if (cli_endpoint(a, &port, "--listen", s) < 0)
		return -1;
	memset(&w->listen, 0, sizeof(w->listen));
	if (!memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
		struct sockaddr_in *in = (struct sockaddr_in *)&w->listen;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, a + 12, 4);
		w->listen_len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&w->listen;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, a, 16);
		w->listen_len = sizeof(*in6);
	}
	snprintf(w->listen_text, sizeof(w->listen_text), "%s", s);
	return 0;
}

static int load_token(struct web *w, const char *path)
{
	char buf[512];
	struct stat st;
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return cli_fail("--token-file `%s': %s", path, strerror(errno)), -1;
	if (fstat(fileno(f), &st) < 0 || (st.st_mode & 077)) {
		fclose(f);
		return cli_fail("--token-file `%s' is accessible by group or others; chmod 600 it",
		                path),
		       -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	n = strlen(buf);
	if (n < 16 || n >= sizeof(buf) - 1 || strpbrk(buf, " \t")) {
		sodium_memzero(buf, sizeof(buf));
		return cli_fail("--token-file `%s': want one line of 16 to 500 characters without "
		                "blanks",
		                path),
		       -1;
	}
	crypto_generichash(w->token_hash, sizeof(w->token_hash), (const uint8_t *)buf, n, NULL, 0);
	sodium_memzero(buf, sizeof(buf));
	w->have_token = true;
	return 0;
}

int cmd_web(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"socket", required_argument, NULL, 's'},
	        {"listen", required_argument, NULL, 'l'},
	        {"token-file", required_argument, NULL, 't'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *listen = "127.0.0.1:8646", *token = NULL;
	struct web *w;
	int c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:l:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 't':
			token = optarg;
			break;
		case 'h':
			printf(USAGE "\n", cli_prog);
			return 0;
		default:
			return cli_usage(USAGE, cli_prog);
		}
	}
	if (optind != argc || !sock)
		return cli_usage(USAGE, cli_prog);
	w = calloc(1, sizeof(*w));
	if (!w)
		return cli_fail("out of memory");
	ret = 1;
	if (strlen(sock) >= sizeof(w->socket)) {
		cli_fail("--socket path too long: `%s'", sock);
		goto out;
	}
	strcpy(w->socket, sock);
	if (parse_listen(w, listen) < 0)
		goto out;
	if (!loopback(&w->listen) && !token) {
		cli_fail("--listen `%s' is not a loopback address: refusing to serve it without "
		         "--token-file",
		         listen);
		goto out;
	}
	if (token && load_token(w, token) < 0)
		goto out;
	web_init(w);
	ret = web_serve(w);
	web_free(w);
out:
	sodium_memzero(w->token_hash, sizeof(w->token_hash));
	free(w);
	return ret;
}
