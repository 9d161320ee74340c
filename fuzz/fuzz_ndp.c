/* SPDX-License-Identifier: MIT */
/* libFuzzer: the Neighbor Solicitation parser (src/daemon/ndp_msg.c) on
 * whole Ethernet frames. An accepted frame must have a unicast target and
 * a correct checksum, and the advertisement built for it must carry that
 * target and a checksum that verifies. */
#include <stdlib.h>
#include <string.h>

#include "ndp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = {2, 0, 0, 0, 0, 0x55};
	uint8_t na[NDP_NA_FRAME];
	struct ndp_ns ns;
	size_t plen;

	if (size > 4096)
		return 0;
	if (ndp_ns_parse(data, size, &ns) != NDP_OK)
		return 0;
	plen = (size_t)data[18] << 8 | data[19];
	if (ns.target[0] == 0xff || ndp_icmp6_sum(ns.src, ns.dst, data + 54, plen) != 0)
		abort();
	ndp_na_build(na, &ns, mac);
	if (memcmp(na + 22, ns.target, 16) != 0 ||
	    ndp_icmp6_sum(na + 22, na + 38, na + 54, 32) != 0)
		abort();
	return 0;
}
