/* SPDX-License-Identifier: MIT */
/* libFuzzer: the configuration decoder. A decoded configuration re-encodes
 * to the exact input bytes. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mt6d_config c;
	uint8_t back[MT6D_CONFIG_LEN];

	if (mt6d_config_decode(&c, data, size) == 0) {
		mt6d_config_encode(back, &c);
		if (size != MT6D_CONFIG_LEN || memcmp(back, data, size) != 0)
			abort();
	}
	return 0;
}
