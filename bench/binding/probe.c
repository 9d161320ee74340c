/* SPDX-License-Identifier: MIT */
/*
 * bench/binding: the neighbour on the link. For every address of a file it
 * does what a router does before delivering to an on-link address, from
 * user space so that no kernel neighbour table (1,024 entries by default,
 * shared by every namespace) limits n: a Neighbor Solicitation to the
 * address's solicited-node group, then, once advertised, an ICMPv6 echo
 * request to the MAC it learnt; an address counts as reachable when its
 * echo reply arrives. With --via NEXTHOP (routed mode) only the next hop
 * is solicited and every echo goes to its MAC.
 *
 *   probe IFNAME SRC ADDRFILE [--via NEXTHOP] [--window N] [--limit SECONDS]
 *
 * Prints "reachable R of N in T s (solicitations S, echoes E)" and exits
 * 0 when all are reachable. Rules this file keeps: at most --window
 * addresses in flight; a step unanswered after 1 s is repeated, 5 times at
 * most; the run ends at --limit (default 300 s) whatever happened.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include <mt6d/mt6d.h>

#include "ndp.h"

enum { TODO, NS_SENT, ECHO_SENT, DONE };

struct target {
	uint8_t addr[16];
	uint8_t mac[6];
	uint8_t stage, tries;
	double sent;
};

static struct target *tab;
static size_t ntab;
static int fd;
static uint8_t mymac[6], src[16];
static unsigned long n_ns, n_echo;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static struct target *find(const uint8_t a[16])
{
	return bsearch(a, tab, ntab, sizeof(*tab), cmp); /* addr is the first member */
}

static void xsend(const uint8_t *f, size_t len)
{
	for (int i = 0; i < 1000; i++) {
		if (send(fd, f, len, 0) >= 0 || (errno != EAGAIN && errno != ENOBUFS))
			return;
		poll(NULL, 0, 1);
	}
}

static void send_ns(const uint8_t target[16])
{
	uint8_t f[NDP_NS_FRAME];

	ndp_ns_build(f, src, mymac, target);
	xsend(f, sizeof(f));
	n_ns++;
}

static void send_echo(struct target *t)
{
	uint8_t f[14 + 40 + 16], *ip = f + 14, *icmp = ip + 40;
	uint16_t idx = (uint16_t)(t - tab), sum;

	memcpy(f, t->mac, 6);
	memcpy(f + 6, mymac, 6);
	f[12] = 0x86;
	f[13] = 0xdd;
	memset(ip, 0, 40);
	ip[0] = 0x60;
	ip[5] = 16;
	ip[6] = 58;
	ip[7] = 64;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, t->addr, 16);
	memset(icmp, 0, 16);
	icmp[0] = 128;
	icmp[4] = 0x6d;
	icmp[5] = 0x36;
	icmp[6] = (uint8_t)(idx >> 8);
	icmp[7] = (uint8_t)idx;
	memcpy(icmp + 8, "mt6dprob", 8);
	sum = ndp_icmp6_sum(ip + 8, ip + 24, icmp, 16);
	icmp[2] = (uint8_t)(sum >> 8);
	icmp[3] = (uint8_t)sum;
	xsend(f, sizeof(f));
	n_echo++;
}

/* One IPv6 address, by the project's one text parser. */
static bool addr6(uint8_t out[static 16], const char *s)
{
	unsigned plen;

	return mt6d_prefix_parse(out, &plen, s, 0) == 0 && plen == 128;
}

static int usage(void)
{
	fprintf(stderr, "usage: probe IFNAME SRC ADDRFILE [--via NEXTHOP] [--window N] "
	                "[--limit SECONDS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *via = NULL;
	unsigned window = 1024, inflight = 0;
	double limit = 300, t0, last_scan = 0;
	size_t done = 0, next = 0, cap = 0;
	uint8_t via_addr[16], via_mac[6];
	int have_via_mac = 0, buf = 16 << 20;
	struct ifreq ifr = {0};
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IPV6)};
	char line[128];
	FILE *f;

	if (argc < 4)
		return usage();
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "--via") && i + 1 < argc)
			via = argv[++i];
		else if (!strcmp(argv[i], "--window") && i + 1 < argc)
			window = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
			limit = atof(argv[++i]);
		else
			return usage();
	}
	if (!addr6(src, argv[2]) || (via && !addr6(via_addr, via)) || window == 0 || limit <= 0) {
		fprintf(stderr, "probe: bad address, window or limit\n");
		return 2;
	}
	f = fopen(argv[3], "re");
	if (!f) {
		fprintf(stderr, "probe: %s: %s\n", argv[3], strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (ntab == cap) {
			cap = cap ? cap * 2 : 1024;
			tab = realloc(tab, cap * sizeof(*tab));
			if (!tab)
				return 1;
		}
		memset(&tab[ntab], 0, sizeof(tab[ntab]));
		if (!addr6(tab[ntab].addr, line)) {
			fprintf(stderr, "probe: %s: not an IPv6 address: `%s'\n", argv[3], line);
			return 1;
		}
		ntab++;
	}
	fclose(f);
	qsort(tab, ntab, sizeof(*tab), cmp);

	sll.sll_ifindex = (int)if_nametoindex(argv[1]);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_IPV6));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[1]);
	if (!sll.sll_ifindex || fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
	    ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		fprintf(stderr, "probe: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	memcpy(mymac, ifr.ifr_hwaddr.sa_data, 6);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));

	t0 = now();
	if (via)
		send_ns(via_addr);
	while (done < ntab && now() - t0 < limit) {
		uint8_t fr[2048];
		double t = now();
		ssize_t len;

		/* Start new addresses while the window has room. */
		while (next < ntab && inflight < window && (!via || have_via_mac)) {
			struct target *x = &tab[next++];

			x->sent = t;
			x->tries = 1;
			inflight++;
			if (via) {
				memcpy(x->mac, via_mac, 6);
				x->stage = ECHO_SENT;
				send_echo(x);
			} else {
				x->stage = NS_SENT;
				send_ns(x->addr);
			}
		}
		/* Repeat what went unanswered for a second. */
		if (t - last_scan > 0.2) {
			last_scan = t;
			if (via && !have_via_mac)
				send_ns(via_addr);
			for (size_t i = 0; i < next; i++) {
				struct target *x = &tab[i];

				if ((x->stage != NS_SENT && x->stage != ECHO_SENT) ||
				    t - x->sent < 1.0)
					continue;
				if (x->tries >= 5) {
					x->stage = TODO; /* given up */
					inflight--;
					continue;
				}
				x->tries++;
				x->sent = t;
				if (x->stage == NS_SENT)
					send_ns(x->addr);
				else
					send_echo(x);
			}
		}
		if (poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1, 5) <= 0)
			continue;
		while ((len = recv(fd, fr, sizeof(fr), 0)) >= 14 + 40 + 8) {
			const uint8_t *ip = fr + 14, *icmp = ip + 40;
			struct target *x;

			if (fr[12] != 0x86 || fr[13] != 0xdd || ip[6] != 58 ||
			    !memcmp(fr + 6, mymac, 6))
				continue;
			if (icmp[0] == 136 && len >= 14 + 40 + 24) {
				if (via && !have_via_mac && !memcmp(icmp + 8, via_addr, 16)) {
					memcpy(via_mac, fr + 6, 6);
					have_via_mac = 1;
					continue;
				}
				x = find(icmp + 8);
				if (!x || x->stage != NS_SENT)
					continue;
				memcpy(x->mac, fr + 6, 6);
				x->stage = ECHO_SENT;
				x->tries = 1;
				x->sent = now();
				send_echo(x);
			} else if (icmp[0] == 129) {
				x = find(ip + 8);
				if (!x || x->stage != ECHO_SENT)
					continue;
				x->stage = DONE;
				inflight--;
				done++;
			}
		}
	}
	printf("reachable %zu of %zu in %.3f s (solicitations %lu, echoes %lu)\n", done, ntab,
	       now() - t0, n_ns, n_echo);
	return done == ntab ? 0 : 1;
}
