/* SPDX-License-Identifier: MIT */
/* libFuzzer: key text (base64) decoding. An accepted key prints back to the
 * same 44 characters, so no two texts name one key. */
#include <stdlib.h>
#include <string.h>

#include "mt6d/mt6d.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[128], back[MT6D_KEY_B64_LEN + 1], *p;
	uint8_t key[MT6D_KEY_LEN];

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (mt6d_init() < 0)
		abort();
	if (mt6d_key_from_base64(key, text) == 0) {
		mt6d_key_to_base64(back, key);
		for (p = text; *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'; p++)
			;
		if (strncmp(p, back, MT6D_KEY_B64_LEN) != 0)
			abort();
	}
	return 0;
}
