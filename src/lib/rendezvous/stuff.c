/* SPDX-License-Identifier: MIT */
/*
 * Port stuffing (the patent's BEP 5 transport): a B-byte message becomes B
 * announced ports p_i << 8 | m[i], with p_i distinct high bytes from 1..255
 * in ascending order. High byte 0 is never used, so no port is below 256
 * and port 0 (refused by several DHT nodes) cannot occur.
 *
 * The reader gets peers of every IP that announced under the infohash. It
 * groups them by IP and sorts each group by port, which is the high-byte
 * order; every group is a candidate message that the caller tries to open.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/internal.h"

int mt6d_stuff_encode_with(uint16_t *ports, const uint8_t *m, size_t len, const uint8_t *highs)
{
	uint8_t used[256] = {0};

	if (len < 1 || len > MT6D_STUFF_MAX)
		return -EMSGSIZE;
	for (size_t i = 0; i < len; i++) {
		if (highs[i] == 0 || used[highs[i]])
			return -EINVAL;
		used[highs[i]] = 1;
	}
	/* Walking the set in ascending order is the sort. */
	for (size_t v = 1, i = 0; v < 256; v++)
		if (used[v]) {
			ports[i] = (uint16_t)(v << 8 | m[i]);
			i++;
		}
	return 0;
}

int mt6d_stuff_encode(uint16_t *ports, const uint8_t *m, size_t len)
{
	uint8_t pool[255], highs[MT6D_STUFF_MAX];

	if (len < 1 || len > MT6D_STUFF_MAX)
		return -EMSGSIZE;
	/* Partial Fisher-Yates over 1..255: len distinct values, uniformly. */
	for (int v = 0; v < 255; v++)
		pool[v] = (uint8_t)(v + 1);
	for (size_t i = 0; i < len; i++) {
		size_t j = i + randombytes_uniform((uint32_t)(255 - i));
		uint8_t t = pool[i];
		pool[i] = pool[j];
		pool[j] = t;
		highs[i] = pool[i];
	}
	return mt6d_stuff_encode_with(ports, m, len, highs);
}

static int peer_cmp(const void *a, const void *b)
{
	return mt6d_endpoint_cmp(a, b);
}

int mt6d_stuff_decode(const struct mt6d_endpoint *peers, size_t n, mt6d_stuff_cb cb, void *arg)
{
	struct mt6d_endpoint *v;
	uint8_t msg[MT6D_STUFF_MAX];
	int groups = 0, ret = 0;
	size_t i = 0;

	if (n == 0)
		return 0;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memcpy(v, peers, n * sizeof(*v));
	qsort(v, n, sizeof(*v), peer_cmp);

	while (i < n) {
		size_t j = i, len = 0;
		int ok = 1;

		while (j < n && !memcmp(v[j].addr, v[i].addr, sizeof(v[i].addr)))
			j++;
		for (size_t k = i; k < j; k++) {
			uint8_t high = (uint8_t)(v[k].port >> 8);
			if (high == 0 || (k > i && high == (uint8_t)(v[k - 1].port >> 8)) ||
			    len == MT6D_STUFF_MAX) {
				ok = 0;
				break;
			}
			msg[len++] = (uint8_t)v[k].port;
		}
		if (ok) {
			groups++;
			ret = cb(&v[i], msg, len, arg);
			if (ret)
				break;
		}
		i = j;
	}
	free(v);
	return ret ? ret : groups;
}
