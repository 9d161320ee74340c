/* SPDX-License-Identifier: MIT */
/*
 * The pinned derivations of protocol v1 (DESIGN.md section 2,
 * docs/protocol.md): shared secret, window, DHT descriptor, BEP 44 key,
 * client seed IID, slot, and the rotating address and port of a host.
 * H is SHA-256; integers are 8-byte big-endian. Intermediate hashes of
 * secrets are wiped.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "core/internal.h"

static const char bep44_label[] = "mt6d bep44 v1"; /* 13 bytes, no NUL hashed */

int mt6d_shared_secret(uint8_t s[static MT6D_KEY_LEN], const uint8_t own_priv[static MT6D_KEY_LEN],
                       const uint8_t peer_pub[static MT6D_KEY_LEN])
{
	/* libsodium already refuses an all-zero result; check again so the
	 * rule does not depend on the library version. */
	if (crypto_scalarmult(s, own_priv, peer_pub) != 0 || sodium_is_zero(s, MT6D_KEY_LEN)) {
		sodium_memzero(s, MT6D_KEY_LEN);
		return -EINVAL;
	}
	return 0;
}

uint64_t mt6d_window(uint64_t unix_sec, uint32_t period)
{
	return period ? unix_sec - unix_sec % period : unix_sec;
}

void mt6d_descriptor(uint8_t d[static MT6D_DESC_LEN], const uint8_t s[static MT6D_KEY_LEN],
                     uint64_t window)
{
	crypto_hash_sha256_state st;
	uint8_t t[8], h[32];

	mt6d_put_be64(t, window);
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, s, MT6D_KEY_LEN);
	crypto_hash_sha256_update(&st, t, sizeof(t));
	crypto_hash_sha256_final(&st, h);
	memcpy(d, h, MT6D_DESC_LEN);
	sodium_memzero(h, sizeof(h));
	sodium_memzero(&st, sizeof(st));
}

void mt6d_bep44_seed(uint8_t seed[static 32], const uint8_t s[static MT6D_KEY_LEN], uint64_t window)
{
	crypto_hash_sha256_state st;
	uint8_t t[8];

	mt6d_put_be64(t, window);
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)bep44_label, sizeof(bep44_label) - 1);
	crypto_hash_sha256_update(&st, s, MT6D_KEY_LEN);
	crypto_hash_sha256_update(&st, t, sizeof(t));
	crypto_hash_sha256_final(&st, seed);
	sodium_memzero(&st, sizeof(st));
}

void mt6d_bep44_keypair(uint8_t pk[static 32], uint8_t sk[static 64],
                        const uint8_t s[static MT6D_KEY_LEN], uint64_t window)
{
	uint8_t seed[32];

	mt6d_bep44_seed(seed, s, window);
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(seed, sizeof(seed));
}

void mt6d_bep44_target(uint8_t target[static 20], const uint8_t pk[static 32])
{
	mt6d_sha1(target, pk, 32);
}

void mt6d_client_seed_iid(uint8_t iid[static MT6D_IID_LEN], const uint8_t s[static MT6D_KEY_LEN],
                          const uint8_t k[static MT6D_INTRO_KEY_LEN])
{
	crypto_hash_sha256_state st;
	uint8_t h[32];

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, s, MT6D_KEY_LEN);
	crypto_hash_sha256_update(&st, k, MT6D_INTRO_KEY_LEN);
	crypto_hash_sha256_final(&st, h);
	memcpy(iid, h, MT6D_IID_LEN);
	sodium_memzero(h, sizeof(h));
	sodium_memzero(&st, sizeof(st));
}

uint64_t mt6d_slot(uint64_t unix_ms, uint32_t rot_ms)
{
	return rot_ms ? unix_ms / rot_ms : 0;
}

void mt6d_slot_address(uint8_t addr[static 16], uint16_t *port,
                       const uint8_t prefix[static MT6D_PREFIX_LEN],
                       const uint8_t iid[static MT6D_IID_LEN],
                       const uint8_t ks[static MT6D_INTRO_KEY_LEN], uint64_t slot)
{
	uint8_t in[MT6D_IID_LEN + MT6D_INTRO_KEY_LEN + 8], h[32];

	memcpy(in, iid, MT6D_IID_LEN);
	memcpy(in + MT6D_IID_LEN, ks, MT6D_INTRO_KEY_LEN);
	mt6d_put_be64(in + MT6D_IID_LEN + MT6D_INTRO_KEY_LEN, slot);
	crypto_hash_sha256(h, in, sizeof(in));
	memcpy(addr, prefix, MT6D_PREFIX_LEN);
	memcpy(addr + MT6D_PREFIX_LEN, h, MT6D_IID_LEN);
	if (port)
		*port = (uint16_t)(MT6D_PORT_BASE + mt6d_get_be16(h + 8) % MT6D_PORT_SPAN);
	sodium_memzero(in, sizeof(in));
	sodium_memzero(h, sizeof(h));
}
