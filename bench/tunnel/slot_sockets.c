/* SPDX-License-Identifier: MIT */
/*
 * What one slot rotation costs the daemon per session in routed mode: open
 * a UDP socket, set the options the daemon sets (IPV6_FREEBIND, V6ONLY,
 * buffers, UDP_GRO), bind it to a rotating address of a local /64 and a
 * port, and close the one of the slot that left. Run by slots.sh in a
 * namespace where 2001:db8:77::/64 is local.
 * Usage: slot_sockets N   (prints ns per rotation)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

static int open_slot(unsigned i)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(1024 + i % 60000)};
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1,
	    buf = 4 << 20;

	inet_pton(AF_INET6, "2001:db8:77::", &sa.sin6_addr);
	memcpy(sa.sin6_addr.s6_addr + 8, &i, sizeof(i));
	sa.sin6_addr.s6_addr[15] = 1;
	setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
	setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("bind");
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 100000;
	int ring[3];
	struct timespec a, b;

	for (unsigned i = 0; i < 3; i++)
		ring[i] = open_slot(i);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned i = 3; i < n + 3; i++) {
		close(ring[i % 3]);
		ring[i % 3] = open_slot(i);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%u rotations, %.0f ns per rotation (close one slot socket, open and bind the "
	       "next)\n",
	       n, ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n);
	return 0;
}
