/* SPDX-License-Identifier: MIT */
/*
 * Encapsulation of one inner packet into one outer UDP payload, and back.
 *
 *   datagram = nonce(24) || XChaCha20-Poly1305(k_dir, nonce, "", ctr(8) || inner)
 *
 * Rules this file keeps:
 *  - The nonce is 24 random bytes per datagram, so nothing in clear repeats
 *    between datagrams; 192 random bits make a repeat negligible for any
 *    number of packets a key will ever protect.
 *  - The counter is inside the ciphertext: an observer cannot link two
 *    datagrams by it, and the receiver checks it only after the tag, so a
 *    forged datagram can never move the replay window.
 *  - Each direction has its own key (k_C, k_S) from K_S with keyed BLAKE2b,
 *    so a datagram reflected back to its sender does not authenticate.
 *  - Keys are wiped by mt6d_encap_clear().
 *
 * The replay window keeps MT6D_REPLAY_WINDOW bits as a ring of 64-bit
 * words indexed by counter / 64. Moving the top forward clears the words
 * it passes over; a counter more than MT6D_REPLAY_WINDOW - 64 below the top
 * is refused, so a cleared word is never consulted as if it were history.
 * A counter below the window's floor is refused whatever the bits say.
 * A jump of MT6D_REPLAY_JUMP or more (a clocked session lifts its counter
 * to the time at each rotation) keeps the words under the old top as a
 * second, smaller sliding window for what is older than the current one:
 * datagrams sent just before the jump on the old slot's socket, read after
 * the first ones from the new slot's, are still accepted, once each.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/internal.h"
#include "mt6d/tunnel.h"

_Static_assert(MT6D_ENCAP_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "nonce length");
_Static_assert(MT6D_ENCAP_TAG_LEN == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag length");
_Static_assert(MT6D_ENCAP_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key length");
_Static_assert(MT6D_REPLAY_PREV_WORDS <= MT6D_REPLAY_WORDS &&
                       (MT6D_REPLAY_PREV_WORDS & (MT6D_REPLAY_PREV_WORDS - 1)) == 0,
               "the previous window is a power-of-two part of the window");
_Static_assert(MT6D_REPLAY_WINDOW % 64 == 0 && (MT6D_REPLAY_WORDS & (MT6D_REPLAY_WORDS - 1)) == 0,
               "replay window is a power-of-two number of words");
_Static_assert(MT6D_TUN_MTU == 1404, "outer packets of a full TUN MTU fit 1500");

void mt6d_replay_init(struct mt6d_replay *r)
{
	memset(r, 0, sizeof(*r));
}

/* A sliding window of words * 64 bits as a ring (the rules above). */
static bool window_check(uint64_t *top, uint64_t *bits, uint64_t words, uint64_t counter)
{
	uint64_t idx = counter / 64, top_idx = *top / 64, bit = UINT64_C(1) << (counter % 64);

	/* Written without counter + W, which would wrap near 2^64. */
	if (counter<*top && * top - counter> words * 64 - 64)
		return false; /* older than the window */
	if (counter > *top) {
		uint64_t n = idx - top_idx;

		if (n > words)
			n = words;
		for (uint64_t i = 1; i <= n; i++)
			bits[(top_idx + i) % words] = 0;
		*top = counter;
	}
	if (bits[idx % words] & bit)
		return false;
	bits[idx % words] |= bit;
	return true;
}

bool mt6d_replay_check(struct mt6d_replay *r, uint64_t counter)
{
	if (counter < r->floor)
		return false; /* from before a restart (mt6d_tun_session_clock) */
	if (counter < r->top && r->top - counter > MT6D_REPLAY_WINDOW - 64)
		/* older than the window: sent before the last jump, or refused */
		return r->prev_top &&
		       window_check(&r->prev_top, r->prev_bits, MT6D_REPLAY_PREV_WORDS, counter);
	if (counter > r->top && counter - r->top >= MT6D_REPLAY_JUMP) {
		uint64_t top_idx = r->top / 64;

		for (uint64_t i = 0; i < MT6D_REPLAY_PREV_WORDS && i <= top_idx; i++)
			r->prev_bits[(top_idx - i) % MT6D_REPLAY_PREV_WORDS] =
			        r->bits[(top_idx - i) % MT6D_REPLAY_WORDS];
		r->prev_top = r->top;
	}
	return window_check(&r->top, r->bits, MT6D_REPLAY_WORDS, counter);
}

int mt6d_encap_derive(uint8_t key[static MT6D_ENCAP_KEY_LEN],
                      const uint8_t ks[static MT6D_INTRO_KEY_LEN], uint8_t dir)
{
	uint8_t msg[MT6D_ENCAP_LABEL_LEN + 1];

	if (dir != MT6D_ENCAP_DIR_C2S && dir != MT6D_ENCAP_DIR_S2C)
		return -EINVAL;
	memcpy(msg, MT6D_ENCAP_LABEL, MT6D_ENCAP_LABEL_LEN);
	msg[MT6D_ENCAP_LABEL_LEN] = dir;
	/* K_S is 16 bytes, BLAKE2b's minimum key length. */
	crypto_generichash(key, MT6D_ENCAP_KEY_LEN, msg, sizeof(msg), ks, MT6D_INTRO_KEY_LEN);
	return 0;
}

int mt6d_encap_init(struct mt6d_encap *e, const uint8_t ks[static MT6D_INTRO_KEY_LEN],
                    enum mt6d_role role, uint64_t counter_start)
{
	uint8_t tx = role == MT6D_ROLE_CLIENT ? MT6D_ENCAP_DIR_C2S : MT6D_ENCAP_DIR_S2C;
	uint8_t rx = role == MT6D_ROLE_CLIENT ? MT6D_ENCAP_DIR_S2C : MT6D_ENCAP_DIR_C2S;

	if (role != MT6D_ROLE_CLIENT && role != MT6D_ROLE_SERVER)
		return -EINVAL;
	memset(e, 0, sizeof(*e));
	mt6d_encap_derive(e->tx_key, ks, tx);
	mt6d_encap_derive(e->rx_key, ks, rx);
	e->tx_counter = counter_start;
	mt6d_replay_init(&e->replay);
	return 0;
}

void mt6d_encap_clear(struct mt6d_encap *e)
{
	if (e)
		sodium_memzero(e, sizeof(*e));
}

void mt6d_encap_seal_inplace_nonce(const struct mt6d_encap *e, uint8_t *dgram, size_t inner_len,
                                   uint64_t counter,
                                   const uint8_t nonce[static MT6D_ENCAP_NONCE_LEN])
{
	uint8_t *p = dgram + MT6D_ENCAP_NONCE_LEN;

	memcpy(dgram, nonce, MT6D_ENCAP_NONCE_LEN);
	mt6d_put_be64(p, counter);
	/* In place: libsodium's AEAD allows c == m. */
	crypto_aead_xchacha20poly1305_ietf_encrypt(p, NULL, p, MT6D_ENCAP_COUNTER_LEN + inner_len,
	                                           NULL, 0, NULL, dgram, e->tx_key);
}

int mt6d_encap_seal_inplace(struct mt6d_encap *e, uint8_t *dgram, size_t cap, size_t inner_len)
{
	uint8_t nonce[MT6D_ENCAP_NONCE_LEN];

	if (inner_len > MT6D_INNER_MAX || cap < inner_len + MT6D_ENCAP_OVERHEAD)
		return -EMSGSIZE;
	randombytes_buf(nonce, sizeof(nonce));
	mt6d_encap_seal_inplace_nonce(e, dgram, inner_len, e->tx_counter++, nonce);
	return (int)(inner_len + MT6D_ENCAP_OVERHEAD);
}

int mt6d_encap_seal(struct mt6d_encap *e, uint8_t *out, size_t cap, const uint8_t *in, size_t len)
{
	if (len > MT6D_INNER_MAX || cap < len + MT6D_ENCAP_OVERHEAD)
		return -EMSGSIZE;
	memcpy(out + MT6D_ENCAP_NONCE_LEN + MT6D_ENCAP_COUNTER_LEN, in, len);
	return mt6d_encap_seal_inplace(e, out, cap, len);
}

int mt6d_encap_open_inplace(struct mt6d_encap *e, uint8_t *dgram, size_t len, uint64_t *counter)
{
	uint8_t *p = dgram + MT6D_ENCAP_NONCE_LEN;
	unsigned long long mlen;
	uint64_t ctr;

	if (len < MT6D_ENCAP_OVERHEAD || len - MT6D_ENCAP_OVERHEAD > MT6D_INNER_MAX)
		return -EMSGSIZE;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
	            p, &mlen, NULL, p, len - MT6D_ENCAP_NONCE_LEN, NULL, 0, dgram, e->rx_key) != 0)
		return -EBADMSG;
	ctr = mt6d_get_be64(p);
	if (counter)
		*counter = ctr;
	if (!mt6d_replay_check(&e->replay, ctr))
		return -EEXIST;
	return (int)(mlen - MT6D_ENCAP_COUNTER_LEN);
}

int mt6d_encap_open(struct mt6d_encap *e, uint8_t *out, size_t cap, const uint8_t *in, size_t len,
                    uint64_t *counter)
{
	uint8_t *tmp;
	int ret;

	if (len < MT6D_ENCAP_OVERHEAD || len - MT6D_ENCAP_OVERHEAD > MT6D_INNER_MAX)
		return -EMSGSIZE;
	if (cap < len - MT6D_ENCAP_OVERHEAD)
		return -EMSGSIZE;
	/* The in-place form wants the whole datagram writable; the copy
	 * keeps the caller's input intact (tests replay it). */
	tmp = malloc(len);
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, in, len);
	ret = mt6d_encap_open_inplace(e, tmp, len, counter);
	if (ret >= 0)
		memcpy(out, tmp + MT6D_ENCAP_NONCE_LEN + MT6D_ENCAP_COUNTER_LEN, (size_t)ret);
	free(tmp);
	return ret;
}
