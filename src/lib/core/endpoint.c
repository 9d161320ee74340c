/* SPDX-License-Identifier: MIT */
/*
 * The one endpoint type, struct mt6d_endpoint: 16 address bytes with IPv4
 * as ::ffff:a.b.c.d, and a port in host order. Rules this file keeps:
 *  - an IPv4 address has exactly one form (the v4-mapped one), whether it
 *    came from a sockaddr_in, a v4-mapped sockaddr_in6 or 4 wire bytes, so
 *    comparing the 18 bytes compares endpoints;
 *  - what goes back to the kernel is a sockaddr_in for IPv4, so an IPv4
 *    socket takes it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "mt6d/mt6d.h"

static const uint8_t v4_prefix[12] = {[10] = 0xff, [11] = 0xff};

int mt6d_endpoint_is_v4(const struct mt6d_endpoint *ep)
{
	return !memcmp(ep->addr, v4_prefix, sizeof(v4_prefix));
}

int mt6d_endpoint_set(struct mt6d_endpoint *ep, const uint8_t *ip, size_t iplen, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	if (iplen == 4) {
		memcpy(ep->addr, v4_prefix, sizeof(v4_prefix));
		memcpy(ep->addr + 12, ip, 4);
	} else if (iplen == 16) {
		memcpy(ep->addr, ip, 16);
	} else {
		return -EINVAL;
	}
	ep->port = port;
	return 0;
}

const uint8_t *mt6d_endpoint_ip(const struct mt6d_endpoint *ep, size_t *len)
{
	if (mt6d_endpoint_is_v4(ep)) {
		*len = 4;
		return ep->addr + 12;
	}
	*len = 16;
	return ep->addr;
}

int mt6d_endpoint_eq(const struct mt6d_endpoint *a, const struct mt6d_endpoint *b)
{
	return a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

int mt6d_endpoint_cmp(const struct mt6d_endpoint *a, const struct mt6d_endpoint *b)
{
	int c = memcmp(a->addr, b->addr, 16);

	if (c)
		return c;
	return (a->port > b->port) - (a->port < b->port);
}

socklen_t mt6d_endpoint_to_sockaddr(struct sockaddr_storage *ss, const struct mt6d_endpoint *ep)
{
	memset(ss, 0, sizeof(*ss));
	if (mt6d_endpoint_is_v4(ep)) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;
		s->sin_family = AF_INET;
		memcpy(&s->sin_addr, ep->addr + 12, 4);
		s->sin_port = htons(ep->port);
		return (socklen_t)sizeof(*s);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	s6->sin6_family = AF_INET6;
	memcpy(&s6->sin6_addr, ep->addr, 16);
	s6->sin6_port = htons(ep->port);
	return (socklen_t)sizeof(*s6);
}

int mt6d_endpoint_from_sockaddr(struct mt6d_endpoint *ep, const struct sockaddr *sa, socklen_t len)
{
	memset(ep, 0, sizeof(*ep));
	if (!sa)
		return -EINVAL;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
		if (len < (socklen_t)sizeof(*s))
			return -EINVAL;
		return mt6d_endpoint_set(ep, (const uint8_t *)&s->sin_addr, 4, ntohs(s->sin_port));
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (len < (socklen_t)sizeof(*s6))
			return -EINVAL;
		/* v4-mapped stays as it is: it is already the IPv4 form */
		return mt6d_endpoint_set(ep, s6->sin6_addr.s6_addr, 16, ntohs(s6->sin6_port));
	}
	return -EAFNOSUPPORT;
}
