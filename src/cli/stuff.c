/* SPDX-License-Identifier: MIT */
/*
 * mt6d stuff: hex message on stdin -> one announce port per line.
 * mt6d unstuff: one port per line on stdin, each optionally preceded by the
 * peer's IP ("PORT", "IP PORT", "IPv4:PORT" or "[IPv6]:PORT") -> one hex
 * message per IP group ("HEX" when no IPs were given, else "IP HEX").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_stuff(int argc, char **argv)
{
	char buf[2 * MT6D_STUFF_MAX + 64], *p, *e;
	uint8_t m[MT6D_STUFF_MAX];
	uint16_t ports[MT6D_STUFF_MAX];
	size_t len;

	if (argc != 1)
		return cli_usage("Usage: %s stuff < message.hex", cli_prog);
	if (cli_read_stdin(buf, sizeof(buf)) < 0)
		return 1;
	for (p = buf; *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'; p++)
		;
	for (e = p + strlen(p);
	     e > p && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\t' || e[-1] == '\r');)
		*--e = '\0';
	len = strlen(p) / 2;
	if (strlen(p) % 2 || len < 1 || len > MT6D_STUFF_MAX || mt6d_hex_decode(m, len, p) < 0)
		return cli_fail("stdin is not a hex message of 1 to %d bytes", MT6D_STUFF_MAX);
	if (mt6d_stuff_encode(ports, m, len) < 0)
		return cli_fail("cannot stuff the message");
	for (size_t i = 0; i < len; i++)
		printf("%u\n", ports[i]);
	return fflush(stdout) == 0 ? 0 : cli_fail("writing stdout failed");
}

/* Parse "PORT", "IP PORT", "A.B.C.D:PORT" or "[V6]:PORT". */
static int parse_line(struct mt6d_endpoint *peer, char *line, int *has_ip)
{
	char *ip = NULL, *port = line, *end;
	unsigned long v;

	if (line[0] == '[') {
		char *close = strchr(line, ']');
		if (!close || close[1] != ':')
			return -1;
		*close = '\0';
		ip = line + 1;
		port = close + 2;
	} else if (strchr(line, ' ')) {
		ip = line;
		port = strrchr(line, ' ');
		*port++ = '\0';
	} else if (strchr(line, ':') && strchr(line, '.')) {
		ip = line;
		port = strrchr(line, ':');
		*port++ = '\0';
	}
	errno = 0;
	v = strtoul(port, &end, 10);
	if (errno || *end || end == port || v < 1 || v > 65535)
		return -1;
	if (ip) {
		uint8_t a[16];
		if (inet_pton(AF_INET, ip, a) == 1)
			mt6d_endpoint_set(peer, a, 4, (uint16_t)v);
		else if (inet_pton(AF_INET6, ip, a) == 1)
			mt6d_endpoint_set(peer, a, 16, (uint16_t)v);
		else
			return -1;
	} else {
		/* all bare ports form one group */
		mt6d_endpoint_set(peer, (const uint8_t *)"\0\0\0\0", 4, (uint16_t)v);
	}
	*has_ip = ip != NULL;
	return 0;
}

static int print_group(const struct mt6d_endpoint *ip, const uint8_t *msg, size_t len, void *arg)
{
	char hex[2 * MT6D_STUFF_MAX + 1], addr[INET6_ADDRSTRLEN];

	mt6d_hex_encode(hex, msg, len);
	if (*(int *)arg) {
		size_t iplen;
		const uint8_t *a = mt6d_endpoint_ip(ip, &iplen);
		inet_ntop(iplen == 4 ? AF_INET : AF_INET6, a, addr, sizeof(addr));
		printf("%s %s\n", addr, hex);
	} else {
		puts(hex);
	}
	return 0;
}

int cmd_unstuff(int argc, char **argv)
{
	struct mt6d_endpoint *peers = NULL;
	size_t n = 0, cap = 0, lineno = 0;
	char line[128];
	int any_ip = 0, bare = 0, ret = 1, groups;

	if (argc != 1)
		return cli_usage("Usage: %s unstuff < ports.txt", cli_prog);
	while (fgets(line, sizeof(line), stdin)) {
		int has_ip;
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		if (n == cap) {
			struct mt6d_endpoint *np;
			if (cap >= 65536) {
				cli_fail("more than 65536 ports on stdin");
				goto out;
			}
			cap = cap ? 2 * cap : 64;
			np = realloc(peers, cap * sizeof(*peers));
			if (!np) {
				cli_fail("out of memory");
				goto out;
			}
			peers = np;
		}
		if (parse_line(&peers[n], line, &has_ip) < 0) {
			cli_fail("line %zu is not a port 1-65535, optionally after an IP: `%s'",
			         lineno, line);
			goto out;
		}
		any_ip |= has_ip;
		bare |= !has_ip;
		n++;
	}
	if (any_ip && bare) {
		cli_fail("give an IP on every line or on none");
		goto out;
	}
	groups = mt6d_stuff_decode(peers, n, print_group, &any_ip);
	if (groups < 0) {
		cli_fail("decoding failed: %s", strerror(-groups));
		goto out;
	}
	if (groups == 0) {
		cli_fail("no group of ports decodes to a message (repeated or zero high bytes)");
		goto out;
	}
	ret = fflush(stdout) == 0 ? 0 : cli_fail("writing stdout failed");
out:
	free(peers);
	return ret;
}
