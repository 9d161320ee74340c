/* SPDX-License-Identifier: MIT */
/*
 * The data plane's I/O (datapath.h).
 *
 * Rules this file keeps:
 *  - Every function is a thin wrapper over one system call or two: the
 *    point is that the three daemons move packets the same way, and agree
 *    on how endpoints map to sockaddrs and how raw datagrams are built.
 *  - A burst leaves in one system call where the kernel allows it (UDP
 *    GSO, sendmmsg); a datagram the kernel does not take is counted by why,
 *    never retried in a loop.
 *  - What arrives is counted before anyone looks at it; a truncated batch
 *    is dropped whole (its datagram boundaries are unknown).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <netinet/in.h>
#include <netinet/udp.h>

#include "datapath.h"
#include "log.h"

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

_Static_assert(DP_VNET_LEN == sizeof(struct virtio_net_hdr), "virtio_net_hdr size");

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
	/* UDP GRO: one recvmsg for a train of datagrams from one peer. */
	(void)setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
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
	(void)setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
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

/* ---- the TUN device ---- */

int dp_tun_open(char *name)
{
	struct ifreq ifr;
	int fd, ret;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
	/* Checksum offload and TSO for IPv6: the kernel hands over 64 KB TCP
	 * superpackets with the checksum left to us (mt6d_burst_seal). Not
	 * fatal: without it packets come one by one, checksums complete. */
	(void)ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO6);
	return fd;
}

int dp_tun_read(struct dp *d, int fd, uint8_t *buf, size_t cap, struct mt6d_offload *off)
{
	struct virtio_net_hdr vh;
	ssize_t n = read(fd, buf, cap);

	if (n < 0)
		return -errno;
	if (n <= DP_VNET_LEN) {
		d->st.tun_bad++;
		return -EPROTO;
	}
	d->st.tun_rx++;
	memcpy(&vh, buf, sizeof(vh));
	memset(off, 0, sizeof(*off));
	if ((vh.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_TCPV6) {
		off->gso_size = vh.gso_size;
		off->hdr_len = vh.hdr_len;
	} else if (vh.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		d->st.tun_bad++;
		return -EPROTO;
	}
	if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		off->needs_csum = true;
		off->csum_start = vh.csum_start;
		off->csum_offset = vh.csum_offset;
	}
	return (int)(n - DP_VNET_LEN);
}

void dp_tun_write(struct dp *d, int fd, uint8_t *pkt, size_t len, const struct mt6d_offload *off)
{
	/* DATA_VALID for a plain packet: the AEAD proved it is what the
	 * sender's kernel made, and the sender completed every checksum. */
	struct virtio_net_hdr vh = {.flags = VIRTIO_NET_HDR_F_DATA_VALID,
	                            .gso_type = VIRTIO_NET_HDR_GSO_NONE};

	if (off && off->gso_size) {
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
		vh.hdr_len = off->hdr_len;
		vh.gso_size = off->gso_size;
		vh.csum_start = off->csum_start;
		vh.csum_offset = off->csum_offset;
	}
	memcpy(pkt - DP_VNET_LEN, &vh, sizeof(vh));
	if (write(fd, pkt - DP_VNET_LEN, len + DP_VNET_LEN) < 0)
		d->st.tun_tx_failed++;
	else
		d->st.tun_tx++;
}

/* ---- bursts out ---- */

void dp_init(struct dp *d)
{
	memset(d, 0, sizeof(*d));
	d->raw_fd = d->ul_fd = -1;
}

void dp_free(struct dp *d)
{
	free(d->hdrs);
	d->hdrs = NULL;
}

static void count_fail(struct dp *d, size_t n)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
		d->st.tx_full += n;
	else
		d->st.tx_failed += n;
}

/* n datagrams of stride bytes (the last shorter) from a UDP socket, as
 * few sendmsg calls as UDP GSO allows (64 segments, 64 KB each). */
static void send_udp(struct dp *d, int fd, const struct mt6d_tx *tx)
{
	struct sockaddr_in6 to;
	const uint8_t *p = tx->p;
	size_t n = tx->n, total = tx->total, per = 65000 / (tx->stride ? tx->stride : 1);

	to_sa(&to, tx->to);
	if (per > MT6D_BURST_MAX)
		per = MT6D_BURST_MAX;
	if (per == 0 || d->no_gso)
		per = 1;
	while (n > 0) {
		size_t k = n < per ? n : per;
		size_t bytes = k == n ? total : k * tx->stride;
		union {
			char buf[CMSG_SPACE(sizeof(uint16_t))];
			struct cmsghdr align;
		} u;
		struct iovec iov = {.iov_base = (void *)p, .iov_len = bytes};
		struct msghdr mh = {.msg_name = &to,
		                    .msg_namelen = sizeof(to),
		                    .msg_iov = &iov,
		                    .msg_iovlen = 1};

		if (k > 1) {
			struct cmsghdr *cm;
			uint16_t gso = (uint16_t)tx->stride;

			memset(&u, 0, sizeof(u));
			mh.msg_control = u.buf;
			mh.msg_controllen = sizeof(u.buf);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(gso));
			memcpy(CMSG_DATA(cm), &gso, sizeof(gso));
		}
		d->st.tx_calls++;
		if (sendmsg(fd, &mh, 0) < 0) {
			/* A route whose device cannot checksum for UDP GSO
			 * refuses the train (EIO): one datagram per call from
			 * then on, starting with this train. */
			if (k > 1 && (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP)) {
				log_warn("UDP GSO refused (%s), sending datagrams one by one",
				         strerror(errno));
				d->no_gso = true;
				per = 1;
				continue;
			}
			count_fail(d, k);
		} else {
			d->st.tx_dgrams += k;
		}
		p += bytes;
		total -= bytes;
		n -= k;
	}
}

/* Our own IPv6 + UDP header for len payload bytes (hop limit 64, UDP
 * checksum computed over the payload). */
static void raw_header(uint8_t h[48], const struct mt6d_endpoint *from,
                       const struct mt6d_endpoint *to, const uint8_t *p, size_t len)
{
	size_t ulen = 8 + len;
	uint32_t pseudo;
	uint16_t c;

	memset(h, 0, 48);
	h[0] = 0x60;
	mt6d_put_be16(h + 4, (uint16_t)ulen);
	h[6] = IPPROTO_UDP;
	h[7] = 64;
	memcpy(h + 8, from->addr, 16);
	memcpy(h + 24, to->addr, 16);
	mt6d_put_be16(h + 40, from->port);
	mt6d_put_be16(h + 42, to->port);
	mt6d_put_be16(h + 44, (uint16_t)ulen);
	/* Pseudo-header: addresses, upper-layer length, next header; then
	 * the UDP header (checksum field zero) and the payload. */
	pseudo = (uint16_t)~mt6d_csum(h + 8, 32, 0);
	pseudo += (uint32_t)ulen + IPPROTO_UDP;
	pseudo = (uint16_t)~mt6d_csum(h + 40, 8, pseudo);
	c = mt6d_csum(p, len, pseudo);
	mt6d_put_be16(h + 46, c ? c : 0xffff);
}

/* The server's raw socket: any source of the /64 without a socket bound
 * to it; a burst is one sendmmsg. */
static void send_raw(struct dp *d, const struct mt6d_tx *tx)
{
	struct mmsghdr mm[MT6D_BURST_MAX];
	struct iovec iov[MT6D_BURST_MAX][2];
	struct mt6d_endpoint dst = *tx->to;
	struct sockaddr_in6 sa;
	size_t n = tx->n < MT6D_BURST_MAX ? tx->n : MT6D_BURST_MAX, done = 0;

	if (!d->hdrs && !(d->hdrs = malloc(48 * MT6D_BURST_MAX))) {
		d->st.tx_failed += tx->n;
		return;
	}
	dst.port = 0; /* a raw socket's "port" is the protocol; 0 is right */
	to_sa(&sa, &dst);
	for (size_t k = 0; k < n; k++) {
		const uint8_t *p = tx->p + k * tx->stride;
		size_t len = k + 1 < tx->n ? tx->stride : tx->total - k * tx->stride;

		raw_header(d->hdrs + 48 * k, tx->from, tx->to, p, len);
		iov[k][0] = (struct iovec){.iov_base = d->hdrs + 48 * k, .iov_len = 48};
		iov[k][1] = (struct iovec){.iov_base = (void *)p, .iov_len = len};
		mm[k] = (struct mmsghdr){.msg_hdr = {.msg_name = &sa,
		                                     .msg_namelen = sizeof(sa),
		                                     .msg_iov = iov[k],
		                                     .msg_iovlen = 2}};
	}
	while (done < n) {
		int r;

		d->st.tx_calls++;
		r = sendmmsg(d->raw_fd, mm + done, (unsigned)(n - done), 0);
		if (r <= 0) {
			count_fail(d, n - done);
			return;
		}
		d->st.tx_dgrams += (uint64_t)r;
		done += (size_t)r;
	}
}

void dp_send(struct dp *d, const struct mt6d_tx *tx)
{
	if (tx->underlay && d->ul_fd >= 0)
		send_udp(d, d->ul_fd, tx);
	else if (tx->slot && tx->slot->fd >= 0)
		send_udp(d, tx->slot->fd, tx);
	else if (d->raw_fd >= 0)
		send_raw(d, tx);
	else
		d->st.tx_failed += tx->n;
}

/* ---- batches in ---- */

int dp_recv(struct dp *d, int fd, uint8_t *buf, size_t cap, struct mt6d_endpoint *from,
            struct mt6d_endpoint *to, size_t *gso)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct sockaddr_in6)) + CMSG_SPACE(sizeof(int))];
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
	bool found = false;

	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -EAGAIN;
		d->st.rx_errors++;
		return -errno;
	}
	d->st.rx_calls++;
	*gso = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
			int v;
			memcpy(&v, CMSG_DATA(cm), sizeof(v));
			*gso = v > 0 ? (size_t)v : 0;
		} else if (to && cm->cmsg_level == IPPROTO_IPV6 &&
		           cm->cmsg_type == IPV6_ORIGDSTADDR &&
		           cm->cmsg_len >= CMSG_LEN(sizeof(struct sockaddr_in6))) {
			struct sockaddr_in6 dd;
			memcpy(&dd, CMSG_DATA(cm), sizeof(dd));
			from_sa(to, &dd);
			found = true;
		}
	}
	if (mh.msg_flags & MSG_TRUNC) {
		d->st.rx_truncated++;
		return -EMSGSIZE;
	}
	if (to && !found) {
		d->st.rx_errors++;
		return -EPROTO;
	}
	if (*gso >= (size_t)n)
		*gso = 0;
	d->st.rx_dgrams += *gso ? ((size_t)n + *gso - 1) / *gso : 1;
	from_sa(from, &sa);
	return (int)n;
}

void dp_json_drops(FILE *out, const struct dp *d)
{
	fprintf(out,
	        "\"tx_full\":%" PRIu64 ",\"tx_failed\":%" PRIu64 ",\"rx_oversized\":%" PRIu64
	        ",\"rx_errors\":%" PRIu64 ",\"tun_bad\":%" PRIu64 ",\"tun_tx_failed\":%" PRIu64,
	        d->st.tx_full, d->st.tx_failed, d->st.rx_truncated, d->st.rx_errors, d->st.tun_bad,
	        d->st.tun_tx_failed);
}

void dp_json_counts(FILE *out, const struct dp *d)
{
	fprintf(out,
	        "\"datapath\":{\"tx_datagrams\":%" PRIu64 ",\"tx_calls\":%" PRIu64
	        ",\"rx_datagrams\":%" PRIu64 ",\"rx_calls\":%" PRIu64 ",\"tun_rx\":%" PRIu64
	        ",\"tun_tx\":%" PRIu64 ",\"gso\":%s}",
	        d->st.tx_dgrams, d->st.tx_calls, d->st.rx_dgrams, d->st.rx_calls, d->st.tun_rx,
	        d->st.tun_tx, d->no_gso ? "false" : "true");
}
