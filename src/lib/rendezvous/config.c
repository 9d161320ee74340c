/* SPDX-License-Identifier: MIT */
/*
 * The configuration a server publishes for one client and window, and its
 * sealed form m = N || crypto_box_easy(plaintext, N, client_pub, server_priv).
 *
 * Plaintext version 1 (45 bytes):
 *   version(1)=1 || T(8) || rot_ms(4) || SeedIPv6_S(16) || K(16)
 * Plaintext version 2 (63 bytes), when the server has an underlay endpoint:
 *   version(1)=2 || T(8) || rot_ms(4) || SeedIPv6_S(16) || K(16)
 *                || underlay_addr(16) || underlay_port(2)
 * The version follows from underlay_port alone, so a server without an
 * underlay publishes version 1 byte for byte as before. A length and a
 * version go together: a decoder takes neither without the other.
 * N is random for every seal: a nonce derived from d_T would repeat under
 * the same key when a server restarts inside a window.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "core/internal.h"

_Static_assert(MT6D_SEALED_LEN == MT6D_NONCE_LEN + crypto_box_MACBYTES + MT6D_CONFIG_LEN,
               "sealed length");
_Static_assert(MT6D_SEALED_V2_LEN == MT6D_NONCE_LEN + crypto_box_MACBYTES + MT6D_CONFIG_V2_LEN,
               "sealed v2 length");
_Static_assert(MT6D_SEALED_MAX <= MT6D_STUFF_MAX, "a sealed message fits port stuffing");
_Static_assert(MT6D_NONCE_LEN == crypto_box_NONCEBYTES, "nonce length");

size_t mt6d_config_len(const struct mt6d_config *c)
{
	return c->underlay_port ? MT6D_CONFIG_V2_LEN : MT6D_CONFIG_LEN;
}

size_t mt6d_config_encode(uint8_t out[static MT6D_CONFIG_MAX], const struct mt6d_config *c)
{
	out[0] = c->underlay_port ? MT6D_CONFIG_VERSION2 : MT6D_CONFIG_VERSION;
	mt6d_put_be64(out + 1, c->window);
	mt6d_put_be32(out + 9, c->rot_ms);
	memcpy(out + 13, c->seed_addr, 16);
	memcpy(out + 29, c->intro_key, MT6D_INTRO_KEY_LEN);
	if (!c->underlay_port)
		return MT6D_CONFIG_LEN;
	memcpy(out + 45, c->underlay_addr, 16);
	mt6d_put_be16(out + 61, c->underlay_port);
	return MT6D_CONFIG_V2_LEN;
}

int mt6d_config_decode(struct mt6d_config *c, const uint8_t *in, size_t len)
{
	if (len != MT6D_CONFIG_LEN && len != MT6D_CONFIG_V2_LEN)
		return -EMSGSIZE;
	if (in[0] != MT6D_CONFIG_VERSION && in[0] != MT6D_CONFIG_VERSION2)
		return -EPROTONOSUPPORT;
	if (len != (in[0] == MT6D_CONFIG_VERSION ? MT6D_CONFIG_LEN : MT6D_CONFIG_V2_LEN))
		return -EMSGSIZE;
	memset(c, 0, sizeof(*c));
	c->version = in[0];
	c->window = mt6d_get_be64(in + 1);
	c->rot_ms = mt6d_get_be32(in + 9);
	if (c->rot_ms == 0)
		return -EINVAL;
	memcpy(c->seed_addr, in + 13, 16);
	memcpy(c->intro_key, in + 29, MT6D_INTRO_KEY_LEN);
	if (c->version == MT6D_CONFIG_VERSION)
		return 0;
	memcpy(c->underlay_addr, in + 45, 16);
	c->underlay_port = mt6d_get_be16(in + 61);
	/* Version 2 says there is an underlay; port 0 cannot be reached. */
	if (c->underlay_port == 0) {
		sodium_memzero(c, sizeof(*c));
		return -EINVAL;
	}
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

size_t mt6d_config_seal_nonce(uint8_t m[static MT6D_SEALED_MAX], const struct mt6d_config *c,
                              const uint8_t boxkey[static 32],
                              const uint8_t nonce[static MT6D_NONCE_LEN])
{
	uint8_t pt[MT6D_CONFIG_MAX];
	size_t len = mt6d_config_encode(pt, c);

	memcpy(m, nonce, MT6D_NONCE_LEN);
	crypto_box_easy_afternm(m + MT6D_NONCE_LEN, pt, len, m, boxkey);
	sodium_memzero(pt, sizeof(pt));
	return MT6D_NONCE_LEN + crypto_box_MACBYTES + len;
}

size_t mt6d_config_seal_afternm(uint8_t m[static MT6D_SEALED_MAX], const struct mt6d_config *c,
                                const uint8_t boxkey[static 32])
{
	uint8_t nonce[MT6D_NONCE_LEN];

	randombytes_buf(nonce, sizeof(nonce));
	return mt6d_config_seal_nonce(m, c, boxkey, nonce);
}

int mt6d_config_seal(uint8_t m[static MT6D_SEALED_MAX], const struct mt6d_config *c,
                     const uint8_t client_pub[static MT6D_KEY_LEN],
                     const uint8_t server_priv[static MT6D_KEY_LEN])
{
	uint8_t k[32];
	int ret = mt6d_box_key(k, server_priv, client_pub);

	if (ret == 0)
		ret = (int)mt6d_config_seal_afternm(m, c, k);
	sodium_memzero(k, sizeof(k));
	return ret;
}

int mt6d_config_open_afternm(struct mt6d_config *c, const uint8_t *m, size_t len,
                             const uint8_t boxkey[static 32])
{
	uint8_t pt[MT6D_CONFIG_MAX];
	int ret;

	if (len != MT6D_SEALED_LEN && len != MT6D_SEALED_V2_LEN)
		return -EMSGSIZE;
	if (crypto_box_open_easy_afternm(pt, m + MT6D_NONCE_LEN, len - MT6D_NONCE_LEN, m, boxkey) !=
	    0)
		return -EBADMSG;
	ret = mt6d_config_decode(c, pt, len - MT6D_NONCE_LEN - crypto_box_MACBYTES);
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
