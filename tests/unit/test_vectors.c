/* SPDX-License-Identifier: MIT */
/*
 * Every ```vector block of docs/protocol.md, recomputed with libmt6d. The
 * blocks come from an independent Python implementation; this test fails on
 * any block whose kind it does not know, so no vector goes unchecked.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/internal.h"
#include "mt6d/rebind.h"
#include "mt6d/session.h"

#define MAX_FIELDS 16

struct vec {
	char name[64];
	int n;
	char key[MAX_FIELDS][32];
	char val[MAX_FIELDS][2048];
};

static const char *get(const struct vec *v, const char *key)
{
	for (int i = 0; i < v->n; i++)
		if (!strcmp(v->key[i], key))
			return v->val[i];
	fail_msg("vector `%s' has no field `%s'", v->name, key);
	return NULL;
}

static const char *opt(const struct vec *v, const char *key)
{
	for (int i = 0; i < v->n; i++)
		if (!strcmp(v->key[i], key))
			return v->val[i];
	return NULL;
}

static void hex(uint8_t *out, size_t len, const struct vec *v, const char *key)
{
	const char *s = get(v, key);
	if (mt6d_hex_decode(out, len, s) != 0)
		fail_msg("vector `%s' field `%s' is not %zu bytes of hex", v->name, key, len);
}

static uint64_t num(const struct vec *v, const char *key)
{
	return strtoull(get(v, key), NULL, 10);
}

/* Parse "a,b,c" into up to max integers; returns the count. */
static size_t list(unsigned *out, size_t max, const char *s)
{
	size_t n = 0;
	while (*s && n < max) {
		char *end;
		out[n++] = (unsigned)strtoul(s, &end, 10);
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

static void check_key(const struct vec *v)
{
	uint8_t priv[32], k[32], pub[32];
	char text[MT6D_KEY_B64_LEN + 1];

	hex(priv, 32, v, "private");
	assert_int_equal(mt6d_key_from_base64(k, get(v, "private_base64")), 0);
	assert_memory_equal(k, priv, 32);
	mt6d_key_to_base64(text, priv);
	assert_string_equal(text, get(v, "private_base64"));
	assert_int_equal(mt6d_key_public(pub, priv), 0);
	mt6d_key_to_base64(text, pub);
	assert_string_equal(text, get(v, "public_base64"));
}

static void check_shared_secret(const struct vec *v)
{
	uint8_t priv[32], pub[32], s[32], want[32];

	hex(priv, 32, v, "private");
	hex(pub, 32, v, "peer_public");
	if (!strcmp(get(v, "secret"), "error")) {
		assert_int_equal(mt6d_shared_secret(s, priv, pub), -EINVAL);
		return;
	}
	hex(want, 32, v, "secret");
	assert_int_equal(mt6d_shared_secret(s, priv, pub), 0);
	assert_memory_equal(s, want, 32);
}

static void check_window(const struct vec *v)
{
	assert_int_equal(mt6d_window(num(v, "time"), (uint32_t)num(v, "period")), num(v, "window"));
}

static void check_descriptor(const struct vec *v)
{
	uint8_t s[32], d[20], want[20];

	hex(s, 32, v, "secret");
	hex(want, 20, v, "descriptor");
	mt6d_descriptor(d, s, num(v, "window"));
	assert_memory_equal(d, want, 20);
}

static void check_bep44(const struct vec *v)
{
	uint8_t s[32], seed[32], pk[32], sk[64], target[20], want[32];

	hex(s, 32, v, "secret");
	mt6d_bep44_seed(seed, s, num(v, "window"));
	hex(want, 32, v, "seed");
	assert_memory_equal(seed, want, 32);
	mt6d_bep44_keypair(pk, sk, s, num(v, "window"));
	hex(want, 32, v, "public_key");
	assert_memory_equal(pk, want, 32);
	mt6d_bep44_target(target, pk);
	hex(want, 20, v, "target");
	assert_memory_equal(target, want, 20);
}

static void check_seed_iid(const struct vec *v)
{
	uint8_t s[32], k[16], iid[8], want[8];

	hex(s, 32, v, "secret");
	hex(k, 16, v, "intro_key");
	hex(want, 8, v, "iid");
	mt6d_client_seed_iid(iid, s, k);
	assert_memory_equal(iid, want, 8);
}

static void check_slot(const struct vec *v)
{
	assert_int_equal(mt6d_slot(num(v, "time_ms"), (uint32_t)num(v, "rot_ms")), num(v, "slot"));
}

static void check_address(const struct vec *v)
{
	uint8_t prefix[8], iid[8], ks[16], addr[16], want[16];
	uint16_t port = 0;

	hex(prefix, 8, v, "prefix");
	hex(iid, 8, v, "iid");
	hex(ks, 16, v, "session_key");
	hex(want, 16, v, "address");
	mt6d_slot_address(addr, &port, prefix, iid, ks, num(v, "slot"));
	assert_memory_equal(addr, want, 16);
	assert_int_equal(port, num(v, "port"));
}

/* Version 1 ("config"), or version 2 with the underlay fields ("config-v2"). */
static void config_vector(const struct vec *v, int version)
{
	struct mt6d_config c = {.version = 0xee}, d;
	uint8_t pt[MT6D_CONFIG_MAX], want[MT6D_CONFIG_MAX];
	size_t len = version == 2 ? MT6D_CONFIG_V2_LEN : MT6D_CONFIG_LEN;

	c.window = num(v, "window");
	c.rot_ms = (uint32_t)num(v, "rot_ms");
	hex(c.seed_addr, 16, v, "seed_address");
	hex(c.intro_key, 16, v, "intro_key");
	if (version == 2) {
		hex(c.underlay_addr, 16, v, "underlay_address");
		c.underlay_port = (uint16_t)num(v, "underlay_port");
		assert_int_not_equal(c.underlay_port, 0);
	}
	hex(want, len, v, "plaintext");
	assert_int_equal(mt6d_config_encode(pt, &c), len);
	assert_memory_equal(pt, want, len);
	assert_int_equal(mt6d_config_decode(&d, want, len), 0);
	assert_int_equal(d.version, version);
	assert_int_equal(d.window, c.window);
	assert_int_equal(d.rot_ms, c.rot_ms);
	assert_memory_equal(d.seed_addr, c.seed_addr, 16);
	assert_memory_equal(d.intro_key, c.intro_key, 16);
	assert_memory_equal(d.underlay_addr, c.underlay_addr, 16);
	assert_int_equal(d.underlay_port, c.underlay_port);
}

static void check_config(const struct vec *v)
{
	config_vector(v, 1);
}

static void check_config_v2(const struct vec *v)
{
	config_vector(v, 2);
}

static void seal_vector(const struct vec *v, int version)
{
	uint8_t spriv[32], cpub[32], cpriv[32], spub[32], nonce[24], boxkey[32];
	uint8_t pt[MT6D_CONFIG_MAX], m[MT6D_SEALED_MAX], want[MT6D_SEALED_MAX];
	uint8_t enc[MT6D_CONFIG_MAX];
	size_t ptlen = version == 2 ? MT6D_CONFIG_V2_LEN : MT6D_CONFIG_LEN;
	size_t mlen = version == 2 ? MT6D_SEALED_V2_LEN : MT6D_SEALED_LEN;
	struct mt6d_config c;

	hex(spriv, 32, v, "server_private");
	hex(cpub, 32, v, "client_public");
	hex(cpriv, 32, v, "client_private");
	hex(spub, 32, v, "server_public");
	hex(nonce, 24, v, "nonce");
	hex(pt, ptlen, v, "plaintext");
	hex(want, mlen, v, "message");
	assert_int_equal(mt6d_config_decode(&c, pt, ptlen), 0);
	assert_int_equal(c.version, version);
	assert_int_equal(mt6d_box_key(boxkey, spriv, cpub), 0);
	assert_int_equal(mt6d_config_seal_nonce(m, &c, boxkey, nonce), mlen);
	assert_memory_equal(m, want, mlen);
	memset(&c, 0, sizeof(c));
	assert_int_equal(mt6d_config_open(&c, want, mlen, spub, cpriv), 0);
	assert_int_equal(mt6d_config_encode(enc, &c), ptlen);
	assert_memory_equal(enc, pt, ptlen);
}

static void check_seal(const struct vec *v)
{
	seal_vector(v, 1);
}

static void check_seal_v2(const struct vec *v)
{
	seal_vector(v, 2);
}

struct collect {
	uint8_t msg[MT6D_STUFF_MAX];
	size_t len;
	int calls;
};

static int collect_cb(const struct mt6d_endpoint *ip, const uint8_t *msg, size_t len, void *arg)
{
	struct collect *c = arg;
	memcpy(c->msg, msg, len);
	c->len = len;
	c->calls++;
	return 0;
}

static void check_stuff(const struct vec *v)
{
	uint8_t m[MT6D_STUFF_MAX], highs[MT6D_STUFF_MAX];
	unsigned h[MT6D_STUFF_MAX], want[MT6D_STUFF_MAX];
	uint16_t ports[MT6D_STUFF_MAX];
	struct mt6d_endpoint peers[MT6D_STUFF_MAX] = {0};
	struct collect c = {0};
	size_t len = strlen(get(v, "message")) / 2, nh, np;

	hex(m, len, v, "message");
	nh = list(h, MT6D_STUFF_MAX, get(v, "highs"));
	np = list(want, MT6D_STUFF_MAX, get(v, "ports"));
	assert_int_equal(nh, len);
	assert_int_equal(np, len);
	for (size_t i = 0; i < len; i++)
		highs[i] = (uint8_t)h[i];
	assert_int_equal(mt6d_stuff_encode_with(ports, m, len, highs), 0);
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(ports[i], want[i]);
		/* Decode from the announced ports, in reverse to show order does not matter. */
		mt6d_endpoint_set(&peers[len - 1 - i], (const uint8_t *)"\0\0\0\0", 4, ports[i]);
	}
	assert_int_equal(mt6d_stuff_decode(peers, len, collect_cb, &c), 1);
	assert_int_equal(c.len, len);
	assert_memory_equal(c.msg, m, len);
}

static void check_intro_key(const struct vec *v)
{
	uint8_t s[32], k[16], want[16], got[16];

	hex(s, 32, v, "secret");
	hex(k, 16, v, "intro_key");
	hex(want, 16, v, "pair_key");
	mt6d_intro_pair_key(got, s, k);
	assert_memory_equal(got, want, 16);
}

static void check_msg(const struct vec *v)
{
	static const char *names[] = {"request", "response", "teardown", "keepalive", "grant"};
	uint8_t in[MT6D_MSG_MAX_LEN], out[MT6D_MSG_MAX_LEN];
	size_t len = strlen(get(v, "encoded")) / 2;
	struct mt6d_msg m;

	assert_true(len <= sizeof(in));
	hex(in, len, v, "encoded");
	assert_int_equal(mt6d_msg_decode(&m, in, len), 0);
	assert_true(m.type < 5);
	assert_string_equal(names[m.type], get(v, "type"));
	switch (m.type) {
	case MT6D_MSG_REQUEST: {
		uint8_t p[8];
		assert_true(m.u.request.request_id == strtoull(get(v, "request_id"), NULL, 10));
		assert_true(m.u.request.time_ms == num(v, "time_ms"));
		hex(p, 8, v, "client_prefix");
		assert_memory_equal(m.u.request.client_prefix, p, 8);
		break;
	}
	case MT6D_MSG_RESPONSE: {
		uint8_t b[16];
		assert_true(m.u.response.request_id == num(v, "request_id"));
		assert_int_equal(m.u.response.tun_prefix_len, num(v, "tun_prefix_len"));
		assert_int_equal(m.u.response.rot_ms, num(v, "rot_ms"));
		assert_int_equal(m.u.response.idle_timeout_s, num(v, "idle_timeout_s"));
		hex(b, 16, v, "session_key");
		assert_memory_equal(m.u.response.session_key, b, 16);
		hex(b, 8, v, "server_iid");
		assert_memory_equal(m.u.response.server_iid, b, 8);
		hex(b, 8, v, "client_iid");
		assert_memory_equal(m.u.response.client_iid, b, 8);
		hex(b, 16, v, "client_tun");
		assert_memory_equal(m.u.response.client_tun, b, 16);
		hex(b, 16, v, "server_tun");
		assert_memory_equal(m.u.response.server_tun, b, 16);
		if (opt(v, "grant")) {
			uint8_t g[MT6D_REBIND_GRANT_MAX];
			size_t gl = strlen(get(v, "grant")) / 2;
			assert_int_equal(m.u.response.grant_len, gl);
			hex(g, gl, v, "grant");
			assert_memory_equal(m.u.response.grant, g, gl);
		} else {
			assert_int_equal(m.u.response.grant_len, 0);
		}
		break;
	}
	case MT6D_MSG_GRANT: {
		uint8_t g[MT6D_REBIND_GRANT_MAX];
		size_t gl = strlen(get(v, "grant")) / 2;
		struct mt6d_rebind_grant gr;
		assert_int_equal(m.u.grant.len, gl);
		hex(g, gl, v, "grant");
		assert_memory_equal(m.u.grant.bytes, g, gl);
		assert_int_equal(mt6d_rebind_grant_decode(&gr, m.u.grant.bytes, m.u.grant.len), 0);
		break;
	}
	case MT6D_MSG_TEARDOWN:
		assert_int_equal(m.u.teardown.reason, num(v, "reason"));
		break;
	case MT6D_MSG_KEEPALIVE:
		assert_true(m.u.keepalive.time_ms == num(v, "time_ms"));
		break;
	}
	assert_int_equal(mt6d_msg_encode(out, sizeof(out), &m), (int)len);
	assert_memory_equal(out, in, len);
}

static void check_rebind_tree_key(const struct vec *v)
{
	uint8_t master[32], want[32], got[32];

	hex(master, 32, v, "master");
	hex(want, 32, v, "epoch_key");
	mt6d_rebind_epoch_key(got, master, num(v, "epoch"));
	assert_memory_equal(got, want, 32);
	hex(want, 32, v, "key");
	assert_int_equal(mt6d_rebind_tree_key(got, master, num(v, "epoch"),
	                                      (unsigned)num(v, "level"),
	                                      (uint32_t)num(v, "prefix")),
	                 0);
	assert_memory_equal(got, want, 32);
	/* A prefix longer than level + 1 bits is refused. */
	assert_int_equal(mt6d_rebind_tree_key(got, master, 0, (unsigned)num(v, "level"),
	                                      2u << num(v, "level")),
	                 -EINVAL);
}

static void check_rebind_conn_key(const struct vec *v)
{
	uint8_t master[32], want[32], got[32];

	hex(master, 32, v, "master");
	hex(want, 32, v, "key");
	mt6d_rebind_conn_key(got, master, (uint32_t)num(v, "conn"), (uint32_t)num(v, "gen"));
	assert_memory_equal(got, want, 32);
}

/* The grant a client holds, built from the master as the server does. */
static void vector_grant(struct mt6d_rebind_grant *g, const struct vec *v, const uint8_t *master)
{
	memset(g, 0, sizeof(*g));
	g->levels = (uint8_t)num(v, "levels");
	g->conn = (uint32_t)num(v, "conn");
	g->epoch = num(v, "epoch");
	mt6d_rebind_conn_key(g->conn_key, master, g->conn, (uint32_t)num(v, "gen"));
	for (unsigned j = 0; j < g->levels; j++)
		assert_int_equal(mt6d_rebind_tree_key(g->tree_keys[j], master, g->epoch, j,
		                                      g->conn >> (g->levels - 1 - j)),
		                 0);
}

static void check_rebind_grant(const struct vec *v)
{
	uint8_t master[32], want[MT6D_REBIND_GRANT_MAX], got[MT6D_REBIND_GRANT_MAX];
	size_t len = strlen(get(v, "grant")) / 2;
	struct mt6d_rebind_grant g, d;

	assert_true(len <= sizeof(want));
	hex(master, 32, v, "master");
	hex(want, len, v, "grant");
	vector_grant(&g, v, master);
	assert_int_equal(mt6d_rebind_grant_encode(got, sizeof(got), &g), (int)len);
	assert_memory_equal(got, want, len);
	assert_int_equal(mt6d_rebind_grant_decode(&d, want, len), 0);
	assert_memory_equal(&d, &g, sizeof(g));
}

static void check_rebind_claim(const struct vec *v)
{
	uint8_t master[32], nonce[24], want[MT6D_REBIND_CLAIM_MAX], got[MT6D_REBIND_CLAIM_MAX];
	size_t len = strlen(get(v, "claim")) / 2;
	struct mt6d_rebind_params p = {.epoch_ms = (uint32_t)num(v, "epoch_ms")};
	struct mt6d_rebind_grant g, tmp;
	struct mt6d_rebind_loc loc;
	struct mt6d_rebind_result res;
	struct mt6d_rebind_server *s;
	uint64_t t = num(v, "time_ms");

	assert_true(len <= sizeof(want));
	hex(master, 32, v, "master");
	hex(nonce, 24, v, "nonce");
	hex(want, len, v, "claim");
	hex(loc.addr, 16, v, "address");
	loc.port = (uint16_t)num(v, "port");
	vector_grant(&g, v, master);
	assert_int_equal(mt6d_rebind_claim_nonce(got, sizeof(got), &g, t, &loc, nonce), (int)len);
	assert_memory_equal(got, want, len);

	/* The server, given the same master and the connection at the same
	 * generation (odd: assigned), accepts it. */
	p.levels = g.levels;
	s = mt6d_rebind_server_new(&p, master);
	assert_non_null(s);
	for (uint32_t gen = 1; gen < num(v, "gen"); gen += 2) {
		assert_int_equal(mt6d_rebind_server_assign_at(s, g.conn, t, &tmp), 0);
		assert_int_equal(mt6d_rebind_server_release(s, g.conn), 0);
	}
	assert_int_equal(mt6d_rebind_server_assign_at(s, g.conn, t, &tmp), 0);
	assert_memory_equal(tmp.conn_key, g.conn_key, 32);
	assert_int_equal(mt6d_rebind_server_verify(s, want, len, &loc, t, &res), 0);
	assert_int_equal(res.conn, g.conn);
	assert_true(res.epoch == g.epoch);
	mt6d_rebind_server_free(s);
}

static void check_rebind_reply(const struct vec *v)
{
	uint8_t trig[256], want[MT6D_REBIND_REPLY_LEN], got[64], echo[16];
	size_t len = strlen(get(v, "trigger")) / 2;
	struct mt6d_rebind_loc loc, back;
	int n;

	assert_true(len <= sizeof(trig));
	hex(trig, len, v, "trigger");
	hex(loc.addr, 16, v, "address");
	loc.port = (uint16_t)num(v, "port");
	n = mt6d_rebind_reply_encode(got, sizeof(got), trig, len, &loc);
	if (!strcmp(get(v, "reply"), "none")) {
		assert_int_equal(n, 0);
		return;
	}
	hex(want, sizeof(want), v, "reply");
	assert_int_equal(n, MT6D_REBIND_REPLY_LEN);
	assert_memory_equal(got, want, sizeof(want));
	assert_int_equal(mt6d_rebind_reply_decode(want, sizeof(want), echo, &back), 0);
	assert_memory_equal(echo, trig, 16);
	assert_memory_equal(back.addr, loc.addr, 16);
	assert_int_equal(back.port, loc.port);
}

static const struct {
	const char *kind;
	void (*check)(const struct vec *);
} kinds[] = {
        {"key", check_key},
        {"shared-secret", check_shared_secret},
        {"window", check_window},
        {"descriptor", check_descriptor},
        {"bep44", check_bep44},
        {"seed-iid", check_seed_iid},
        {"slot", check_slot},
        {"address", check_address},
        {"config", check_config},
        {"seal", check_seal},
        {"config-v2", check_config_v2},
        {"seal-v2", check_seal_v2},
        {"stuff", check_stuff},
        {"intro-key", check_intro_key},
        {"msg", check_msg},
        {"rebind-tree-key", check_rebind_tree_key},
        {"rebind-conn-key", check_rebind_conn_key},
        {"rebind-grant", check_rebind_grant},
        {"rebind-claim", check_rebind_claim},
        {"rebind-reply", check_rebind_reply},
};

static void test_protocol_md(void **state)
{
	FILE *f = fopen(MT6D_SOURCE_DIR "/docs/protocol.md", "r");
	char line[4096];
	struct vec v;
	int in = 0, blocks = 0, counts[sizeof(kinds) / sizeof(kinds[0])] = {0};

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!in) {
			if (!strcmp(line, "```vector")) {
				in = 1;
				memset(&v, 0, sizeof(v));
			}
			continue;
		}
		if (!strcmp(line, "```")) {
			size_t k, klen;
			in = 0;
			blocks++;
			for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
				klen = strlen(kinds[k].kind);
				if (!strncmp(v.name, kinds[k].kind, klen) && v.name[klen] == ' ')
					break;
			}
			if (k == sizeof(kinds) / sizeof(kinds[0]))
				fail_msg("vector `%s' has a kind this test does not check", v.name);
			kinds[k].check(&v);
			counts[k]++;
			continue;
		}
		char *colon = strstr(line, ": ");
		assert_non_null(colon);
		*colon = '\0';
		if (!strcmp(line, "name")) {
			assert_true(strlen(colon + 2) < sizeof(v.name));
			memcpy(v.name, colon + 2, strlen(colon + 2) + 1);
		} else {
			assert_true(v.n < MAX_FIELDS);
			assert_true(strlen(line) < sizeof(v.key[0]));
			assert_true(strlen(colon + 2) < sizeof(v.val[0]));
			memcpy(v.key[v.n], line, strlen(line) + 1);
			memcpy(v.val[v.n], colon + 2, strlen(colon + 2) + 1);
			v.n++;
		}
	}
	fclose(f);
	assert_false(in);
	/* Every formula has at least two vectors. */
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (counts[k] < 2)
			fail_msg("docs/protocol.md has %d vectors of kind `%s'", counts[k],
			         kinds[k].kind);
	print_message("checked %d vectors\n", blocks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_protocol_md),
	};
	if (mt6d_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
