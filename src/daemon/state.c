/* SPDX-License-Identifier: MIT */
/*
 * The state file: what this daemon added to the system outside its TUN
 * device, so that a start after a crash can remove it. Text, one item per
 * line, written to PATH.tmp and renamed over PATH, so a reader sees either
 * the old or the new list, never half of one. The first line holds the pid
 * of the daemon that wrote it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "mt6d/mt6d.h"

int state_init(struct state *st, const char *path)
{
	memset(st, 0, sizeof(*st));
	st->path = strdup(path);
	return st->path ? 0 : -ENOMEM;
}

void state_free(struct state *st)
{
	free(st->path);
	free(st->items);
	memset(st, 0, sizeof(*st));
}

int state_write(struct state *st)
{
	char tmp[4096], a[INET6_ADDRSTRLEN];
	FILE *f;
	int ret = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", st->path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return st->err = -errno;
	errno = 0;
	fprintf(f, "mt6d-state 1 pid %ld\n", (long)getpid());
	for (size_t i = 0; i < st->n; i++) {
		const struct state_item *it = &st->items[i];

		inet_ntop(AF_INET6, it->addr, a, sizeof(a));
		fprintf(f, "%s %s %s/%u\n",
		        it->kind == STATE_ADDR        ? "addr"
		        : it->kind == STATE_NFT_TABLE ? "nft-table"
		                                      : "route-local",
		        it->ifname, a, it->plen);
	}
	/* A full disk shows here (ENOSPC), not at fopen. */
	if (fflush(f) != 0 || ferror(f))
		ret = errno ? -errno : -EIO;
	if (fclose(f) != 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, st->path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return st->err = ret;
}

static bool same(const struct state_item *x, const struct state_item *y)
{
	return x->kind == y->kind && x->plen == y->plen && !strcmp(x->ifname, y->ifname) &&
	       !memcmp(x->addr, y->addr, 16);
}

int state_add(struct state *st, const struct state_item *it)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 8;
		struct state_item *p = realloc(st->items, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		st->items = p;
		st->cap = cap;
	}
	st->items[st->n++] = *it;
	return state_write(st);
}

int state_del(struct state *st, const struct state_item *it)
{
	for (size_t i = 0; i < st->n; i++) {
		if (!same(&st->items[i], it))
			continue;
		st->items[i] = st->items[--st->n];
		return state_write(st);
	}
	return -ENOENT;
}

int state_recover(const char *path, struct nl *nl, long *pid)
{
	char line[256], kind[32], ifname[32], a[64];
	unsigned plen;
	int n = 0;
	FILE *f;

	*pid = 0;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	if (!fgets(line, sizeof(line), f) || sscanf(line, "mt6d-state 1 pid %ld", pid) != 1) {
		fclose(f);
		return -EINVAL;
	}
	while (fgets(line, sizeof(line), f)) {
		uint8_t addr[16];
		unsigned ifindex;

		if (sscanf(line, "%31s %31s %63s", kind, ifname, a) != 3)
			continue;
		if (!strchr(a, '/') || mt6d_prefix_parse(addr, &plen, a, 0) < 0)
			continue;
		if (!strcmp(kind, "nft-table")) {
			nft_del_table(ifname);
			n++;
			continue;
		}
		ifindex = if_nametoindex(ifname);
		if (!ifindex) {
			n++; /* the interface is gone, and its addresses with it */
			continue;
		}
		if (!strcmp(kind, "addr"))
			nl_addr(nl, false, ifindex, addr, plen, false);
		else if (!strcmp(kind, "route-local"))
			nl_route(nl, false, true, ifindex, addr, plen);
		else
			continue;
		n++;
	}
	fclose(f);
	unlink(path);
	return n;
}
