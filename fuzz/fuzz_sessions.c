/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the session server and client (src/lib/session/server.c, client.c)
 * behind their AEAD. Random bytes never authenticate, so the input is the
 * plaintext: the harness seals it with the key the receiver expects and
 * delivers it, as a peer holding that key could. First byte:
 *   0  an inner packet to the server's introduction endpoint (K_pair)
 *   1  an inner packet on the client session, client to server
 *   2  an inner packet on the client session, server to client
 *   3  raw bytes to the introduction endpoint, from the client's IID
 *   4  raw bytes to the server's session endpoint (from the client's
 *      endpoint and from a stranger's: claims, replies) and to the client's
 * Bit 0x80 of the first byte makes the harness write the addresses the
 * receiver expects into the inner header (so the fuzzer reaches past the
 * address checks), bit 0x40 also a request's prefix and time.
 * Nothing may crash; the server's and client's state must stay coherent
 * (a session on one side is re-made when a fuzzed teardown ended it).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mt6d/client.h"
#include "mt6d/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0 UINT64_C(1700000000000)

struct dg {
	struct mt6d_endpoint from, to;
	uint8_t p[2048];
	size_t len;
	int to_server;
};

static struct {
	struct mt6d_srv *srv;
	struct mt6d_cli *cli;
	struct mt6d_intro intro;
	uint8_t spriv[32], spub[32], cpriv[32], cpub[32];
	struct dg q[64];
	size_t nq;
	uint64_t now;
} g;

static const uint8_t sprefix[8] = {0x20, 0x01, 0x0d, 0xb8, 0, 5, 0, 0};
static const uint8_t cprefix[8] = {0x20, 0x01, 0x0d, 0xb8, 0, 0xc1, 0, 0};

static void push(const struct mt6d_endpoint *from, const struct mt6d_endpoint *to, const uint8_t *p,
                 size_t len)
{
	struct dg *d;

	if (g.nq == 64 || len > sizeof(d->p))
		return;
	d = &g.q[g.nq++];
	d->from = *from;
	d->to = *to;
	memcpy(d->p, p, len);
	d->len = len;
	d->to_server = !memcmp(to->addr, sprefix, 8);
}

static void ssend(void *a, const struct mt6d_tx *tx)
{
	for (size_t k = 0; k < tx->n; k++)
		push(tx->from, tx->to, tx->p + k * tx->stride,
		     k + 1 < tx->n ? tx->stride : tx->total - k * tx->stride);
}

static void sdeliver(void *a, struct mt6d_srv_session *s, uint8_t *p, size_t n,
                     const struct mt6d_offload *off)
{
}

static void cdeliver(void *a, uint8_t *p, size_t n, const struct mt6d_offload *off)
{
}

static void pump(void)
{
	for (int rounds = 0; rounds < 8 && g.nq; rounds++) {
		struct dg q[64];
		size_t n = g.nq;

		memcpy(q, g.q, n * sizeof(*q));
		g.nq = 0;
		for (size_t i = 0; i < n; i++)
			if (q[i].to_server)
				mt6d_srv_input(g.srv, &q[i].to, &q[i].from, q[i].p, q[i].len,
				               g.now);
			else
				mt6d_cli_input(g.cli, &q[i].to, &q[i].from, q[i].p, q[i].len,
				               g.now);
	}
	g.nq = 0;
}

static void on_state(void *a, enum mt6d_cli_state from, enum mt6d_cli_state to)
{
}

static void establish(void)
{
	struct mt6d_config cfg = {.version = 1};

	/* A fuzzed request may have carried a time up to 60 s ahead, which
	 * makes the client's next ones stale: a later clock gets past it. */
	for (int tries = 0; tries < 3; tries++) {
		if (g.cli->state == MT6D_CLI_SESSION && mt6d_srv_count(g.srv) == 1)
			return;
		mt6d_cli_close(g.cli, g.now);
		pump();
		g.now += tries ? 61000 : 10;
		mt6d_srv_tick(g.srv, g.now);
		mt6d_cli_start(g.cli, g.now);
		cfg.window = g.intro.window;
		cfg.rot_ms = g.intro.rot_ms;
		memcpy(cfg.seed_addr, g.intro.seed_addr, 16);
		memcpy(cfg.intro_key, g.intro.key, 16);
		mt6d_cli_lookup_done(g.cli, &cfg, g.now);
		pump();
	}
	abort();
}

static void setup(void)
{
	struct mt6d_srv_config sc = {.send = ssend, .deliver = sdeliver};
	struct mt6d_cli_config cc = {.send = ssend, .deliver = cdeliver, .on_state = on_state};
	struct mt6d_client_entry e = {.name = "fuzz"};
	struct mt6d_registry reg = {.clients = &e, .n = 1};

	if (mt6d_init() < 0)
		abort();
	g.now = T0;
	mt6d_key_generate(g.spriv);
	mt6d_key_public(g.spub, g.spriv);
	mt6d_key_generate(g.cpriv);
	mt6d_key_public(g.cpub, g.cpriv);
	memcpy(sc.server_priv, g.spriv, 32);
	memcpy(sc.prefix, sprefix, 8);
	memcpy(sc.tun_prefix, "\x20\x01\x0d\xb8\x01\x00\x00\x00", 8);
	g.srv = mt6d_srv_new(&sc);
	memcpy(e.pub, g.cpub, 32);
	if (!g.srv || mt6d_srv_set_clients(g.srv, &reg, g.now) < 0)
		abort();
	g.intro.window = mt6d_window(T0 / 1000, 900);
	g.intro.period = 900;
	g.intro.rot_ms = 1000;
	memcpy(g.intro.seed_addr, sprefix, 8);
	randombytes_buf(g.intro.seed_addr + 8, 8);
	randombytes_buf(g.intro.key, 16);
	if (mt6d_srv_intro_add(g.srv, &g.intro, g.now) < 0)
		abort();
	memcpy(cc.client_priv, g.cpriv, 32);
	memcpy(cc.server_pub, g.spub, 32);
	memcpy(cc.prefix, cprefix, 8);
	g.cli = mt6d_cli_new(&cc);
	if (!g.cli)
		abort();
	establish();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[2048];
	struct mt6d_srv_session *s;
	struct mt6d_tun_slot *ssl, *csl;
	size_t n;
	int len = -1;

	if (!g.srv)
		setup();
	if (size < 1 || size > 1400)
		return 0;
	establish();
	s = mt6d_srv_first(g.srv);
	ssl = mt6d_tun_session_slot(&s->tun, s->tun.cur);
	csl = mt6d_tun_session_slot(&g.cli->tun, g.cli->tun.cur);
	n = size - 1;
	memcpy(buf + MT6D_ENCAP_INNER_OFF, data + 1, n);
	if ((data[0] & 0x80) && n >= 40) {
		uint8_t *ip = buf + MT6D_ENCAP_INNER_OFF, si[32], seed[8];

		switch (data[0] % 5) {
		case 0:
			mt6d_shared_secret(si, g.cpriv, g.spub);
			mt6d_client_seed_iid(seed, si, g.intro.key);
			memcpy(ip + 8, cprefix, 8);
			memcpy(ip + 16, seed, 8);
			memcpy(ip + 24, g.intro.seed_addr, 16);
			if ((data[0] & 0x40) && n >= 40 + MT6D_MSG_REQUEST_LEN) {
				memcpy(ip + 40 + 12, cprefix, 8);
				mt6d_put_be64(ip + 40 + 20, g.now);
			}
			break;
		case 1:
			memcpy(ip + 8, g.cli->client_tun, 16);
			memcpy(ip + 24, g.cli->server_tun, 16);
			break;
		case 2:
			memcpy(ip + 8, g.cli->server_tun, 16);
			memcpy(ip + 24, g.cli->client_tun, 16);
			break;
		}
	}
	switch (data[0] % 5) {
	case 0: {
		/* As the client would seal its introduction datagram. */
		struct mt6d_encap e;
		struct mt6d_endpoint from = {.port = 0}, to;
		struct mt6d_srv_intro_info info;
		uint8_t si[32], seed[8], kp[16], a[16];
		uint64_t slot = mt6d_slot(g.now, g.intro.rot_ms);

		mt6d_shared_secret(si, g.cpriv, g.spub);
		mt6d_client_seed_iid(seed, si, g.intro.key);
		mt6d_intro_pair_key(kp, si, g.intro.key);
		mt6d_slot_address(a, &from.port, cprefix, seed, g.intro.key, slot);
		memcpy(from.addr, a, 16);
		mt6d_srv_intros(g.srv, &info, 1);
		to = info.cur;
		mt6d_encap_init(&e, kp, MT6D_ROLE_CLIENT, g.now * 1000000u + g.nq);
		len = mt6d_encap_seal_inplace(&e, buf, sizeof(buf), n);
		mt6d_encap_clear(&e);
		if (len > 0)
			mt6d_srv_input(g.srv, &to, &from, buf, (size_t)len, g.now);
		break;
	}
	case 1:
		len = mt6d_encap_seal_inplace(&g.cli->tun.encap, buf, sizeof(buf), n);
		if (len > 0)
			mt6d_srv_input(g.srv, &ssl->local, &ssl->remote, buf, (size_t)len, g.now);
		break;
	case 2:
		len = mt6d_encap_seal_inplace(&s->tun.encap, buf, sizeof(buf), n);
		if (len > 0)
			mt6d_cli_input(g.cli, &csl->local, &csl->remote, buf, (size_t)len, g.now);
		break;
	case 3: {
		struct mt6d_srv_intro_info info;
		struct mt6d_endpoint from = csl->local;

		mt6d_srv_intros(g.srv, &info, 1);
		memcpy(buf, data + 1, n);
		mt6d_srv_input(g.srv, &info.cur, &from, buf, n, g.now);
		break;
	}
	default: {
		/* From a stranger: the rebinding path (a claim if it is one long,
		 * else a reply). */
		struct mt6d_endpoint stranger = ssl->remote;

		stranger.addr[5] ^= 0x20;
		memcpy(buf, data + 1, n);
		mt6d_srv_input(g.srv, &ssl->local, &stranger, buf, n, g.now);
		memcpy(buf, data + 1, n);
		mt6d_srv_input(g.srv, &ssl->local, &ssl->remote, buf, n, g.now);
		memcpy(buf, data + 1, n);
		mt6d_cli_input(g.cli, &csl->local, &csl->remote, buf, n, g.now);
		break;
	}
	}
	pump();
	/* Packets from the TUN devices, of the fuzzed bytes too. */
	memcpy(buf + MT6D_ENCAP_INNER_OFF, data + 1, n);
	mt6d_srv_output(g.srv, buf + MT6D_ENCAP_INNER_OFF, n, NULL, g.now);
	memcpy(buf + MT6D_ENCAP_INNER_OFF, data + 1, n);
	mt6d_cli_output(g.cli, buf + MT6D_ENCAP_INNER_OFF, n, NULL, g.now);
	g.nq = 0;
	g.now += 1;
	mt6d_srv_tick(g.srv, g.now);
	mt6d_cli_tick(g.cli, g.now);
	pump();
	return 0;
}
