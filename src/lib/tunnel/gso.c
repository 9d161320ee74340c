/* SPDX-License-Identifier: MIT */
/*
 * Segmentation of TCP/IPv6 superpackets and Internet checksums, so the
 * daemon can take 64 KB TSO packets from its TUN device (IFF_VNET_HDR) and
 * send one encrypted datagram per MTU-sized segment, batched with UDP GSO.
 *
 * Rules this file keeps:
 *  - Every segment leaves with a complete, correct TCP checksum: the
 *    receiving end marks decrypted packets as checksum-verified, which is
 *    only sound if the sender computed the real checksum (and keeps them
 *    correct if the receiver forwards them on).
 *  - Segment k carries bytes [k*mss, (k+1)*mss) of the payload; sequence
 *    numbers advance by that offset; FIN and PSH stay on the last segment
 *    only, CWR on the first only (as the kernel's own TSO does).
 *  - Only IPv6 without extension headers followed by TCP is segmented;
 *    anything else is refused with -EPROTONOSUPPORT, never guessed at.
 */
#include <errno.h>
#include <string.h>

#include "core/internal.h"
#include "mt6d/tunnel.h"

/*
 * One's-complement sum of p as big-endian 16-bit words, added to acc. The
 * sum is taken 8 bytes at a time in the machine's own byte order and
 * swapped once at the end (RFC 1071: the sum is byte-order independent up
 * to that swap); about four times faster than word by word, which matters
 * because every segment of every superpacket is summed once.
 */
static uint64_t sum_bytes(uint64_t acc, const uint8_t *p, size_t len)
{
	uint64_t s = 0, v;
	uint8_t tail[8] = {0};

	while (len >= 8) {
		memcpy(&v, p, 8);
		s += (v & 0xffffffffu) + (v >> 32); /* no overflow below 2^31 words */
		p += 8;
		len -= 8;
	}
	if (len) {
		memcpy(tail, p, len); /* zero padding after: pairing unchanged */
		memcpy(&v, tail, 8);
		s += (v & 0xffffffffu) + (v >> 32);
	}
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	s = (uint16_t)(s << 8 | s >> 8);
#endif
	return acc + s;
}

static uint16_t fold(uint64_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

uint16_t mt6d_csum(const uint8_t *p, size_t len, uint32_t initial)
{
	return (uint16_t)~fold(sum_bytes(initial, p, len));
}

int mt6d_csum_complete(uint8_t *pkt, size_t len, size_t start, size_t offset)
{
	uint16_t c;

	if (start > len || offset + 2 > len - start)
		return -EINVAL;
	/* The field already holds the pseudo-header sum (CHECKSUM_PARTIAL). */
	c = mt6d_csum(pkt + start, len - start, 0);
	mt6d_put_be16(pkt + start + offset, c);
	return 0;
}

static uint16_t tcp6_csum(const uint8_t *ip, const uint8_t *tcp, size_t tcp_len)
{
	uint64_t acc = 0;

	acc = sum_bytes(acc, ip + 8, 32); /* source and destination */
	acc += (uint32_t)tcp_len;
	acc += 6; /* next header TCP */
	return (uint16_t)~fold(sum_bytes(acc, tcp, tcp_len));
}

int mt6d_gso_split_tcp6(const uint8_t *pkt, size_t len, uint16_t mss, uint8_t *out, size_t stride,
                        size_t off, size_t *lens, size_t max)
{
	size_t thl, hl, payload, nseg;
	uint32_t seq;
	uint8_t flags;

	if (len < 40 + 20 || (pkt[0] >> 4) != 6 || pkt[6] != 6 || mss == 0)
		return -EPROTONOSUPPORT;
	thl = (size_t)(pkt[40 + 12] >> 4) * 4;
	hl = 40 + thl;
	if (thl < 20 || hl > len)
		return -EPROTONOSUPPORT;
	payload = len - hl;
	nseg = payload ? (payload + mss - 1) / mss : 1;
	if (nseg > max || off + hl + (payload < mss ? payload : mss) > stride)
		return -EMSGSIZE;
	seq = mt6d_get_be32(pkt + 40 + 4);
	flags = pkt[40 + 13];
	for (size_t k = 0; k < nseg; k++) {
		uint8_t *s = out + k * stride + off, *th = s + 40;
		size_t n = payload - k * mss < mss ? payload - k * mss : mss;

		memcpy(s, pkt, hl);
		memcpy(s + hl, pkt + hl + k * mss, n);
		mt6d_put_be16(s + 4, (uint16_t)(thl + n));
		mt6d_put_be32(th + 4, seq + (uint32_t)(k * mss));
		th[13] = flags;
		if (k + 1 < nseg)
			th[13] &= (uint8_t) ~(0x01 | 0x08); /* FIN, PSH on the last only */
		if (k > 0)
			th[13] &= (uint8_t)~0x80; /* CWR on the first only */
		th[16] = th[17] = 0;
		mt6d_put_be16(th + 16, tcp6_csum(s, th, thl + n));
		lens[k] = hl + n;
	}
	return (int)nseg;
}

/*
 * Coalescing (the receive side's GRO): consecutive in-order TCP segments of
 * one flow, as a TSO burst from the peer's kernel arrives, are joined into
 * one superpacket so the TUN device takes one write and the local TCP
 * stack one skb. A segment joins only when everything but the sequence
 * number and payload is what the first segment had: addresses, ports, IPv6
 * header bytes, ack number, window, TCP options (timestamps included), and
 * flags ACK (PSH allowed on the segment that closes the packet). A shorter
 * segment or PSH closes it.
 */
static bool gro_ok_first(const uint8_t *p, size_t len, size_t *hl)
{
	size_t thl;

	if (len < 60 || (p[0] >> 4) != 6 || p[6] != 6 || mt6d_get_be16(p + 4) != len - 40)
		return false;
	thl = (size_t)(p[52] >> 4) * 4;
	if (thl < 20 || 40 + thl >= len)
		return false; /* no payload: pure ACKs go as they are */
	if ((p[53] & ~0x08) != 0x10)
		return false; /* ACK, maybe PSH; nothing else */
	*hl = 40 + thl;
	return true;
}

bool mt6d_gro_start(struct mt6d_gro *g, const uint8_t *pkt, size_t len)
{
	size_t hl;

	g->len = 0;
	if (!gro_ok_first(pkt, len, &hl) || len > g->cap)
		return false;
	memcpy(g->buf, pkt, len);
	g->len = len;
	g->hl = hl;
	g->mss = (uint16_t)(len - hl);
	g->nseg = 1;
	g->next_seq = mt6d_get_be32(pkt + 44) + (uint32_t)(len - hl);
	g->closed = (pkt[53] & 0x08) != 0;
	return true;
}

bool mt6d_gro_add(struct mt6d_gro *g, const uint8_t *pkt, size_t len)
{
	size_t hl, n;

	if (g->len == 0 || g->closed || !gro_ok_first(pkt, len, &hl) || hl != g->hl)
		return false;
	n = len - hl;
	if (n > g->mss || g->len + n > g->cap || g->len + n - 40 > 65535)
		return false;
	/* IPv6 header but the payload length; addresses; ports. */
	if (memcmp(pkt, g->buf, 4) || pkt[6] != g->buf[6] || pkt[7] != g->buf[7] ||
	    memcmp(pkt + 8, g->buf + 8, 32) || memcmp(pkt + 40, g->buf + 40, 4))
		return false;
	if (mt6d_get_be32(pkt + 44) != g->next_seq)
		return false;
	/* ack, header length and flags but PSH, window, options */
	if (memcmp(pkt + 48, g->buf + 48, 5) || (pkt[53] & ~0x08) != (g->buf[53] & ~0x08) ||
	    memcmp(pkt + 54, g->buf + 54, 2) || memcmp(pkt + 60, g->buf + 60, hl - 60))
		return false;
	memcpy(g->buf + g->len, pkt + hl, n);
	g->len += n;
	g->nseg++;
	g->next_seq += (uint32_t)n;
	g->buf[53] |= pkt[53] & 0x08;
	if (n < g->mss || (pkt[53] & 0x08))
		g->closed = true;
	return true;
}

void mt6d_gro_finish(struct mt6d_gro *g)
{
	uint64_t acc;

	if (g->len == 0)
		return;
	mt6d_put_be16(g->buf + 4, (uint16_t)(g->len - 40));
	if (g->nseg == 1)
		return; /* unchanged: its own checksum is still right */
	/* CHECKSUM_PARTIAL form, as the kernel keeps a packet it will
	 * segment: the folded pseudo-header sum, not inverted. */
	acc = sum_bytes(0, g->buf + 8, 32) + (uint32_t)(g->len - 40) + 6;
	mt6d_put_be16(g->buf + 56, fold(acc));
}
