/* SPDX-License-Identifier: MIT */
/*
 * Per-session tunnel state and the table that finds a session from the
 * local outer (address, port) a datagram arrived on.
 *
 * Rules this file keeps:
 *  - A session's window holds exactly the slots cur-1, cur, cur+1 (the
 *    receiver's tolerance for clock skew and packets in flight); slot k
 *    lives at index k % MT6D_TUN_SLOTS, so rotating replaces one entry.
 *  - The table holds one key per (session, slot in the window): the local
 *    endpoint of that slot. Lookup is one SipHash and a short linear probe,
 *    whatever the number of sessions (the server target is 100,000, i.e.
 *    300,000 keys). The SipHash key is random per table, so nobody can aim
 *    datagrams at one long probe chain.
 *  - Deletion shifts later entries of the probe run back instead of leaving
 *    tombstones, so lookups never slow down as slots rotate for days.
 *  - The table is kept at most half full; it doubles when it would not be.
 *  - Slots leave the table and are reported before new ones are added, so a
 *    caller that binds one socket per slot never holds more than three.
 *  - A clocked session (a static key, mt6d_tun_session_clock()) never sends
 *    a counter below the start of its current slot in ns, nor, in the
 *    absence of a billion datagrams per slot, above the time it was sent;
 *    its receiver refuses counters from before its own start plus one
 *    rotation, so a restart does not reopen the replay window.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/internal.h"
#include "mt6d/tunnel.h"

struct entry {
	struct mt6d_tun_session *s; /* NULL: empty */
	uint64_t slot;
	uint8_t addr[16];
	uint16_t port;
};

struct mt6d_tun_table {
	struct entry *e;
	size_t cap; /* power of two */
	size_t count;
	uint8_t hkey[crypto_shorthash_KEYBYTES];
};

static size_t hash(const struct mt6d_tun_table *t, const uint8_t addr[static 16], uint16_t port)
{
	uint8_t in[18], h[crypto_shorthash_BYTES];
	uint64_t v;

	memcpy(in, addr, 16);
	in[16] = (uint8_t)(port >> 8);
	in[17] = (uint8_t)port;
	crypto_shorthash(h, in, sizeof(in), t->hkey);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & (t->cap - 1);
}

static bool same(const struct entry *x, const uint8_t addr[static 16], uint16_t port)
{
	return x->port == port && !memcmp(x->addr, addr, 16);
}

struct mt6d_tun_table *mt6d_tun_table_new(void)
{
	struct mt6d_tun_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cap = 64;
	t->e = calloc(t->cap, sizeof(*t->e));
	if (!t->e) {
		free(t);
		return NULL;
	}
	randombytes_buf(t->hkey, sizeof(t->hkey));
	return t;
}

void mt6d_tun_table_free(struct mt6d_tun_table *t)
{
	if (!t)
		return;
	free(t->e);
	sodium_memzero(t, sizeof(*t));
	free(t);
}

size_t mt6d_tun_table_count(const struct mt6d_tun_table *t)
{
	return t->count;
}

static void place(struct mt6d_tun_table *t, const struct entry *x)
{
	size_t i = hash(t, x->addr, x->port);

	while (t->e[i].s)
		i = (i + 1) & (t->cap - 1);
	t->e[i] = *x;
}

static int grow(struct mt6d_tun_table *t)
{
	struct entry *old = t->e;
	size_t oldcap = t->cap;

	t->e = calloc(oldcap * 2, sizeof(*t->e));
	if (!t->e) {
		t->e = old;
		return -ENOMEM;
	}
	t->cap = oldcap * 2;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].s)
			place(t, &old[i]);
	free(old);
	return 0;
}

int mt6d_tun_table_add(struct mt6d_tun_table *t, const struct mt6d_endpoint *ep,
                       struct mt6d_tun_session *s, uint64_t slot)
{
	struct entry x = {.s = s, .slot = slot, .port = ep->port};
	int ret;

	if (mt6d_tun_table_find(t, ep, NULL))
		return -EEXIST;
	if ((t->count + 1) * 2 > t->cap && (ret = grow(t)) < 0)
		return ret;
	memcpy(x.addr, ep->addr, 16);
	place(t, &x);
	t->count++;
	return 0;
}

static size_t lookup(const struct mt6d_tun_table *t, const struct mt6d_endpoint *ep)
{
	size_t i = hash(t, ep->addr, ep->port);

	for (; t->e[i].s; i = (i + 1) & (t->cap - 1))
		if (same(&t->e[i], ep->addr, ep->port))
			return i;
	return SIZE_MAX;
}

struct mt6d_tun_session *mt6d_tun_table_find(const struct mt6d_tun_table *t,
                                             const struct mt6d_endpoint *ep, uint64_t *slot)
{
	size_t i = lookup(t, ep);

	if (i == SIZE_MAX)
		return NULL;
	if (slot)
		*slot = t->e[i].slot;
	return t->e[i].s;
}

int mt6d_tun_table_del(struct mt6d_tun_table *t, const struct mt6d_endpoint *ep,
                       const struct mt6d_tun_session *s)
{
	size_t mask = t->cap - 1, i = lookup(t, ep), j;

	if (i == SIZE_MAX || t->e[i].s != s)
		return -ENOENT;
	/* Backward-shift deletion: move each later entry of the run into the
	 * hole unless its home lies cyclically in (i, j]. */
	j = i;
	for (;;) {
		size_t home;

		t->e[i].s = NULL;
		do {
			j = (j + 1) & mask;
			if (!t->e[j].s)
				goto done;
			home = hash(t, t->e[j].addr, t->e[j].port);
		} while (i <= j ? (i < home && home <= j) : (i < home || home <= j));
		t->e[i] = t->e[j];
		i = j;
	}
done:
	t->count--;
	return 0;
}

int mt6d_tun_session_init(struct mt6d_tun_session *s, const uint8_t ks[static MT6D_INTRO_KEY_LEN],
                          const struct mt6d_tun_host *local, const struct mt6d_tun_host *remote,
                          enum mt6d_role role, uint32_t rot_ms, uint64_t counter_start)
{
	int ret;

	if (!rot_ms)
		return -EINVAL;
	if (!memcmp(local, remote, sizeof(*local)))
		return -EINVAL; /* both ends would use the same addresses */
	memset(s, 0, sizeof(*s));
	ret = mt6d_encap_init(&s->encap, ks, role, counter_start);
	if (ret < 0)
		return ret;
	memcpy(s->ks, ks, MT6D_INTRO_KEY_LEN);
	s->local = *local;
	s->remote = *remote;
	s->rot_ms = rot_ms;
	for (int i = 0; i < MT6D_TUN_SLOTS; i++)
		s->win[i].fd = -1;
	return 0;
}

#define NS_PER_MS UINT64_C(1000000)

void mt6d_tun_session_clock(struct mt6d_tun_session *s, uint64_t now_ms)
{
	s->clocked = true;
	s->encap.tx_counter = now_ms * NS_PER_MS;
	s->encap.replay.floor = (now_ms + s->rot_ms) * NS_PER_MS;
}

void mt6d_tun_session_clear(struct mt6d_tun_table *t, struct mt6d_tun_session *s)
{
	if (!s)
		return;
	for (int i = 0; i < MT6D_TUN_SLOTS; i++)
		if (s->win[i].valid && t)
			mt6d_tun_table_del(t, &s->win[i].local, s);
	mt6d_encap_clear(&s->encap);
	sodium_memzero(s->ks, sizeof(s->ks));
	for (int i = 0; i < MT6D_TUN_SLOTS; i++)
		s->win[i].valid = false;
}

static bool in_window(uint64_t slot, uint64_t now)
{
	return slot + 1 >= now && slot <= now + 1;
}

int mt6d_tun_session_rotate(struct mt6d_tun_table *t, struct mt6d_tun_session *s, uint64_t now,
                            mt6d_tun_slot_cb cb, void *arg)
{
	int ret = 0;

	if (now == 0)
		return -EINVAL; /* slot now-1 must exist */
	for (int i = 0; i < MT6D_TUN_SLOTS; i++) {
		struct mt6d_tun_slot *sl = &s->win[i];

		if (!sl->valid || in_window(sl->slot, now))
			continue;
		if (t)
			mt6d_tun_table_del(t, &sl->local, s);
		if (cb)
			cb(s, sl, false, arg);
		sl->valid = false;
	}
	for (uint64_t k = now - 1; k <= now + 1; k++) {
		struct mt6d_tun_slot *sl = &s->win[k % MT6D_TUN_SLOTS];
		int r;

		if (sl->valid)
			continue;
		sl->slot = k;
		mt6d_slot_address(sl->local.addr, &sl->local.port, s->local.prefix, s->local.iid,
		                  s->ks, k);
		mt6d_slot_address(sl->remote.addr, &sl->remote.port, s->remote.prefix,
		                  s->remote.iid, s->ks, k);
		sl->valid = true;
		/* An endpoint equal to another live one (probability 2^-80)
		 * stays out of the table; its slot still sends. */
		if (t && (r = mt6d_tun_table_add(t, &sl->local, s, k)) < 0 && r != -EEXIST)
			ret = r;
		if (cb)
			cb(s, sl, true, arg);
	}
	if (s->clocked && s->encap.tx_counter < now * s->rot_ms * NS_PER_MS)
		s->encap.tx_counter = now * s->rot_ms * NS_PER_MS;
	if (s->cur != now) {
		s->cur = now;
		s->stats.rotations++;
	}
	return ret;
}

struct mt6d_tun_slot *mt6d_tun_session_slot(struct mt6d_tun_session *s, uint64_t slot)
{
	struct mt6d_tun_slot *sl = &s->win[slot % MT6D_TUN_SLOTS];

	return sl->valid && sl->slot == slot ? sl : NULL;
}

struct mt6d_tun_slot *mt6d_tun_session_tx_slot(struct mt6d_tun_session *s, uint64_t unix_ms)
{
	struct mt6d_tun_slot *sl = mt6d_tun_session_slot(s, mt6d_slot(unix_ms, s->rot_ms));

	return sl ? sl : mt6d_tun_session_slot(s, s->cur);
}
