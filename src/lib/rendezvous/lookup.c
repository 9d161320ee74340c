/* SPDX-License-Identifier: MIT */
/*
 * Client lookup (the patent's FIG. 5): compute the locations the server
 * used for window T, fetch, open, check the window inside the plaintext.
 * Windows are tried in the order T, the adjacent window nearest in time,
 * the other one: a client just past an edge whose server has not yet
 * switched, or whose clock is up to one window off, still finds a valid
 * configuration. Transports are tried BEP 44 first, then port stuffing.
 * The result names the furthest step reached, so a failure says whether
 * no node answered, nothing was stored, something was stored that does
 * not open, or a configuration opened for another window.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mt6d/rendezvous.h"

struct mt6d_lookup {
	struct mt6d_lookup_config cfg;
	uint8_t s[MT6D_KEY_LEN], boxkey[32];
	uint64_t windows[3 * MT6D_LOOKUP_MAX_PERIODS];
	unsigned wi, nwin;
	int transport; /* being tried */
	mt6d_lookup_done_fn done;
	void *arg;
	struct mt6d_lookup_result res;
	uint64_t start_ms, spent_ms;
	int op; /* the DHT operation in flight, 0: none */
	int finished;
};

const char *mt6d_lookup_step_name(enum mt6d_lookup_step step)
{
	switch (step) {
	case MT6D_LOOKUP_OK:
		return "ok";
	case MT6D_LOOKUP_NO_NODES:
		return "no DHT node answered";
	case MT6D_LOOKUP_NOT_FOUND:
		return "nothing stored at the location";
	case MT6D_LOOKUP_DOES_NOT_OPEN:
		return "stored, but does not open with these keys";
	case MT6D_LOOKUP_EXPIRED:
		return "opens, but for another window (expired)";
	}
	return "unknown";
}

size_t mt6d_bep44_value(uint8_t v[static MT6D_BEP44_VALUE_MAX], const uint8_t *m, size_t len)
{
	size_t n = 0;

	if (len < 1 || len > MT6D_SEALED_MAX)
		return 0;
	if (len >= 100)
		v[n++] = (uint8_t)('0' + len / 100);
	if (len >= 10)
		v[n++] = (uint8_t)('0' + len / 10 % 10);
	v[n++] = (uint8_t)('0' + len % 10);
	v[n++] = ':';
	memcpy(v + n, m, len);
	return n + len;
}

/* The m of a BEP 44 value "85:" || m or "103:" || m, else NULL. */
static const uint8_t *bep44_sealed(const uint8_t *v, size_t vlen, size_t *len)
{
	if (vlen == MT6D_BEP44_VALUE_LEN && !memcmp(v, "85:", 3)) {
		*len = MT6D_SEALED_LEN;
		return v + 3;
	}
	if (vlen == MT6D_BEP44_VALUE_V2_LEN && !memcmp(v, "103:", 4)) {
		*len = MT6D_SEALED_V2_LEN;
		return v + 4;
	}
	return NULL;
}

static void note(struct mt6d_lookup *lk, enum mt6d_lookup_step step)
{
	/* Furthest step: NO_NODES < NOT_FOUND < DOES_NOT_OPEN < EXPIRED < OK. */
	if (lk->res.windows_tried == 0 || step > lk->res.step || step == MT6D_LOOKUP_OK)
		lk->res.step = step;
}

/* 0 when m opens for the window tried; records the step either way. */
static int try_open(struct mt6d_lookup *lk, const uint8_t *m, size_t len)
{
	struct mt6d_config cfg;

	lk->res.candidates++;
	if (mt6d_config_open_afternm(&cfg, m, len, lk->boxkey) != 0) {
		note(lk, MT6D_LOOKUP_DOES_NOT_OPEN);
		return -1;
	}
	if (cfg.window != lk->windows[lk->wi]) {
		note(lk, MT6D_LOOKUP_EXPIRED);
		sodium_memzero(&cfg, sizeof(cfg));
		return -1;
	}
	lk->res.config = cfg;
	lk->res.window = cfg.window;
	lk->res.transport = lk->transport;
	note(lk, MT6D_LOOKUP_OK);
	sodium_memzero(&cfg, sizeof(cfg));
	return 0;
}

static int stuff_cb(const struct mt6d_endpoint *ip, const uint8_t *msg, size_t len, void *arg)
{
	return try_open(arg, msg, len) == 0 ? 1 : 0;
}

static int start_next(struct mt6d_lookup *lk, uint64_t now_ms);

/* The last thing done with lk: the callback may free it. */
static void finish(struct mt6d_lookup *lk, uint64_t now_ms)
{
	struct mt6d_lookup_result res = lk->res;

	lk->finished = 1;
	res.elapsed_ms = now_ms - lk->start_ms;
	sodium_memzero(&lk->res.config, sizeof(lk->res.config));
	lk->done(lk->arg, &res);
	sodium_memzero(&res.config, sizeof(res.config));
}

static void on_result(void *arg, const struct mt6d_dht_result *r)
{
	struct mt6d_lookup *lk = arg;
	int ok = -1;

	lk->op = 0;
	if (r->status == -ECANCELED) {
		/* the node is being freed: start nothing more on it */
		note(lk, MT6D_LOOKUP_NO_NODES);
		finish(lk, lk->start_ms + lk->spent_ms);
		return;
	}
	lk->res.nodes_answered += r->nodes_answered;
	/* Operations run one after the other: the lookup took their sum. */
	lk->spent_ms += r->elapsed_ms;
	if (r->status == -ETIMEDOUT || (r->status < 0 && r->nodes_answered == 0)) {
		note(lk, MT6D_LOOKUP_NO_NODES);
	} else if (lk->transport == MT6D_RDV_BEP44) {
		const uint8_t *m = NULL;
		size_t mlen = 0;

		if (r->status == 0 && r->value)
			m = bep44_sealed(r->value, r->value_len, &mlen);
		if (m)
			ok = try_open(lk, m, mlen);
		else if (r->status == 0 && r->value)
			note(lk, MT6D_LOOKUP_DOES_NOT_OPEN);
		else
			note(lk, MT6D_LOOKUP_NOT_FOUND);
	} else {
		size_t n = r->status == 0 ? r->npeers : 0;

		if (n == 0)
			note(lk, MT6D_LOOKUP_NOT_FOUND);
		else if (mt6d_stuff_decode(r->peers, n, stuff_cb, lk) == 1 &&
		         lk->res.step == MT6D_LOOKUP_OK)
			ok = 0;
		else if (lk->res.step < MT6D_LOOKUP_DOES_NOT_OPEN)
			note(lk, MT6D_LOOKUP_DOES_NOT_OPEN);
	}
	if (ok == 0 || start_next(lk, lk->start_ms + lk->spent_ms) < 0)
		finish(lk, lk->start_ms + lk->spent_ms);
}

/* Advance to the next (window, transport) pair and start its operation.
 * -ENOENT when there is none left. */
static int start_next(struct mt6d_lookup *lk, uint64_t now_ms)
{
	for (;;) {
		uint64_t w;
		int ret;

		if (lk->transport == 0) {
			lk->transport = (lk->cfg.transports & MT6D_RDV_BEP44) ? MT6D_RDV_BEP44
			                                                      : MT6D_RDV_STUFFING;
		} else if (lk->transport == MT6D_RDV_BEP44 &&
		           (lk->cfg.transports & MT6D_RDV_STUFFING)) {
			lk->transport = MT6D_RDV_STUFFING;
		} else {
			lk->transport = (lk->cfg.transports & MT6D_RDV_BEP44) ? MT6D_RDV_BEP44
			                                                      : MT6D_RDV_STUFFING;
			if (++lk->wi == lk->nwin)
				return -ENOENT;
		}
		if (lk->transport ==
		    ((lk->cfg.transports & MT6D_RDV_BEP44) ? MT6D_RDV_BEP44 : MT6D_RDV_STUFFING))
			lk->res.windows_tried++;
		w = lk->windows[lk->wi];
		if (lk->transport == MT6D_RDV_BEP44) {
			uint8_t pk[32], sk[64], target[MT6D_DHT_ID_LEN];
			mt6d_bep44_keypair(pk, sk, lk->s, w);
			sodium_memzero(sk, sizeof(sk));
			mt6d_dht_mutable_target(target, pk, NULL, 0);
			ret = mt6d_dht_get(lk->cfg.dht, target, pk, NULL, 0, on_result, lk, now_ms);
		} else {
			uint8_t d[MT6D_DESC_LEN];
			mt6d_descriptor(d, lk->s, w);
			ret = mt6d_dht_get_peers(lk->cfg.dht, d, on_result, lk, now_ms);
		}
		if (ret > 0) {
			lk->op = ret; /* its callback comes later, from the DHT */
			return 0;
		}
		note(lk, MT6D_LOOKUP_NO_NODES);
	}
}

struct mt6d_lookup *mt6d_lookup_start(const struct mt6d_lookup_config *cfg, uint64_t mono_ms,
                                      uint64_t unix_ms, mt6d_lookup_done_fn done, void *arg)
{
	struct mt6d_lookup *lk;
	uint64_t now_s = unix_ms / 1000, T;
	uint32_t n;

	if (!cfg || !cfg->dht || !done) {
		errno = EINVAL;
		return NULL;
	}
	lk = calloc(1, sizeof(*lk));
	if (!lk)
		return NULL;
	lk->cfg = *cfg;
	if (!(lk->cfg.transports & MT6D_RDV_BOTH))
		lk->cfg.transports = MT6D_RDV_BOTH;
	if (mt6d_shared_secret(lk->s, cfg->client_priv, cfg->server_pub) < 0 ||
	    mt6d_box_key(lk->boxkey, cfg->client_priv, cfg->server_pub) < 0) {
		mt6d_lookup_free(lk);
		errno = EINVAL;
		return NULL;
	}
	sodium_memzero(lk->cfg.client_priv, sizeof(lk->cfg.client_priv));
	for (int p = 0; p < MT6D_LOOKUP_MAX_PERIODS; p++) {
		uint64_t w[3];
		n = cfg->periods[p];
		if (!n && (p > 0 || lk->nwin))
			continue;
		if (!n)
			n = MT6D_DEFAULT_PERIOD;
		T = mt6d_window(now_s, n);
		w[0] = T;
		/* Nearest edge first; window 0 has no predecessor. */
		w[1] = now_s - T >= n / 2 || T < n ? T + n : T - n;
		w[2] = w[1] == T + n ? (T >= n ? T - n : T) : T + n;
		for (int i = 0; i < 3; i++) {
			int seen = 0;
			for (unsigned j = 0; j < lk->nwin; j++)
				seen |= lk->windows[j] == w[i];
			if (!seen) /* the location depends on T only */
				lk->windows[lk->nwin++] = w[i];
		}
	}
	lk->done = done;
	lk->arg = arg;
	lk->start_ms = mono_ms;
	lk->res.step = MT6D_LOOKUP_NO_NODES;
	if (start_next(lk, mono_ms) < 0) {
		mt6d_lookup_free(lk);
		errno = EHOSTUNREACH;
		return NULL;
	}
	return lk;
}

void mt6d_lookup_free(struct mt6d_lookup *lk)
{
	if (!lk)
		return;
	if (lk->op)
		mt6d_dht_cancel(lk->cfg.dht, lk->op);
	sodium_memzero(lk, sizeof(*lk));
	free(lk);
}

int mt6d_rdv_transport_parse(const char *s)
{
	if (!s)
		return -EINVAL;
	if (!strcmp(s, "bep44"))
		return MT6D_RDV_BEP44;
	if (!strcmp(s, "stuffing"))
		return MT6D_RDV_STUFFING;
	if (!strcmp(s, "both"))
		return MT6D_RDV_BOTH;
	return -EINVAL;
}

const char *mt6d_rdv_transport_name(int mask)
{
	switch (mask & MT6D_RDV_BOTH) {
	case MT6D_RDV_BEP44:
		return "bep44";
	case MT6D_RDV_STUFFING:
		return "stuffing";
	case MT6D_RDV_BOTH:
		return "both";
	}
	return "none";
}
