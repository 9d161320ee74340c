/* SPDX-License-Identifier: MIT */
/*
 * The NDP responder of mode = ndp (ndp.h; docs/design.md, "An on-link
 * /64"). The provider's router asks "who has ADDRESS?" (a Neighbor
 * Solicitation to the address's solicited-node group) before it delivers
 * to any address of an on-link /64; we answer for the live outer
 * addresses only, from user space, with the uplink's MAC.
 *
 * Rules this file keeps:
 *  - One AF_PACKET socket per daemon, bound to the uplink, that sees only
 *    solicitations: a classic BPF filter (IPv6, next header ICMPv6, type
 *    135, not our own outgoing frames) is attached before the socket is
 *    bound, so nothing else is ever queued to it.
 *  - The socket joins no multicast group, so nothing about our addresses
 *    leaves in an MLD report: it asks for all multicast frames
 *    (PACKET_MR_ALLMULTI), which the kernel drops with the socket, so a
 *    SIGKILL leaves no setting behind.
 *  - An address is answered while a slot that holds it is live (addrset.c);
 *    a scanner's solicitation for any other address of the /64 gets
 *    nothing, and the kernel, which holds none of them, says nothing
 *    either. A malformed frame is dropped and counted by reason.
 *  - The receive routing (a rule for the /64 arriving on the uplink and a
 *    `local` route in table NDP_TABLE) is in the state file before it
 *    exists and leaves it after it is gone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include "log.h"
#include "ndp.h"

#define BATCH     64
#define FRAME_MAX 2048

struct ndp {
	struct ev_loop *loop;
	ev_io w;
	int fd;
	unsigned ifindex;
	char ifname[IF_NAMESIZE];
	uint8_t mac[6];
	uint8_t prefix[8];
	struct addrset *set;
	struct ndp_stats st;
};

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	ndp_input(w->data);
}

static int packet_socket(unsigned ifindex)
{
	/* A: packet type; 14+6: next header; 14+40: ICMPv6 type. */
	static struct sock_filter code[] = {
	        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
	        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 6, 0),
	        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
	        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, 4),
	        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 20),
	        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 58, 0, 2),
	        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 54),
	        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 135, 1, 0),
	        BPF_STMT(BPF_RET | BPF_K, 0),
	        BPF_STMT(BPF_RET | BPF_K, FRAME_MAX),
	};
	struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
	                          .sll_protocol = htons(ETH_P_IPV6),
	                          .sll_ifindex = (int)ifindex};
	struct packet_mreq mr = {.mr_ifindex = (int)ifindex, .mr_type = PACKET_MR_ALLMULTI};
	int fd, ret, buf = 4 << 20;

	/* Protocol 0: nothing is queued until the filtered bind. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A scan or a router's burst (a rotation of many sessions) while the
	 * loop is busy; FORCE needs CAP_NET_ADMIN, which the daemon has. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

struct ndp *ndp_open(struct ev_loop *loop, const char *uplink, const uint8_t prefix[static 8],
                     char *err, size_t errlen)
{
	struct ndp *n = calloc(1, sizeof(*n));
	struct ifreq ifr = {0};
	int e;

	if (!n || !(n->set = addrset_new())) {
		free(n);
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	n->fd = -1;
	n->loop = loop;
	memcpy(n->prefix, prefix, 8);
	snprintf(n->ifname, sizeof(n->ifname), "%s", uplink);
	n->ifindex = if_nametoindex(uplink);
	if (!n->ifindex) {
		e = errno;
		snprintf(err, errlen, "uplink `%s': %s", uplink, strerror(e));
		goto fail;
	}
	n->fd = packet_socket(n->ifindex);
	if (n->fd < 0) {
		e = -n->fd;
		snprintf(err, errlen, "packet socket on `%s': %s", uplink, strerror(e));
		goto fail;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", uplink);
	if (ioctl(n->fd, SIOCGIFHWADDR, &ifr) < 0 ||
	    ifr.ifr_hwaddr.sa_family != 1 /* ARPHRD_ETHER */) {
		e = errno ? errno : EPROTONOSUPPORT;
		snprintf(err, errlen, "uplink `%s' is not an Ethernet interface", uplink);
		goto fail;
	}
	memcpy(n->mac, ifr.ifr_hwaddr.sa_data, 6);
	ev_io_init(&n->w, on_read, n->fd, EV_READ);
	n->w.data = n;
	ev_io_start(loop, &n->w);
	return n;
fail:
	ndp_close(n);
	errno = e;
	return NULL;
}

void ndp_close(struct ndp *n)
{
	if (!n)
		return;
	if (n->fd >= 0) {
		ev_io_stop(n->loop, &n->w);
		close(n->fd);
	}
	addrset_free(n->set);
	free(n);
}

void ndp_slot(struct ndp *n, const uint8_t addr[static 16], bool add)
{
	if (!n || memcmp(addr, n->prefix, 8) != 0)
		return;
	if (add)
		(void)addrset_add(n->set, addr); /* -ENOMEM: that address stays silent */
	else
		(void)addrset_del(n->set, addr);
}

size_t ndp_count(const struct ndp *n)
{
	return n ? addrset_count(n->set) : 0;
}

/* Frames the kernel dropped for want of room in the socket (the kernel
 * resets its count as it is read). */
static void count_lost(struct ndp *n)
{
	struct tpacket_stats ts;
	socklen_t len = sizeof(ts);

	if (getsockopt(n->fd, SOL_PACKET, PACKET_STATISTICS, &ts, &len) == 0)
		n->st.rx_lost += ts.tp_drops;
}

void ndp_get_stats(struct ndp *n, struct ndp_stats *st)
{
	count_lost(n);
	*st = n->st;
}

void ndp_status_json(struct ndp *n, FILE *out)
{
	if (!n)
		return;
	count_lost(n);
	fprintf(out,
	        "\"ndp\":{\"uplink\":\"%s\",\"addresses\":%zu,\"ns_rx\":%" PRIu64
	        ",\"na_tx\":%" PRIu64 ",\"not_ours\":%" PRIu64 ",\"rx_lost\":%" PRIu64
	        ",\"tx_errors\":%" PRIu64 ",\"dropped\":{",
	        n->ifname, addrset_count(n->set), n->st.ns_rx, n->st.na_tx, n->st.not_ours,
	        n->st.rx_lost, n->st.tx_errors);
	for (int i = 1; i < NDP_DROP_KINDS; i++)
		fprintf(out, "%s\"%s\":%" PRIu64, i > 1 ? "," : "", ndp_drop_name(i),
		        n->st.dropped[i]);
	fprintf(out, "}},");
}

void ndp_input(struct ndp *n)
{
	uint8_t frame[FRAME_MAX], na[NDP_NA_FRAME];

	for (int i = 0; i < BATCH; i++) {
		struct ndp_ns ns;
		enum ndp_drop why;
		ssize_t len = recv(n->fd, frame, sizeof(frame), 0);

		if (len < 0)
			break; /* EAGAIN, or an error the next readiness repeats */
		why = ndp_ns_parse(frame, (size_t)len, &ns);
		if (why != NDP_OK) {
			n->st.dropped[why]++;
			continue;
		}
		n->st.ns_rx++;
		if (!addrset_has(n->set, ns.target)) {
			n->st.not_ours++;
			continue;
		}
		ndp_na_build(na, &ns, n->mac);
		if (send(n->fd, na, sizeof(na), 0) < 0)
			n->st.tx_errors++;
		else
			n->st.na_tx++;
	}
}

int ndp_routing(struct nl *nl, struct state *st, bool add, const char *uplink,
                const uint8_t prefix[static 8])
{
	struct state_item rule = {.kind = STATE_NDP_RULE, .plen = 64};
	struct state_item route = {.kind = STATE_NDP_ROUTE, .plen = 64, .ifname = "lo"};
	unsigned lo = if_nametoindex("lo");
	int ret;

	snprintf(rule.ifname, sizeof(rule.ifname), "%s", uplink);
	memcpy(rule.addr, prefix, 8);
	memcpy(route.addr, prefix, 8);
	if (!add) {
		int r1 = nl_route_local_table(nl, false, lo, route.addr, 64, NDP_TABLE);
		int r2 = nl_rule_iif(nl, false, uplink, rule.addr, 64, NDP_TABLE, NDP_RULE_PRIO);

		state_del(st, &route);
		state_del(st, &rule);
		return r1 < 0 ? r1 : r2;
	}
	ret = state_add(st, &route);
	if (ret == 0)
		ret = nl_route_local_table(nl, true, lo, route.addr, 64, NDP_TABLE);
	if (ret < 0) {
		state_del(st, &route);
		goto out;
	}
	ret = state_add(st, &rule);
	if (ret == 0)
		ret = nl_rule_iif(nl, true, uplink, rule.addr, 64, NDP_TABLE, NDP_RULE_PRIO);
	if (ret < 0) {
		state_del(st, &rule);
		nl_route_local_table(nl, false, lo, route.addr, 64, NDP_TABLE);
		state_del(st, &route);
	}
out:
	if (ret < 0)
		log_error("ndp: rule and route for the /64 from %s: %s", uplink, strerror(-ret));
	return ret;
}

void ndp_tproxy_rules(char *out, size_t cap, const char *table, const uint8_t prefix[static 8],
                      uint16_t port, const char *uplink, const uint8_t (*exempt)[16],
                      size_t nexempt)
{
	char p[INET6_ADDRSTRLEN], set[NDP_EXEMPT_MAX * (INET6_ADDRSTRLEN + 2) + 32] = "";
	uint8_t a[16] = {0};
	size_t off = 0;

	memcpy(a, prefix, 8);
	inet_ntop(AF_INET6, a, p, sizeof(p));
	for (size_t i = 0; i < nexempt && i < NDP_EXEMPT_MAX; i++) {
		char x[INET6_ADDRSTRLEN];

		inet_ntop(AF_INET6, exempt[i], x, sizeof(x));
		off += (size_t)snprintf(set + off, sizeof(set) - off, "%s%s",
		                        i ? ", " : "ip6 daddr != { ", x);
	}
	if (off)
		snprintf(set + off, sizeof(set) - off, " } ");
	snprintf(out, cap,
	         "table ip6 %s {\n"
	         "\tchain prerouting {\n"
	         "\t\ttype filter hook prerouting priority mangle; policy accept;\n"
	         "\t\tiifname \"%s\" %sip6 daddr %s/64 meta l4proto udp tproxy to :%u\n"
	         "\t}\n"
	         "}\n",
	         table, uplink, set, p, port);
}
