/* SPDX-License-Identifier: MIT */
/*
 * Publisher: Algorithm 2 of the patent, done in slices.
 *
 * Rules this file keeps:
 * - Every window T gets its own introduction configuration (random K and a
 *   random IID under the server's /64). A server restarted inside a window
 *   takes back the one it stored (mt6d_pub_restore), so the clients that
 *   find it in the DHT reach its endpoint at once; without one it makes a
 *   new one for the same T. BEP 44 seq is the publication time in
 *   microseconds and strictly increases, so nodes replace the stale item.
 * - The next window's configuration is made and published lead_s before
 *   the window starts, so a client that looks up just after the edge, or
 *   whose clock runs up to one window ahead, finds a valid one (as Tor v3
 *   onion services keep two descriptors live). The previous window's
 *   configuration stays live for one more window for clocks behind.
 * - A round publishes one window's configuration for every client; at most
 *   max_inflight DHT operations run at once and mt6d_pub_tick() returns as
 *   soon as that budget is used, so the event loop is never stalled.
 * - X25519 and crypto_box_beforenm run once per client (at registration),
 *   never per window.
 * - Items are republished before they expire: announces every 15 min (nodes
 *   drop peers after about 30), BEP 44 items every hour (kept at least 2 h).
 * - A client added to the registry (mt6d_pub_set_clients) is published for
 *   every live window at once, in rounds of the added clients only (their
 *   generation), not at the next window.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mt6d/rendezvous.h"

#define MAX_INTROS         3 /* previous, current, next */
#define MAX_QUEUE          8
#define STUFF_REPUBLISH_MS (15u * 60 * 1000)
/* A stuffing announce sends 85 (103 with an underlay) queries to each of K
 * nodes, a BEP 44 put one: it takes this many units of the in-flight budget. */
#define STUFF_WEIGHT       8
#define MAX_ATTEMPTS       3
#define BEP44_REPUBLISH_MS (60u * 60 * 1000)

struct pclient {
	uint8_t pub[MT6D_KEY_LEN];
	uint8_t s[MT6D_KEY_LEN]; /* shared secret: d_T, BEP 44 key */
	uint8_t boxkey[32];      /* crypto_box_beforenm */
	uint32_t round_started;  /* id of the last round that started it */
	uint32_t added;          /* registry generation that added it */
	int unusable;            /* all-zero shared secret: never published */
};

/* A DHT operation of the current round, until its callback. */
struct op_ctx {
	struct mt6d_pub *pub;
	struct op_ctx *prev, *next;
	int dht_op;           /* its id, for mt6d_dht_cancel */
	struct mt6d_dht *dht; /* the node it runs on */
	int transport;
	int attempt;
	uint8_t client[MT6D_KEY_LEN]; /* for a retry */
};

struct retry {
	uint8_t client[MT6D_KEY_LEN];
	int transport, attempt;
};

struct intro_slot {
	int live;
	struct mt6d_intro intro;
	uint64_t republish_unix_ms;
};

struct round {
	int active;
	uint32_t id;
	uint64_t window;
	uint32_t min_added; /* publishes clients of this generation or later */
	size_t next, total, done, failed, inflight, retried;
	unsigned budget_used; /* weighted in-flight operations */
	struct retry *retries;
	size_t nretries, cap_retries;
	unsigned stored_min;
	uint64_t started_ms, elapsed_ms, tx_at_start;
};

struct mt6d_pub {
	struct mt6d_pub_config cfg;
	struct pclient *clients;
	size_t nclients;
	struct intro_slot intros[MAX_INTROS];
	uint64_t queue[MAX_QUEUE];     /* windows waiting for a round */
	uint32_t queue_min[MAX_QUEUE]; /* their rounds' min_added (0: everyone) */
	size_t nqueue;
	uint32_t gen; /* registry generation */
	struct round round;
	uint32_t round_ids;
	int64_t last_seq;
	uint64_t ops_started, ops_failed, dht_messages;
	struct op_ctx *ops; /* in flight */
	int started;
	int remake; /* the period changed: remake the current window's config */
};

static uint32_t lead_ms(const struct mt6d_pub *pub)
{
	uint32_t lead = pub->cfg.lead_s ? pub->cfg.lead_s : pub->cfg.period / 5;
	if (!pub->cfg.lead_s && lead > 300)
		lead = 300;
	if (lead >= pub->cfg.period)
		lead = pub->cfg.period / 2;
	return lead * 1000u;
}

static uint64_t republish_every(const struct mt6d_pub *pub)
{
	uint64_t r = (uint64_t)pub->cfg.period * 1000;
	if ((pub->cfg.transports & MT6D_RDV_STUFFING) && r > STUFF_REPUBLISH_MS)
		r = STUFF_REPUBLISH_MS;
	if (r > BEP44_REPUBLISH_MS)
		r = BEP44_REPUBLISH_MS;
	return r;
}

static int client_init(struct pclient *c, const uint8_t pub[static 32], const uint8_t priv[32])
{
	memset(c, 0, sizeof(*c));
	memcpy(c->pub, pub, MT6D_KEY_LEN);
	if (mt6d_shared_secret(c->s, priv, pub) < 0 || mt6d_box_key(c->boxkey, priv, pub) < 0) {
		c->unusable = 1;
		return -EINVAL;
	}
	return 0;
}

static void clients_wipe(struct pclient *v, size_t n)
{
	if (v)
		sodium_memzero(v, n * sizeof(*v));
	free(v);
}

struct mt6d_pub *mt6d_pub_new(const struct mt6d_pub_config *cfg)
{
	struct mt6d_pub *pub;

	if (!cfg || (!cfg->dht && !cfg->pick_dht)) {
		errno = EINVAL;
		return NULL;
	}
	pub = calloc(1, sizeof(*pub));
	if (!pub)
		return NULL;
	pub->cfg = *cfg;
	if (!pub->cfg.period)
		pub->cfg.period = MT6D_DEFAULT_PERIOD;
	if (!pub->cfg.rot_ms)
		pub->cfg.rot_ms = MT6D_DEFAULT_ROT_MS;
	if (!pub->cfg.transports)
		pub->cfg.transports = MT6D_RDV_BEP44;
	if (!pub->cfg.max_inflight)
		pub->cfg.max_inflight = 64;
	return pub;
}

/* Take o out of the publisher's list of operations in flight. */
static void op_unlink(struct mt6d_pub *pub, struct op_ctx *o)
{
	if (o->prev)
		o->prev->next = o->next;
	else
		pub->ops = o->next;
	if (o->next)
		o->next->prev = o->prev;
}

/* Cancel every operation in flight: none of their callbacks will come. */
static void cancel_ops(struct mt6d_pub *pub)
{
	while (pub->ops) {
		struct op_ctx *o = pub->ops;
		op_unlink(pub, o);
		mt6d_dht_cancel(o->dht, o->dht_op);
		free(o);
	}
	pub->round.inflight = 0;
	pub->round.budget_used = 0;
}

void mt6d_pub_free(struct mt6d_pub *pub)
{
	if (!pub)
		return;
	cancel_ops(pub);
	clients_wipe(pub->clients, pub->nclients);
	free(pub->round.retries);
	sodium_memzero(pub, sizeof(*pub));
	free(pub);
}

static struct pclient *find_client(struct pclient *v, size_t n, const uint8_t pub[32])
{
	/* v is sorted by public key. */
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(v[mid].pub, pub, MT6D_KEY_LEN);
		if (!c)
			return &v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int pclient_cmp(const void *a, const void *b)
{
	return memcmp(((const struct pclient *)a)->pub, ((const struct pclient *)b)->pub,
	              MT6D_KEY_LEN);
}

static void queue_round_from(struct mt6d_pub *pub, uint64_t window, uint32_t min_added);

int mt6d_pub_set_clients(struct mt6d_pub *pub, const struct mt6d_registry *reg)
{
	struct pclient *v;
	size_t added = 0;

	if (!pub || !reg)
		return -EINVAL;
	v = calloc(reg->n ? reg->n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	pub->gen++;
	for (size_t i = 0; i < reg->n; i++) {
		const struct pclient *old =
		        find_client(pub->clients, pub->nclients, reg->clients[i].pub);
		if (old) {
			v[i] = *old; /* keep secrets and the place in the round */
		} else {
			(void)client_init(&v[i], reg->clients[i].pub, pub->cfg.server_priv);
			v[i].added = pub->gen;
			added++;
		}
	}
	qsort(v, reg->n, sizeof(*v), pclient_cmp);
	clients_wipe(pub->clients, pub->nclients);
	pub->clients = v;
	pub->nclients = reg->n;
	/* Indices changed: rescan; clients already started are skipped. The
	 * running round takes the added clients; the other live windows get a
	 * round of them alone. */
	pub->round.next = 0;
	for (int i = 0; added && i < MAX_INTROS; i++)
		if (pub->intros[i].live &&
		    !(pub->round.active && pub->round.window == pub->intros[i].intro.window))
			queue_round_from(pub, pub->intros[i].intro.window, pub->gen);
	return 0;
}

int mt6d_pub_set_period(struct mt6d_pub *pub, uint32_t period, uint32_t rot_ms)
{
	if (!pub || period == 0 || rot_ms == 0)
		return -EINVAL;
	pub->cfg.period = period;
	pub->cfg.rot_ms = rot_ms;
	/* The current window of the new period gets a new configuration at the
	 * next tick, even when its T equals a live window's T of the old
	 * period (the location depends on T only); the other old ones stay
	 * live until they expire. */
	pub->remake = 1;
	return 0;
}

static struct intro_slot *intro_find(struct mt6d_pub *pub, uint64_t window)
{
	for (int i = 0; i < MAX_INTROS; i++)
		if (pub->intros[i].live && pub->intros[i].intro.window == window)
			return &pub->intros[i];
	return NULL;
}

const struct mt6d_intro *mt6d_pub_intro(const struct mt6d_pub *pub, uint64_t window)
{
	struct intro_slot *s = intro_find((struct mt6d_pub *)pub, window);
	return s ? &s->intro : NULL;
}

static void queue_round_from(struct mt6d_pub *pub, uint64_t window, uint32_t min_added)
{
	for (size_t i = 0; i < pub->nqueue; i++)
		if (pub->queue[i] == window) {
			if (min_added < pub->queue_min[i])
				pub->queue_min[i] = min_added;
			return;
		}
	if (pub->nqueue == MAX_QUEUE) /* cannot happen with 3 live windows */
		return;
	pub->queue_min[pub->nqueue] = min_added;
	pub->queue[pub->nqueue++] = window;
}

static void queue_round(struct mt6d_pub *pub, uint64_t window)
{
	queue_round_from(pub, window, 0);
}

/* The slot of window T: its own, a free one, or the oldest (closed). */
static struct intro_slot *intro_slot(struct mt6d_pub *pub, uint64_t window)
{
	struct intro_slot *s = intro_find(pub, window);
	int oldest = 0;

	if (!s) {
		for (int i = 0; i < MAX_INTROS; i++) {
			if (!pub->intros[i].live) {
				oldest = i;
				break;
			}
			if (pub->intros[i].intro.window < pub->intros[oldest].intro.window)
				oldest = i;
		}
		s = &pub->intros[oldest];
		if (s->live && pub->cfg.on_intro)
			pub->cfg.on_intro(pub->cfg.arg, NULL, s->intro.window);
	}
	sodium_memzero(s, sizeof(*s));
	return s;
}

int mt6d_pub_restore(struct mt6d_pub *pub, const struct mt6d_intro *intro, uint64_t unix_ms)
{
	uint64_t T;
	struct intro_slot *s;

	if (!pub || !intro)
		return -EINVAL;
	T = mt6d_window(unix_ms / 1000, pub->cfg.period);
	if (intro->period != pub->cfg.period || intro->rot_ms != pub->cfg.rot_ms ||
	    intro->window % pub->cfg.period != 0 ||
	    memcmp(intro->seed_addr, pub->cfg.prefix, MT6D_PREFIX_LEN) != 0)
		return -EINVAL;
	if (intro->window + pub->cfg.period < T || intro->window > T + pub->cfg.period)
		return -ESTALE;
	if (intro_find(pub, intro->window))
		return -EEXIST;
	s = intro_slot(pub, intro->window);
	s->live = 1;
	s->intro = *intro;
	s->republish_unix_ms = unix_ms + republish_every(pub);
	if (intro->window == T)
		pub->started = 1; /* no new K for the current window */
	if (pub->cfg.on_intro)
		pub->cfg.on_intro(pub->cfg.arg, &s->intro, intro->window);
	queue_round(pub, intro->window); /* the DHT may not hold all of it */
	return 0;
}

/* Make (or remake, after a restart or on demand) window T's configuration. */
static void intro_make(struct mt6d_pub *pub, uint64_t window, uint64_t unix_ms)
{
	struct intro_slot *s = intro_slot(pub, window);

	s->live = 1;
	s->intro.window = window;
	s->intro.period = pub->cfg.period;
	s->intro.rot_ms = pub->cfg.rot_ms;
	memcpy(s->intro.seed_addr, pub->cfg.prefix, MT6D_PREFIX_LEN);
	randombytes_buf(s->intro.seed_addr + MT6D_PREFIX_LEN, 8);
	randombytes_buf(s->intro.key, sizeof(s->intro.key));
	s->republish_unix_ms = unix_ms + republish_every(pub);
	if (pub->cfg.on_intro)
		pub->cfg.on_intro(pub->cfg.arg, &s->intro, window);
	queue_round(pub, window);
}

int mt6d_pub_force(struct mt6d_pub *pub, uint64_t mono_ms, uint64_t unix_ms)
{
	if (!pub)
		return -EINVAL;
	pub->started = 1;
	intro_make(pub, mt6d_window(unix_ms / 1000, pub->cfg.period), unix_ms);
	return 0;
}

static int retry_add(struct mt6d_pub *pub, const uint8_t client[32], int transport, int attempt)
{
	struct round *r = &pub->round;

	if (r->nretries == r->cap_retries) {
		size_t cap = r->cap_retries ? 2 * r->cap_retries : 16;
		struct retry *nv = realloc(r->retries, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		r->retries = nv;
		r->cap_retries = cap;
	}
	memcpy(r->retries[r->nretries].client, client, MT6D_KEY_LEN);
	r->retries[r->nretries].transport = transport;
	r->retries[r->nretries].attempt = attempt;
	r->nretries++;
	return 0;
}

static void op_done(void *arg, const struct mt6d_dht_result *res)
{
	struct op_ctx *o = arg;
	struct mt6d_pub *pub = o->pub;

	/* Every operation in the list belongs to the active round: a round
	 * that ends early cancels its own (round_finish). */
	op_unlink(pub, o);
	pub->round.inflight--;
	pub->round.budget_used -= o->transport == MT6D_RDV_STUFFING ? STUFF_WEIGHT : 1;
	if ((res->status < 0 || res->stored_on == 0) && o->attempt < MAX_ATTEMPTS &&
	    retry_add(pub, o->client, o->transport, o->attempt + 1) == 0) {
		pub->round.retried++;
	} else if (res->status < 0 || res->stored_on == 0) {
		pub->round.failed++;
		pub->ops_failed++;
	} else {
		pub->round.done++;
		if (res->stored_on < pub->round.stored_min)
			pub->round.stored_min = res->stored_on;
	}
	free(o);
}

static int op_track(struct mt6d_pub *pub, struct op_ctx **out, int transport,
                    const uint8_t client[32], int attempt)
{
	struct op_ctx *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->pub = pub;
	o->transport = transport;
	o->attempt = attempt;
	memcpy(o->client, client, MT6D_KEY_LEN);
	o->next = pub->ops;
	if (pub->ops)
		pub->ops->prev = o;
	pub->ops = o;
	*out = o;
	return 0;
}

static void op_untrack(struct mt6d_pub *pub, struct op_ctx *o)
{
	op_unlink(pub, o);
	free(o);
}

/* Start one DHT operation of the round; a refusal counts as a failure. Its
 * callback comes later, from inside the DHT. */
static void start_op(struct mt6d_pub *pub, struct mt6d_dht *dht, const struct pclient *c,
                     int attempt, int transport, const uint8_t *sk, const uint8_t *v, size_t vlen,
                     int64_t seq, const uint8_t *d, const uint16_t *ports, size_t nports,
                     uint64_t mono_ms)
{
	unsigned weight = transport == MT6D_RDV_STUFFING ? STUFF_WEIGHT : 1;
	struct op_ctx *o;
	int ret;

	if (attempt == 1)
		pub->round.total++;
	ret = dht ? op_track(pub, &o, transport, c->pub, attempt) : -ENETDOWN;
	if (ret == 0) {
		o->dht = dht;
		pub->round.inflight++;
		pub->round.budget_used += weight;
		pub->ops_started++;
		if (transport == MT6D_RDV_BEP44)
			ret = mt6d_dht_put_mutable(dht, sk, NULL, 0, v, vlen, seq, op_done, o,
			                           mono_ms);
		else
			ret = mt6d_dht_announce(dht, d, ports, nports, op_done, o, mono_ms);
		if (ret > 0) {
			o->dht_op = ret;
		} else {
			op_untrack(pub, o);
			pub->round.inflight--;
			pub->round.budget_used -= weight;
			pub->ops_started--;
		}
	}
	if (ret < 0) {
		pub->round.failed++;
		pub->ops_failed++;
	}
}

/* Seal window T's configuration for one client and start its DHT operations. */
static void publish_client(struct mt6d_pub *pub, struct pclient *c, const struct mt6d_intro *in,
                           int transports, int attempt, uint64_t mono_ms, uint64_t unix_ms)
{
	struct mt6d_config cfg = {.window = in->window,
	                          .rot_ms = in->rot_ms,
	                          .underlay_port = pub->cfg.underlay_port};
	uint8_t m[MT6D_SEALED_MAX];
	size_t mlen;
	/* Both transports of one client go through one node. */
	struct mt6d_dht *dht =
	        pub->cfg.pick_dht ? pub->cfg.pick_dht(pub->cfg.pick_arg) : pub->cfg.dht;

	memcpy(cfg.seed_addr, in->seed_addr, 16);
	memcpy(cfg.intro_key, in->key, sizeof(cfg.intro_key));
	memcpy(cfg.underlay_addr, pub->cfg.underlay_addr, 16);
	/* Version 2 when there is an underlay port, else version 1. */
	mlen = mt6d_config_seal_afternm(m, &cfg, c->boxkey);
	sodium_memzero(&cfg, sizeof(cfg));

	if (transports & MT6D_RDV_BEP44) {
		uint8_t pk[32], sk[64], v[MT6D_BEP44_VALUE_MAX];
		int64_t seq = (int64_t)(unix_ms * 1000);
		size_t vlen;

		/* seq strictly increases over every item this server writes. */
		if (seq <= pub->last_seq)
			seq = pub->last_seq + 1;
		pub->last_seq = seq;
		mt6d_bep44_keypair(pk, sk, c->s, in->window);
		vlen = mt6d_bep44_value(v, m, mlen);
		start_op(pub, dht, c, attempt, MT6D_RDV_BEP44, sk, v, vlen, seq, NULL, NULL, 0,
		         mono_ms);
		sodium_memzero(sk, sizeof(sk));
	}
	if (transports & MT6D_RDV_STUFFING) {
		uint8_t d[MT6D_DESC_LEN];
		uint16_t ports[MT6D_SEALED_MAX];

		mt6d_descriptor(d, c->s, in->window);
		(void)mt6d_stuff_encode(ports, m, mlen); /* cannot fail for 85 or 103 bytes */
		start_op(pub, dht, c, attempt, MT6D_RDV_STUFFING, NULL, NULL, 0, 0, d, ports, mlen,
		         mono_ms);
	}
}

static void round_start(struct mt6d_pub *pub, uint64_t window, uint32_t min_added, uint64_t mono_ms)
{
	struct mt6d_dht_stats st = {0};

	/* Messages are counted on cfg.dht only (not with pick_dht). */
	if (pub->cfg.dht)
		mt6d_dht_get_stats(pub->cfg.dht, &st);
	free(pub->round.retries);
	memset(&pub->round, 0, sizeof(pub->round));
	pub->round.active = 1;
	pub->round.id = ++pub->round_ids;
	pub->round.window = window;
	pub->round.min_added = min_added;
	pub->round.stored_min = ~0u;
	pub->round.started_ms = mono_ms;
	pub->round.tx_at_start = st.tx;
}

static void round_finish(struct mt6d_pub *pub, uint64_t mono_ms)
{
	struct mt6d_dht_stats st = {0};

	/* Only a round whose window was dropped ends with work in flight:
	 * what it would store has expired. */
	cancel_ops(pub);
	if (pub->cfg.dht)
		mt6d_dht_get_stats(pub->cfg.dht, &st);
	pub->round.active = 0;
	pub->round.elapsed_ms = mono_ms - pub->round.started_ms;
	if (!pub->round.elapsed_ms)
		pub->round.elapsed_ms = 1;
	pub->dht_messages += st.tx - pub->round.tx_at_start;
	if (pub->round.stored_min == ~0u)
		pub->round.stored_min = 0;
}

uint64_t mt6d_pub_tick(struct mt6d_pub *pub, uint64_t mono_ms, uint64_t unix_ms)
{
	uint64_t now_s = unix_ms / 1000, T, next_edge_ms, wake;
	uint32_t n;
	struct intro_slot *cur;

	if (!pub)
		return mono_ms + 1000;
	n = pub->cfg.period;
	T = mt6d_window(now_s, n);
	if (!pub->started || !intro_find(pub, T) || pub->remake)
		mt6d_pub_force(pub, mono_ms, unix_ms);
	pub->remake = 0;
	/* Pre-publish the next window. */
	next_edge_ms = (T + n) * 1000;
	if (unix_ms + lead_ms(pub) >= next_edge_ms && !intro_find(pub, T + n))
		intro_make(pub, T + n, unix_ms);
	/* Drop configurations older than the previous window. */
	for (int i = 0; i < MAX_INTROS; i++) {
		struct intro_slot *s = &pub->intros[i];
		if (s->live && s->intro.window + s->intro.period < T) {
			s->live = 0;
			if (pub->cfg.on_intro)
				pub->cfg.on_intro(pub->cfg.arg, NULL, s->intro.window);
			sodium_memzero(&s->intro, sizeof(s->intro));
		}
	}
	/* Republish live windows whose items would otherwise expire. */
	for (int i = 0; i < MAX_INTROS; i++) {
		struct intro_slot *s = &pub->intros[i];
		if (s->live && s->intro.window >= T && unix_ms >= s->republish_unix_ms) {
			s->republish_unix_ms = unix_ms + republish_every(pub);
			queue_round(pub, s->intro.window);
		}
	}

	if (!pub->round.active && pub->nqueue) {
		uint64_t w = pub->queue[0];
		uint32_t min_added = pub->queue_min[0];

		--pub->nqueue;
		memmove(pub->queue, pub->queue + 1, pub->nqueue * sizeof(pub->queue[0]));
		memmove(pub->queue_min, pub->queue_min + 1,
		        pub->nqueue * sizeof(pub->queue_min[0]));
		if (intro_find(pub, w))
			round_start(pub, w, min_added, mono_ms);
	}
	if (pub->round.active) {
		struct intro_slot *s = intro_find(pub, pub->round.window);
		/* Start work while the budget is not used up (one client may take
		 * it past the limit, so a budget smaller than a client's work still
		 * makes progress). Retries first: the oldest work of the round. */
		while (s && pub->round.nretries && pub->round.budget_used < pub->cfg.max_inflight) {
			struct retry r = pub->round.retries[--pub->round.nretries];
			struct pclient *c = find_client(pub->clients, pub->nclients, r.client);
			if (c && !c->unusable)
				publish_client(pub, c, &s->intro, r.transport, r.attempt, mono_ms,
				               unix_ms);
			else
				pub->round.failed++; /* removed from the registry meanwhile */
		}
		while (s && pub->round.budget_used < pub->cfg.max_inflight &&
		       pub->round.next < pub->nclients) {
			struct pclient *c = &pub->clients[pub->round.next++];
			if (c->round_started == pub->round.id || c->unusable ||
			    c->added < pub->round.min_added)
				continue;
			c->round_started = pub->round.id;
			publish_client(pub, c, &s->intro, pub->cfg.transports, 1, mono_ms, unix_ms);
		}
		if (!s || (pub->round.next >= pub->nclients && pub->round.inflight == 0 &&
		           pub->round.nretries == 0))
			round_finish(pub, mono_ms);
	}

	/* Next wake-up: soon while a round runs (completions arrive through
	 * the DHT; this only refills the budget), else the next deadline. */
	if (pub->round.active || pub->nqueue)
		return mono_ms + 10;
	wake = next_edge_ms - lead_ms(pub);
	if (wake <= unix_ms)
		wake = next_edge_ms;
	cur = intro_find(pub, T + n) ? intro_find(pub, T + n) : intro_find(pub, T);
	if (cur && cur->republish_unix_ms < wake)
		wake = cur->republish_unix_ms;
	return mono_ms + (wake > unix_ms ? wake - unix_ms : 0) + 1;
}

void mt6d_pub_get_status(const struct mt6d_pub *pub, struct mt6d_pub_status *st)
{
	memset(st, 0, sizeof(*st));
	st->period = pub->cfg.period;
	st->rot_ms = pub->cfg.rot_ms;
	st->clients = pub->nclients;
	st->round_window = pub->round.window;
	st->round_total = pub->round.total;
	st->round_done = pub->round.done;
	st->round_failed = pub->round.failed;
	st->round_inflight = pub->round.inflight;
	st->round_retried = pub->round.retried;
	st->round_started_ms = pub->round.started_ms;
	st->round_elapsed_ms = pub->round.active ? 0 : pub->round.elapsed_ms;
	st->round_stored_min = pub->round.stored_min == ~0u ? 0 : pub->round.stored_min;
	st->ops_started = pub->ops_started;
	st->ops_failed = pub->ops_failed;
	st->dht_messages = pub->dht_messages;
	for (int i = 0; i < MAX_INTROS; i++)
		if (pub->intros[i].live) {
			st->windows_live++;
			if (pub->intros[i].intro.window > st->window)
				st->window = pub->intros[i].intro.window;
		}
}

int mt6d_pub_idle(const struct mt6d_pub *pub)
{
	return !pub->round.active && pub->nqueue == 0 && pub->ops == NULL;
}
