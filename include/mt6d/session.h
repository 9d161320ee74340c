/* SPDX-License-Identifier: MIT */
/*
 * libmt6d session establishment (docs/sessions.md): the messages of the
 * session protocol, the pairwise key of the introduction session, and the
 * server's table that recognizes a client by its introduction IID.
 *
 * Every message layout is here; integers are big-endian; each message
 * starts with type(1) and version(1). Decoders are strict: exact length,
 * known type and version, reserved bytes zero.
 */
#ifndef MT6D_SESSION_H
#define MT6D_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mt6d/mt6d.h"
#include "mt6d/rebind.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT6D_NH_CONTROL  254 /* inner IPv6 next header of session messages */
#define MT6D_MSG_VERSION 1

enum mt6d_msg_type {
	MT6D_MSG_REQUEST = 0,   /* configuration request, client -> server */
	MT6D_MSG_RESPONSE = 1,  /* configuration response, server -> client */
	MT6D_MSG_TEARDOWN = 2,  /* either side, on the client session */
	MT6D_MSG_KEEPALIVE = 3, /* either side, on the client session */
	MT6D_MSG_GRANT = 4,     /* server -> client, on the client session */
};

/*
 * Request, 28 bytes:
 *   type(1)=0 version(1)=1 reserved(2)=0 request_id(8) client_prefix(8) time_ms(8)
 * Response, 84 bytes:
 *   type(1)=1 version(1)=1 reserved(1)=0 tun_prefix_len(1) request_id(8) rot_ms(4)
 *   idle_timeout_s(4) session_key(16) server_iid(8) client_iid(8)
 *   client_tun(16) server_tun(16)
 * Response version 2, 84 + 48 + 32*L bytes: the 84 bytes above with
 *   version(1)=2, then the client's rebinding grant (include/mt6d/rebind.h,
 *   docs/rebind.md): connection ID, tree keys, connection key.
 * Teardown, 4 bytes:  type(1)=2 version(1)=1 reason(1) reserved(1)=0
 * Keepalive, 12 bytes: type(1)=3 version(1)=1 reserved(2)=0 time_ms(8)
 * Grant, 4 + 48 + 32*L bytes: type(1)=4 version(1)=1 reserved(2)=0 grant:
 *   the renewal of the tree keys for a new epoch (same c and P).
 * A grant inside a message must be well formed (its L byte gives its
 * length); its content is checked by mt6d_rebind_grant_decode.
 */
#define MT6D_MSG_REQUEST_LEN   28
#define MT6D_MSG_RESPONSE_LEN  84
#define MT6D_MSG_RESPONSE_V2   2
#define MT6D_MSG_TEARDOWN_LEN  4
#define MT6D_MSG_KEEPALIVE_LEN 12
#define MT6D_MSG_GRANT_HDR     4
#define MT6D_MSG_MAX_LEN       (MT6D_MSG_RESPONSE_LEN + MT6D_REBIND_GRANT_MAX)

enum mt6d_teardown_reason {
	MT6D_TEARDOWN_CLOSED = 0,   /* the peer is stopping */
	MT6D_TEARDOWN_REFUSED = 1,  /* the server will not keep the session */
	MT6D_TEARDOWN_REPLACED = 2, /* the client made a new session */
};

struct mt6d_msg {
	uint8_t type;
	union {
		struct {
			uint64_t request_id;
			uint8_t client_prefix[MT6D_PREFIX_LEN];
			uint64_t time_ms;
		} request;
		struct {
			uint64_t request_id;
			uint8_t tun_prefix_len;
			uint32_t rot_ms;
			uint32_t idle_timeout_s;
			uint8_t session_key[MT6D_INTRO_KEY_LEN];
			uint8_t server_iid[MT6D_IID_LEN];
			uint8_t client_iid[MT6D_IID_LEN];
			uint8_t client_tun[16];
			uint8_t server_tun[16];
			uint16_t grant_len; /* 0: version 1, no grant */
			uint8_t grant[MT6D_REBIND_GRANT_MAX];
		} response;
		struct {
			uint16_t len;
			uint8_t bytes[MT6D_REBIND_GRANT_MAX];
		} grant;
		struct {
			uint8_t reason;
		} teardown;
		struct {
			uint64_t time_ms;
		} keepalive;
	} u;
};

/* Timing of sessions, shared by server and client. */
#define MT6D_IDLE_TIMEOUT_S   120   /* a session with no authentic packet this long ends */
#define MT6D_KEEPALIVE_S      25    /* send a keepalive after this long without sending */
#define MT6D_DEAD_INTERVALS   3     /* client: server silent for 3 keepalive intervals */
#define MT6D_REQUEST_SKEW_MS  60000 /* a request's time within 60 s of the server's */
#define MT6D_REQUEST_EVERY_MS 1000  /* client: resend an unanswered request */
#define MT6D_REQUEST_TRIES    5
#define MT6D_BACKOFF_MIN_MS   1000
#define MT6D_BACKOFF_MAX_MS   60000
/* A rotation period outside these bounds (from the DHT or a response) is
 * refused: both ends are authentic, but a slot of 1 ms would only burn CPU. */
#define MT6D_ROT_MIN_MS     100
#define MT6D_ROT_MAX_MS     3600000
#define MT6D_CLAIM_EVERY_MS 250 /* client: at most 4 claims a second */
#define MT6D_CLAIM_TRIES    8   /* claims for one move before giving up on it */

/*
 * What a server or client hands its caller to send: n datagrams from one
 * local endpoint to one remote, datagram k at p + k * stride, all stride
 * bytes but the last, total bytes in all (n = 1: one datagram of total
 * bytes). slot is the session slot they leave from, NULL for what is
 * no slot's (introduction replies, the underlay): the library has chosen
 * session and slot, the caller only sends, from the slot's socket
 * (mt6d_tun_slot.fd, the caller's: it may open one here) or otherwise.
 * underlay: it goes through the caller's underlay socket (from is then the
 * underlay endpoint, or all zero on a client).
 */
struct mt6d_tun_slot;
struct mt6d_tx {
	const struct mt6d_endpoint *from, *to;
	struct mt6d_tun_slot *slot;
	bool underlay;
	const uint8_t *p;
	size_t n, stride, total;
};
typedef void (*mt6d_send_fn)(void *arg, const struct mt6d_tx *tx);

/* Encode into out (cap bytes): the length, or -EMSGSIZE / -EINVAL. */
int mt6d_msg_encode(uint8_t *out, size_t cap, const struct mt6d_msg *m);
/* -EMSGSIZE wrong length, -EPROTONOSUPPORT other version, -EBADMSG unknown
 * type, nonzero reserved bytes, or an impossible field value. */
int mt6d_msg_decode(struct mt6d_msg *m, const uint8_t *in, size_t len);

/* An inner IPv6 packet (40-byte header, next header 254, hop limit 64)
 * around a message. Returns the packet length or -EMSGSIZE. */
int mt6d_msg_wrap(uint8_t *out, size_t cap, const uint8_t src[static 16],
                  const uint8_t dst[static 16], const uint8_t *msg, size_t len);
/* If pkt is an IPv6 packet with next header 254 and a consistent length,
 * point *msg at its payload and return its length; -EBADMSG otherwise,
 * -ENOENT when it is IPv6 but not a control packet. */
int mt6d_msg_unwrap(const uint8_t *pkt, size_t len, const uint8_t **msg, uint8_t src[static 16],
                    uint8_t dst[static 16]);

/* K_pair = SHA-256("mt6d intro v1" || s || K)[0..16): the encapsulation key
 * of one client's introduction session. */
void mt6d_intro_pair_key(uint8_t out[static MT6D_INTRO_KEY_LEN],
                         const uint8_t s[static MT6D_KEY_LEN],
                         const uint8_t k[static MT6D_INTRO_KEY_LEN]);

/*
 * The server's table of expected introduction IIDs: for each registered
 * client's seed IID, its IID in slots c-1, c, c+1 under K. Advancing by one
 * slot recomputes one slot (n hashes); a lookup is O(1).
 */
struct mt6d_intro_table;

struct mt6d_intro_table *mt6d_intro_table_new(void);
void mt6d_intro_table_free(struct mt6d_intro_table *t); /* NULL is a no-op */
/* Set the clients' seed IIDs (copied) and K, and fill slots c-1..c+1. */
int mt6d_intro_table_reset(struct mt6d_intro_table *t, const uint8_t (*seed_iids)[MT6D_IID_LEN],
                           size_t n, const uint8_t k[static MT6D_INTRO_KEY_LEN], uint64_t center);
/* Move the window to center (recomputing only the slots that are new). */
int mt6d_intro_table_advance(struct mt6d_intro_table *t, uint64_t center);
/* The client whose introduction IID in one of the window's slots is iid:
 * 0 with *client (its index) and *slot, or -ENOENT. */
int mt6d_intro_table_find(const struct mt6d_intro_table *t, const uint8_t iid[static MT6D_IID_LEN],
                          size_t *client, uint64_t *slot);

#ifdef __cplusplus
}
#endif
#endif
