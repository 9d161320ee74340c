/* SPDX-License-Identifier: MIT */
/*
 * Session messages (encode/decode, inner IPv6 wrapping), the introduction
 * pair key, and the introduction table. docs/sessions.md has the design;
 * include/mt6d/session.h every layout.
 *
 * The introduction table keeps three open-addressing hash tables, one per
 * slot of the window, each keyed by the 64-bit IID (a SHA-256 output, so
 * its own bits are a uniform hash) at a load of at most 1/2. Advancing the
 * window by one slot rebuilds only the table of the slot that entered.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mt6d/session.h"

static const char intro_label[] = "mt6d intro v1"; /* 13 bytes hashed */

/* A grant's own length field agrees with its length (its content is the
 * rebinding code's business). */
static bool grant_ok(const uint8_t *g, size_t len)
{
	return len >= 2 && g[1] >= MT6D_REBIND_MIN_LEVELS && g[1] <= MT6D_REBIND_MAX_LEVELS &&
	       len == MT6D_REBIND_GRANT_LEN(g[1]);
}

int mt6d_msg_encode(uint8_t *out, size_t cap, const struct mt6d_msg *m)
{
	size_t len;

	switch (m->type) {
	case MT6D_MSG_REQUEST:
		len = MT6D_MSG_REQUEST_LEN;
		break;
	case MT6D_MSG_RESPONSE:
		len = MT6D_MSG_RESPONSE_LEN;
		break;
	case MT6D_MSG_TEARDOWN:
		len = MT6D_MSG_TEARDOWN_LEN;
		break;
	case MT6D_MSG_KEEPALIVE:
		len = MT6D_MSG_KEEPALIVE_LEN;
		break;
	case MT6D_MSG_GRANT:
		len = MT6D_MSG_GRANT_HDR + m->u.grant.len;
		break;
	default:
		return -EINVAL;
	}
	if (m->type == MT6D_MSG_RESPONSE)
		len += m->u.response.grant_len;
	if ((m->type == MT6D_MSG_RESPONSE && m->u.response.grant_len &&
	     !grant_ok(m->u.response.grant, m->u.response.grant_len)) ||
	    (m->type == MT6D_MSG_GRANT && !grant_ok(m->u.grant.bytes, m->u.grant.len)))
		return -EINVAL;
	if (cap < len)
		return -EMSGSIZE;
	memset(out, 0, len);
	out[0] = m->type;
	out[1] = MT6D_MSG_VERSION;
	switch (m->type) {
	case MT6D_MSG_REQUEST:
		mt6d_put_be64(out + 4, m->u.request.request_id);
		memcpy(out + 12, m->u.request.client_prefix, MT6D_PREFIX_LEN);
		mt6d_put_be64(out + 20, m->u.request.time_ms);
		break;
	case MT6D_MSG_RESPONSE:
		if (m->u.response.tun_prefix_len > 128 || m->u.response.rot_ms == 0)
			return -EINVAL;
		out[3] = m->u.response.tun_prefix_len;
		mt6d_put_be64(out + 4, m->u.response.request_id);
		mt6d_put_be32(out + 12, m->u.response.rot_ms);
		mt6d_put_be32(out + 16, m->u.response.idle_timeout_s);
		memcpy(out + 20, m->u.response.session_key, 16);
		memcpy(out + 36, m->u.response.server_iid, 8);
		memcpy(out + 44, m->u.response.client_iid, 8);
		memcpy(out + 52, m->u.response.client_tun, 16);
		memcpy(out + 68, m->u.response.server_tun, 16);
		if (m->u.response.grant_len) {
			out[1] = MT6D_MSG_RESPONSE_V2;
			memcpy(out + MT6D_MSG_RESPONSE_LEN, m->u.response.grant,
			       m->u.response.grant_len);
		}
		break;
	case MT6D_MSG_GRANT:
		memcpy(out + MT6D_MSG_GRANT_HDR, m->u.grant.bytes, m->u.grant.len);
		break;
	case MT6D_MSG_TEARDOWN:
		out[2] = m->u.teardown.reason;
		break;
	case MT6D_MSG_KEEPALIVE:
		mt6d_put_be64(out + 4, m->u.keepalive.time_ms);
		break;
	}
	return (int)len;
}

static int zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int mt6d_msg_decode(struct mt6d_msg *m, const uint8_t *in, size_t len)
{
	if (len < 2)
		return -EMSGSIZE;
	if (in[1] != MT6D_MSG_VERSION &&
	    !(in[0] == MT6D_MSG_RESPONSE && in[1] == MT6D_MSG_RESPONSE_V2))
		return -EPROTONOSUPPORT;
	memset(m, 0, sizeof(*m));
	m->type = in[0];
	switch (in[0]) {
	case MT6D_MSG_REQUEST:
		if (len != MT6D_MSG_REQUEST_LEN)
			return -EMSGSIZE;
		if (!zero(in + 2, 2))
			return -EBADMSG;
		m->u.request.request_id = mt6d_get_be64(in + 4);
		memcpy(m->u.request.client_prefix, in + 12, MT6D_PREFIX_LEN);
		m->u.request.time_ms = mt6d_get_be64(in + 20);
		return 0;
	case MT6D_MSG_RESPONSE:
		if (in[1] == MT6D_MSG_RESPONSE_V2) {
			if (len <= MT6D_MSG_RESPONSE_LEN ||
			    !grant_ok(in + MT6D_MSG_RESPONSE_LEN, len - MT6D_MSG_RESPONSE_LEN))
				return -EMSGSIZE;
			m->u.response.grant_len = (uint16_t)(len - MT6D_MSG_RESPONSE_LEN);
			memcpy(m->u.response.grant, in + MT6D_MSG_RESPONSE_LEN,
			       m->u.response.grant_len);
		} else if (len != MT6D_MSG_RESPONSE_LEN) {
			return -EMSGSIZE;
		}
		if (in[2] != 0 || in[3] > 128)
			return -EBADMSG;
		m->u.response.tun_prefix_len = in[3];
		m->u.response.request_id = mt6d_get_be64(in + 4);
		m->u.response.rot_ms = mt6d_get_be32(in + 12);
		m->u.response.idle_timeout_s = mt6d_get_be32(in + 16);
		if (m->u.response.rot_ms == 0)
			return -EBADMSG;
		memcpy(m->u.response.session_key, in + 20, 16);
		memcpy(m->u.response.server_iid, in + 36, 8);
		memcpy(m->u.response.client_iid, in + 44, 8);
		memcpy(m->u.response.client_tun, in + 52, 16);
		memcpy(m->u.response.server_tun, in + 68, 16);
		return 0;
	case MT6D_MSG_TEARDOWN:
		if (len != MT6D_MSG_TEARDOWN_LEN)
			return -EMSGSIZE;
		if (in[3] != 0 || in[2] > MT6D_TEARDOWN_REPLACED)
			return -EBADMSG;
		m->u.teardown.reason = in[2];
		return 0;
	case MT6D_MSG_KEEPALIVE:
		if (len != MT6D_MSG_KEEPALIVE_LEN)
			return -EMSGSIZE;
		if (!zero(in + 2, 2))
			return -EBADMSG;
		m->u.keepalive.time_ms = mt6d_get_be64(in + 4);
		return 0;
	case MT6D_MSG_GRANT:
		if (len <= MT6D_MSG_GRANT_HDR ||
		    !grant_ok(in + MT6D_MSG_GRANT_HDR, len - MT6D_MSG_GRANT_HDR))
			return -EMSGSIZE;
		if (!zero(in + 2, 2))
			return -EBADMSG;
		m->u.grant.len = (uint16_t)(len - MT6D_MSG_GRANT_HDR);
		memcpy(m->u.grant.bytes, in + MT6D_MSG_GRANT_HDR, m->u.grant.len);
		return 0;
	}
	return -EBADMSG;
}

int mt6d_msg_wrap(uint8_t *out, size_t cap, const uint8_t src[static 16],
                  const uint8_t dst[static 16], const uint8_t *msg, size_t len)
{
	if (len > 65535 || cap < 40 + len)
		return -EMSGSIZE;
	memset(out, 0, 8);
	out[0] = 0x60;
	mt6d_put_be16(out + 4, (uint16_t)len);
	out[6] = MT6D_NH_CONTROL;
	out[7] = 64;
	memcpy(out + 8, src, 16);
	memcpy(out + 24, dst, 16);
	memmove(out + 40, msg, len);
	return (int)(40 + len);
}

int mt6d_msg_unwrap(const uint8_t *pkt, size_t len, const uint8_t **msg, uint8_t src[static 16],
                    uint8_t dst[static 16])
{
	if (len < 40 || pkt[0] >> 4 != 6 || mt6d_get_be16(pkt + 4) != len - 40)
		return -EBADMSG;
	if (pkt[6] != MT6D_NH_CONTROL)
		return -ENOENT;
	memcpy(src, pkt + 8, 16);
	memcpy(dst, pkt + 24, 16);
	*msg = pkt + 40;
	return (int)(len - 40);
}

void mt6d_intro_pair_key(uint8_t out[static MT6D_INTRO_KEY_LEN],
                         const uint8_t s[static MT6D_KEY_LEN],
                         const uint8_t k[static MT6D_INTRO_KEY_LEN])
{
	crypto_hash_sha256_state st;
	uint8_t h[32];

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)intro_label, sizeof(intro_label) - 1);
	crypto_hash_sha256_update(&st, s, MT6D_KEY_LEN);
	crypto_hash_sha256_update(&st, k, MT6D_INTRO_KEY_LEN);
	crypto_hash_sha256_final(&st, h);
	memcpy(out, h, MT6D_INTRO_KEY_LEN);
	sodium_memzero(h, sizeof(h));
	sodium_memzero(&st, sizeof(st));
}

/* ---- introduction table ---- */

struct ientry {
	uint8_t iid[MT6D_IID_LEN];
	uint32_t client; /* index + 1; 0 marks an empty entry */
};

struct islot {
	uint64_t slot;
	int valid;
	struct ientry *e;
};

struct mt6d_intro_table {
	uint8_t (*seeds)[MT6D_IID_LEN];
	size_t n, cap; /* cap: entries per slot table, a power of two >= 2n */
	uint8_t k[MT6D_INTRO_KEY_LEN];
	struct islot s[3];
	uint64_t center;
};

struct mt6d_intro_table *mt6d_intro_table_new(void)
{
	return calloc(1, sizeof(struct mt6d_intro_table));
}

static void slots_free(struct mt6d_intro_table *t)
{
	for (int i = 0; i < 3; i++) {
		free(t->s[i].e);
		t->s[i].e = NULL;
		t->s[i].valid = 0;
	}
}

void mt6d_intro_table_free(struct mt6d_intro_table *t)
{
	if (!t)
		return;
	slots_free(t);
	free(t->seeds);
	sodium_memzero(t, sizeof(*t));
	free(t);
}

static size_t bucket(const uint8_t iid[MT6D_IID_LEN], size_t cap)
{
	return (size_t)(mt6d_get_be64(iid) & (cap - 1));
}

static void fill(struct mt6d_intro_table *t, struct islot *sl, uint64_t slot)
{
	static const uint8_t zero_prefix[MT6D_PREFIX_LEN];

	memset(sl->e, 0, t->cap * sizeof(*sl->e));
	sl->slot = slot;
	sl->valid = 1;
	for (size_t c = 0; c < t->n; c++) {
		uint8_t addr[16];
		size_t b;

		mt6d_slot_address(addr, NULL, zero_prefix, t->seeds[c], t->k, slot);
		b = bucket(addr + 8, t->cap);
		while (sl->e[b].client)
			b = (b + 1) & (t->cap - 1);
		memcpy(sl->e[b].iid, addr + 8, MT6D_IID_LEN);
		sl->e[b].client = (uint32_t)c + 1;
	}
}

int mt6d_intro_table_reset(struct mt6d_intro_table *t, const uint8_t (*seed_iids)[MT6D_IID_LEN],
                           size_t n, const uint8_t k[static MT6D_INTRO_KEY_LEN], uint64_t center)
{
	size_t cap = 16;

	if (!t || n > UINT32_MAX - 1 || (n && !seed_iids))
		return -EINVAL;
	while (cap < 2 * n)
		cap *= 2;
	slots_free(t);
	free(t->seeds);
	t->seeds = NULL;
	t->n = 0;
	if (n) {
		t->seeds = malloc(n * MT6D_IID_LEN);
		if (!t->seeds)
			return -ENOMEM;
		memcpy(t->seeds, seed_iids, n * MT6D_IID_LEN);
	}
	t->n = n;
	t->cap = cap;
	memcpy(t->k, k, MT6D_INTRO_KEY_LEN);
	for (int i = 0; i < 3; i++) {
		t->s[i].e = calloc(cap, sizeof(struct ientry));
		if (!t->s[i].e) {
			slots_free(t);
			return -ENOMEM;
		}
	}
	t->center = center;
	for (int d = -1; d <= 1; d++)
		fill(t, &t->s[(center + (uint64_t)(3 + d)) % 3], center + (uint64_t)d);
	return 0;
}

int mt6d_intro_table_advance(struct mt6d_intro_table *t, uint64_t center)
{
	if (!t || !t->s[0].e)
		return -EINVAL;
	for (int d = -1; d <= 1; d++) {
		uint64_t slot = center + (uint64_t)d;
		struct islot *sl = &t->s[slot % 3];
		if (!sl->valid || sl->slot != slot)
			fill(t, sl, slot);
	}
	t->center = center;
	return 0;
}

int mt6d_intro_table_find(const struct mt6d_intro_table *t, const uint8_t iid[static MT6D_IID_LEN],
                          size_t *client, uint64_t *slot)
{
	if (!t || !t->s[0].e)
		return -ENOENT;
	for (int i = 0; i < 3; i++) {
		const struct islot *sl = &t->s[i];
		size_t b = bucket(iid, t->cap);

		if (!sl->valid || sl->slot + 1 < t->center || sl->slot > t->center + 1)
			continue;
		for (; sl->e[b].client; b = (b + 1) & (t->cap - 1))
			if (!memcmp(sl->e[b].iid, iid, MT6D_IID_LEN)) {
				*client = sl->e[b].client - 1;
				*slot = sl->slot;
				return 0;
			}
	}
	return -ENOENT;
}
