/* SPDX-License-Identifier: MIT */
/*
 * libmt6d: the pinned derivations of protocol v1 (docs/protocol.md).
 *
 * Every function here is pure: no globals, no I/O except the key-file
 * functions, no exit. Functions that can fail return 0 or a negative errno.
 * Binary values are byte arrays in wire order; integers on the wire are
 * unsigned big-endian. Call mt6d_init() once before anything else.
 */
#ifndef MT6D_MT6D_H
#define MT6D_MT6D_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MT6D_KEY_LEN         32 /* X25519 private or public key, shared secret */
#define MT6D_KEY_B64_LEN     44 /* standard base64 of 32 bytes, with padding */
#define MT6D_DESC_LEN        20 /* DHT descriptor d_T (an infohash) */
#define MT6D_IID_LEN         8  /* interface identifier */
#define MT6D_PREFIX_LEN      8  /* /64 prefix */
#define MT6D_INTRO_KEY_LEN   16 /* introduction key K; also session key K_S */
#define MT6D_NONCE_LEN       24 /* crypto_box nonce */
#define MT6D_MAC_LEN         16 /* crypto_box MAC */
#define MT6D_CONFIG_VERSION  1  /* no underlay endpoint */
#define MT6D_CONFIG_VERSION2 2  /* with the server's underlay endpoint */
#define MT6D_CONFIG_LEN      45 /* v1: version(1) T(8) rot_ms(4) seed(16) K(16) */
#define MT6D_CONFIG_V2_LEN   63 /* v2: the v1 fields, underlay_addr(16) underlay_port(2) */
#define MT6D_CONFIG_MAX      MT6D_CONFIG_V2_LEN
#define MT6D_SEALED_LEN      (MT6D_NONCE_LEN + MT6D_MAC_LEN + MT6D_CONFIG_LEN)    /* 85, v1 */
#define MT6D_SEALED_V2_LEN   (MT6D_NONCE_LEN + MT6D_MAC_LEN + MT6D_CONFIG_V2_LEN) /* 103 */
#define MT6D_SEALED_MAX      MT6D_SEALED_V2_LEN
#define MT6D_STUFF_MAX       255  /* longest port-stuffed message */
#define MT6D_DEFAULT_PERIOD  900  /* publication period n, seconds */
#define MT6D_DEFAULT_ROT_MS  3000 /* address rotation period */
#define MT6D_PORT_BASE       1024
#define MT6D_PORT_SPAN       64512

/* The one outer-endpoint type: an IPv6 address, or IPv4 as ::ffff:a.b.c.d,
 * and a port in host order. Sessions, the DHT, port stuffing and the daemons'
 * configuration all use it. */
struct mt6d_endpoint {
	uint8_t addr[16];
	uint16_t port;
};

/* ---- endpoints (endpoint.c) ---- */

/* Nonzero when ep holds an IPv4 address (::ffff:a.b.c.d). */
int mt6d_endpoint_is_v4(const struct mt6d_endpoint *ep);
/* ep from an IPv4 (iplen 4) or IPv6 (iplen 16) address; -EINVAL otherwise. */
int mt6d_endpoint_set(struct mt6d_endpoint *ep, const uint8_t *ip, size_t iplen, uint16_t port);
/* The address as the wire carries it: 4 bytes (IPv4) or 16, length in *len. */
const uint8_t *mt6d_endpoint_ip(const struct mt6d_endpoint *ep, size_t *len);
/* Same address and port. */
int mt6d_endpoint_eq(const struct mt6d_endpoint *a, const struct mt6d_endpoint *b);
/* Order by address bytes, then port. */
int mt6d_endpoint_cmp(const struct mt6d_endpoint *a, const struct mt6d_endpoint *b);
/* A sockaddr_in for IPv4, sockaddr_in6 otherwise; returns its length. */
socklen_t mt6d_endpoint_to_sockaddr(struct sockaddr_storage *ss, const struct mt6d_endpoint *ep);
/* From sockaddr_in or sockaddr_in6 (a v4-mapped IPv6 address is IPv4);
 * -EAFNOSUPPORT for another family, -EINVAL when sa is NULL or short. */
int mt6d_endpoint_from_sockaddr(struct mt6d_endpoint *ep, const struct sockaddr *sa, socklen_t len);

/* ---- text forms (text.c): the one parser of endpoints and prefixes ---- */

enum {
	MT6D_EP_PORT = 0,  /* "A.B.C.D:PORT" or "[V6]:PORT", port 1-65535 */
	MT6D_EP_PORT0 = 1, /* the same; port 0 (any) allowed */
	MT6D_EP_HOST = 2,  /* an address alone: A.B.C.D, V6 or [V6]; port 0 */
};
/* 0, or -EINVAL (ep zeroed). */
int mt6d_endpoint_parse(struct mt6d_endpoint *ep, const char *s, int form);
/* "A.B.C.D:PORT" for IPv4, "[V6]:PORT" otherwise (what the parser takes);
 * 54 bytes always suffice. Returns buf. */
#define MT6D_ENDPOINT_STRLEN 54
const char *mt6d_endpoint_format(char *buf, size_t len, const struct mt6d_endpoint *ep);
/* "V6/LEN" (LEN 0-128, digits only), or "V6" alone (LEN 128) when
 * want_len is 0; with want_len set the LEN must be given and equal it
 * ("ADDR/64"). 0, or -EINVAL (addr zeroed). */
int mt6d_prefix_parse(uint8_t addr[static 16], unsigned *plen, const char *s, unsigned want_len);

/* 0 on success, -1 if libsodium cannot start. Safe to call repeatedly. */
int mt6d_init(void);

/* ---- keys (keys.c) ---- */

/* Decode exactly 44 base64 characters (surrounding white space allowed)
 * into 32 bytes. -EINVAL on bad base64 or wrong length. */
int mt6d_key_from_base64(uint8_t key[static MT6D_KEY_LEN], const char *text);
/* Writes 44 characters and a NUL. */
void mt6d_key_to_base64(char out[static MT6D_KEY_B64_LEN + 1],
                        const uint8_t key[static MT6D_KEY_LEN]);
/* A new clamped X25519 private key. */
void mt6d_key_generate(uint8_t priv[static MT6D_KEY_LEN]);
int mt6d_key_public(uint8_t pub[static MT6D_KEY_LEN], const uint8_t priv[static MT6D_KEY_LEN]);
/*
 * Read a private key file (one base64 line). Refused with -EPERM when the
 * file is readable or writable by group or others, -ENOENT etc. from the
 * system, -EINVAL when the contents are not one key.
 */
int mt6d_key_load_private(uint8_t priv[static MT6D_KEY_LEN], const char *path);
/* Write a private key file with mode 0600 (created, or truncated). */
int mt6d_key_save_private(const char *path, const uint8_t priv[static MT6D_KEY_LEN]);

/* ---- derivations (derive.c) ---- */

/* s = X25519(own_private, peer_public); -EINVAL when s is all zero. */
int mt6d_shared_secret(uint8_t s[static MT6D_KEY_LEN], const uint8_t own_priv[static MT6D_KEY_LEN],
                       const uint8_t peer_pub[static MT6D_KEY_LEN]);
/* T = t - (t mod n); n must be > 0 (returns t for n == 0). */
uint64_t mt6d_window(uint64_t unix_sec, uint32_t period);
/* d_T = SHA-256(s || T)[0..20) */
void mt6d_descriptor(uint8_t d[static MT6D_DESC_LEN], const uint8_t s[static MT6D_KEY_LEN],
                     uint64_t window);
/* BEP 44 ed25519 seed = SHA-256("mt6d bep44 v1" || s || T) */
void mt6d_bep44_seed(uint8_t seed[static 32], const uint8_t s[static MT6D_KEY_LEN],
                     uint64_t window);
/* Keypair from that seed (crypto_sign_seed_keypair); sk is 64 bytes. */
void mt6d_bep44_keypair(uint8_t pk[static 32], uint8_t sk[static 64],
                        const uint8_t s[static MT6D_KEY_LEN], uint64_t window);
/* BEP 44 mutable-item target with empty salt: SHA-1(pk). */
void mt6d_bep44_target(uint8_t target[static 20], const uint8_t pk[static 32]);
/* C_IID = SHA-256(s || K)[0..8) */
void mt6d_client_seed_iid(uint8_t iid[static MT6D_IID_LEN], const uint8_t s[static MT6D_KEY_LEN],
                          const uint8_t k[static MT6D_INTRO_KEY_LEN]);
/* i = floor(unix_ms / rot_ms); rot_ms must be > 0 (returns 0 for 0). */
uint64_t mt6d_slot(uint64_t unix_ms, uint32_t rot_ms);
/*
 * Address and port of host x in slot i:
 *   h = SHA-256(IID_x || K_S || i);  addr = prefix || h[0..8);
 *   port = 1024 + (h[8..10) mod 64512)
 */
void mt6d_slot_address(uint8_t addr[static 16], uint16_t *port,
                       const uint8_t prefix[static MT6D_PREFIX_LEN],
                       const uint8_t iid[static MT6D_IID_LEN],
                       const uint8_t ks[static MT6D_INTRO_KEY_LEN], uint64_t slot);

/* ---- configuration and sealed message (config.c) ---- */

/*
 * Version 1 (45 bytes) when the server has no underlay endpoint; version 2
 * (63 bytes) adds the static address and UDP port a client behind NAT or
 * without IPv6 reaches the server at (docs/protocol.md).
 */
struct mt6d_config {
	uint8_t version;                       /* set by decode (1 or 2); encode ignores it */
	uint64_t window;                       /* T, Unix seconds */
	uint32_t rot_ms;                       /* rotation period, ms */
	uint8_t seed_addr[16];                 /* SeedIPv6_S */
	uint8_t intro_key[MT6D_INTRO_KEY_LEN]; /* K */
	uint8_t underlay_addr[16];             /* IPv6, or IPv4 as ::ffff:a.b.c.d */
	uint16_t underlay_port;                /* host order; 0: no underlay, version 1 */
};

/* The plaintext length of c: MT6D_CONFIG_LEN when c->underlay_port is 0,
 * else MT6D_CONFIG_V2_LEN. */
size_t mt6d_config_len(const struct mt6d_config *c);
/* Writes version 1 or 2 as c->underlay_port says (c->version is not read)
 * and returns the length written, mt6d_config_len(c). */
size_t mt6d_config_encode(uint8_t out[static MT6D_CONFIG_MAX], const struct mt6d_config *c);
/* Version 1 is exactly 45 bytes, version 2 exactly 63. -EMSGSIZE on any
 * other length or a length that is not its version's, -EPROTONOSUPPORT on
 * another version, -EINVAL on rot_ms == 0 or (version 2) underlay_port == 0.
 * A version 1 configuration decodes with the underlay fields zero. */
int mt6d_config_decode(struct mt6d_config *c, const uint8_t *in, size_t len);

/*
 * m = N || crypto_box_easy(plaintext, N, client_pub, server_priv), N random:
 * MT6D_SEALED_LEN (85) bytes for version 1, MT6D_SEALED_V2_LEN (103) for
 * version 2. The seal functions return that length (or a negative errno).
 * The _afternm forms take the crypto_box_beforenm key, so a server computes
 * it once per client rather than once per window.
 */
int mt6d_config_seal(uint8_t m[static MT6D_SEALED_MAX], const struct mt6d_config *c,
                     const uint8_t client_pub[static MT6D_KEY_LEN],
                     const uint8_t server_priv[static MT6D_KEY_LEN]);
size_t mt6d_config_seal_afternm(uint8_t m[static MT6D_SEALED_MAX], const struct mt6d_config *c,
                                const uint8_t boxkey[static 32]);
/* -EMSGSIZE unless len is 85 or 103, -EBADMSG when it does not
 * authenticate, and the errors of mt6d_config_decode. */
int mt6d_config_open(struct mt6d_config *c, const uint8_t *m, size_t len,
                     const uint8_t server_pub[static MT6D_KEY_LEN],
                     const uint8_t client_priv[static MT6D_KEY_LEN]);
int mt6d_config_open_afternm(struct mt6d_config *c, const uint8_t *m, size_t len,
                             const uint8_t boxkey[static 32]);
/* crypto_box_beforenm; -EINVAL when the X25519 result is all zero. */
int mt6d_box_key(uint8_t boxkey[static 32], const uint8_t own_priv[static MT6D_KEY_LEN],
                 const uint8_t peer_pub[static MT6D_KEY_LEN]);

/* ---- port stuffing (stuff.c) ---- */

/* ports[i] = p_i << 8 | m[i], p_i distinct random in 1..255, ascending.
 * -EMSGSIZE unless 1 <= len <= 255. */
int mt6d_stuff_encode(uint16_t *ports, const uint8_t *m, size_t len);

/* Called once per IP group with that group's bytes in high-byte order;
 * return nonzero to stop. */
typedef int (*mt6d_stuff_cb)(const struct mt6d_endpoint *group_ip, const uint8_t *msg, size_t len,
                             void *arg);
/*
 * Peers are endpoints as get_peers returns them. Group them by IP (all
 * 16 address bytes); within a group sort by port (the high byte is the
 * port's top byte, so this is the high-byte order) and hand the low bytes
 * to cb. Groups with a repeated high byte or a high byte of 0 are skipped
 * (they cannot come from one encoder). Returns the number of groups handed
 * to cb, or -ENOMEM; if cb stopped the walk, its value is returned.
 */
int mt6d_stuff_decode(const struct mt6d_endpoint *peers, size_t n, mt6d_stuff_cb cb, void *arg);

/* ---- small helpers (util.c) ---- */

/* Parse exactly len bytes of hex (2*len digits); -EINVAL otherwise. */
int mt6d_hex_decode(uint8_t *out, size_t len, const char *hex);
/* out must hold 2*len+1 characters. */
void mt6d_hex_encode(char *out, const uint8_t *in, size_t len);
void mt6d_put_be64(uint8_t out[static 8], uint64_t v);
uint64_t mt6d_get_be64(const uint8_t in[static 8]);
void mt6d_put_be32(uint8_t out[static 4], uint32_t v);
uint32_t mt6d_get_be32(const uint8_t in[static 4]);
void mt6d_put_be16(uint8_t out[static 2], uint16_t v);
uint16_t mt6d_get_be16(const uint8_t in[static 2]);

#ifdef __cplusplus
}
#endif
#endif
