/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the sealed-message opener, as a client runs it on whatever the
 * DHT returns. The first byte picks a mode: 0 opens the input as m under a
 * fixed key pair; otherwise the input (padded or cut to 45 bytes, or to 63
 * for version 2 when the first byte is even) is sealed under that pair and
 * a bit of m chosen by the input is flipped, and opening must then fail.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t boxkey_c[32], boxkey_s[32];

static void init(void)
{
	static int done;
	uint8_t spriv[32] = {1}, cpriv[32] = {2}, spub[32], cpub[32];

	if (done)
		return;
	if (mt6d_init() < 0 || mt6d_key_public(spub, spriv) < 0 ||
	    mt6d_key_public(cpub, cpriv) < 0 || mt6d_box_key(boxkey_c, cpriv, spub) < 0 ||
	    mt6d_box_key(boxkey_s, spriv, cpub) < 0)
		abort();
	done = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mt6d_config c;
	uint8_t pt[MT6D_CONFIG_MAX] = {0}, m[MT6D_SEALED_MAX], nonce[MT6D_NONCE_LEN] = {0};
	size_t bit, ptlen, mlen;
	int v2;

	init();
	if (size < 1)
		return 0;
	if (data[0] == 0) {
		(void)mt6d_config_open_afternm(&c, data + 1, size - 1, boxkey_c);
		return 0;
	}
	if (size < 3)
		return 0;
	v2 = data[0] % 2 == 0;
	ptlen = v2 ? MT6D_CONFIG_V2_LEN : MT6D_CONFIG_LEN;
	mlen = v2 ? MT6D_SEALED_V2_LEN : MT6D_SEALED_LEN;
	bit = (size_t)(data[1] << 8 | data[2]) % (8 * mlen);
	memcpy(pt, data + 3, size - 3 < ptlen ? size - 3 : ptlen);
	pt[0] = v2 ? 2 : 1;
	if (pt[9] == 0 && pt[10] == 0 && pt[11] == 0 && pt[12] == 0)
		pt[12] = 1;
	if (v2 && pt[61] == 0 && pt[62] == 0)
		pt[62] = 1;
	if (mt6d_config_decode(&c, pt, ptlen) != 0)
		abort();
	if (mt6d_config_seal_nonce(m, &c, boxkey_s, nonce) != mlen)
		abort();
	if (mt6d_config_open_afternm(&c, m, mlen, boxkey_c) != 0)
		abort();
	m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	if (mt6d_config_open_afternm(&c, m, mlen, boxkey_c) == 0)
		abort();
	return 0;
}
