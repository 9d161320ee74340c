/* SPDX-License-Identifier: MIT */
/*
 * The routing-table state file, text so an operator can read it:
 *   # mt6d dht state v1
 *   id <40 hex>
 *   node <40 hex id> <IPv4 or IPv6 address> <port>
 * Only nodes that have answered us are saved. Saving writes PATH.tmp and
 * renames it over PATH, so a crash leaves the old file or the new one.
 * Loading refuses lines it does not understand (-EINVAL) and pings every
 * node it restores, so stale entries fail out of the table in time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dht/internal.h"
#include "core/internal.h"

static void save_table(FILE *f, const struct dht_table *t)
{
	char hex[41], ip[INET6_ADDRSTRLEN];

	for (int b = 0; b < t->nb; b++)
		for (int i = 0; i < t->b[b].count; i++) {
			const struct dht_node *n = &t->b[b].n[i];
			if (!n->last_reply || n->fails >= DHT_BAD_FAILS)
				continue;
			mt6d_hex_encode(hex, n->id, MT6D_DHT_ID_LEN);
			size_t iplen;
			const uint8_t *a = mt6d_endpoint_ip(&n->a, &iplen);
			inet_ntop(iplen == 4 ? AF_INET : AF_INET6, a, ip, sizeof(ip));
			fprintf(f, "node %s %s %u\n", hex, ip, n->a.port);
		}
}

int mt6d_dht_save(const struct mt6d_dht *dht, const char *path)
{
	char tmp[4096], hex[41];
	FILE *f = NULL;
	int ret = 0;

	if (!dht || !path)
		return -EINVAL;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	mt6d_hex_encode(hex, dht->id, MT6D_DHT_ID_LEN);
	fprintf(f, "# mt6d dht state v1\nid %s\n", hex);
	save_table(f, &dht->t4);
	save_table(f, &dht->t6);
	if (fflush(f) != 0 || ferror(f))
		ret = -EIO;
	if (fclose(f) != 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		remove(tmp);
	return ret;
}

int mt6d_dht_load(struct mt6d_dht *dht, const char *path, uint64_t now_ms)
{
	char line[256], hex[64], ip[64];
	uint8_t id[MT6D_DHT_ID_LEN];
	unsigned port;
	FILE *f;
	int ret = 0;

	if (!dht || !path)
		return -EINVAL;
	f = fopen(path, "r");
	if (!f)
		return -errno;
	dht->now = now_ms;
	while (fgets(line, sizeof(line), f)) {
		struct mt6d_endpoint a = {0};
		struct mt6d_endpoint ping;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "id %63s", hex) == 1) {
			if (mt6d_hex_decode(id, sizeof(id), hex) < 0) {
				ret = -EINVAL;
				goto out;
			}
			if (!dht->cfg.have_id && !dht->t4.nb && !dht->t6.nb)
				memcpy(dht->id, id, sizeof(id));
			continue;
		}
		if (sscanf(line, "node %63s %63s %u", hex, ip, &port) != 3 ||
		    mt6d_hex_decode(id, sizeof(id), hex) < 0 || port == 0 || port > 65535) {
			ret = -EINVAL;
			goto out;
		}
		uint8_t raw[16];
		if (inet_pton(AF_INET, ip, raw) == 1)
			mt6d_endpoint_set(&a, raw, 4, (uint16_t)port);
		else if (inet_pton(AF_INET6, ip, raw) == 1)
			mt6d_endpoint_set(&a, raw, 16, (uint16_t)port);
		else {
			ret = -EINVAL;
			goto out;
		}
		if (dht_node_heard(dht, id, &a, false, &ping))
			dht_ping(dht, &ping);
		dht_find_node(dht, &a, dht->id);
	}
	if (ferror(f))
		ret = -EIO;
out:
	fclose(f);
	return ret;
}

static int adopt_table(struct mt6d_dht *dst, const struct dht_table *t)
{
	int count = 0;

	for (int b = 0; b < t->nb; b++)
		for (int i = 0; i < t->b[b].count; i++) {
			const struct dht_node *n = &t->b[b].n[i];
			struct mt6d_endpoint ping;

			if (!n->last_reply || n->fails >= DHT_BAD_FAILS)
				continue;
			/* replied: no ping is asked for a node entered as answering */
			(void)dht_node_heard(dst, n->id, &n->a, true, &ping);
			count++;
		}
	return count;
}

int mt6d_dht_adopt(struct mt6d_dht *dst, const struct mt6d_dht *src, uint64_t now_ms)
{
	if (!dst || !src || dst == src)
		return -EINVAL;
	dst->now = now_ms;
	return adopt_table(dst, &src->t4) + adopt_table(dst, &src->t6);
}
