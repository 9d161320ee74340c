/* SPDX-License-Identifier: MIT */
/* libFuzzer: the one parser of endpoint and prefix text (text.c). A parse
 * either fails with zeros written, or what it gives formats back to text
 * that parses to the same endpoint. */
#include <stdlib.h>
#include <string.h>

#include "mt6d/mt6d.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero[16];
	struct mt6d_endpoint ep, back;
	char text[128], out[MT6D_ENDPOINT_STRLEN];
	uint8_t addr[16];
	unsigned plen;

	if (size < 1 || size > sizeof(text))
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (mt6d_endpoint_parse(&ep, text, data[0] % 3) == 0) {
		mt6d_endpoint_format(out, sizeof(out), &ep);
		if (mt6d_endpoint_parse(&back, out, MT6D_EP_PORT0) != 0 ||
		    !mt6d_endpoint_eq(&ep, &back))
			abort();
	} else if (memcmp(ep.addr, zero, 16) || ep.port) {
		abort();
	}
	if (mt6d_prefix_parse(addr, &plen, text, data[0] & 64 ? 64 : 0) == 0) {
		if (plen > 128 || ((data[0] & 64) && plen != 64))
			abort();
	} else if (memcmp(addr, zero, 16) || plen) {
		abort();
	}
	return 0;
}
