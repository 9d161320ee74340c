/* SPDX-License-Identifier: MIT */
/* Hex and big-endian helpers used by every module. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "mt6d/mt6d.h"

int mt6d_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

int mt6d_hex_decode(uint8_t *out, size_t len, const char *hex)
{
	size_t got = 0;
	const char *end = NULL;

	if (!hex || strlen(hex) != 2 * len)
		return -EINVAL;
	if (sodium_hex2bin(out, len, hex, 2 * len, NULL, &got, &end) != 0 || got != len ||
	    *end != '\0')
		return -EINVAL;
	return 0;
}

void mt6d_hex_encode(char *out, const uint8_t *in, size_t len)
{
	sodium_bin2hex(out, 2 * len + 1, in, len);
}

void mt6d_put_be64(uint8_t out[static 8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

uint64_t mt6d_get_be64(const uint8_t in[static 8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | in[i];
	return v;
}

void mt6d_put_be32(uint8_t out[static 4], uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

uint32_t mt6d_get_be32(const uint8_t in[static 4])
{
	return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

void mt6d_put_be16(uint8_t out[static 2], uint16_t v)
{
	out[0] = (uint8_t)(v >> 8);
	out[1] = (uint8_t)v;
}

uint16_t mt6d_get_be16(const uint8_t in[static 2])
{
	return (uint16_t)(in[0] << 8 | in[1]);
}
