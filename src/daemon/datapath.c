/* SPDX-License-Identifier: MIT */
/*
 * Outer sockets (datapath.h). Every function is a thin wrapper over one
 * system call or two; the point of the file is that the daemons agree on
 * how endpoints map to sockaddrs and how the raw datagrams are built.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <netinet/in.h>

#include "datapath.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif
#ifndef IPV6_RECVORIGDSTADDR
#define IPV6_RECVORIGDSTADDR 74
#endif
#ifndef IPV6_ORIGDSTADDR
#define IPV6_ORIGDSTADDR 74
#endif

static void to_sa(struct sockaddr_in6 *sa, const struct mt6d_endpoint *ep)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin6_family = AF_INET6;
	sa->sin6_port = htons(ep->port);
	memcpy(&sa->sin6_addr, ep->addr, 16);
}

static void from_sa(struct mt6d_endpoint *ep, const struct sockaddr_in6 *sa)
{
	memcpy(ep->addr, &sa->sin6_addr, 16);
	ep->port = ntohs(sa->sin6_port);
}

static int fail_close(int fd)
{
	int ret = -errno;

	close(fd);
	return ret;
}

static void big_buffers(int fd)
{
	int buf = 4 << 20;

	/* Bursts while the loop is busy (a rotation of many sessions);
	 * FORCE needs CAP_NET_ADMIN, which the daemon has. Not fatal. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
}

static int udp_socket(const struct mt6d_endpoint *ep, int v6only)
{
	struct sockaddr_in6 sa;
	int fd, one = 1;

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return -errno;
	to_sa(&sa, ep);
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0)
		return fail_close(fd);
	big_buffers(fd);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return fail_close(fd);
	return fd;
}

int dp_slot_socket(const struct mt6d_endpoint *ep)
{
	return udp_socket(ep, 1);
}

int dp_dual_socket(const struct mt6d_endpoint *ep)
{
	return udp_socket(ep, 0);
}

int dp_recv(int fd, uint8_t *buf, size_t cap, struct mt6d_endpoint *from)
{
	struct sockaddr_in6 sa;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr mh = {
	        .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n = recvmsg(fd, &mh, 0);

	if (n < 0)
		return -errno;
	if (mh.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	from_sa(from, &sa);
	return (int)n;
}

int dp_send(int fd, const struct mt6d_endpoint *to, const uint8_t *p, size_t len)
{
	struct sockaddr_in6 sa;

	to_sa(&sa, to);
	if (sendto(fd, p, len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return 0;
}

int dp_tproxy_socket(uint16_t port)
{
	struct mt6d_endpoint any = {.port = port};
	struct sockaddr_in6 sa;
	int fd, one = 1;

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return -errno;
	to_sa(&sa, &any);
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVORIGDSTADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		return fail_close(fd);
	big_buffers(fd);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return fail_close(fd);
	return fd;
}

void dp_tproxy_rules(char *out, size_t cap, const char *table, const uint8_t prefix[static 8],
                     uint16_t port)
{
	uint8_t a[16] = {0};
	char p[INET6_ADDRSTRLEN];

	memcpy(a, prefix, 8);
	inet_ntop(AF_INET6, a, p, sizeof(p));
	/* priority mangle (-150): before any filter chain sees the packet;
	 * the local route for the /64 then delivers it to the socket the
	 * rule assigned. */
	snprintf(out, cap,
	         "table ip6 %s {\n"
	         "\tchain prerouting {\n"
	         "\t\ttype filter hook prerouting priority mangle; policy accept;\n"
	         "\t\tip6 daddr %s/64 meta l4proto udp tproxy to :%u\n"
	         "\t}\n"
	         "}\n",
	         table, p, port);
}

int dp_tproxy_recv(int fd, uint8_t *buf, size_t cap, struct mt6d_endpoint *from,
                   struct mt6d_endpoint *to)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct sockaddr_in6))];
		struct cmsghdr align;
	} u;
	struct sockaddr_in6 sa;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr mh = {.msg_name = &sa,
	                    .msg_namelen = sizeof(sa),
	                    .msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = u.buf,
	                    .msg_controllen = sizeof(u.buf)};
	ssize_t n = recvmsg(fd, &mh, 0);
	int found = 0;

	if (n < 0)
		return -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_ORIGDSTADDR &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct sockaddr_in6))) {
			struct sockaddr_in6 d;
			memcpy(&d, CMSG_DATA(cm), sizeof(d));
			from_sa(to, &d);
			found = 1;
		}
	}
	if (mh.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	if (!found)
		return -EPROTO;
	from_sa(from, &sa);
	return (int)n;
}

int dp_raw_socket(void)
{
	/* IPPROTO_RAW implies IPV6_HDRINCL: the header is ours, so is the
	 * source address, which only needs to be routable back to us. */
	int fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW);

	if (fd < 0)
		return -errno;
	big_buffers(fd);
	return fd;
}

int dp_raw_send(int fd, uint8_t *scratch, const struct mt6d_endpoint *from,
                const struct mt6d_endpoint *to, const uint8_t *p, size_t len)
{
	struct mt6d_endpoint dst = *to;
	struct sockaddr_in6 sa;
	size_t ulen = 8 + len;
	uint32_t pseudo;
	uint16_t c;

	if (ulen > 65535)
		return -EMSGSIZE;
	memset(scratch, 0, 48);
	scratch[0] = 0x60;
	mt6d_put_be16(scratch + 4, (uint16_t)ulen);
	scratch[6] = IPPROTO_UDP;
	scratch[7] = 64;
	memcpy(scratch + 8, from->addr, 16);
	memcpy(scratch + 24, to->addr, 16);
	mt6d_put_be16(scratch + 40, from->port);
	mt6d_put_be16(scratch + 42, to->port);
	mt6d_put_be16(scratch + 44, (uint16_t)ulen);
	memcpy(scratch + 48, p, len);
	/* Pseudo-header: addresses, upper-layer length, next header. */
	pseudo = (uint16_t)~mt6d_csum(scratch + 8, 32, 0);
	pseudo += (uint32_t)ulen + IPPROTO_UDP;
	c = mt6d_csum(scratch + 40, ulen, pseudo);
	mt6d_put_be16(scratch + 46, c ? c : 0xffff);
	dst.port = 0; /* a raw socket's "port" is the protocol; 0 is right */
	to_sa(&sa, &dst);
	if (sendto(fd, scratch, 40 + ulen, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return 0;
}
