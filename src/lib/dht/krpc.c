/* SPDX-License-Identifier: MIT */
/*
 * KRPC parse and encode. The parser accepts only what a node can act on:
 * wrong lengths or types of the fields it knows are errors, fields it does
 * not know are ignored (BEP 5 asks for forward compatibility). The encoder
 * writes keys in the sorted order bencoding requires; the order of the
 * calls below is that order.
 */
#include <errno.h>
#include <string.h>

#include "dht/bencode.h"
#include "dht/krpc.h"

static const char *const method_names[] = {
        [KRPC_PING] = "ping",
        [KRPC_FIND_NODE] = "find_node",
        [KRPC_GET_PEERS] = "get_peers",
        [KRPC_ANNOUNCE_PEER] = "announce_peer",
        [KRPC_GET] = "get",
        [KRPC_PUT] = "put",
};

const char *krpc_method_name(enum krpc_method method)
{
	if (method <= KRPC_UNKNOWN || method > KRPC_PUT)
		return "unknown";
	return method_names[method];
}

static const uint8_t *str_field(const struct benc_tok *toks, int d, const char *key, size_t want,
                                size_t *len, bool *bad)
{
	int i = benc_dict_get(toks, d, key);

	if (i < 0)
		return NULL;
	if (toks[i].type != BENC_STR || (want && toks[i].slen != want)) {
		*bad = true;
		return NULL;
	}
	if (len)
		*len = toks[i].slen;
	return toks[i].s;
}

static int int_field(const struct benc_tok *toks, int d, const char *key, int64_t *v, bool *has,
                     bool *bad)
{
	int i = benc_dict_get(toks, d, key);

	if (i < 0)
		return 0;
	if (toks[i].type != BENC_INT) {
		*bad = true;
		return 0;
	}
	*v = toks[i].i;
	*has = true;
	return 0;
}

/* The arguments or results dictionary: the same keys in both. */
static int parse_body(struct krpc_msg *m, const struct benc_tok *toks, int d, const uint8_t *buf)
{
	bool bad = false, has;
	int64_t iv;
	int i;

	m->id = str_field(toks, d, "id", KRPC_ID_LEN, NULL, &bad);
	m->target = str_field(toks, d, "target", KRPC_ID_LEN, NULL, &bad);
	m->info_hash = str_field(toks, d, "info_hash", KRPC_ID_LEN, NULL, &bad);
	m->token = str_field(toks, d, "token", 0, &m->tokenlen, &bad);
	if (m->token && (m->tokenlen == 0 || m->tokenlen > KRPC_MAX_TOKEN))
		bad = true;
	int_field(toks, d, "port", &m->port, &m->has_port, &bad);
	has = false;
	iv = 0;
	int_field(toks, d, "implied_port", &iv, &has, &bad);
	m->implied_port = has && iv != 0;
	m->nodes = str_field(toks, d, "nodes", 0, &m->nodes_len, &bad);
	if (m->nodes && m->nodes_len % KRPC_NODE4_LEN)
		bad = true;
	m->nodes6 = str_field(toks, d, "nodes6", 0, &m->nodes6_len, &bad);
	if (m->nodes6 && m->nodes6_len % KRPC_NODE6_LEN)
		bad = true;
	i = benc_dict_get(toks, d, "values");
	if (i >= 0) {
		if (toks[i].type != BENC_LIST)
			return -EBADMSG;
		for (uint32_t j = (uint32_t)i + 1; j < toks[i].next; j = toks[j].next) {
			if (toks[j].type != BENC_STR || (toks[j].slen != 6 && toks[j].slen != 18))
				continue; /* one bad peer does not spoil the others */
			if (m->nvalues == KRPC_MAX_VALUES)
				break;
			m->values[m->nvalues] = toks[j].s;
			m->values_len[m->nvalues++] = (uint8_t)toks[j].slen;
		}
	}
	i = benc_dict_get(toks, d, "want");
	if (i >= 0) {
		if (toks[i].type != BENC_LIST)
			return -EBADMSG;
		for (uint32_t j = (uint32_t)i + 1; j < toks[i].next; j = toks[j].next) {
			if (toks[j].type != BENC_STR || toks[j].slen != 2)
				continue;
			if (!memcmp(toks[j].s, "n4", 2))
				m->want |= KRPC_WANT4;
			else if (!memcmp(toks[j].s, "n6", 2))
				m->want |= KRPC_WANT6;
		}
	}
	m->k = str_field(toks, d, "k", 32, NULL, &bad);
	m->sig = str_field(toks, d, "sig", 64, NULL, &bad);
	m->salt = str_field(toks, d, "salt", 0, &m->saltlen, &bad);
	if (m->salt && m->saltlen > KRPC_MAX_SALT)
		bad = true;
	int_field(toks, d, "seq", &m->seq, &m->has_seq, &bad);
	int_field(toks, d, "cas", &m->cas, &m->has_cas, &bad);
	if ((m->has_seq && m->seq < 0) || (m->has_cas && m->cas < 0))
		bad = true;
	i = benc_dict_get(toks, d, "v");
	if (i >= 0) {
		m->v = buf + toks[i].off;
		m->vlen = toks[i].len;
		if (m->vlen > KRPC_MAX_V)
			bad = true;
	}
	if (bad || !m->id)
		return -EBADMSG;
	return 0;
}

static const struct {
	const char *name;
	enum krpc_method method;
} methods[] = {
        {"ping", KRPC_PING},
        {"find_node", KRPC_FIND_NODE},
        {"get_peers", KRPC_GET_PEERS},
        {"announce_peer", KRPC_ANNOUNCE_PEER},
        {"get", KRPC_GET},
        {"put", KRPC_PUT},
};

static int check_query(const struct krpc_msg *m)
{
	switch (m->method) {
	case KRPC_FIND_NODE:
		return m->target ? 0 : -EBADMSG;
	case KRPC_GET_PEERS:
		return m->info_hash ? 0 : -EBADMSG;
	case KRPC_ANNOUNCE_PEER:
		return m->info_hash && m->token && (m->has_port || m->implied_port) ? 0 : -EBADMSG;
	case KRPC_GET:
		return m->target ? 0 : -EBADMSG;
	case KRPC_PUT:
		if (!m->token || !m->v)
			return -EBADMSG;
		/* mutable puts carry all three; immutable none */
		if ((m->k != NULL) != (m->sig != NULL) || (m->k != NULL) != m->has_seq)
			return -EBADMSG;
		return 0;
	default:
		return 0;
	}
}

int krpc_parse(struct krpc_msg *m, const uint8_t *buf, size_t len)
{
	struct benc_tok toks[KRPC_MAX_TOKS];
	size_t ylen = 1, qlen = 0;
	const uint8_t *y, *q;
	int n, body;
	int64_t ro = 0;

	if (!m || !buf)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	if (len > KRPC_MAX_MSG)
		return -E2BIG;
	n = benc_parse(toks, KRPC_MAX_TOKS, buf, len, 6);
	if (n < 0)
		return n;
	if (toks[0].type != BENC_DICT)
		return -EBADMSG;
	y = benc_dict_str(toks, 0, "y", &ylen);
	m->t = benc_dict_str(toks, 0, "t", &m->tlen);
	if (!y || !m->t || m->tlen > KRPC_MAX_TID)
		return -EBADMSG;
	m->y = y[0];
	m->ver = benc_dict_str(toks, 0, "v", &m->verlen);
	if (benc_dict_int(toks, 0, "ro", &ro) == 0)
		m->ro = ro == 1;
	m->ip = benc_dict_str(toks, 0, "ip", &m->iplen);
	if (m->ip && m->iplen != 6 && m->iplen != 18)
		m->ip = NULL, m->iplen = 0;
	switch (m->y) {
	case KRPC_QUERY:
		q = benc_dict_str(toks, 0, "q", &qlen);
		body = benc_dict_get(toks, 0, "a");
		if (!q || body < 0 || toks[body].type != BENC_DICT)
			return -EBADMSG;
		for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
			if (strlen(methods[i].name) == qlen && !memcmp(methods[i].name, q, qlen))
				m->method = (uint8_t)methods[i].method;
		if (parse_body(m, toks, body, buf) < 0)
			return -EBADMSG;
		return check_query(m);
	case KRPC_RESPONSE:
		body = benc_dict_get(toks, 0, "r");
		if (body < 0 || toks[body].type != BENC_DICT)
			return -EBADMSG;
		return parse_body(m, toks, body, buf);
	case KRPC_ERROR: {
		int e = benc_dict_get(toks, 0, "e");
		if (e < 0 || toks[e].type != BENC_LIST || toks[e].next < (uint32_t)e + 2)
			return -EBADMSG;
		if (toks[e + 1].type != BENC_INT)
			return -EBADMSG;
		m->ecode = toks[e + 1].i;
		if (toks[e + 1].next < toks[e].next && toks[toks[e + 1].next].type == BENC_STR) {
			m->emsg = toks[toks[e + 1].next].s;
			m->emsglen = toks[toks[e + 1].next].slen;
		}
		return 0;
	}
	default:
		return -EBADMSG;
	}
}

static void encode_body(struct benc_buf *b, const struct krpc_msg *m)
{
	benc_dict(b);
	if (m->has_cas) {
		benc_cstr(b, "cas");
		benc_int(b, m->cas);
	}
	if (m->id) {
		benc_cstr(b, "id");
		benc_str(b, m->id, KRPC_ID_LEN);
	}
	if (m->implied_port) {
		benc_cstr(b, "implied_port");
		benc_int(b, 1);
	}
	if (m->info_hash) {
		benc_cstr(b, "info_hash");
		benc_str(b, m->info_hash, KRPC_ID_LEN);
	}
	if (m->k) {
		benc_cstr(b, "k");
		benc_str(b, m->k, 32);
	}
	if (m->nodes) {
		benc_cstr(b, "nodes");
		benc_str(b, m->nodes, m->nodes_len);
	}
	if (m->nodes6) {
		benc_cstr(b, "nodes6");
		benc_str(b, m->nodes6, m->nodes6_len);
	}
	if (m->has_port) {
		benc_cstr(b, "port");
		benc_int(b, m->port);
	}
	if (m->salt && m->saltlen) {
		benc_cstr(b, "salt");
		benc_str(b, m->salt, m->saltlen);
	}
	if (m->has_seq) {
		benc_cstr(b, "seq");
		benc_int(b, m->seq);
	}
	if (m->sig) {
		benc_cstr(b, "sig");
		benc_str(b, m->sig, 64);
	}
	if (m->target) {
		benc_cstr(b, "target");
		benc_str(b, m->target, KRPC_ID_LEN);
	}
	if (m->token) {
		benc_cstr(b, "token");
		benc_str(b, m->token, m->tokenlen);
	}
	if (m->v) {
		benc_cstr(b, "v");
		benc_raw(b, m->v, m->vlen);
	}
	if (m->nvalues) {
		benc_cstr(b, "values");
		benc_list(b);
		for (size_t i = 0; i < m->nvalues; i++)
			benc_str(b, m->values[i], m->values_len[i]);
		benc_end(b);
	}
	if (m->want) {
		benc_cstr(b, "want");
		benc_list(b);
		if (m->want & KRPC_WANT4)
			benc_cstr(b, "n4");
		if (m->want & KRPC_WANT6)
			benc_cstr(b, "n6");
		benc_end(b);
	}
	benc_end(b);
}

int krpc_encode(uint8_t *buf, size_t cap, const struct krpc_msg *m)
{
	struct benc_buf b;
	char y = (char)m->y;

	benc_init(&b, buf, cap);
	benc_dict(&b);
	if (m->y == KRPC_QUERY) {
		benc_cstr(&b, "a");
		encode_body(&b, m);
	}
	if (m->y == KRPC_ERROR) {
		benc_cstr(&b, "e");
		benc_list(&b);
		benc_int(&b, m->ecode);
		benc_str(&b, m->emsg, m->emsglen);
		benc_end(&b);
	}
	if (m->ip) {
		benc_cstr(&b, "ip");
		benc_str(&b, m->ip, m->iplen);
	}
	if (m->y == KRPC_QUERY) {
		benc_cstr(&b, "q");
		benc_cstr(&b, krpc_method_name(m->method));
	}
	if (m->y == KRPC_RESPONSE) {
		benc_cstr(&b, "r");
		encode_body(&b, m);
	}
	if (m->ro) {
		benc_cstr(&b, "ro");
		benc_int(&b, 1);
	}
	benc_cstr(&b, "t");
	benc_str(&b, m->t, m->tlen);
	if (m->ver) {
		benc_cstr(&b, "v");
		benc_str(&b, m->ver, m->verlen);
	}
	benc_cstr(&b, "y");
	benc_str(&b, &y, 1);
	benc_end(&b);
	return b.overflow ? -EMSGSIZE : (int)b.len;
}

void krpc_ep_from_compact(struct mt6d_endpoint *e, const uint8_t *p, size_t len)
{
	mt6d_endpoint_set(e, p, len == 6 ? 4 : 16, (uint16_t)(p[len - 2] << 8 | p[len - 1]));
}

size_t krpc_ep_to_compact(uint8_t *p, const struct mt6d_endpoint *e)
{
	size_t n;
	const uint8_t *ip = mt6d_endpoint_ip(e, &n);

	memcpy(p, ip, n);
	p[n] = (uint8_t)(e->port >> 8);
	p[n + 1] = (uint8_t)e->port;
	return n + 2;
}
