/* SPDX-License-Identifier: MIT */
/* mt6d web's parsers of what the control socket sends: a status document (to Prometheus
 * text) and an event line (to SSE). Neither may crash or emit a bad label. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct web *w;
	char *buf = NULL, err[200];
	size_t len = 0;
	FILE *f;

	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return 0;
		web_init(w);
	}
	(void)web_feed_line(w, (const char *)data, size);
	f = open_memstream(&buf, &len);
	if (!f)
		return 0;
	(void)web_metrics(f, (const char *)data, size, w, err, sizeof(err));
	fclose(f);
	/* A label value is one of ours or [A-Za-z0-9_]: never a quote or newline inside. */
	for (char *p = buf ? strstr(buf, "=\"") : NULL; p; p = strstr(p + 2, "=\"")) {
		char *q = strchr(p + 2, '"');

		if (!q || memchr(p + 2, '\n', (size_t)(q - p - 2)))
			abort();
	}
	free(buf);
	return 0;
}
