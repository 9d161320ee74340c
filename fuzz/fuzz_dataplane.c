/* SPDX-License-Identifier: MIT */
/*
 * Everything in the data plane that reads bytes a peer controls: a
 * datagram opened with a fixed key (truncated/forged paths), and inner
 * packets given to receive-side coalescing (authentic but chosen by the
 * peer), plus segmentation and checksum completion of arbitrary packets.
 */
#include <stdint.h>
#include <string.h>

#include "core/internal.h"
#include "mt6d/tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[64 * 1500], cbuf[40 + 65535];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mt6d_encap e;
	static int ready;
	struct mt6d_gro g = {.buf = cbuf, .cap = sizeof(cbuf)};
	size_t lens[64], cut;

	if (!ready) {
		static const uint8_t ks[16];
		mt6d_init();
		mt6d_encap_init(&e, ks, MT6D_ROLE_SERVER, 0);
		ready = 1;
	}
	mt6d_encap_open(&e, out, sizeof(out), data, size, NULL);
	if (size < 4)
		return 0;
	cut = (size_t)data[0] * (size - 3) / 256;
	if (mt6d_gro_start(&g, data + 3, cut)) {
		mt6d_gro_add(&g, data + 3 + cut, size - 3 - cut);
		mt6d_gro_add(&g, data + 3, cut);
		mt6d_gro_finish(&g);
	}
	mt6d_gso_split_tcp6(data + 3, size - 3, (uint16_t)(data[1] << 8 | data[2]), out, 1500,
	                    MT6D_ENCAP_INNER_OFF, lens, 64);
	if (size - 3 <= sizeof(out)) {
		memcpy(out, data + 3, size - 3);
		mt6d_csum_complete(out, size - 3, data[1], data[2]);
	}
	return 0;
}
