/* SPDX-License-Identifier: MIT */
/*
 * libmt6d rebinding (docs/rebind.md): the unlinkable key-tree claim a client
 * sends when its address or port changed, the server's verifier with its
 * per-connection replay mark, the "unrecognized connection" reply and the
 * per-prefix rate limiter that keeps those replies from amplifying anything.
 *
 * Every layout and constant is here. Integers on the wire are big-endian.
 * Everything is pure: no globals, no I/O; the caller passes the time (Unix
 * milliseconds for claims, any monotonic milliseconds for the rate limiter).
 * Functions return 0 (or a length) or a negative errno. Secrets are wiped
 * with sodium_memzero when freed or released.
 *
 * KDF(key, id, ctx) is libsodium's crypto_kdf_derive_from_key with a 32-byte
 * output: BLAKE2b-256(key, message = "", salt = LE64(id) || 0^8,
 * personal = ctx(8) || 0^8).
 *
 *   epoch key E[e]       = KDF(master, id = e,           "mt6d-rbe")
 *   node key  R[e](j, p) = KDF(E[e],   id = j << 32 | p,  "mt6d-rbt")
 *   conn key  P[c, g]    = KDF(master, id = g << 32 | c,  "mt6d-rbc")
 *
 * e = floor(unix_ms / epoch_ms) is the key epoch; j < L a level; p a prefix
 * of j + 1 bits; c the connection ID (L bits); c[..j] its first j + 1 bits
 * (c >> (L-1-j)), most significant first; g the connection's generation
 * (incremented every time c is assigned or released, so a departed client's
 * P never opens a claim of the next holder of c). The tree is a binary tree
 * of keys: connection c holds the L keys on its path, R[e](j, c[..j]), so a
 * client shares with another only the keys of their common prefix.
 *
 * Claim, 24 + 16*L + 46 bytes (326 for L = 16), every byte uniformly random
 * to anyone who holds none of the keys on the claimant's path:
 *
 *   N(24, random)
 *   tag_j(16) for j = 0 .. L-1:
 *       ChaCha20-Poly1305-IETF_encrypt(key = R[e](j, c[..j]),
 *            nonce = N[0..12), ad = N[12..24), plaintext = "")
 *   final(30 + 16):
 *       XChaCha20-Poly1305-IETF_encrypt(key = P[c, g], nonce = N,
 *            ad = tag_0 || ... || tag_{L-1},
 *            plaintext = t_ms(8) || c(4) || address(16) || port(2))
 *
 * The address is the client's location as the server will see it (the one
 * the "unrecognized connection" reply reported), IPv4 as ::ffff:a.b.c.d.
 *
 * Unrecognized-connection reply, 34 bytes, no type byte in clear:
 *
 *   echo(16) = the first 16 bytes of the datagram that triggered it
 *   address(16) port(2) = that datagram's source as the server saw it
 *
 * A reply is only sent when the trigger is at least 34 bytes long and the
 * rate limiter allows it.
 *
 * Grant (what the session response will carry inside the sealed session
 * channel), 48 + 32*L bytes:
 *
 *   version(1)=1 L(1) reserved(2)=0 c(4) epoch(8) P(32) R_0(32) .. R_{L-1}(32)
 *
 * where R_j = R[epoch](j, c[..j]). A renewal for a new epoch is a grant
 * with the same c and P.
 */
#ifndef MT6D_REBIND_H
#define MT6D_REBIND_H

#include <stddef.h>
#include <stdint.h>

#include "mt6d/mt6d.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- constants and layouts ---- */

#define MT6D_REBIND_KEY_LEN      32 /* tree keys, connection keys, master */
#define MT6D_REBIND_NONCE_LEN    24 /* N */
#define MT6D_REBIND_LEVEL_NONCE  12 /* N[0..12): nonce of the level tags */
#define MT6D_REBIND_TAG_LEN      16 /* Poly1305 */
#define MT6D_REBIND_FINAL_PT_LEN 30 /* t_ms(8) c(4) address(16) port(2) */
#define MT6D_REBIND_FINAL_LEN    (MT6D_REBIND_FINAL_PT_LEN + MT6D_REBIND_TAG_LEN)
#define MT6D_REBIND_CLAIM_LEN(L)                                                                   \
	(MT6D_REBIND_NONCE_LEN + MT6D_REBIND_TAG_LEN * (size_t)(L) + MT6D_REBIND_FINAL_LEN)
#define MT6D_REBIND_MIN_LEVELS     1
#define MT6D_REBIND_MAX_LEVELS     24 /* 16.7 M connections; 12 bytes of state each */
#define MT6D_REBIND_DEFAULT_LEVELS 16 /* 65,536 connections */
#define MT6D_REBIND_CLAIM_MAX      MT6D_REBIND_CLAIM_LEN(MT6D_REBIND_MAX_LEVELS)
/* The server keeps the node keys of the top levels of two epochs in memory
 * (2 x 4 MiB at 16) and derives deeper ones when it needs them. */
#define MT6D_REBIND_TABLE_LEVELS 16

#define MT6D_REBIND_KDF_EPOCH "mt6d-rbe" /* 8 bytes each, crypto_kdf contexts */
#define MT6D_REBIND_KDF_TREE  "mt6d-rbt"
#define MT6D_REBIND_KDF_CONN  "mt6d-rbc"

#define MT6D_REBIND_DEFAULT_EPOCH_MS  3600000u /* tree keys change every hour */
#define MT6D_REBIND_DEFAULT_WINDOW_MS 30000u   /* |t - now| accepted */

#define MT6D_REBIND_GRANT_VERSION 1
#define MT6D_REBIND_GRANT_LEN(L)  (48 + MT6D_REBIND_KEY_LEN * (size_t)(L))
#define MT6D_REBIND_GRANT_MAX     MT6D_REBIND_GRANT_LEN(MT6D_REBIND_MAX_LEVELS)

#define MT6D_REBIND_ECHO_LEN  16
#define MT6D_REBIND_REPLY_LEN (MT6D_REBIND_ECHO_LEN + 16 + 2) /* 34 */

/* Where a client is, as the server sees it: IPv6, or IPv4 as ::ffff:a.b.c.d. */
struct mt6d_rebind_loc {
	uint8_t addr[16];
	uint16_t port;
};

/* ---- derivations ---- */

/* E[e]. */
void mt6d_rebind_epoch_key(uint8_t key[static MT6D_REBIND_KEY_LEN],
                           const uint8_t master[static MT6D_REBIND_KEY_LEN], uint64_t epoch);
/* R[e](j, p); -EINVAL when j >= MT6D_REBIND_MAX_LEVELS or p >= 2^(j+1). */
int mt6d_rebind_tree_key(uint8_t key[static MT6D_REBIND_KEY_LEN],
                         const uint8_t master[static MT6D_REBIND_KEY_LEN], uint64_t epoch,
                         unsigned level, uint32_t prefix);
/* P[c, g]. */
void mt6d_rebind_conn_key(uint8_t key[static MT6D_REBIND_KEY_LEN],
                          const uint8_t master[static MT6D_REBIND_KEY_LEN], uint32_t conn,
                          uint32_t gen);

/* ---- client side ---- */

/* What a client holds: its connection ID, P and one key per level. */
struct mt6d_rebind_grant {
	uint8_t levels; /* L */
	uint32_t conn;  /* c, L bits */
	uint64_t epoch; /* of the tree keys */
	uint8_t conn_key[MT6D_REBIND_KEY_LEN];
	uint8_t tree_keys[MT6D_REBIND_MAX_LEVELS][MT6D_REBIND_KEY_LEN];
};

/* Encode into out (cap bytes): the length, or -EMSGSIZE / -EINVAL. */
int mt6d_rebind_grant_encode(uint8_t *out, size_t cap, const struct mt6d_rebind_grant *g);
/* -EMSGSIZE on a length other than 48 + 32*L, -EPROTONOSUPPORT on another
 * version, -EBADMSG on a bad L, nonzero reserved bytes or c >= 2^L. */
int mt6d_rebind_grant_decode(struct mt6d_rebind_grant *g, const uint8_t *in, size_t len);
void mt6d_rebind_grant_wipe(struct mt6d_rebind_grant *g);

/*
 * Write a claim for time t_ms and location loc into out (cap bytes). The
 * server accepts one claim per t per connection, each newer than the last:
 * use max(now, previous t + 1).
 * Returns its length, MT6D_REBIND_CLAIM_LEN(g->levels), or -EMSGSIZE when
 * cap is too small, -EINVAL on a bad grant.
 */
int mt6d_rebind_claim(uint8_t *out, size_t cap, const struct mt6d_rebind_grant *g, uint64_t t_ms,
                      const struct mt6d_rebind_loc *loc);

/* ---- server side ---- */

struct mt6d_rebind_params {
	unsigned levels;    /* L, 1..24; 0 means MT6D_REBIND_DEFAULT_LEVELS */
	uint32_t epoch_ms;  /* 0 means MT6D_REBIND_DEFAULT_EPOCH_MS */
	uint32_t window_ms; /* 0 means MT6D_REBIND_DEFAULT_WINDOW_MS */
};

struct mt6d_rebind_server;

/* A verifier for 2^L connections with the given master secret (copied).
 * NULL with errno EINVAL or ENOMEM. */
struct mt6d_rebind_server *mt6d_rebind_server_new(const struct mt6d_rebind_params *p,
                                                  const uint8_t master[static MT6D_REBIND_KEY_LEN]);
void mt6d_rebind_server_free(struct mt6d_rebind_server *s); /* NULL is a no-op */

/* Assign a free connection ID (at random) and fill g for the epoch of
 * now_ms. -ENOSPC when all 2^L are in use. */
int mt6d_rebind_server_assign(struct mt6d_rebind_server *s, uint64_t now_ms,
                              struct mt6d_rebind_grant *g);
/* Fill g for connection conn (in use) and the epoch of now_ms: the renewal
 * a session sends when the epoch changes. -ENOENT when conn is not in use. */
int mt6d_rebind_server_renew(struct mt6d_rebind_server *s, uint32_t conn, uint64_t now_ms,
                             struct mt6d_rebind_grant *g);
/* Free conn; its next holder gets another generation, hence another P.
 * -ENOENT when conn is not in use. */
int mt6d_rebind_server_release(struct mt6d_rebind_server *s, uint32_t conn);

struct mt6d_rebind_result {
	uint32_t conn;
	uint64_t t_ms;
	uint64_t epoch;
};

/*
 * Verify a claim that arrived from `from` at server time now_ms. On success
 * (0) conn's replay mark moves to the claim's time and res says which
 * connection it is. Errors, in the order they are checked:
 *   -EMSGSIZE       length other than MT6D_REBIND_CLAIM_LEN(L)
 *   -EBADMSG        a level tag matches neither (or both) keys of its level
 *                   under the current and previous epoch, conn is not in use,
 *                   or the final part does not authenticate under P
 *   -EADDRNOTAVAIL  authentic, but the location inside is not `from`
 *   -ESTALE         authentic, but |t - now| > window
 *   -EALREADY       authentic, but t is not after conn's last accepted
 *                   claim (a replay, or an older claim arriving late)
 * Work is the same whatever the connection ID: at every level both children
 * of the prefix found so far are tried (at level 0 both of the current and
 * both of the previous epoch, which also finds the epoch).
 */
int mt6d_rebind_server_verify(struct mt6d_rebind_server *s, const uint8_t *claim, size_t len,
                              const struct mt6d_rebind_loc *from, uint64_t now_ms,
                              struct mt6d_rebind_result *res);

unsigned mt6d_rebind_server_levels(const struct mt6d_rebind_server *s);
size_t mt6d_rebind_server_count(const struct mt6d_rebind_server *s); /* connections in use */

/* ---- unrecognized-connection reply ---- */

/*
 * Write the reply to a datagram of trig_len bytes that came from `from`.
 * Returns MT6D_REBIND_REPLY_LEN, or 0 (send nothing) when the trigger is
 * shorter than the reply, or -EMSGSIZE when cap is too small.
 */
int mt6d_rebind_reply_encode(uint8_t *out, size_t cap, const uint8_t *trig, size_t trig_len,
                             const struct mt6d_rebind_loc *from);
/* Parse a reply: -EMSGSIZE unless exactly MT6D_REBIND_REPLY_LEN bytes. The
 * caller acts on it only if echo is the start of a datagram it sent. */
int mt6d_rebind_reply_decode(const uint8_t *in, size_t len,
                             uint8_t echo[static MT6D_REBIND_ECHO_LEN],
                             struct mt6d_rebind_loc *loc);

/*
 * The client's record of the starts of datagrams it sent recently, to
 * check a reply's echo: a reply whose echo is not here (an off-path forgery,
 * or a reply to something long gone) is ignored. A direct-mapped table: a
 * datagram's echo is kept in the entry its first two bytes choose (they are
 * random nonce bytes), replacing what was there, so about the last 16,384
 * datagrams are recognized (0.2 s at 80,000 datagrams/s), whatever the
 * rate, at O(1) per datagram. Caller-allocated (256 KiB); zero it to start.
 */
#define MT6D_REBIND_ECHO_SLOTS 16384 /* a power of two */

struct mt6d_rebind_echoes {
	uint8_t echo[MT6D_REBIND_ECHO_SLOTS][MT6D_REBIND_ECHO_LEN]; /* all zero: empty */
};

/* Remember a datagram being sent (only those long enough to get a reply). */
void mt6d_rebind_echo_note(struct mt6d_rebind_echoes *r, const uint8_t *dgram, size_t len);
/* 1 when echo is the start of a remembered datagram, which is then
 * forgotten (one reply per datagram is acted on); 0 otherwise. */
int mt6d_rebind_echo_take(struct mt6d_rebind_echoes *r,
                          const uint8_t echo[static MT6D_REBIND_ECHO_LEN]);

/* ---- rate limiter for replies (ratelimit.c) ---- */

/*
 * Token buckets: one per source prefix (/64 for IPv6, /24 for IPv4 given as
 * ::ffff:a.b.c.d) in a fixed table of `slots` entries (4-way set-associative,
 * keyed by a random SipHash key so nobody can aim at one set; a full set
 * evicts its least recently used entry), and one global bucket over all
 * replies. Rates are replies per second; bursts are bucket sizes.
 */
struct mt6d_rebind_rl_params {
	uint32_t prefix_rate;  /* 0 means 5 /s */
	uint32_t prefix_burst; /* 0 means 10 */
	uint32_t global_rate;  /* 0 means 1000 /s */
	uint32_t global_burst; /* 0 means 1000 */
	uint32_t slots;        /* 0 means 4096; rounded up to a power of two >= 4 */
};

struct mt6d_rebind_rl;

struct mt6d_rebind_rl *mt6d_rebind_rl_new(const struct mt6d_rebind_rl_params *p);
void mt6d_rebind_rl_free(struct mt6d_rebind_rl *rl); /* NULL is a no-op */
/* 1 when a reply to addr may be sent at now_ms (a token is taken from its
 * prefix's bucket and from the global bucket), 0 otherwise. */
int mt6d_rebind_rl_allow(struct mt6d_rebind_rl *rl, const uint8_t addr[static 16], uint64_t now_ms);

/* Both rules at once: the reply to send (its length), or 0 for none. */
int mt6d_rebind_reply(struct mt6d_rebind_rl *rl, uint8_t *out, size_t cap, const uint8_t *trig,
                      size_t trig_len, const struct mt6d_rebind_loc *from, uint64_t now_ms);

#ifdef __cplusplus
}
#endif
#endif
