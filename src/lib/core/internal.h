/* SPDX-License-Identifier: MIT */
/*
 * Declarations shared inside libmt6d and with its unit tests and fuzzers,
 * but not part of the public API: deterministic forms of the randomized
 * functions, so the vectors in docs/protocol.md can be reproduced.
 */
#ifndef MT6D_INTERNAL_H
#define MT6D_INTERNAL_H

#include "mt6d/mt6d.h"

/* mt6d_config_seal_afternm with a caller-chosen nonce; returns the length of m. */
size_t mt6d_config_seal_nonce(uint8_t m[static MT6D_SEALED_MAX], const struct mt6d_config *c,
                              const uint8_t boxkey[static 32],
                              const uint8_t nonce[static MT6D_NONCE_LEN]);

/* mt6d_stuff_encode with the high bytes given (distinct, 1..255, any
 * order: they are sorted here). -EINVAL if they are not. */
int mt6d_stuff_encode_with(uint16_t *ports, const uint8_t *m, size_t len, const uint8_t *highs);

/*
 * SHA-1, which BEP 44 targets need and libsodium lacks: taken from OpenSSL's
 * libcrypto rather than written here. Only ever applied to public values.
 */
void mt6d_sha1(uint8_t out[static 20], const uint8_t *in, size_t len);

/* mt6d_encap_seal_inplace with a caller-chosen counter and nonce (for the
 * vectors of docs/protocol-dataplane.md). */
struct mt6d_encap;
void mt6d_encap_seal_inplace_nonce(const struct mt6d_encap *e, uint8_t *dgram, size_t inner_len,
                                   uint64_t counter, const uint8_t nonce[static 24]);

/* Rebinding (rebind.c): a claim with a caller-chosen N, and assignment of
 * a chosen connection ID (for the vectors and the tests). */
struct mt6d_rebind_grant;
struct mt6d_rebind_loc;
struct mt6d_rebind_server;
int mt6d_rebind_claim_nonce(uint8_t *out, size_t cap, const struct mt6d_rebind_grant *g,
                            uint64_t t_ms, const struct mt6d_rebind_loc *loc,
                            const uint8_t nonce[static 24]);
/* -EBUSY when conn is in use, -EINVAL when conn >= 2^L. */
int mt6d_rebind_server_assign_at(struct mt6d_rebind_server *s, uint32_t conn, uint64_t now_ms,
                                 struct mt6d_rebind_grant *g);

#endif
