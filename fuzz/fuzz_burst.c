/* SPDX-License-Identifier: MIT */
/*
 * The burst-open path as a receiver meets it (src/lib/tunnel/burst.c):
 * the input is a receive batch (the first two bytes choose the UDP GRO
 * datagram size), each datagram opened with a fixed session key and what
 * authenticates coalesced. Random bytes never authenticate, so the input
 * is also sealed first as the peer would (the rest of the input as inner
 * packets, split as a TSO superpacket when a flag byte says so): the
 * coalescer then sees authentic packets whose every byte the fuzzer chose.
 * Whatever is delivered must fit the buffer and keep the headroom.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mt6d/tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mt6d_tun_session tx, rx;
static uint8_t *bbuf, *rxbuf, batch[2 * (MT6D_INNER_MAX + MT6D_ENCAP_OVERHEAD)];
static struct mt6d_rx r;

static void deliver(void *arg, uint8_t *pkt, size_t len, const struct mt6d_offload *off)
{
	if (len > MT6D_RX_BUF || (off->gso_size && off->hdr_len >= len))
		abort();
	pkt[-MT6D_RX_HEADROOM] = 0; /* the headroom is writable */
	pkt[len - 1] ^= 0;
}

static void open_one(void *arg, uint8_t *d, size_t len)
{
	int n = mt6d_tun_open(&rx, d, len);

	if (n > 0)
		mt6d_rx_push(&r, d + MT6D_ENCAP_INNER_OFF, (size_t)n);
}

static void setup(void)
{
	static const uint8_t ks[MT6D_INTRO_KEY_LEN] = {1};
	struct mt6d_tun_host a = {.prefix = {0x20, 0x01, 0x0d, 0xb8}, .iid = {1}};
	struct mt6d_tun_host b = {.prefix = {0x20, 0x01, 0x0d, 0xb8}, .iid = {2}};

	mt6d_init();
	mt6d_tun_session_init(&tx, ks, &a, &b, MT6D_ROLE_CLIENT, 1000, 1);
	mt6d_tun_session_init(&rx, ks, &b, &a, MT6D_ROLE_SERVER, 1000, 1);
	bbuf = malloc(MT6D_BURST_BUF);
	rxbuf = malloc(MT6D_RX_HEADROOM + MT6D_RX_BUF);
	if (!bbuf || !rxbuf)
		abort();
	mt6d_rx_init(&r, rxbuf, deliver, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mt6d_burst b = {.buf = NULL};
	struct mt6d_offload off = {0};
	size_t gso, n;

	if (!bbuf)
		setup();
	if (size < 4 || size > sizeof(batch))
		return 0;
	/* As it came from the network: forged, truncated, whatever. */
	gso = (size_t)(data[0] << 8 | data[1]);
	n = size - 4;
	memcpy(batch, data + 4, n);
	mt6d_batch_each(batch, n, gso, open_one, NULL);
	mt6d_rx_flush(&r);
	/* As the peer sealed it: a TSO packet (flag bit 0) of mss data[2..3]. */
	b.buf = bbuf;
	if (data[2] & 1)
		off.gso_size = (uint16_t)((data[2] >> 1) << 8 | data[3]);
	if (mt6d_burst_seal(&tx, data + 4, n, &off, &b) > 0) {
		/* The receiver's replay window must not reject the fuzzer's
		 * own retries: a fresh window per input. */
		mt6d_replay_init(&rx.encap.replay);
		mt6d_batch_each(b.buf, b.total, b.n > 1 ? b.stride : 0, open_one, NULL);
		mt6d_rx_flush(&r);
	}
	return 0;
}
