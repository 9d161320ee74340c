/* SPDX-License-Identifier: MIT */
/*
 * rtnetlink through libmnl: one socket, one request at a time, each
 * acknowledged (NLM_F_ACK) so the caller learns the kernel's errno. The
 * daemon adds at most a few addresses per slot, so batching would buy
 * nothing here.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "daemon.h"

struct nl {
	struct mnl_socket *sk;
	unsigned portid;
	unsigned seq;
	char buf[32768]; /* MNL_SOCKET_BUFFER_SIZE is not a constant */
};

int nl_open(struct nl **out)
{
	struct nl *nl = calloc(1, sizeof(*nl));
	int ret;

	if (!nl)
		return -ENOMEM;
	nl->sk = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sk) {
		ret = -errno;
		free(nl);
		return ret;
	}
	if (mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		mnl_socket_close(nl->sk);
		free(nl);
		return ret;
	}
	nl->portid = mnl_socket_get_portid(nl->sk);
	nl->seq = (unsigned)time(NULL);
	*out = nl;
	return 0;
}

void nl_close(struct nl *nl)
{
	if (!nl)
		return;
	mnl_socket_close(nl->sk);
	free(nl);
}

/* Send one request (its flags already set) and read the answers, each
 * message given to cb, until the acknowledgement or the end of a dump. */
static int exchange(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	unsigned seq = nlh->nlmsg_seq = ++nl->seq;
	ssize_t n;
	int ret;

	if (mnl_socket_sendto(nl->sk, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl->sk, nl->buf, sizeof(nl->buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ret = mnl_cb_run(nl->buf, (size_t)n, seq, nl->portid, cb, data);
		if (ret <= MNL_CB_STOP)
			return ret < 0 ? -errno : 0;
	}
}

/* Send one request and wait for its acknowledgement. */
static int talk(struct nl *nl, struct nlmsghdr *nlh)
{
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	return exchange(nl, nlh, NULL, NULL);
}

int nl_link_up(struct nl *nl, unsigned ifindex, unsigned mtu)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = IFF_UP;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return talk(nl, nlh);
}

int nl_addr(struct nl *nl, bool add, unsigned ifindex, const uint8_t addr[static 16], unsigned plen,
            bool deprecated)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;

	nlh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	if (add)
		nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET6;
	ifa->ifa_prefixlen = (unsigned char)plen;
	ifa->ifa_flags = IFA_F_NODAD;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, 16, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, 16, addr);
	if (add && deprecated) {
		/* Preferred lifetime 0: valid forever, but never chosen as the
		 * source of other traffic (RFC 6724 rule 3), whose connections
		 * would break when the slot's address is removed. */
		struct ifa_cacheinfo ci = {.ifa_prefered = 0, .ifa_valid = 0xffffffffu};
		mnl_attr_put(nlh, IFA_CACHEINFO, sizeof(ci), &ci);
	}
	return talk(nl, nlh);
}

int nl_route(struct nl *nl, bool add, bool local, unsigned ifindex, const uint8_t dst[static 16],
             unsigned plen)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	if (add)
		nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET6;
	rtm->rtm_dst_len = (unsigned char)plen;
	rtm->rtm_table = local ? RT_TABLE_LOCAL : RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = local ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
	rtm->rtm_type = local ? RTN_LOCAL : RTN_UNICAST;
	mnl_attr_put(nlh, RTA_DST, 16, dst);
	mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	return talk(nl, nlh);
}

struct prefix_find {
	unsigned ifindex;
	uint8_t *out;
	const uint8_t *prefer;
	bool found, preferred;
};

static int prefix_cb(const struct nlmsghdr *nlh, void *data)
{
	struct prefix_find *f = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	if (f->preferred || ifa->ifa_family != AF_INET6 || ifa->ifa_index != f->ifindex ||
	    ifa->ifa_prefixlen != 64 || ifa->ifa_scope != RT_SCOPE_UNIVERSE ||
	    (ifa->ifa_flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED | IFA_F_DEPRECATED)))
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ifa))
	{
		if (mnl_attr_get_type(a) == IFA_ADDRESS && mnl_attr_get_payload_len(a) == 16) {
			const uint8_t *p = mnl_attr_get_payload(a);
			if (f->prefer && !memcmp(p, f->prefer, 8))
				f->preferred = true;
			else if (f->found)
				break;
			memcpy(f->out, p, 8);
			f->found = true;
			break;
		}
	}
	return MNL_CB_OK;
}

int nl_prefix64(struct nl *nl, unsigned ifindex, uint8_t out[static 8], const uint8_t *prefer)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	struct prefix_find f = {.ifindex = ifindex, .out = out, .prefer = prefer};
	int ret;

	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET6;
	ret = exchange(nl, nlh, prefix_cb, &f);
	if (ret < 0)
		return ret;
	return f.found ? 0 : -ENOENT;
}

int nl_route_local_table(struct nl *nl, bool add, unsigned ifindex, const uint8_t dst[static 16],
                         unsigned plen, uint32_t table)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	if (add)
		nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET6;
	rtm->rtm_dst_len = (unsigned char)plen;
	rtm->rtm_table = RT_TABLE_UNSPEC; /* the table is RTA_TABLE: it may be > 255 */
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_HOST;
	rtm->rtm_type = RTN_LOCAL;
	mnl_attr_put(nlh, RTA_DST, 16, dst);
	mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	return talk(nl, nlh);
}

int nl_rule_iif(struct nl *nl, bool add, const char *iifname, const uint8_t dst[static 16],
                unsigned plen, uint32_t table, uint32_t prio)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh;

	nlh->nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
	if (add)
		nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = AF_INET6;
	frh->dst_len = (unsigned char)plen;
	frh->table = RT_TABLE_UNSPEC;
	frh->action = FR_ACT_TO_TBL;
	mnl_attr_put(nlh, FRA_DST, 16, dst);
	mnl_attr_put_strz(nlh, FRA_IIFNAME, iifname);
	mnl_attr_put_u32(nlh, FRA_TABLE, table);
	mnl_attr_put_u32(nlh, FRA_PRIORITY, prio);
	return talk(nl, nlh);
}

struct addrs_find {
	unsigned ifindex;
	const uint8_t *prefix;
	uint8_t (*out)[16];
	size_t max, n;
};

static int addrs_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addrs_find *f = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	if (ifa->ifa_family != AF_INET6 || ifa->ifa_index != f->ifindex)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ifa))
	{
		if (mnl_attr_get_type(a) == IFA_ADDRESS && mnl_attr_get_payload_len(a) == 16) {
			const uint8_t *p = mnl_attr_get_payload(a);
			if (!memcmp(p, f->prefix, 8) && f->n < f->max)
				memcpy(f->out[f->n++], p, 16);
			break;
		}
	}
	return MNL_CB_OK;
}

int nl_addrs_in64(struct nl *nl, unsigned ifindex, const uint8_t prefix[static 8],
                  uint8_t (*out)[16], size_t max)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	struct addrs_find f = {.ifindex = ifindex, .prefix = prefix, .out = out, .max = max};
	int ret;

	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET6;
	ret = exchange(nl, nlh, addrs_cb, &f);
	return ret < 0 ? ret : (int)f.n;
}
