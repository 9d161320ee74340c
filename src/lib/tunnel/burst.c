/* SPDX-License-Identifier: MIT */
/*
 * The one data path of every MT6D sender and receiver (the static tunnel,
 * the session server and the client): an inner packet from the TUN device
 * becomes a burst of sealed datagrams for one slot, and a batch of
 * datagrams from the network becomes inner packets again, coalesced where
 * they were one TCP burst. The daemons only move bytes (src/daemon/datapath.c).
 *
 * Rules this file keeps:
 *  - Sealing is per segment, with the session's counter; a burst never
 *    mixes sessions or slots, so the caller sends it with one system call.
 *  - Every datagram received is counted under exactly one outcome; nothing
 *    a peer sends is fatal.
 *  - Coalescing joins only segments gso.c accepts as one flow's burst and
 *    keeps their order; whatever it does not join is delivered as it came,
 *    before anything that followed it.
 *  - No allocation, no I/O, no clock: buffers are the caller's.
 */
#include <errno.h>
#include <string.h>

#include "core/internal.h"
#include "mt6d/tunnel.h"

_Static_assert(MT6D_RX_HEADROOM <= MT6D_ENCAP_INNER_OFF, "headroom of packets opened in place");

int mt6d_burst_seal(struct mt6d_tun_session *s, const uint8_t *pkt, size_t len,
                    const struct mt6d_offload *off, struct mt6d_burst *b)
{
	size_t lens[MT6D_BURST_MAX], stride;
	int n;

	b->n = b->total = 0;
	if (off && off->gso_size) {
		/* The kernel's hdr_len is its linear length, not the headers':
		 * the TCP header length comes from the packet. Every segment but
		 * the last is exactly stride long, as UDP GSO needs. */
		size_t hl = len > 60 ? 40 + (size_t)(pkt[52] >> 4) * 4 : 0;

		stride = MT6D_ENCAP_OVERHEAD + hl + off->gso_size;
		if (hl < 60 || stride > MT6D_BURST_STRIDE_MAX)
			n = -EMSGSIZE;
		else
			n = mt6d_gso_split_tcp6(pkt, len, off->gso_size, b->buf, stride,
			                        MT6D_ENCAP_INNER_OFF, lens, MT6D_BURST_MAX);
	} else if (len == 0 || len > MT6D_INNER_MAX) {
		n = -EMSGSIZE;
	} else {
		memmove(b->buf + MT6D_ENCAP_INNER_OFF, pkt, len);
		n = 1;
		lens[0] = len;
		stride = len + MT6D_ENCAP_OVERHEAD;
		if (off && off->needs_csum &&
		    mt6d_csum_complete(b->buf + MT6D_ENCAP_INNER_OFF, len, off->csum_start,
		                       off->csum_offset) < 0)
			n = -EINVAL;
	}
	if (n <= 0) {
		s->stats.tx_errors++;
		return n < 0 ? n : -EINVAL;
	}
	for (int k = 0; k < n; k++) {
		int r = mt6d_encap_seal_inplace(&s->encap, b->buf + (size_t)k * stride, stride,
		                                lens[k]);

		s->stats.tx_bytes += lens[k];
		b->total = (size_t)k * stride + (size_t)r;
	}
	s->stats.tx_packets += (uint64_t)n;
	b->n = (size_t)n;
	b->stride = stride;
	return n;
}

int mt6d_tun_open(struct mt6d_tun_session *s, uint8_t *dgram, size_t len)
{
	int n = mt6d_encap_open_inplace(&s->encap, dgram, len, NULL);

	if (n == -EMSGSIZE) {
		s->stats.rx_truncated++;
		return n;
	} else if (n == -EBADMSG) {
		s->stats.rx_forged++;
		return n;
	} else if (n == -EEXIST) {
		s->stats.rx_replayed++;
		return n;
	} else if (n < 40 || (dgram[MT6D_ENCAP_INNER_OFF] >> 4) != 6) {
		s->stats.rx_bad_inner++;
		return -EPROTO;
	}
	s->stats.rx_packets++;
	s->stats.rx_bytes += (uint64_t)n;
	return n;
}

size_t mt6d_batch_each(uint8_t *buf, size_t len, size_t gso, mt6d_dgram_fn fn, void *arg)
{
	size_t k = 0;

	if (gso == 0 || gso > len)
		gso = len;
	for (size_t off = 0; off < len; off += gso, k++)
		if (fn)
			fn(arg, buf + off, len - off < gso ? len - off : gso);
	return k;
}

void mt6d_rx_init(struct mt6d_rx *rx, uint8_t *buf, mt6d_deliver_fn deliver, void *arg)
{
	memset(rx, 0, sizeof(*rx));
	rx->g.buf = buf ? buf + MT6D_RX_HEADROOM : NULL;
	rx->g.cap = MT6D_RX_BUF;
	rx->deliver = deliver;
	rx->arg = arg;
}

static void deliver_plain(struct mt6d_rx *rx, uint8_t *pkt, size_t len)
{
	static const struct mt6d_offload plain = {0};

	rx->packets_out++;
	rx->deliver(rx->arg, pkt, len, &plain);
}

void mt6d_rx_flush(struct mt6d_rx *rx)
{
	struct mt6d_gro *g = &rx->g;

	if (!g->len)
		return;
	mt6d_gro_finish(g);
	if (g->nseg == 1) {
		deliver_plain(rx, g->buf, g->len);
	} else {
		struct mt6d_offload off = {.gso_size = g->mss,
		                           .hdr_len = (uint16_t)g->hl,
		                           .needs_csum = true,
		                           .csum_start = 40,
		                           .csum_offset = 16};
		rx->packets_out++;
		rx->superpackets++;
		rx->deliver(rx->arg, g->buf, g->len, &off);
	}
	g->len = 0;
}

void mt6d_rx_push(struct mt6d_rx *rx, uint8_t *pkt, size_t len)
{
	if (!rx->g.buf) {
		deliver_plain(rx, pkt, len);
		return;
	}
	if (rx->g.len && mt6d_gro_add(&rx->g, pkt, len))
		return;
	mt6d_rx_flush(rx);
	if (!mt6d_gro_start(&rx->g, pkt, len))
		deliver_plain(rx, pkt, len);
}
