/* SPDX-License-Identifier: MIT */
/*
 * Strict bencoding. Invariants of a successful parse: every token lies
 * inside the buffer, the tokens cover it exactly, dictionary keys are
 * strings in strictly ascending byte order, integers fit int64_t and are
 * written the one canonical way. The parser is iterative with an explicit
 * stack so hostile nesting cannot exhaust the C stack.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dht/bencode.h"

struct frame {
	int tok;       /* list or dict token index */
	int last_key;  /* dict: index of previous key token, -1 at start */
	bool want_key; /* dict: next element is a key */
};

/* Canonical unsigned decimal in buf[*pos .. end) up to the terminator. */
static int parse_digits(const uint8_t *buf, size_t len, size_t *pos, uint8_t term, uint64_t max,
                        uint64_t *out)
{
	size_t p = *pos, start = p;
	uint64_t v = 0;

	while (p < len && buf[p] >= '0' && buf[p] <= '9') {
		uint64_t d = (uint64_t)(buf[p] - '0');
		if (v > (max - d) / 10)
			return -EBADMSG;
		v = v * 10 + d;
		p++;
	}
	if (p == start || p >= len || buf[p] != term)
		return -EBADMSG;
	if (buf[start] == '0' && p - start > 1)
		return -EBADMSG;
	*pos = p + 1;
	*out = v;
	return 0;
}

static int key_cmp(const struct benc_tok *a, const struct benc_tok *b)
{
	size_t n = a->slen < b->slen ? a->slen : b->slen;
	int c = n ? memcmp(a->s, b->s, n) : 0;

	if (c)
		return c;
	return a->slen < b->slen ? -1 : a->slen > b->slen;
}

int benc_parse(struct benc_tok *toks, size_t ntoks, const uint8_t *buf, size_t len,
               unsigned max_depth)
{
	struct frame stack[BENC_MAX_DEPTH];
	int depth = 0, n = 0;
	size_t pos = 0;

	if (!toks || !buf || len == 0)
		return -EBADMSG;
	if (max_depth > BENC_MAX_DEPTH)
		max_depth = BENC_MAX_DEPTH;
	do {
		struct benc_tok *t;
		struct frame *f = depth ? &stack[depth - 1] : NULL;
		uint64_t u;
		int ret;

		if (pos >= len)
			return -EBADMSG;
		if (buf[pos] == 'e') {
			if (!f || (toks[f->tok].type == BENC_DICT && !f->want_key))
				return -EBADMSG;
			pos++;
			toks[f->tok].len = (uint32_t)(pos - toks[f->tok].off);
			toks[f->tok].next = (uint32_t)n;
			depth--;
			continue;
		}
		if ((size_t)n >= ntoks)
			return -E2BIG;
		t = &toks[n];
		memset(t, 0, sizeof(*t));
		t->off = (uint32_t)pos;
		if (f && toks[f->tok].type == BENC_DICT && f->want_key && buf[pos] > '9')
			return -EBADMSG; /* keys are strings */
		switch (buf[pos]) {
		case 'i': {
			bool neg = false;
			pos++;
			if (pos < len && buf[pos] == '-') {
				neg = true;
				pos++;
			}
			ret = parse_digits(buf, len, &pos, 'e',
			                   neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX, &u);
			if (ret < 0 || (neg && u == 0))
				return -EBADMSG;
			t->type = BENC_INT;
			t->i = neg ? (int64_t)(0 - u) : (int64_t)u;
			break;
		}
		case 'l':
		case 'd':
			if ((unsigned)depth >= max_depth)
				return -E2BIG;
			t->type = buf[pos] == 'l' ? BENC_LIST : BENC_DICT;
			pos++;
			break;
		default:
			if (buf[pos] < '0' || buf[pos] > '9')
				return -EBADMSG;
			ret = parse_digits(buf, len, &pos, ':', len, &u);
			if (ret < 0 || u > len - pos)
				return -EBADMSG;
			t->type = BENC_STR;
			t->s = buf + pos;
			t->slen = (size_t)u;
			pos += (size_t)u;
			break;
		}
		if (t->type != BENC_LIST && t->type != BENC_DICT) {
			t->len = (uint32_t)(pos - t->off);
			t->next = (uint32_t)n + 1;
		}
		if (f && toks[f->tok].type == BENC_DICT) {
			if (f->want_key) {
				if (f->last_key >= 0 && key_cmp(&toks[f->last_key], t) >= 0)
					return -EBADMSG;
				f->last_key = n;
			}
			f->want_key = !f->want_key;
		}
		n++;
		if (t->type == BENC_LIST || t->type == BENC_DICT) {
			stack[depth].tok = n - 1;
			stack[depth].last_key = -1;
			stack[depth].want_key = true;
			depth++;
		}
	} while (depth > 0);
	return pos == len ? n : -EBADMSG;
}

int benc_dict_get(const struct benc_tok *toks, int d, const char *key)
{
	size_t klen = strlen(key);

	if (d < 0 || toks[d].type != BENC_DICT)
		return -1;
	for (uint32_t i = (uint32_t)d + 1; i < toks[d].next; i = toks[i + 1].next) {
		if (toks[i].slen == klen && !memcmp(toks[i].s, key, klen))
			return (int)i + 1;
	}
	return -1;
}

const uint8_t *benc_dict_str(const struct benc_tok *toks, int d, const char *key, size_t *len)
{
	int i = benc_dict_get(toks, d, key);

	if (i < 0 || toks[i].type != BENC_STR)
		return NULL;
	if (*len && toks[i].slen != *len)
		return NULL;
	*len = toks[i].slen;
	return toks[i].s;
}

int benc_dict_int(const struct benc_tok *toks, int d, const char *key, int64_t *v)
{
	int i = benc_dict_get(toks, d, key);

	if (i < 0 || toks[i].type != BENC_INT)
		return -1;
	*v = toks[i].i;
	return 0;
}

void benc_init(struct benc_buf *b, uint8_t *p, size_t cap)
{
	b->p = p;
	b->cap = cap;
	b->len = 0;
	b->overflow = false;
}

void benc_raw(struct benc_buf *b, const void *p, size_t n)
{
	if (b->overflow || n > b->cap - b->len) {
		b->overflow = true;
		return;
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

void benc_int(struct benc_buf *b, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "i%llde", (long long)v);

	benc_raw(b, tmp, (size_t)n);
}

void benc_str(struct benc_buf *b, const void *p, size_t n)
{
	char tmp[24];
	int k = snprintf(tmp, sizeof(tmp), "%zu:", n);

	benc_raw(b, tmp, (size_t)k);
	benc_raw(b, p, n);
}

void benc_cstr(struct benc_buf *b, const char *s)
{
	benc_str(b, s, strlen(s));
}

void benc_dict(struct benc_buf *b)
{
	benc_raw(b, "d", 1);
}

void benc_list(struct benc_buf *b)
{
	benc_raw(b, "l", 1);
}

void benc_end(struct benc_buf *b)
{
	benc_raw(b, "e", 1);
}
