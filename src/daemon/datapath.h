/* SPDX-License-Identifier: MIT */
/*
 * Outer sockets of the MT6D data plane, shared by the daemons:
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

#include <stddef.h>
#include <stdint.h>

#include "mt6d/tunnel.h"

/* A non-blocking UDP socket bound to ep (FREEBIND: in routed mode the
 * address is only covered by a local route). fd or -errno. */
int dp_slot_socket(const struct mt6d_endpoint *ep);
/* The same, dual-stack (IPV6_V6ONLY off): ep may be ::ffff:a.b.c.d or ::,
 * for the underlay. fd or -errno. */
int dp_dual_socket(const struct mt6d_endpoint *ep);

/* Receive one datagram on a slot socket: its length, the sender in *from;
 * -EAGAIN when none is waiting, -EMSGSIZE when it was truncated. */
int dp_recv(int fd, uint8_t *buf, size_t cap, struct mt6d_endpoint *from);
/* Send one datagram from a slot socket to `to`. 0 or -errno. */
int dp_send(int fd, const struct mt6d_endpoint *to, const uint8_t *p, size_t len);

/* The TPROXY receive socket on [::]:port. fd or -errno. */
int dp_tproxy_socket(uint16_t port);
/* The nftables script that steers UDP to prefix/64 to that port (table
 * `table`, family ip6), for nft_run(). */
void dp_tproxy_rules(char *out, size_t cap, const char *table, const uint8_t prefix[static 8],
                     uint16_t port);
/* Receive one datagram on it: its length, the sender and the original
 * destination; -EAGAIN, -EMSGSIZE, or -EPROTO without a destination. */
int dp_tproxy_recv(int fd, uint8_t *buf, size_t cap, struct mt6d_endpoint *from,
                   struct mt6d_endpoint *to);

/* The raw send socket. fd or -errno. */
int dp_raw_socket(void);
/* Send payload from `from` to `to` with our own IPv6 + UDP header (hop
 * limit 64, UDP checksum computed). scratch holds 48 + len bytes. */
int dp_raw_send(int fd, uint8_t *scratch, const struct mt6d_endpoint *from,
                const struct mt6d_endpoint *to, const uint8_t *p, size_t len);

#endif
