/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the DHT input path: the bytes go through
 * krpc_parse(), must re-encode to something that parses again, and are
 * then fed to a fresh node as a datagram from 127.0.0.1, so the code that
 * serves queries and matches replies runs on them too.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mt6d/dht.h"
#include "mt6d/mt6d.h"
#include "dht/krpc.h"

static int sink(void *ctx, const uint8_t *buf, size_t len, const struct sockaddr *to,
                socklen_t tolen)
{
	struct krpc_msg m;

	(void)ctx, (void)to, (void)tolen;
	/* what the node sends must itself be well formed */
	if (krpc_parse(&m, buf, len) != 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[KRPC_MAX_MSG + 512];
	struct mt6d_dht_config cfg = {.send = sink, .ipv4 = true, .ipv6 = true};
	struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(6881)};
	struct krpc_msg m, m2;
	struct mt6d_dht *dht;
	int len;

	mt6d_init();
	if (krpc_parse(&m, data, size) == 0) {
		len = krpc_encode(out, sizeof(out), &m);
		if (len < 0 || krpc_parse(&m2, out, (size_t)len) != 0)
			abort();
	}
	from.sin_addr.s_addr = htonl(0x7f000001);
	dht = mt6d_dht_new(&cfg);
	if (!dht)
		return 0;
	mt6d_dht_input(dht, data, size, (struct sockaddr *)&from, sizeof(from), 1000);
	mt6d_dht_tick(dht, 5000);
	mt6d_dht_free(dht);
	return 0;
}
