/* SPDX-License-Identifier: MIT */
/*
 * KRPC messages of the Mainline DHT (BEP 5, 32, 42, 43, 44): one struct
 * for a parsed or to-be-encoded message. A parsed message points into the
 * datagram; every field has been length-checked against the BEP (ids 20
 * bytes, compact nodes 26/38-byte records, values 6/18 bytes, keys 32,
 * signatures 64, salt <= 64, v <= 1000 encoded bytes). This and bencode.c
 * are the only code that reads DHT bytes.
 */
#ifndef MT6D_KRPC_H
#define MT6D_KRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mt6d/mt6d.h"

#define KRPC_ID_LEN     20
#define KRPC_MAX_MSG    4096 /* larger datagrams are dropped unparsed */
#define KRPC_MAX_SEND   1500 /* what we send fits one Ethernet frame */
#define KRPC_MAX_TID    16
#define KRPC_MAX_TOKEN  32
#define KRPC_MAX_VALUES 128 /* "values" entries read from one reply */
#define KRPC_MAX_SALT   64
#define KRPC_MAX_V      1000 /* BEP 44: bencoded v at most 1000 bytes */
#define KRPC_NODE4_LEN  26
#define KRPC_NODE6_LEN  38
#define KRPC_MAX_TOKS   512

enum krpc_type { KRPC_QUERY = 'q', KRPC_RESPONSE = 'r', KRPC_ERROR = 'e' };

enum krpc_method {
	KRPC_UNKNOWN = 0,
	KRPC_PING,
	KRPC_FIND_NODE,
	KRPC_GET_PEERS,
	KRPC_ANNOUNCE_PEER,
	KRPC_GET,
	KRPC_PUT,
};

enum { KRPC_WANT4 = 1, KRPC_WANT6 = 2 };

struct krpc_msg {
	uint8_t y;      /* enum krpc_type */
	uint8_t method; /* queries: enum krpc_method */
	const uint8_t *t;
	size_t tlen;
	const uint8_t *ver; /* top-level "v": client version */
	size_t verlen;
	bool ro;           /* BEP 43 */
	const uint8_t *ip; /* BEP 42 "ip": 6 or 18 bytes, compact */
	size_t iplen;

	/* "a" of a query or "r" of a response */
	const uint8_t *id;
	const uint8_t *target;
	const uint8_t *info_hash;
	const uint8_t *token;
	size_t tokenlen;
	int64_t port;
	bool has_port;
	bool implied_port;
	const uint8_t *nodes; /* multiple of 26 */
	size_t nodes_len;
	const uint8_t *nodes6; /* multiple of 38 */
	size_t nodes6_len;
	const uint8_t *values[KRPC_MAX_VALUES]; /* 6 or 18 bytes each */
	uint8_t values_len[KRPC_MAX_VALUES];
	size_t nvalues;
	uint8_t want; /* KRPC_WANT4 | KRPC_WANT6 */

	/* BEP 44 */
	const uint8_t *k;   /* 32 */
	const uint8_t *sig; /* 64 */
	const uint8_t *salt;
	size_t saltlen;
	int64_t seq;
	bool has_seq;
	int64_t cas;
	bool has_cas;
	const uint8_t *v; /* the raw bencoding of "v" */
	size_t vlen;

	/* "e" */
	int64_t ecode;
	const uint8_t *emsg;
	size_t emsglen;
};

/*
 * Parse one datagram. 0 on success; -EBADMSG when it is not a well-formed
 * KRPC message with the fields its kind requires, -E2BIG when too large or
 * too deep. Queries require a 20-byte id and the arguments of their
 * method (unknown methods parse with method KRPC_UNKNOWN and a valid id);
 * responses require a 20-byte id.
 */
int krpc_parse(struct krpc_msg *m, const uint8_t *buf, size_t len);

/*
 * Encode m into buf. The query name comes from m->method. Fields that are
 * NULL or false are left out. Returns the length or -EMSGSIZE.
 */
int krpc_encode(uint8_t *buf, size_t cap, const struct krpc_msg *m);

const char *krpc_method_name(enum krpc_method method);

/* Compact node or peer info (BEP 5, 32): an address of 4 (IPv4) or 16
 * bytes, then the port big-endian; len is 6 or 18. */
void krpc_ep_from_compact(struct mt6d_endpoint *e, const uint8_t *p, size_t len);
/* Writes 6 or 18 bytes, returns how many. */
size_t krpc_ep_to_compact(uint8_t *p, const struct mt6d_endpoint *e);

#endif
