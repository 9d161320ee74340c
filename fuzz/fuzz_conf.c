/* SPDX-License-Identifier: MIT */
/* libFuzzer: server, client and tunnel configuration files. A parse either
 * succeeds or sets an error message naming the source. */
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf c;
	char *text;

	if (size < 1 || size > 8192)
		return 0;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (conf_load_string(&c, text, "f", data[0] % 3) != 0 && strncmp(c.error, "f", 1) != 0)
		abort();
	free(text);
	return 0;
}
