/* SPDX-License-Identifier: MIT */
/*
 * The I/O of the MT6D data plane, one module for the three daemons (the
 * library decides what to seal and where it goes: mt6d_burst_seal,
 * struct mt6d_tx, mt6d_rx; this moves the bytes):
 *  - the TUN device with a virtio_net_hdr on every packet and TSO6/CSUM
 *    offload, so the kernel hands over 64 KB TCP superpackets and takes
 *    coalesced ones back;
 *  - bursts out: from a slot socket in one UDP GSO sendmsg; from the
 *    server's raw socket in one sendmmsg, each datagram with its headers;
 *  - batches in: UDP_GRO on every receiving socket, so one recvmsg brings
 *    a train of datagrams of one flow.
 *  - a per-slot UDP socket bound (IPV6_FREEBIND) to one local endpoint, as
 *    a client (three at a time) or the static tunnel uses;
 *  - the server's single receive socket: every datagram to its routed /64
 *    is steered to one IP_TRANSPARENT socket by an nftables TPROXY rule and
 *    read with its original destination (IPV6_RECVORIGDSTADDR), so the
 *    number of sessions costs no socket, bind or epoll change per slot;
 *  - the server's single send socket: IPPROTO_RAW, each datagram with its
 *    own IPv6 and UDP header, so any (address, port) of the /64 can be the
 *    source without a socket bound to it.
 * docs/sessions.md ("Receiving on 300,000 endpoints") says why.
 */
#ifndef MT6D_DATAPATH_H
#define MT6D_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mt6d/session.h"
#include "mt6d/tunnel.h"

/* What the I/O did not carry, by reason (the daemons add the library's
 * counters and report both under "dropped" in the status document). */
struct dp_stats {
	uint64_t tx_dgrams, tx_calls;
	uint64_t tx_full;   /* the socket buffer was full (EAGAIN, ENOBUFS): datagrams lost */
	uint64_t tx_failed; /* any other send error */
	uint64_t rx_dgrams, rx_calls;
	uint64_t rx_truncated; /* larger than the buffer */
	uint64_t rx_errors;
	uint64_t tun_rx, tun_tx;
	uint64_t tun_bad;       /* a TUN packet with a header we cannot follow */
	uint64_t tun_tx_failed; /* the TUN device refused a write (its queue full) */
};

struct dp {
	struct dp_stats st;
	int raw_fd;    /* the server's raw send socket, -1 elsewhere */
	int ul_fd;     /* the underlay socket, -1 without */
	bool no_gso;   /* UDP GSO refused once: one datagram per call from then on */
	uint8_t *hdrs; /* raw sends: MT6D_BURST_MAX headers of 48 bytes */
};

/* Header room a TUN buffer needs before the packet (the virtio_net_hdr). */
#define DP_VNET_LEN 10

/* ---- the TUN device ---- */

/* Open /dev/net/tun as name (IFF_TUN | IFF_NO_PI | IFF_VNET_HDR) with
 * CSUM and TSO6 offload (a kernel without them just sends packets one by
 * one), non-blocking. fd or -errno; the kernel's name is written back
 * (IFNAMSIZ bytes). */
int dp_tun_open(char *name);
/* Read one packet into buf (cap bytes): it is at buf + DP_VNET_LEN, its
 * offload in *off. Its length, -EAGAIN when none, -EPROTO (counted) for a
 * header we cannot follow. */
int dp_tun_read(struct dp *d, int fd, uint8_t *buf, size_t cap, struct mt6d_offload *off);
/* Write one packet (a coalesced one when off->gso_size); pkt has
 * DP_VNET_LEN writable bytes before it. */
void dp_tun_write(struct dp *d, int fd, uint8_t *pkt, size_t len, const struct mt6d_offload *off);

/* ---- bursts out, batches in ---- */

void dp_init(struct dp *d);
void dp_free(struct dp *d);
/* Send a burst where the library said: the slot's socket (UDP GSO), the
 * underlay socket, or the raw socket with our own headers. */
void dp_send(struct dp *d, const struct mt6d_tx *tx);
/*
 * Receive one batch on fd: its length, the datagram size in *gso (0: one
 * datagram), the sender in *from and, with to != NULL (the TPROXY socket),
 * the original destination. -EAGAIN when none; other errors are counted.
 */
int dp_recv(struct dp *d, int fd, uint8_t *buf, size_t cap, struct mt6d_endpoint *from,
            struct mt6d_endpoint *to, size_t *gso);
/* The I/O's drops as JSON members ("tx_full":N,...; no braces), and its
 * counts as "datapath":{...}, for the status documents. */
void dp_json_drops(FILE *out, const struct dp *d);
void dp_json_counts(FILE *out, const struct dp *d);

/* A buffer that holds any receive batch: two 64 KB GRO trains may join. */
#define DP_RX_BUF (2 * (MT6D_INNER_MAX + MT6D_ENCAP_OVERHEAD))

/* A non-blocking UDP socket bound to ep (FREEBIND: in routed mode the
 * address is only covered by a local route). fd or -errno. */
int dp_slot_socket(const struct mt6d_endpoint *ep);
/* The same, dual-stack (IPV6_V6ONLY off): ep may be ::ffff:a.b.c.d or ::,
 * for the underlay. fd or -errno. */
int dp_dual_socket(const struct mt6d_endpoint *ep);

/* The TPROXY receive socket on [::]:port. fd or -errno. */
int dp_tproxy_socket(uint16_t port);
/* The nftables script that steers UDP to prefix/64 to that port (table
 * `table`, family ip6), for nft_run(). */
void dp_tproxy_rules(char *out, size_t cap, const char *table, const uint8_t prefix[static 8],
                     uint16_t port);

/* The raw send socket. fd or -errno. */
int dp_raw_socket(void);

#endif
