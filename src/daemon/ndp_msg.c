/* SPDX-License-Identifier: MIT */
/*
 * Neighbor Solicitations in, Neighbor Advertisements out (RFC 4861), on
 * whole Ethernet frames. Pure: no socket, no clock, no allocation, so the
 * responder, the unit tests and fuzz/fuzz_ndp.c run the same code.
 *
 * Rules this file keeps:
 *  - A frame is read only inside [0, len) and the IPv6 payload length,
 *    whichever ends first; Ethernet padding past the payload is ignored.
 *  - Everything RFC 4861 section 7.1.1 asks a receiver to check is checked
 *    (hop limit 255, checksum, code 0, length, target not multicast,
 *    options of non-zero length inside the message, the DAD form); a frame
 *    that fails says why (enum ndp_drop) and gets no answer.
 *  - Only an NS directly after the IPv6 header is taken: an extension
 *    header in front of it is dropped as NDP_NOT_NS (no host sends one).
 */
#include <string.h>

#include "ndp.h"

#define ETH_P_IPV6_HI 0x86
#define ETH_P_IPV6_LO 0xdd
#define PROTO_ICMPV6  58
#define ICMP_NS       135
#define ICMP_NA       136
#define OPT_SLLA      1
#define OPT_TLLA      2
#define NA_S          0x40
#define NA_O          0x20

_Static_assert(NDP_NA_FRAME == 86, "Ethernet 14 + IPv6 40 + NA 24 + option 8");
_Static_assert(NDP_NS_FRAME == 86, "Ethernet 14 + IPv6 40 + NS 24 + option 8");

const char *ndp_drop_name(enum ndp_drop why)
{
	static const char *const names[NDP_DROP_KINDS] = {
	        [NDP_OK] = "ok",         [NDP_SHORT] = "short",
	        [NDP_NOT_NS] = "not_ns", [NDP_HOP_LIMIT] = "hop_limit",
	        [NDP_CODE] = "code",     [NDP_CHECKSUM] = "checksum",
	        [NDP_TARGET] = "target", [NDP_OPTION] = "option",
	        [NDP_DAD] = "dad",
	};
	return (unsigned)why < NDP_DROP_KINDS ? names[why] : "?";
}

static uint32_t sum16(uint32_t acc, const uint8_t *p, size_t len)
{
	for (; len >= 2; p += 2, len -= 2)
		acc += (uint32_t)p[0] << 8 | p[1];
	if (len)
		acc += (uint32_t)p[0] << 8;
	return acc;
}

uint16_t ndp_icmp6_sum(const uint8_t src[static 16], const uint8_t dst[static 16], const uint8_t *p,
                       size_t len)
{
	uint32_t acc = 0;

	acc = sum16(acc, src, 16);
	acc = sum16(acc, dst, 16);
	acc += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff);
	acc += PROTO_ICMPV6;
	acc = sum16(acc, p, len);
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

static bool unspecified(const uint8_t a[static 16])
{
	static const uint8_t zero[16];
	return !memcmp(a, zero, 16);
}

/* ff02::1:ffXX:XXXX of target */
static void solicited_node(uint8_t out[static 16], const uint8_t target[static 16])
{
	static const uint8_t head[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};

	memcpy(out, head, 13);
	memcpy(out + 13, target + 13, 3);
}

enum ndp_drop ndp_ns_parse(const uint8_t *frame, size_t len, struct ndp_ns *ns)
{
	const uint8_t *ip = frame + NDP_ETH_LEN, *icmp = ip + NDP_IP6_LEN, *opt;
	size_t plen, left;
	uint8_t group[16];

	memset(ns, 0, sizeof(*ns));
	if (len < NDP_ETH_LEN + NDP_IP6_LEN)
		return NDP_SHORT;
	if (frame[12] != ETH_P_IPV6_HI || frame[13] != ETH_P_IPV6_LO || (ip[0] >> 4) != 6 ||
	    ip[6] != PROTO_ICMPV6)
		return NDP_NOT_NS;
	plen = (size_t)ip[4] << 8 | ip[5];
	if (plen > len - NDP_ETH_LEN - NDP_IP6_LEN || plen < 1)
		return NDP_SHORT;
	if (icmp[0] != ICMP_NS)
		return NDP_NOT_NS;
	if (plen < NDP_NS_LEN)
		return NDP_SHORT;
	if (ip[7] != 255)
		return NDP_HOP_LIMIT;
	if (icmp[1] != 0)
		return NDP_CODE;
	memcpy(ns->eth_src, frame + 6, 6);
	memcpy(ns->src, ip + 8, 16);
	memcpy(ns->dst, ip + 24, 16);
	if (ndp_icmp6_sum(ns->src, ns->dst, icmp, plen) != 0)
		return NDP_CHECKSUM;
	memcpy(ns->target, icmp + 8, 16);
	if (ns->target[0] == 0xff)
		return NDP_TARGET;
	for (opt = icmp + NDP_NS_LEN, left = plen - NDP_NS_LEN; left > 0;) {
		size_t olen;

		if (left < 2 || opt[1] == 0 || (olen = (size_t)opt[1] * 8) > left)
			return NDP_OPTION;
		/* The Ethernet form of the option is 8 bytes; a longer one
		 * belongs to another link type and is skipped. */
		if (opt[0] == OPT_SLLA && olen == 8) {
			memcpy(ns->slla, opt + 2, 6);
			ns->has_slla = true;
		}
		opt += olen;
		left -= olen;
	}
	if (unspecified(ns->src)) {
		solicited_node(group, ns->target);
		if (memcmp(ns->dst, group, 16) != 0 || ns->has_slla)
			return NDP_DAD;
	}
	return NDP_OK;
}

static void eth_ip6(uint8_t *f, const uint8_t dmac[static 6], const uint8_t smac[static 6],
                    const uint8_t src[static 16], const uint8_t dst[static 16], size_t plen)
{
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = ETH_P_IPV6_HI;
	f[13] = ETH_P_IPV6_LO;
	f += NDP_ETH_LEN;
	memset(f, 0, NDP_IP6_LEN);
	f[0] = 0x60;
	f[4] = (uint8_t)(plen >> 8);
	f[5] = (uint8_t)plen;
	f[6] = PROTO_ICMPV6;
	f[7] = 255;
	memcpy(f + 8, src, 16);
	memcpy(f + 24, dst, 16);
}

/* 33:33 and the low 32 bits of a multicast address (RFC 2464) */
static void mcast_mac(uint8_t mac[static 6], const uint8_t group[static 16])
{
	mac[0] = mac[1] = 0x33;
	memcpy(mac + 2, group + 12, 4);
}

size_t ndp_na_build(uint8_t out[static NDP_NA_FRAME], const struct ndp_ns *ns,
                    const uint8_t mac[static 6])
{
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	uint8_t *icmp = out + NDP_ETH_LEN + NDP_IP6_LEN, dmac[6];
	bool dad = unspecified(ns->src);
	const uint8_t *dst = dad ? all_nodes : ns->src;
	uint16_t sum;

	if (dad)
		mcast_mac(dmac, all_nodes);
	else
		memcpy(dmac, ns->has_slla ? ns->slla : ns->eth_src, 6);
	eth_ip6(out, dmac, mac, ns->target, dst, 32);
	memset(icmp, 0, 32);
	icmp[0] = ICMP_NA;
	icmp[4] = dad ? NA_O : NA_S | NA_O;
	memcpy(icmp + 8, ns->target, 16);
	icmp[24] = OPT_TLLA;
	icmp[25] = 1;
	memcpy(icmp + 26, mac, 6);
	sum = ndp_icmp6_sum(ns->target, dst, icmp, 32);
	icmp[2] = (uint8_t)(sum >> 8);
	icmp[3] = (uint8_t)sum;
	return NDP_NA_FRAME;
}

size_t ndp_ns_build(uint8_t out[static NDP_NS_FRAME], const uint8_t src[static 16],
                    const uint8_t mac[static 6], const uint8_t target[static 16])
{
	uint8_t *icmp = out + NDP_ETH_LEN + NDP_IP6_LEN, group[16], dmac[6];
	uint16_t sum;

	solicited_node(group, target);
	mcast_mac(dmac, group);
	eth_ip6(out, dmac, mac, src, group, 32);
	memset(icmp, 0, 32);
	icmp[0] = ICMP_NS;
	memcpy(icmp + 8, target, 16);
	icmp[24] = OPT_SLLA;
	icmp[25] = 1;
	memcpy(icmp + 26, mac, 6);
	sum = ndp_icmp6_sum(src, group, icmp, 32);
	icmp[2] = (uint8_t)(sum >> 8);
	icmp[3] = (uint8_t)sum;
	return NDP_NS_FRAME;
}
