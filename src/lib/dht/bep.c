/* SPDX-License-Identifier: MIT */
/*
 * Pure helpers of BEP 42 (node ids bound to the external IP, through
 * CRC32C) and BEP 44 (the signed buffer, targets, signature checks).
 * CRC32C is a checksum, not cryptography, so it is written here; the
 * signatures are libsodium's ed25519 and SHA-1 comes from mt6d_sha1().
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "dht/bencode.h"
#include "dht/internal.h"
#include "core/internal.h"

uint32_t dht_crc32c(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xffffffffu;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return ~crc;
}

bool dht_ip_is_local(const uint8_t *ip, size_t len)
{
	if (len == 4)
		return ip[0] == 10 || ip[0] == 127 || (ip[0] == 172 && (ip[1] & 0xf0) == 16) ||
		       (ip[0] == 192 && ip[1] == 168) || (ip[0] == 169 && ip[1] == 254) ||
		       ip[0] == 0;
	if (len == 16) {
		static const uint8_t loop[16] = {[15] = 1};
		return (ip[0] & 0xfe) == 0xfc || (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80) ||
		       !memcmp(ip, loop, 16);
	}
	return true;
}

static uint32_t bep42_crc(const uint8_t *ip, size_t iplen, uint8_t r)
{
	static const uint8_t m4[4] = {0x03, 0x0f, 0x3f, 0xff};
	static const uint8_t m6[8] = {0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff};
	const uint8_t *mask = iplen == 4 ? m4 : m6;
	size_t n = iplen == 4 ? 4 : 8;
	uint8_t b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = ip[i] & mask[i];
	b[0] |= (uint8_t)((r & 7) << 5);
	return dht_crc32c(b, n);
}

void mt6d_dht_bep42_id(uint8_t id[static MT6D_DHT_ID_LEN], const uint8_t *ip, size_t iplen,
                       uint8_t r)
{
	uint32_t crc;

	randombytes_buf(id, MT6D_DHT_ID_LEN);
	if (iplen != 4 && iplen != 16)
		return;
	crc = bep42_crc(ip, iplen, r);
	id[0] = (uint8_t)(crc >> 24);
	id[1] = (uint8_t)(crc >> 16);
	id[2] = (uint8_t)(((crc >> 8) & 0xf8) | (id[2] & 7));
	id[19] = r;
}

bool mt6d_dht_bep42_ok(const uint8_t id[static MT6D_DHT_ID_LEN], const uint8_t *ip, size_t iplen)
{
	uint32_t crc;

	if (iplen != 4 && iplen != 16)
		return false;
	if (dht_ip_is_local(ip, iplen))
		return true;
	crc = bep42_crc(ip, iplen, id[19]);
	return id[0] == (uint8_t)(crc >> 24) && id[1] == (uint8_t)(crc >> 16) &&
	       (id[2] & 0xf8) == ((crc >> 8) & 0xf8);
}

void mt6d_dht_mutable_target(uint8_t target[static MT6D_DHT_ID_LEN], const uint8_t pk[static 32],
                             const uint8_t *salt, size_t saltlen)
{
	uint8_t buf[32 + MT6D_DHT_MAX_SALT];

	if (saltlen > MT6D_DHT_MAX_SALT)
		saltlen = MT6D_DHT_MAX_SALT;
	memcpy(buf, pk, 32);
	if (saltlen)
		memcpy(buf + 32, salt, saltlen);
	mt6d_sha1(target, buf, 32 + saltlen);
}

int mt6d_dht_sign_buffer(uint8_t *out, size_t cap, const uint8_t *salt, size_t saltlen, int64_t seq,
                         const uint8_t *v, size_t vlen)
{
	struct benc_buf b;

	if (!out || (!v && vlen) || (!salt && saltlen))
		return -EINVAL;
	/* BEP 44: the key-value pairs of the put, without the outer dict */
	benc_init(&b, out, cap);
	if (saltlen) {
		benc_cstr(&b, "salt");
		benc_str(&b, salt, saltlen);
	}
	benc_cstr(&b, "seq");
	benc_int(&b, seq);
	benc_raw(&b, "1:v", 3);
	benc_raw(&b, v, vlen);
	return b.overflow ? -EMSGSIZE : (int)b.len;
}

bool dht_item_verify(const uint8_t *k, const uint8_t *sig, const uint8_t *salt, size_t saltlen,
                     int64_t seq, const uint8_t *v, size_t vlen)
{
	uint8_t buf[MT6D_DHT_MAX_V + MT6D_DHT_MAX_SALT + 64];
	int n = mt6d_dht_sign_buffer(buf, sizeof(buf), salt, saltlen, seq, v, vlen);

	if (n < 0)
		return false;
	return crypto_sign_verify_detached(sig, buf, (unsigned long long)n, k) == 0;
}
