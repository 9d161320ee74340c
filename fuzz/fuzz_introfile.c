/* SPDX-License-Identifier: MIT */
/* libFuzzer: the server's stored introduction configurations (introfile.c).
 * A parse returns at most max windows, each with a nonzero period that
 * divides its window and a nonzero rotation, or an error naming a line. */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "mt6d/rendezvous.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mt6d_intro v[3];
	char err[200];
	int n = introfile_parse((const char *)data, size, v, 3, err, sizeof(err));

	if (n > 3)
		abort();
	if (n < 0 && strncmp(err, "line ", 5) != 0 && strcmp(err, "empty") != 0)
		abort();
	for (int i = 0; i < n; i++)
		if (!v[i].period || !v[i].rot_ms || v[i].window % v[i].period)
			abort();
	return 0;
}
