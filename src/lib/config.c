/* SPDX-License-Identifier: MIT */
/*
 * The configuration a server publishes for one client and window, and its
 * sealed form m = N || crypto_box_easy(plaintext, N, client_pub, server_priv).
 *
 * Plaintext (45 bytes): version(1) || T(8) || rot_ms(4) || SeedIPv6_S(16) || K(16).
 * N is random for every seal: a nonce derived from d_T would repeat under
 * the same key when a server restarts inside a window.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

_Static_assert(MT6D_SEALED_LEN == MT6D_NONCE_LEN + crypto_box_MACBYTES + MT6D_CONFIG_LEN,
               "sealed length");
_Static_assert(MT6D_NONCE_LEN == crypto_box_NONCEBYTES, "nonce length");

void mt6d_config_encode(uint8_t out[static MT6D_CONFIG_LEN], const struct mt6d_config *c)
{
	out[0] = c->version;
	mt6d_put_be64(out + 1, c->window);
	mt6d_put_be32(out + 9, c->rot_ms);
	memcpy(out + 13, c->seed_addr, 16);
	memcpy(out + 29, c->intro_key, MT6D_INTRO_KEY_LEN);
}

int mt6d_config_decode(struct mt6d_config *c, const uint8_t *in, size_t len)
{
	if (len != MT6D_CONFIG_LEN)
		return -EMSGSIZE;
	if (in[0] != MT6D_CONFIG_VERSION)
		return -EPROTONOSUPPORT;
	c->version = in[0];
	c->window = mt6d_get_be64(in + 1);
	c->rot_ms = mt6d_get_be32(in + 9);
	if (c->rot_ms == 0)
		return -EINVAL;
	memcpy(c->seed_addr, in + 13, 16);
	memcpy(c->intro_key, in + 29, MT6D_INTRO_KEY_LEN);
	return 0;
}

int mt6d_box_key(uint8_t boxkey[static 32], const uint8_t own_priv[static MT6D_KEY_LEN],
                 const uint8_t peer_pub[static MT6D_KEY_LEN])
{
	if (crypto_box_beforenm(boxkey, peer_pub, own_priv) != 0) {
		sodium_memzero(boxkey, 32);
		return -EINVAL;
	}
	return 0;
}

void mt6d_config_seal_nonce(uint8_t m[static MT6D_SEALED_LEN], const struct mt6d_config *c,
                            const uint8_t boxkey[static 32],
                            const uint8_t nonce[static MT6D_NONCE_LEN])
{
	uint8_t pt[MT6D_CONFIG_LEN];

	mt6d_config_encode(pt, c);
	memcpy(m, nonce, MT6D_NONCE_LEN);
	crypto_box_easy_afternm(m + MT6D_NONCE_LEN, pt, sizeof(pt), m, boxkey);
	sodium_memzero(pt, sizeof(pt));
}

void mt6d_config_seal_afternm(uint8_t m[static MT6D_SEALED_LEN], const struct mt6d_config *c,
                              const uint8_t boxkey[static 32])
{
	uint8_t nonce[MT6D_NONCE_LEN];

	randombytes_buf(nonce, sizeof(nonce));
	mt6d_config_seal_nonce(m, c, boxkey, nonce);
}

int mt6d_config_seal(uint8_t m[static MT6D_SEALED_LEN], const struct mt6d_config *c,
                     const uint8_t client_pub[static MT6D_KEY_LEN],
                     const uint8_t server_priv[static MT6D_KEY_LEN])
{
	uint8_t k[32];
	int ret = mt6d_box_key(k, server_priv, client_pub);

	if (ret == 0)
		mt6d_config_seal_afternm(m, c, k);
	sodium_memzero(k, sizeof(k));
	return ret;
}

int mt6d_config_open_afternm(struct mt6d_config *c, const uint8_t *m, size_t len,
                             const uint8_t boxkey[static 32])
{
	uint8_t pt[MT6D_CONFIG_LEN];
	int ret;

	if (len != MT6D_SEALED_LEN)
		return -EMSGSIZE;
	if (crypto_box_open_easy_afternm(pt, m + MT6D_NONCE_LEN, len - MT6D_NONCE_LEN, m,
	                                 boxkey) != 0)
		return -EBADMSG;
	ret = mt6d_config_decode(c, pt, sizeof(pt));
	sodium_memzero(pt, sizeof(pt));
	return ret;
}

int mt6d_config_open(struct mt6d_config *c, const uint8_t *m, size_t len,
                     const uint8_t server_pub[static MT6D_KEY_LEN],
                     const uint8_t client_priv[static MT6D_KEY_LEN])
{
	uint8_t k[32];
	int ret = mt6d_box_key(k, client_priv, server_pub);

	if (ret == 0)
		ret = mt6d_config_open_afternm(c, m, len, k);
	sodium_memzero(k, sizeof(k));
	return ret;
}
