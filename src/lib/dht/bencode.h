/* SPDX-License-Identifier: MIT */
/*
 * Strict bencoding (BEP 3) for the DHT: the decoder turns a buffer into a
 * flat array of tokens in document order, refusing anything that is not
 * the one canonical encoding of its value (leading zeros, "-0", unsorted
 * or duplicate dictionary keys, trailing bytes) and anything deeper or
 * longer than the caller allows. Tokens point into the caller's buffer;
 * nothing is allocated. The encoder appends to a caller-owned buffer and
 * remembers the first overflow, so a message is built without checking
 * every call; writing keys in sorted order is the caller's duty.
 */
#ifndef MT6D_BENCODE_H
#define MT6D_BENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum benc_type { BENC_INT = 1, BENC_STR, BENC_LIST, BENC_DICT };

struct benc_tok {
	uint8_t type;
	uint32_t next;     /* index of the token after this one's subtree */
	uint32_t off, len; /* the raw encoding: buf[off .. off+len) */
	int64_t i;         /* BENC_INT */
	const uint8_t *s;  /* BENC_STR contents */
	size_t slen;
};

#define BENC_MAX_DEPTH 16

/*
 * Parse all of buf into toks. Returns the number of tokens, -EBADMSG on
 * any malformed or non-canonical input, -E2BIG when more than ntoks tokens
 * or max_depth nesting levels would be needed.
 */
int benc_parse(struct benc_tok *toks, size_t ntoks, const uint8_t *buf, size_t len,
               unsigned max_depth);

/* Index of the value under key in dictionary token d, or -1. */
int benc_dict_get(const struct benc_tok *toks, int d, const char *key);
/* Convenience: a string of exactly len bytes (len 0: any length), or NULL. */
const uint8_t *benc_dict_str(const struct benc_tok *toks, int d, const char *key, size_t *len);
/* 0 and *v when key holds an integer, else -1. */
int benc_dict_int(const struct benc_tok *toks, int d, const char *key, int64_t *v);

struct benc_buf {
	uint8_t *p;
	size_t cap, len;
	bool overflow;
};

void benc_init(struct benc_buf *b, uint8_t *p, size_t cap);
void benc_raw(struct benc_buf *b, const void *p, size_t n);
void benc_int(struct benc_buf *b, int64_t v);
void benc_str(struct benc_buf *b, const void *p, size_t n);
void benc_cstr(struct benc_buf *b, const char *s);
void benc_dict(struct benc_buf *b);
void benc_list(struct benc_buf *b);
void benc_end(struct benc_buf *b);

#endif
