/* SPDX-License-Identifier: MIT */
/* libFuzzer: session messages, raw and wrapped in an inner IPv6 packet. A
 * decoded message re-encodes to the exact input bytes. */
#include <stdlib.h>
#include <string.h>

#include "mt6d/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *p, size_t n)
{
	struct mt6d_msg m;
	uint8_t back[MT6D_MSG_MAX_LEN];

	if (mt6d_msg_decode(&m, p, n) == 0) {
		int len = mt6d_msg_encode(back, sizeof(back), &m);
		if (len < 0 || (size_t)len != n || memcmp(back, p, n) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *msg;
	uint8_t src[16], dst[16];
	int n;

	check(data, size);
	n = mt6d_msg_unwrap(data, size, &msg, src, dst);
	if (n >= 0) {
		if ((size_t)n != size - 40 || msg != data + 40)
			abort();
		check(msg, (size_t)n);
	}
	return 0;
}
