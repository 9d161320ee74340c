/* SPDX-License-Identifier: MIT */
/*
 * The text forms of endpoints and prefixes: the one parser that config
 * files, the command line and the state file use.
 *
 * Rules this file keeps:
 *  - An endpoint is "A.B.C.D:PORT" or "[V6]:PORT"; an IPv4 address inside
 *    brackets is refused (one spelling a form), a bare IPv6 address only
 *    where no port is wanted (MT6D_EP_HOST), since its colons would be
 *    taken for one.
 *  - A port is decimal digits only (no sign, no space), 1-65535, or 0 with
 *    MT6D_EP_PORT0.
 *  - Nothing is written to the output on an error but zeros.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt6d/mt6d.h"

/* Digits only, value <= max. */
static int decimal(unsigned long *out, const char *s, unsigned long max)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || *end || *out > max)
		return -EINVAL;
	return 0;
}

int mt6d_endpoint_parse(struct mt6d_endpoint *ep, const char *s, int form)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon = NULL, *h = s;
	size_t hlen;
	unsigned long port = 0;
	uint8_t a[16];

	memset(ep, 0, sizeof(*ep));
	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || (close[1] && close[1] != ':'))
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close[1] ? close + 1 : NULL;
	} else if (form == MT6D_EP_HOST) {
		hlen = strlen(s); /* a bare IPv6 address has colons of its own */
	} else {
		colon = strrchr(s, ':');
		hlen = colon ? (size_t)(colon - s) : 0;
	}
	if ((colon != NULL) != (form != MT6D_EP_HOST) || hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (colon && (decimal(&port, colon + 1, 65535) < 0 || (port == 0 && form == MT6D_EP_PORT)))
		return -EINVAL;
	if (inet_pton(AF_INET, host, a) == 1 && (s[0] != '[' || form == MT6D_EP_HOST))
		return mt6d_endpoint_set(ep, a, 4, (uint16_t)port);
	if (inet_pton(AF_INET6, host, a) == 1 && (s[0] == '[' || form == MT6D_EP_HOST))
		return mt6d_endpoint_set(ep, a, 16, (uint16_t)port);
	return -EINVAL;
}

const char *mt6d_endpoint_format(char *buf, size_t len, const struct mt6d_endpoint *ep)
{
	char a[INET6_ADDRSTRLEN];

	if (mt6d_endpoint_is_v4(ep) && inet_ntop(AF_INET, ep->addr + 12, a, sizeof(a)))
		snprintf(buf, len, "%s:%u", a, ep->port);
	else if (inet_ntop(AF_INET6, ep->addr, a, sizeof(a)))
		snprintf(buf, len, "[%s]:%u", a, ep->port);
	else
		snprintf(buf, len, "?");
	return buf;
}

int mt6d_prefix_parse(uint8_t addr[static 16], unsigned *plen, const char *s, unsigned want_len)
{
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned long len = 128;
	char *slash;

	memset(addr, 0, 16);
	*plen = 0;
	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (decimal(&len, slash + 1, 128) < 0)
			return -EINVAL;
	} else if (want_len) {
		return -EINVAL;
	}
	if ((want_len && len != want_len) || inet_pton(AF_INET6, buf, addr) != 1) {
		memset(addr, 0, 16);
		return -EINVAL;
	}
	*plen = (unsigned)len;
	return 0;
}
