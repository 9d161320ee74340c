/* SPDX-License-Identifier: MIT */
/*
 * The one data path (src/lib/tunnel/burst.c) end to end in one process: a
 * TSO superpacket sealed into a burst by one end, opened datagram by
 * datagram by the other and coalesced back, against the original bytes and
 * a naive checksum; a burst split over a slot edge (its datagrams found
 * through two endpoints of the window) still coalesces, in order; what
 * cannot join is delivered as it came, never lost or reordered; forged and
 * replayed datagrams are counted by reason.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "mt6d/tunnel.h"
#include "tcp6_ref.h"

enum { MSS = 1200, HL = 72, ROT = 1000 };

struct got {
	uint8_t pkt[8][MT6D_RX_BUF];
	size_t len[8];
	struct mt6d_offload off[8];
	int n;
};

static void on_deliver(void *arg, uint8_t *pkt, size_t len, const struct mt6d_offload *off)
{
	struct got *g = arg;

	assert_true(g->n < 8);
	/* The headroom the caller may write a device header into. */
	memset(pkt - MT6D_RX_HEADROOM, 0xee, MT6D_RX_HEADROOM);
	memcpy(g->pkt[g->n], pkt, len);
	g->len[g->n] = len;
	g->off[g->n] = *off;
	g->n++;
}

/* A TCP/IPv6 packet with a 32-byte header (timestamps) and payload bytes
 * numbered from seq; checksum left partial, as the TUN device hands a
 * TSO packet over (the pseudo-header sum only). */
static size_t make_tcp(uint8_t *p, uint32_t seq, size_t payload, uint8_t flags)
{
	static const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	static const uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

	memset(p, 0, HL);
	p[0] = 0x60;
	mt6d_put_be16(p + 4, (uint16_t)(32 + payload));
	p[6] = 6;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	mt6d_put_be16(p + 40, 5001);
	mt6d_put_be16(p + 42, 40000);
	mt6d_put_be32(p + 44, seq);
	mt6d_put_be32(p + 48, 777);
	p[52] = 8 << 4;
	p[53] = flags;
	mt6d_put_be16(p + 54, 500);
	p[60] = 1;
	p[61] = 1;
	p[62] = 8;
	p[63] = 10;
	for (size_t i = 0; i < payload; i++)
		p[HL + i] = (uint8_t)((seq + i) * 7);
	return HL + payload;
}

struct pair {
	struct mt6d_tun_table *rt;
	struct mt6d_tun_session tx, rx;
	struct mt6d_burst b;
	uint8_t *bbuf, *rxbuf;
	struct mt6d_rx r;
	struct got got;
};

static void pair_init(struct pair *p)
{
	uint8_t ks[MT6D_INTRO_KEY_LEN];
	struct mt6d_tun_host a = {.prefix = {0x20, 0x01, 0x0d, 0xb8, 0, 0xa}, .iid = {1, 2, 3}};
	struct mt6d_tun_host s = {.prefix = {0x20, 0x01, 0x0d, 0xb8, 0, 0xb}, .iid = {4, 5, 6}};

	memset(p, 0, sizeof(*p));
	randombytes_buf(ks, sizeof(ks));
	assert_int_equal(mt6d_tun_session_init(&p->tx, ks, &a, &s, MT6D_ROLE_CLIENT, ROT, 1000), 0);
	assert_int_equal(mt6d_tun_session_init(&p->rx, ks, &s, &a, MT6D_ROLE_SERVER, ROT, 1000), 0);
	p->rt = mt6d_tun_table_new();
	assert_non_null(p->rt);
	assert_int_equal(mt6d_tun_session_rotate(NULL, &p->tx, 100, NULL, NULL), 0);
	assert_int_equal(mt6d_tun_session_rotate(p->rt, &p->rx, 100, NULL, NULL), 0);
	p->bbuf = malloc(MT6D_BURST_BUF);
	p->rxbuf = malloc(MT6D_RX_HEADROOM + MT6D_RX_BUF);
	assert_non_null(p->bbuf);
	assert_non_null(p->rxbuf);
	p->b.buf = p->bbuf;
	mt6d_rx_init(&p->r, p->rxbuf, on_deliver, &p->got);
}

static void pair_free(struct pair *p)
{
	mt6d_tun_session_clear(p->rt, &p->rx);
	mt6d_tun_session_clear(NULL, &p->tx);
	mt6d_tun_table_free(p->rt);
	free(p->bbuf);
	free(p->rxbuf);
}

/* Datagram k of the burst. */
static uint8_t *dgram(struct pair *p, size_t k, size_t *len)
{
	*len = k + 1 < p->b.n ? p->b.stride : p->b.total - k * p->b.stride;
	return p->b.buf + k * p->b.stride;
}

/* Receive datagrams [from, to) of the burst at the receiver's endpoint of
 * slot `slot`: found through the table, opened, pushed. */
static void receive(struct pair *p, size_t from, size_t to, uint64_t slot)
{
	struct mt6d_tun_slot *sl = mt6d_tun_session_slot(&p->rx, slot);
	uint64_t found;

	assert_non_null(sl);
	assert_ptr_equal(mt6d_tun_table_find(p->rt, &sl->local, &found), &p->rx);
	assert_int_equal(found, slot);
	for (size_t k = from; k < to; k++) {
		size_t len;
		uint8_t *d = dgram(p, k, &len);
		int n = mt6d_tun_open(&p->rx, d, len);

		assert_true(n > 0);
		mt6d_rx_push(&p->r, d + MT6D_ENCAP_INNER_OFF, (size_t)n);
	}
}

static void seal_tso(struct pair *p, uint8_t *pkt, size_t *len, size_t payload)
{
	struct mt6d_offload off = {.gso_size = MSS,
	                           .hdr_len = HL,
	                           .needs_csum = true,
	                           .csum_start = 40,
	                           .csum_offset = 16};

	*len = make_tcp(pkt, 1000, payload, 0x10 | 0x08);
	/* The kernel leaves the pseudo-header sum in the checksum field; the
	 * split computes every segment's full checksum whatever is there. */
	assert_int_equal(mt6d_burst_seal(&p->tx, pkt, *len, &off, &p->b),
	                 (int)((payload + MSS - 1) / MSS));
	assert_int_equal(p->b.stride, MT6D_ENCAP_OVERHEAD + HL + MSS);
}

/* The coalesced packet carries exactly the original payload and headers. */
static void check_joined(const struct got *g, int i, const uint8_t *orig, size_t len, unsigned nseg)
{
	assert_int_equal(g->len[i], len);
	assert_memory_equal(g->pkt[i] + HL, orig + HL, len - HL);
	assert_memory_equal(g->pkt[i] + 8, orig + 8, 32);
	assert_int_equal(mt6d_get_be16(g->pkt[i] + 4), len - 40);
	if (nseg > 1) {
		assert_int_equal(g->off[i].gso_size, MSS);
		assert_int_equal(g->off[i].hdr_len, HL);
		assert_true(g->off[i].needs_csum);
	}
}

static void test_seal_open_coalesce(void **state)
{
	static uint8_t pkt[HL + 20 * MSS];
	struct pair p;
	size_t len;

	pair_init(&p);
	seal_tso(&p, pkt, &len, 20 * MSS);
	assert_int_equal(p.tx.stats.tx_packets, 20);
	assert_int_equal(p.tx.stats.tx_bytes, 20 * (HL + MSS));
	/* Every datagram on the wire: the inner segment plus the overhead,
	 * and each segment, opened alone, has its full checksum. */
	for (size_t k = 0; k < p.b.n; k++) {
		size_t dl;
		uint8_t copy[2048], *d = dgram(&p, k, &dl);
		struct mt6d_tun_session peek = p.rx;

		assert_int_equal(dl, MT6D_ENCAP_OVERHEAD + HL + MSS);
		memcpy(copy, d, dl);
		assert_int_equal(mt6d_tun_open(&peek, copy, dl), HL + MSS);
		assert_int_equal(naive_tcp6(copy + MT6D_ENCAP_INNER_OFF, HL + MSS), 0xffff);
	}
	receive(&p, 0, p.b.n, 100);
	mt6d_rx_flush(&p.r);
	assert_int_equal(p.got.n, 1);
	assert_int_equal(p.r.superpackets, 1);
	check_joined(&p.got, 0, pkt, len, 20);
	assert_int_equal(p.rx.stats.rx_packets, 20);
	pair_free(&p);
}

/* A burst cut by a slot edge: its first datagrams reach the endpoint of
 * slot i, the rest that of slot i+1 (the sender's timer moved between
 * two sends): one session, one flow, one packet for the TUN device. */
static void test_coalesce_across_slot_edge(void **state)
{
	static uint8_t pkt[HL + 12 * MSS];
	struct pair p;
	size_t len;

	pair_init(&p);
	seal_tso(&p, pkt, &len, 12 * MSS);
	receive(&p, 0, 5, 100);
	receive(&p, 5, p.b.n, 101);
	mt6d_rx_flush(&p.r);
	assert_int_equal(p.got.n, 1);
	check_joined(&p.got, 0, pkt, len, 12);
	pair_free(&p);
}

/* Out of order across the edge (a later datagram of slot i+1 overtakes
 * one of slot i): nothing joined out of order, nothing lost, the packets
 * leave in the order they came. */
static void test_reordered_edge(void **state)
{
	static uint8_t pkt[HL + 6 * MSS];
	struct pair p;
	size_t len;

	pair_init(&p);
	seal_tso(&p, pkt, &len, 6 * MSS);
	receive(&p, 0, 2, 100);
	receive(&p, 3, 6, 101);
	receive(&p, 2, 3, 100);
	mt6d_rx_flush(&p.r);
	/* [0,1] joined; 3..5 joined; 2 alone, last. */
	assert_int_equal(p.got.n, 3);
	assert_int_equal(p.got.len[0], HL + 2 * MSS);
	assert_int_equal(mt6d_get_be32(p.got.pkt[0] + 44), 1000);
	assert_int_equal(p.got.len[1], HL + 3 * MSS);
	assert_int_equal(mt6d_get_be32(p.got.pkt[1] + 44), 1000 + 3 * MSS);
	assert_int_equal(p.got.len[2], HL + MSS);
	assert_int_equal(mt6d_get_be32(p.got.pkt[2] + 44), 1000 + 2 * MSS);
	assert_int_equal(p.got.off[2].gso_size, 0);
	assert_int_equal(naive_tcp6(p.got.pkt[2], p.got.len[2]), 0xffff);
	assert_int_equal(p.rx.stats.rx_packets, 6);
	pair_free(&p);
}

/* A plain packet with a partial checksum gets it completed; forged,
 * truncated and replayed datagrams are counted, each under its reason. */
static void test_plain_and_drops(void **state)
{
	static uint8_t pkt[HL + 100];
	struct mt6d_offload off = {.needs_csum = true, .csum_start = 40, .csum_offset = 16};
	struct pair p;
	size_t len = make_tcp(pkt, 5, 100, 0x10), dl;
	uint8_t *d, save[2048];

	pair_init(&p);
	{
		/* CHECKSUM_PARTIAL as the kernel hands it over: the folded
		 * pseudo-header sum in the field, not inverted. */
		uint32_t sum = (uint32_t)(len - 40) + 6;
		for (size_t i = 8; i < 40; i += 2)
			sum += (uint32_t)(pkt[i] << 8 | pkt[i + 1]);
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		mt6d_put_be16(pkt + 56, (uint16_t)sum);
	}
	assert_int_equal(mt6d_burst_seal(&p.tx, pkt, len, &off, &p.b), 1);
	d = dgram(&p, 0, &dl);
	assert_int_equal(dl, len + MT6D_ENCAP_OVERHEAD);
	memcpy(save, d, dl);
	d[dl - 1] ^= 1;
	assert_int_equal(mt6d_tun_open(&p.rx, d, dl), -EBADMSG);
	assert_int_equal(mt6d_tun_open(&p.rx, d, 10), -EMSGSIZE);
	memcpy(d, save, dl);
	assert_int_equal(mt6d_tun_open(&p.rx, d, dl), (int)len);
	assert_int_equal(naive_tcp6(d + MT6D_ENCAP_INNER_OFF, len), 0xffff);
	memcpy(d, save, dl);
	assert_int_equal(mt6d_tun_open(&p.rx, d, dl), -EEXIST);
	assert_int_equal(p.rx.stats.rx_forged, 1);
	assert_int_equal(p.rx.stats.rx_truncated, 1);
	assert_int_equal(p.rx.stats.rx_replayed, 1);
	assert_int_equal(p.rx.stats.rx_packets, 1);
	/* Not TCP/IPv6 with a gso_size: refused whole, counted once. */
	off.gso_size = MSS;
	pkt[6] = 17;
	assert_true(mt6d_burst_seal(&p.tx, pkt, len, &off, &p.b) < 0);
	assert_int_equal(p.tx.stats.tx_errors, 1);
	pair_free(&p);
}

/* A UDP GRO batch split into its datagrams, the last one shorter. */
static void count_cb(void *arg, uint8_t *d, size_t len)
{
	size_t *v = arg;

	v[v[0] + 1] = len;
	v[0]++;
}

static void test_batch_each(void **state)
{
	uint8_t buf[1000];
	size_t v[16] = {0};

	assert_int_equal(mt6d_batch_each(buf, 1000, 300, count_cb, v), 4);
	assert_int_equal(v[0], 4);
	assert_int_equal(v[1], 300);
	assert_int_equal(v[4], 100);
	memset(v, 0, sizeof(v));
	assert_int_equal(mt6d_batch_each(buf, 1000, 0, count_cb, v), 1);
	assert_int_equal(v[1], 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_seal_open_coalesce),
	        cmocka_unit_test(test_coalesce_across_slot_edge),
	        cmocka_unit_test(test_reordered_edge),
	        cmocka_unit_test(test_plain_and_drops),
	        cmocka_unit_test(test_batch_each),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
