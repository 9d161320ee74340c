/* SPDX-License-Identifier: MIT */
/* libFuzzer: the configuration decoder, versions 1 and 2. A decoded
 * configuration re-encodes to the exact input bytes. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mt6d_config c;
	uint8_t back[MT6D_CONFIG_MAX];

	if (mt6d_config_decode(&c, data, size) == 0) {
		if (mt6d_config_encode(back, &c) != size || memcmp(back, data, size) != 0)
			abort();
		if (c.version != (c.underlay_port ? 2 : 1))
			abort();
	}
	return 0;
}
