/* SPDX-License-Identifier: MIT */
/*
 * mt6d tunnel -c FILE: the static two-peer MT6D tunnel (the original MT6D:
 * both ends configured with each other's prefix, seed IID and a pre-shared
 * session key). Session establishment will later fill the same
 * struct mt6d_tun_session and table.
 *
 * Rules this file keeps:
 *  - One libev loop: the TUN fd, one UDP socket per slot in the window
 *    (three), a timer that fires just after every slot edge, signals.
 *  - The window is i-1, i, i+1 from the wall clock (plus ClockOffsetMs, a
 *    test knob). Sending always uses the slot the clock says at that
 *    moment, so a late timer never makes a datagram go out from a slot the
 *    peer has already dropped.
 *  - A slot's socket is bound (IPV6_FREEBIND) to its local address and
 *    port. In bind mode the address is added to the uplink with netlink
 *    (nodad) before the socket exists and removed after it is closed; in
 *    routed mode the whole local /64 is a `local` route added once.
 *  - Every address and route added outside the TUN device is in the state
 *    file before it is added, and removed at exit (SIGINT, SIGTERM); a start
 *    that finds a state file of a dead daemon undoes it first.
 *  - A datagram that is truncated, forged, replayed or carries no IPv6
 *    packet is counted and dropped; nothing a peer sends ends the session.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <ini.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sodium.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#include "cli.h"
#include "daemon.h"
#include "privdrop.h"
#include "mt6d/tunnel.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

#define MAX_INNER 8 /* Address= and Route= lines each */
#define BATCH     64
/* A UDP GRO batch may join the end of one GSO train to the start of the
 * next: room for twice 64 KB, and MSG_TRUNC is still checked. */
#define BUF_LEN  (2 * (MT6D_INNER_MAX + MT6D_ENCAP_OVERHEAD))
#define VNET_LEN ((int)sizeof(struct virtio_net_hdr))
/* Segments of one superpacket, and per UDP GSO send: the kernel takes at
 * most 64 segments and 64 KB per send. */
#define MAX_SEGS  64
#define GSO_BYTES 65000

enum mode { MODE_BIND, MODE_ROUTED };

struct prefix {
	uint8_t addr[16];
	unsigned plen;
};

struct tcfg {
	char name[IFNAMSIZ];
	char uplink[IFNAMSIZ];
	char state_file[512];
	char user[64]; /* User =: run as this user after set-up (privdrop.h) */
	enum mt6d_role role;
	bool have_role, have_key, have_lp, have_li, have_rp, have_ri;
	uint8_t ks[MT6D_INTRO_KEY_LEN];
	uint32_t rot_ms;
	enum mode mode;
	unsigned mtu;
	int64_t clock_offset_ms;
	struct mt6d_tun_host local, remote;
	struct prefix addrs[MAX_INNER], routes[MAX_INNER];
	size_t naddrs, nroutes;
	char err[256]; /* first error, for the line ini_parse reports */
};

struct tund {
	struct tcfg cfg;
	struct ev_loop *loop;
	struct nl *nl;
	struct state st;
	bool have_state;
	struct mt6d_tun_table *table;
	struct mt6d_tun_session sess;
	bool have_sess;
	int tun_fd;
	unsigned tun_ifindex, uplink_ifindex, lo_ifindex;
	bool local_route;
	bool verbose;
	bool no_gso; /* UDP GSO refused once: send one datagram per call */
	ev_io tun_w, sock_w[MT6D_TUN_SLOTS];
	ev_timer rot_w;
	ev_signal sig_int, sig_term, sig_usr1;
	uint8_t *buf;  /* one datagram, or a UDP GRO batch of them */
	uint8_t *rbuf; /* virtio_net_hdr + packet read from the TUN device */
	uint8_t *gbuf; /* MAX_SEGS sealed segments for one UDP GSO send */
	uint8_t *cbuf; /* virtio_net_hdr + a coalesced superpacket for the TUN */
	int fatal;     /* -errno of a failure inside a callback; ends the loop */
};

/* ---- configuration ---- */

static int parse_prefix(struct prefix *p, const char *s)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash, *end;
	unsigned long plen = 128;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		errno = 0;
		plen = strtoul(slash + 1, &end, 10);
		if (errno || *end || slash[1] == '\0' || plen > 128)
			return -1;
	}
	if (inet_pton(AF_INET6, buf, p->addr) != 1)
		return -1;
	p->plen = (unsigned)plen;
	return 0;
}

#define CFG_ERR(...) (snprintf(c->err, sizeof(c->err), __VA_ARGS__), 0)

static int cfg_handler(void *user, const char *section, const char *name, const char *value)
{
	struct tcfg *c = user;
	struct prefix p;
	char *end;

	if (!strcasecmp(section, "Tunnel")) {
		if (!strcasecmp(name, "Name")) {
			if (!*value || strlen(value) >= IFNAMSIZ)
				return CFG_ERR("Name is not an interface name: `%s'", value);
			strcpy(c->name, value);
		} else if (!strcasecmp(name, "Role")) {
			if (!strcasecmp(value, "client"))
				c->role = MT6D_ROLE_CLIENT;
			else if (!strcasecmp(value, "server"))
				c->role = MT6D_ROLE_SERVER;
			else
				return CFG_ERR("Role is neither client nor server: `%s'", value);
			c->have_role = true;
		} else if (!strcasecmp(name, "SessionKey")) {
			if (mt6d_hex_decode(c->ks, sizeof(c->ks), value) < 0)
				return CFG_ERR("SessionKey is not 32 hex digits: `%s'", value);
			c->have_key = true;
		} else if (!strcasecmp(name, "RotationMs")) {
			unsigned long v;
			errno = 0;
			v = strtoul(value, &end, 10);
			if (errno || *end || !*value || v < 100 || v > 3600000)
				return CFG_ERR(
				        "RotationMs is not an integer from 100 to 3600000: `%s'",
				        value);
			c->rot_ms = (uint32_t)v;
		} else if (!strcasecmp(name, "Mode")) {
			if (!strcasecmp(value, "bind"))
				c->mode = MODE_BIND;
			else if (!strcasecmp(value, "routed"))
				c->mode = MODE_ROUTED;
			else
				return CFG_ERR("Mode is neither bind nor routed: `%s'", value);
		} else if (!strcasecmp(name, "Uplink")) {
			if (!*value || strlen(value) >= IFNAMSIZ)
				return CFG_ERR("Uplink is not an interface name: `%s'", value);
			strcpy(c->uplink, value);
		} else if (!strcasecmp(name, "MTU")) {
			unsigned long v;
			errno = 0;
			v = strtoul(value, &end, 10);
			if (errno || *end || !*value || v < MT6D_IPV6_MIN_MTU || v > MT6D_TUN_MTU)
				return CFG_ERR("MTU is not an integer from %d to %d: `%s'",
				               MT6D_IPV6_MIN_MTU, MT6D_TUN_MTU, value);
			c->mtu = (unsigned)v;
		} else if (!strcasecmp(name, "Address") || !strcasecmp(name, "Route")) {
			bool is_addr = !strcasecmp(name, "Address");
			size_t *n = is_addr ? &c->naddrs : &c->nroutes;
			if (parse_prefix(&p, value) < 0)
				return CFG_ERR("%s is not an IPv6 ADDRESS[/LEN]: `%s'", name,
				               value);
			if (*n == MAX_INNER)
				return CFG_ERR("more than %d %s lines", MAX_INNER, name);
			(is_addr ? c->addrs : c->routes)[(*n)++] = p;
		} else if (!strcasecmp(name, "User")) {
			if (!*value || strlen(value) >= sizeof(c->user) || strpbrk(value, "/: \t"))
				return CFG_ERR("User is not a user name: `%s'", value);
			strcpy(c->user, value);
		} else if (!strcasecmp(name, "StateFile")) {
			if (!*value || strlen(value) >= sizeof(c->state_file))
				return CFG_ERR("StateFile is empty or too long: `%s'", value);
			strcpy(c->state_file, value);
		} else if (!strcasecmp(name, "ClockOffsetMs")) {
			long long v;
			errno = 0;
			v = strtoll(value, &end, 10);
			if (errno || *end || !*value || v < -86400000LL || v > 86400000LL)
				return CFG_ERR("ClockOffsetMs is not an integer from -86400000 to "
				               "86400000: `%s'",
				               value);
			c->clock_offset_ms = v;
		} else {
			return CFG_ERR("unknown key `%s' in [Tunnel]", name);
		}
		return 1;
	}
	if (!strcasecmp(section, "Local") || !strcasecmp(section, "Peer")) {
		bool local = !strcasecmp(section, "Local");
		struct mt6d_tun_host *h = local ? &c->local : &c->remote;

		if (!strcasecmp(name, "Prefix")) {
			if (parse_prefix(&p, value) < 0 || p.plen != 64)
				return CFG_ERR("Prefix is not an IPv6 prefix of length 64: `%s'",
				               value);
			memcpy(h->prefix, p.addr, 8);
			*(local ? &c->have_lp : &c->have_rp) = true;
		} else if (!strcasecmp(name, "IID")) {
			if (mt6d_hex_decode(h->iid, 8, value) < 0)
				return CFG_ERR("IID is not 16 hex digits: `%s'", value);
			*(local ? &c->have_li : &c->have_ri) = true;
		} else {
			return CFG_ERR("unknown key `%s' in [%s]", name, section);
		}
		return 1;
	}
	return CFG_ERR("unknown section [%s]", section);
}

static int cfg_load(struct tcfg *c, const char *path)
{
	struct stat sb;
	int line;

	memset(c, 0, sizeof(*c));
	strcpy(c->name, "mt6d%d");
	c->rot_ms = MT6D_DEFAULT_ROT_MS;
	c->mtu = MT6D_TUN_MTU;
	c->mode = MODE_BIND;
	if (stat(path, &sb) < 0)
		return cli_fail("config `%s': %s", path, strerror(errno)), -1;
	if (sb.st_mode & 077)
		return cli_fail("config `%s' holds the session key and is accessible by group or "
		                "others; chmod 600 it",
		                path),
		       -1;
	line = ini_parse(path, cfg_handler, c);
	if (line < 0)
		return cli_fail("config `%s': cannot read it", path), -1;
	if (line > 0)
		return cli_fail("%s:%d: %s", path, line, c->err[0] ? c->err : "syntax error"), -1;
	if (!c->have_role || !c->have_key || !c->have_lp || !c->have_li || !c->have_rp ||
	    !c->have_ri)
		return cli_fail("config `%s': Role and SessionKey in [Tunnel], Prefix and IID in "
		                "[Local] and [Peer] are required",
		                path),
		       -1;
	if (c->mode == MODE_BIND && !c->uplink[0])
		return cli_fail("config `%s': Mode = bind needs Uplink", path), -1;
	if (!memcmp(&c->local, &c->remote, sizeof(c->local)))
		return cli_fail("config `%s': [Local] and [Peer] are the same host", path), -1;
	if (!c->state_file[0])
		snprintf(c->state_file, sizeof(c->state_file), "/run/mt6d-%s.state",
		         strchr(c->name, '%') ? "tunnel" : c->name);
	return 0;
}

/* ---- helpers ---- */

static uint64_t now_ms(const struct tund *d)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
	                  d->cfg.clock_offset_ms);
}

static const char *ep_str(char *buf, size_t len, const struct mt6d_endpoint *ep)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, ep->addr, a, sizeof(a));
	snprintf(buf, len, "[%s]:%u", a, ep->port);
	return buf;
}

static void print_stats(const struct tund *d)
{
	const struct mt6d_tun_stats *s = &d->sess.stats;

	fprintf(stderr,
	        "mt6d tunnel: stats tx_packets=%" PRIu64 " tx_bytes=%" PRIu64 " rx_packets=%" PRIu64
	        " rx_bytes=%" PRIu64 " rx_truncated=%" PRIu64 " rx_forged=%" PRIu64
	        " rx_replayed=%" PRIu64 " rx_bad_inner=%" PRIu64 " rx_no_session=%" PRIu64
	        " tx_errors=%" PRIu64 " rotations=%" PRIu64 "\n",
	        s->tx_packets, s->tx_bytes, s->rx_packets, s->rx_bytes, s->rx_truncated,
	        s->rx_forged, s->rx_replayed, s->rx_bad_inner, s->rx_no_session, s->tx_errors,
	        s->rotations);
}

static int open_slot_socket(const struct mt6d_endpoint *ep)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(ep->port)};
	int fd, one = 1, buf = 4 << 20, ret;

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return -errno;
	memcpy(&sa.sin6_addr, ep->addr, 16);
	/* FREEBIND: in routed mode the address is only covered by a local
	 * route, not configured; in bind mode it makes bind() independent of
	 * the address's state. */
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	/* Larger buffers absorb bursts while the loop encrypts; failure to
	 * get them is not fatal. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
	/* UDP GRO: one recvmsg for a train of datagrams from the same peer. */
	setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	return fd;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

/* ---- data path ---- */

static void on_udp(struct ev_loop *loop, ev_io *w, int revents);

/* The slot to send from: what the clock says now (the timer may be a few
 * ms late at an edge). */
static struct mt6d_tun_slot *tx_slot(struct tund *d)
{
	struct mt6d_tun_session *s = &d->sess;
	struct mt6d_tun_slot *sl = mt6d_tun_session_slot(s, mt6d_slot(now_ms(d), s->rot_ms));

	if (!sl)
		sl = mt6d_tun_session_slot(s, s->cur); /* timer not yet run */
	return sl && sl->fd >= 0 ? sl : NULL;
}

/* Send n sealed datagrams of `stride` bytes each (the last may be shorter,
 * total bytes `total`) with as few sendmsg calls as UDP GSO allows. */
static void send_batch(struct tund *d, struct mt6d_tun_slot *sl, uint8_t *p, size_t n,
                       size_t stride, size_t total)
{
	struct mt6d_tun_session *s = &d->sess;
	struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_port = htons(sl->remote.port)};
	size_t per = GSO_BYTES / stride;

	memcpy(&to.sin6_addr, sl->remote.addr, 16);
	if (per > MAX_SEGS)
		per = MAX_SEGS;
	if (per == 0 || d->no_gso)
		per = 1;
	while (n > 0) {
		size_t k = n < per ? n : per;
		size_t bytes = k == n ? total : k * stride;
		union {
			char buf[CMSG_SPACE(sizeof(uint16_t))];
			struct cmsghdr align;
		} u;
		struct iovec iov = {.iov_base = p, .iov_len = bytes};
		struct msghdr mh = {.msg_name = &to,
		                    .msg_namelen = sizeof(to),
		                    .msg_iov = &iov,
		                    .msg_iovlen = 1};

		if (k > 1) {
			struct cmsghdr *cm;
			uint16_t gso = (uint16_t)stride;

			memset(&u, 0, sizeof(u));
			mh.msg_control = u.buf;
			mh.msg_controllen = sizeof(u.buf);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(gso));
			memcpy(CMSG_DATA(cm), &gso, sizeof(gso));
		}
		if (sendmsg(sl->fd, &mh, 0) < 0) {
			/* A route whose device cannot checksum for UDP GSO
			 * refuses the train (EIO); send one datagram per call
			 * from then on, starting with this train. */
			if (k > 1 && (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP)) {
				fprintf(stderr,
				        "mt6d tunnel: UDP GSO refused (%s), sending datagrams "
				        "one by one\n",
				        strerror(errno));
				d->no_gso = true;
				per = 1;
				continue;
			}
			s->stats.tx_errors += k;
		} else {
			s->stats.tx_packets += k;
		}
		p += bytes;
		total -= bytes;
		n -= k;
	}
}

/*
 * One packet from the TUN device: with IFF_VNET_HDR and TSO6 on, a TCP
 * superpacket of up to 64 KB is split here into MTU-sized segments, each
 * sealed into its own datagram, and the datagrams leave in UDP GSO sends.
 */
static void on_tun(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tund *d = w->data;
	struct mt6d_tun_session *s = &d->sess;

	for (int i = 0; i < BATCH; i++) {
		ssize_t n = read(d->tun_fd, d->rbuf, VNET_LEN + MT6D_INNER_MAX);
		struct virtio_net_hdr vh;
		uint8_t *pkt = d->rbuf + VNET_LEN;
		size_t len, lens[MAX_SEGS], stride, total = 0;
		struct mt6d_tun_slot *sl;
		int nseg;

		if (n < VNET_LEN)
			break;
		len = (size_t)n - VNET_LEN;
		memcpy(&vh, d->rbuf, sizeof(vh));
		sl = tx_slot(d);
		if (!sl || len == 0) {
			s->stats.tx_errors++;
			continue;
		}
		if ((vh.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_TCPV6) {
			/* hdr_len is the kernel's linear length, not the headers':
			 * take the TCP header length from the packet. Every segment
			 * but the last is exactly stride long, as UDP GSO needs. */
			size_t hl = len > 60 ? 40 + (size_t)(pkt[52] >> 4) * 4 : 0;

			stride = MT6D_ENCAP_OVERHEAD + hl + vh.gso_size;
			if (hl < 60 || stride > MT6D_OUTER_MTU + MT6D_ENCAP_OVERHEAD)
				nseg = -EMSGSIZE;
			else
				nseg = mt6d_gso_split_tcp6(pkt, len, vh.gso_size, d->gbuf, stride,
				                           MT6D_ENCAP_INNER_OFF, lens, MAX_SEGS);
		} else {
			if ((vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
			    mt6d_csum_complete(pkt, len, vh.csum_start, vh.csum_offset) < 0)
				nseg = -EINVAL;
			else if (len > MT6D_INNER_MAX)
				nseg = -EMSGSIZE;
			else {
				memcpy(d->gbuf + MT6D_ENCAP_INNER_OFF, pkt, len);
				lens[0] = len;
				stride = len + MT6D_ENCAP_OVERHEAD;
				nseg = 1;
			}
		}
		if (nseg <= 0) {
			s->stats.tx_errors++;
			continue;
		}
		for (int k = 0; k < nseg; k++) {
			int r = mt6d_encap_seal_inplace(&s->encap, d->gbuf + (size_t)k * stride,
			                                stride, lens[k]);
			s->stats.tx_bytes += lens[k];
			total = (size_t)k * stride + (size_t)r;
		}
		send_batch(d, sl, d->gbuf, (size_t)nseg, stride, total);
	}
}

/* Write one inner packet (or a coalesced superpacket) to the TUN device.
 * pkt has VNET_LEN writable bytes before it for the virtio_net_hdr. */
static void tun_write(struct tund *d, uint8_t *pkt, size_t len, const struct virtio_net_hdr *vh)
{
	memcpy(pkt - VNET_LEN, vh, sizeof(*vh));
	if (write(d->tun_fd, pkt - VNET_LEN, len + VNET_LEN) < 0)
		d->sess.stats.tx_errors++;
}

static void write_plain(struct tund *d, uint8_t *pkt, size_t len)
{
	/* DATA_VALID: the AEAD proved the packet is what the sender's kernel
	 * made, and the sender completed every checksum (gso.c). */
	struct virtio_net_hdr vh = {.flags = VIRTIO_NET_HDR_F_DATA_VALID,
	                            .gso_type = VIRTIO_NET_HDR_GSO_NONE};

	tun_write(d, pkt, len, &vh);
}

static void gro_flush(struct tund *d, struct mt6d_gro *g)
{
	struct virtio_net_hdr vh = {
	        .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	        .gso_type = VIRTIO_NET_HDR_GSO_TCPV6,
	        .hdr_len = (uint16_t)g->hl,
	        .gso_size = g->mss,
	        .csum_start = 40,
	        .csum_offset = 16,
	};

	mt6d_gro_finish(g);
	if (g->nseg == 1)
		write_plain(d, g->buf, g->len);
	else
		tun_write(d, g->buf, g->len, &vh);
	g->len = 0;
}

/* Open one datagram in place; the inner packet is then at
 * dg + MT6D_ENCAP_INNER_OFF. Returns its length, or -1 (counted drop). */
static int rx_open(struct mt6d_tun_session *s, uint8_t *dg, size_t n)
{
	int len = mt6d_encap_open_inplace(&s->encap, dg, n, NULL);

	if (len == -EMSGSIZE) {
		s->stats.rx_truncated++;
		return -1;
	} else if (len == -EBADMSG) {
		s->stats.rx_forged++;
		return -1;
	} else if (len == -EEXIST) {
		s->stats.rx_replayed++;
		return -1;
	} else if (len < 40 || (dg[MT6D_ENCAP_INNER_OFF] >> 4) != 6) {
		s->stats.rx_bad_inner++;
		return -1;
	}
	s->stats.rx_packets++;
	s->stats.rx_bytes += (uint64_t)len;
	return len;
}

static void on_udp(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tund *d = w->data;
	/* The socket is the slot; the session comes from the table keyed on
	 * the endpoint it is bound to, as it will for a server's many. */
	struct mt6d_tun_slot *bound = &d->sess.win[w - d->sock_w];
	struct mt6d_gro g = {.buf = d->cbuf + VNET_LEN, .cap = 40 + 65535};

	for (int i = 0; i < BATCH; i++) {
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct iovec iov = {.iov_base = d->buf, .iov_len = BUF_LEN};
		struct msghdr mh = {.msg_iov = &iov,
		                    .msg_iovlen = 1,
		                    .msg_control = u.buf,
		                    .msg_controllen = sizeof(u.buf)};
		struct mt6d_tun_session *s;
		struct cmsghdr *cm;
		size_t gso = 0, n;
		ssize_t r = recvmsg(w->fd, &mh, 0);
		uint64_t slot;

		if (r < 0)
			break;
		n = (size_t)r;
		if (mh.msg_flags & MSG_TRUNC) {
			d->sess.stats.rx_truncated++;
			continue;
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
				int v;
				memcpy(&v, CMSG_DATA(cm), sizeof(v));
				gso = v > 0 ? (size_t)v : 0;
			}
		}
		if (gso == 0 || gso > n)
			gso = n;
		s = mt6d_tun_table_find(d->table, &bound->local, &slot);
		if (!s) {
			d->sess.stats.rx_no_session++;
			continue;
		}
		/* A GRO batch is datagrams of gso bytes each, the last shorter;
		 * consecutive segments of one TCP burst are joined again. */
		for (size_t off = 0; off < n; off += gso) {
			uint8_t *dg = d->buf + off, *inner = dg + MT6D_ENCAP_INNER_OFF;
			int len = rx_open(s, dg, n - off < gso ? n - off : gso);

			if (len < 0)
				continue;
			if (g.len && mt6d_gro_add(&g, inner, (size_t)len))
				continue;
			if (g.len)
				gro_flush(d, &g);
			if (!mt6d_gro_start(&g, inner, (size_t)len))
				write_plain(d, inner, (size_t)len);
		}
		if (g.len)
			gro_flush(d, &g);
	}
}

/* ---- rotation ---- */

static void on_slot(struct mt6d_tun_session *s, struct mt6d_tun_slot *sl, bool add, void *arg)
{
	struct tund *d = arg;
	size_t idx = (size_t)(sl - s->win);
	struct state_item it = {.kind = STATE_ADDR, .plen = 128};
	char e1[64], e2[64];
	int ret;

	memcpy(it.addr, sl->local.addr, 16);
	strcpy(it.ifname, d->cfg.uplink);
	if (!add) {
		if (sl->fd >= 0) {
			ev_io_stop(d->loop, &d->sock_w[idx]);
			close(sl->fd);
			sl->fd = -1;
		}
		if (d->cfg.mode == MODE_BIND) {
			ret = nl_addr(d->nl, false, d->uplink_ifindex, sl->local.addr, 128, false);
			if (ret < 0 && ret != -EADDRNOTAVAIL)
				fprintf(stderr, "mt6d tunnel: removing %s: %s\n",
				        ep_str(e1, sizeof(e1), &sl->local), strerror(-ret));
			state_del(&d->st, &it);
		}
		return;
	}
	if (d->cfg.mode == MODE_BIND) {
		ret = state_add(&d->st, &it);
		if (ret == 0)
			ret = nl_addr(d->nl, true, d->uplink_ifindex, sl->local.addr, 128, true);
		if (ret < 0 && ret != -EEXIST) {
			fprintf(stderr, "mt6d tunnel: adding %s to %s: %s\n",
			        ep_str(e1, sizeof(e1), &sl->local), d->cfg.uplink, strerror(-ret));
			d->fatal = ret;
			ev_break(d->loop, EVBREAK_ALL);
			return;
		}
	}
	ret = open_slot_socket(&sl->local);
	if (ret < 0) {
		fprintf(stderr, "mt6d tunnel: socket on %s: %s\n",
		        ep_str(e1, sizeof(e1), &sl->local), strerror(-ret));
		d->fatal = ret;
		ev_break(d->loop, EVBREAK_ALL);
		return;
	}
	sl->fd = ret;
	ev_io_init(&d->sock_w[idx], on_udp, sl->fd, EV_READ);
	d->sock_w[idx].data = d;
	ev_io_start(d->loop, &d->sock_w[idx]);
	if (d->verbose)
		fprintf(stderr, "mt6d tunnel: slot %" PRIu64 " local %s remote %s\n", sl->slot,
		        ep_str(e1, sizeof(e1), &sl->local), ep_str(e2, sizeof(e2), &sl->remote));
}

static void on_rotate(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tund *d = w->data;
	uint64_t ms = now_ms(d), slot = mt6d_slot(ms, d->cfg.rot_ms);
	int ret;

	ret = mt6d_tun_session_rotate(d->table, &d->sess, slot, on_slot, d);
	if (ret < 0)
		fprintf(stderr, "mt6d tunnel: rotating to slot %" PRIu64 ": %s\n", slot,
		        strerror(-ret));
	/* 1 ms past the edge so the clock reads the new slot when it fires. */
	ev_timer_set(w, (double)((slot + 1) * d->cfg.rot_ms - ms + 1) / 1000.0, 0.);
	ev_timer_start(loop, w);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct tund *d = w->data;

	if (w->signum == SIGUSR1) {
		print_stats(d);
		return;
	}
	fprintf(stderr, "mt6d tunnel: %s, cleaning up\n", strsignal(w->signum));
	ev_break(loop, EVBREAK_ALL);
}

/* ---- setup and teardown ---- */

static int check_previous(const char *path)
{
	char comm[64], p[64];
	long pid = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	if (fscanf(f, "mt6d-state 1 pid %ld", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 0 || pid == (long)getpid())
		return 0;
	snprintf(p, sizeof(p), "/proc/%ld/comm", pid);
	f = fopen(p, "re");
	if (!f)
		return 0;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return strncmp(comm, "mt6d", 4) == 0 ? -EBUSY : 0;
}

static int setup(struct tund *d)
{
	struct tcfg *c = &d->cfg;
	long oldpid;
	int ret;

	ret = nl_open(&d->nl);
	if (ret < 0)
		return cli_fail("netlink: %s", strerror(-ret)), ret;
	ret = check_previous(c->state_file);
	if (ret < 0)
		return cli_fail("state file `%s' belongs to a running mt6d", c->state_file), ret;
	ret = state_recover(c->state_file, d->nl, &oldpid);
	if (ret < 0)
		return cli_fail("state file `%s': %s", c->state_file, strerror(-ret)), ret;
	if (ret > 0)
		fprintf(stderr, "mt6d tunnel: removed %d item(s) left by pid %ld (state file %s)\n",
		        ret, oldpid, c->state_file);
	ret = state_init(&d->st, c->state_file);
	if (ret < 0)
		return ret;
	d->have_state = true;
	ret = state_write(&d->st);
	if (ret < 0)
		return cli_fail("state file `%s': %s", c->state_file, strerror(-ret)), ret;

	if (c->mode == MODE_BIND) {
		d->uplink_ifindex = if_nametoindex(c->uplink);
		if (!d->uplink_ifindex)
			return cli_fail("Uplink `%s': %s", c->uplink, strerror(errno)), -ENODEV;
	}
	d->tun_fd = tun_open(c->name, true);
	if (d->tun_fd < 0)
		return cli_fail("TUN device `%s': %s", c->name, strerror(-d->tun_fd)), d->tun_fd;
	/* Checksum offload and TSO for IPv6: the kernel hands over 64 KB TCP
	 * superpackets with the checksum left to us (on_tun). */
	if (ioctl(d->tun_fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO6) < 0)
		fprintf(stderr, "mt6d tunnel: %s: no TSO offload (%s), packets come one by one\n",
		        c->name, strerror(errno));
	d->tun_ifindex = if_nametoindex(c->name);
	ret = nl_link_up(d->nl, d->tun_ifindex, c->mtu);
	if (ret < 0)
		return cli_fail("%s: link up, MTU %u: %s", c->name, c->mtu, strerror(-ret)), ret;
	for (size_t i = 0; i < c->naddrs; i++) {
		ret = nl_addr(d->nl, true, d->tun_ifindex, c->addrs[i].addr, c->addrs[i].plen,
		              false);
		if (ret < 0)
			return cli_fail("%s: adding address: %s", c->name, strerror(-ret)), ret;
	}
	for (size_t i = 0; i < c->nroutes; i++) {
		ret = nl_route(d->nl, true, false, d->tun_ifindex, c->routes[i].addr,
		               c->routes[i].plen);
		if (ret < 0 && ret != -EEXIST)
			return cli_fail("%s: adding route: %s", c->name, strerror(-ret)), ret;
	}
	if (c->mode == MODE_ROUTED) {
		struct state_item it = {.kind = STATE_ROUTE_LOCAL, .plen = 64, .ifname = "lo"};

		d->lo_ifindex = if_nametoindex("lo");
		memcpy(it.addr, c->local.prefix, 8);
		ret = state_add(&d->st, &it);
		if (ret == 0)
			ret = nl_route(d->nl, true, true, d->lo_ifindex, it.addr, 64);
		if (ret < 0)
			return cli_fail("local route for the /64 on lo: %s", strerror(-ret)), ret;
		d->local_route = true;
	}

	d->table = mt6d_tun_table_new();
	d->buf = malloc(BUF_LEN);
	d->rbuf = malloc(VNET_LEN + MT6D_INNER_MAX);
	d->gbuf = malloc((size_t)MAX_SEGS * (MT6D_OUTER_MTU + MT6D_ENCAP_OVERHEAD));
	d->cbuf = malloc(VNET_LEN + 40 + 65535);
	if (!d->table || !d->buf || !d->rbuf || !d->gbuf || !d->cbuf)
		return -ENOMEM;
	{
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		/* Counters start at the time in ns: above anything a previous
		 * run with this static key sent (docs/protocol.md, "Data plane"). */
		ret = mt6d_tun_session_init(
		        &d->sess, c->ks, &c->local, &c->remote, c->role, c->rot_ms,
		        (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
		if (ret < 0)
			return ret;
		d->have_sess = true;
	}

	ev_io_init(&d->tun_w, on_tun, d->tun_fd, EV_READ);
	d->tun_w.data = d;
	ev_io_start(d->loop, &d->tun_w);
	ev_init(&d->rot_w, on_rotate);
	d->rot_w.data = d;
	on_rotate(d->loop, &d->rot_w, 0);
	if (d->fatal)
		return d->fatal;
	ev_signal_init(&d->sig_int, on_signal, SIGINT);
	ev_signal_init(&d->sig_term, on_signal, SIGTERM);
	ev_signal_init(&d->sig_usr1, on_signal, SIGUSR1);
	d->sig_int.data = d->sig_term.data = d->sig_usr1.data = d;
	ev_signal_start(d->loop, &d->sig_int);
	ev_signal_start(d->loop, &d->sig_term);
	ev_signal_start(d->loop, &d->sig_usr1);
	fprintf(stderr, "mt6d tunnel: %s up, %s mode, rotation %u ms\n", c->name,
	        c->mode == MODE_BIND ? "bind" : "routed", c->rot_ms);
	return 0;
}

static void teardown(struct tund *d)
{
	if (d->have_sess) {
		/* Reports every slot as leaving: sockets closed, addresses gone. */
		for (int i = 0; i < MT6D_TUN_SLOTS; i++)
			if (d->sess.win[i].valid)
				on_slot(&d->sess, &d->sess.win[i], false, d);
		mt6d_tun_session_clear(d->table, &d->sess);
	}
	if (d->local_route) {
		struct state_item it = {.kind = STATE_ROUTE_LOCAL, .plen = 64, .ifname = "lo"};

		memcpy(it.addr, d->cfg.local.prefix, 8);
		nl_route(d->nl, false, true, d->lo_ifindex, it.addr, 64);
		state_del(&d->st, &it);
	}
	if (d->tun_fd >= 0)
		close(d->tun_fd);
	if (d->have_state) {
		if (d->st.n == 0)
			unlink(d->st.path);
		state_free(&d->st);
	}
	mt6d_tun_table_free(d->table);
	free(d->buf);
	free(d->rbuf);
	free(d->gbuf);
	free(d->cbuf);
	nl_close(d->nl);
	sodium_memzero(&d->cfg, sizeof(d->cfg));
}

int cmd_tunnel(int argc, char **argv)
{
	const char *path = NULL;
	bool verbose = false;
	struct tund *d;
	int ret = cli_daemon_opts(argc, argv, "tunnel", &path, &verbose);

	if (ret)
		return ret < 0 ? 0 : ret;
	ret = 1;
	d = calloc(1, sizeof(*d));
	if (!d)
		return cli_fail("out of memory");
	d->tun_fd = -1;
	d->verbose = verbose;
	if (cfg_load(&d->cfg, path) < 0)
		goto out;
	d->loop = ev_default_loop(EVFLAG_AUTO);
	if (!d->loop) {
		cli_fail("cannot start the event loop");
		goto out;
	}
	if (setup(d) < 0 || privdrop("tunnel", d->cfg.user,
	                             &(struct privdrop_paths){.rewrite = {d->cfg.state_file}}) < 0)
		goto out;
	ev_run(d->loop, 0);
	ret = d->fatal ? 1 : 0;
	print_stats(d);
out:
	teardown(d);
	free(d);
	return ret;
}
