/* SPDX-License-Identifier: MIT */
/* The checksum reference of the data-path tests: RFC 1071 one 16-bit word
 * at a time, the pseudo-header by hand; 0xffff when the TCP/IPv6 packet's
 * stored checksum is right. Independent of src/lib/tunnel/gso.c. */
#ifndef MT6D_TEST_TCP6_REF_H
#define MT6D_TEST_TCP6_REF_H

#include <stddef.h>
#include <stdint.h>

static inline uint16_t naive_tcp6(const uint8_t *ip, size_t len)
{
	uint32_t sum = 0;
	size_t tl = len - 40;

	for (size_t i = 8; i < 40; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	sum += (uint32_t)(tl >> 16) + (uint32_t)(tl & 0xffff) + 6;
	for (size_t i = 0; i < tl; i += 2)
		sum += (uint32_t)(ip[40 + i] << 8 | (i + 1 < tl ? ip[40 + i + 1] : 0));
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

#endif
