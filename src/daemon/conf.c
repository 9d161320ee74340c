/* SPDX-License-Identifier: MIT */
/*
 * Server and client configuration files. libinih does the INI syntax; this
 * file checks every value. The first bad value stops the parse and is
 * reported with its line; nothing is applied from a file with an error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "conf.h"
#include "mt6d/rebind.h"
#include "mt6d/rendezvous.h"

struct parse {
	struct conf *c;
	const char *name;
	int lineno; /* libinih reports only the first failing line */
};

int conf_parse_addr_ex(struct conf_addr *a, const char *s, int form)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon = NULL, *h = s;
	size_t hlen;
	unsigned long port = 0;

	memset(a, 0, sizeof(*a));
	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || (close[1] && close[1] != ':'))
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close[1] ? close + 1 : NULL;
	} else if (form == CONF_ADDR_HOST) {
		hlen = strlen(s); /* a bare IPv6 address has colons of its own */
	} else {
		colon = strrchr(s, ':');
		hlen = colon ? (size_t)(colon - s) : 0;
	}
	if ((colon != NULL) != (form != CONF_ADDR_HOST) || hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (colon) {
		char *end;
		if (colon[1] < '0' || colon[1] > '9')
			return -EINVAL;
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || *end || port > 65535 || (port == 0 && form == CONF_ADDR_PORT))
			return -EINVAL;
	}
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&a->ss)->sin_addr) == 1 &&
	    (s[0] != '[' || form == CONF_ADDR_HOST)) {
		struct sockaddr_in *in = (struct sockaddr_in *)&a->ss;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		a->len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&a->ss)->sin6_addr) == 1 &&
	    (s[0] == '[' || form == CONF_ADDR_HOST)) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*in6);
		return 0;
	}
	memset(a, 0, sizeof(*a));
	return -EINVAL;
}

int conf_parse_addr(struct conf_addr *a, const char *s)
{
	return conf_parse_addr_ex(a, s, CONF_ADDR_PORT);
}

void conf_addr_v6(uint8_t addr[static 16], uint16_t *port, const struct conf_addr *a)
{
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a->ss;
		memset(addr, 0, 10);
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &v4->sin_addr, 4);
		*port = ntohs(v4->sin_port);
	} else {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&a->ss;
		memcpy(addr, &v6->sin6_addr, 16);
		*port = ntohs(v6->sin6_port);
	}
}

void conf_format_addr(char *out, size_t cap, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(out, cap, "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(out, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(out, cap, "?");
	}
}

/* Record the first error only: libinih goes on after a bad line but reports
 * the first one's number, which conf_load prefixes. Returns 0 for libinih. */
__attribute__((format(printf, 2, 3))) static int bad(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	if (p->c->error[0])
		return 0;
	va_start(ap, fmt);
	vsnprintf(p->c->error, sizeof(p->c->error), fmt, ap);
	va_end(ap);
	return 0;
}

static int u32(uint32_t *out, const char *v, uint32_t min, uint32_t max)
{
	char *end;
	unsigned long long x;

	if (!*v || *v == '-' || *v == '+')
		return -1;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end || x < min || x > max)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

static int path(char out[CONF_PATH_MAX], const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n >= CONF_PATH_MAX)
		return -1;
	memcpy(out, v, n + 1);
	return 0;
}

/* "ADDRESS/64": its first 8 bytes. */
static int prefix64(uint8_t out[MT6D_PREFIX_LEN], const char *v)
{
	char buf[INET6_ADDRSTRLEN + 4];
	uint8_t a[16];
	char *slash;

	if (strlen(v) >= sizeof(buf))
		return -1;
	strcpy(buf, v);
	slash = strchr(buf, '/');
	if (!slash || strcmp(slash, "/64"))
		return -1;
	*slash = '\0';
	if (inet_pton(AF_INET6, buf, a) != 1)
		return -1;
	memcpy(out, a, MT6D_PREFIX_LEN);
	return 0;
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct parse *p = user;
	struct conf *c = p->c;
	const char *role = c->is_server ? "server" : "client";

	if (!strcmp(section, role)) {
		if (!strcmp(key, "private_key")) {
			if (path(c->private_key, value) < 0)
				return bad(p, "%s is not a file path: `%s'", key, value);
		} else if (c->is_server && !strcmp(key, "clients")) {
			if (path(c->clients, value) < 0)
				return bad(p, "%s is not a file path: `%s'", key, value);
		} else if (!c->is_server && !strcmp(key, "server_public_key")) {
			if (mt6d_key_from_base64(c->server_pub, value) < 0)
				return bad(p, "%s is not a base64 public key: `%s'", key, value);
			c->have_server_pub = 1;
		} else if (!c->is_server && !strcmp(key, "prefix") && !strcmp(value, "auto")) {
			c->prefix_auto = 1;
			c->have_prefix = 0;
		} else if (!strcmp(key, "prefix")) {
			c->prefix_auto = 0;
			if (prefix64(c->prefix, value) < 0)
				return bad(p, "%s is not an IPv6 prefix ADDRESS/64: `%s'", key,
				           value);
			c->have_prefix = 1;
		} else if (c->is_server && !strcmp(key, "tunnel_prefix")) {
			if (prefix64(c->tun_prefix, value) < 0)
				return bad(p, "%s is not an IPv6 prefix ADDRESS/64: `%s'", key,
				           value);
			c->have_tun_prefix = 1;
		} else if (!strcmp(key, "interface") || (!c->is_server && !strcmp(key, "uplink"))) {
			char *dst = key[0] == 'i' ? c->ifname : c->uplink;
			if (!*value || strlen(value) >= 16 || strchr(value, '/') ||
			    strchr(value, ' '))
				return bad(p, "%s is not an interface name: `%s'", key, value);
			strcpy(dst, value);
		} else if (c->is_server && !strcmp(key, "idle_timeout")) {
			if (u32(&c->idle_timeout_s, value, 5, 86400) < 0)
				return bad(p, "%s is not a number of seconds from 5 to 86400: `%s'",
				           key, value);
		} else if (!strcmp(key, "keepalive")) {
			if (u32(&c->keepalive_s, value, 1, 3600) < 0)
				return bad(p, "%s is not a number of seconds from 1 to 3600: `%s'",
				           key, value);
		} else if (c->is_server && !strcmp(key, "max_sessions")) {
			if (u32(&c->max_sessions, value, 0, 10000000) < 0)
				return bad(p, "%s is not a number from 0 to 10000000: `%s'", key,
				           value);
		} else if (c->is_server && !strcmp(key, "tproxy_port")) {
			if (u32(&c->tproxy_port, value, 1, 65535) < 0)
				return bad(p, "%s is not a port from 1 to 65535: `%s'", key, value);
		} else if (!c->is_server && !strcmp(key, "mode")) {
			c->routed = c->underlay = 0;
			if (!strcmp(value, "routed"))
				c->routed = 1;
			else if (!strcmp(value, "underlay"))
				c->underlay = 1;
			else if (strcmp(value, "bind") != 0)
				return bad(p, "%s is neither bind, routed nor underlay: `%s'", key,
				           value);
		} else if (c->is_server && !strcmp(key, "underlay")) {
			struct conf_addr a;
			if (conf_parse_addr(&a, value) < 0)
				return bad(p, "%s is not ADDRESS:PORT or [ADDRESS]:PORT: `%s'", key,
				           value);
			conf_addr_v6(c->underlay_addr, &c->underlay_port, &a);
		} else if (c->is_server && !strcmp(key, "rebind_levels")) {
			if (u32(&c->rebind_levels, value, MT6D_REBIND_MIN_LEVELS,
			        MT6D_REBIND_MAX_LEVELS) < 0)
				return bad(p, "%s is not a number from 1 to 24: `%s'", key, value);
		} else if (c->is_server && !strcmp(key, "rebind_epoch")) {
			if (u32(&c->rebind_epoch_s, value, 10, 7 * 86400) < 0)
				return bad(p,
				           "%s is not a number of seconds from 10 to 604800: `%s'",
				           key, value);
		} else if (c->is_server && !strcmp(key, "rebind_window")) {
			if (u32(&c->rebind_window_s, value, 1, 600) < 0)
				return bad(p, "%s is not a number of seconds from 1 to 600: `%s'",
				           key, value);
		} else if (c->is_server && !strcmp(key, "reply_rate")) {
			if (u32(&c->reply_rate, value, 1, 1000000) < 0)
				return bad(p, "%s is not a number from 1 to 1000000: `%s'", key,
				           value);
		} else if (c->is_server && !strcmp(key, "reply_burst")) {
			if (u32(&c->reply_burst, value, 1, 1000000) < 0)
				return bad(p, "%s is not a number from 1 to 1000000: `%s'", key,
				           value);
		} else if (!c->is_server && !strcmp(key, "lookup_timeout")) {
			if (u32(&c->lookup_timeout_s, value, 1, 3600) < 0)
				return bad(p, "%s is not a number of seconds from 1 to 3600: `%s'",
				           key, value);
		} else if (!strcmp(key, "user")) {
			if (!*value || strlen(value) >= sizeof(c->user) || strpbrk(value, "/: \t"))
				return bad(p, "%s is not a user name: `%s'", key, value);
			strcpy(c->user, value);
		} else if (!strcmp(key, "state_file")) {
			if (path(c->state_file, value) < 0)
				return bad(p, "%s is not a file path: `%s'", key, value);
		} else if (!strcmp(key, "period")) {
			/* The client may list several (docs/rendezvous.md). */
			char buf[64], *save = NULL, *tok;
			int n = 0;
			if (strlen(value) >= sizeof(buf))
				return bad(p,
				           "%s is not a number of seconds from 10 to 604800: `%s'",
				           key, value);
			strcpy(buf, value);
			memset(c->periods, 0, sizeof(c->periods));
			for (tok = strtok_r(buf, ", ", &save); tok;
			     tok = strtok_r(NULL, ", ", &save)) {
				if (n == (c->is_server ? 1 : 4) ||
				    u32(&c->periods[n], tok, 10, 7 * 86400) < 0)
					return bad(p,
					           c->is_server
					                   ? "%s is not a number of seconds "
					                     "from 10 to 604800: `%s'"
					                   : "%s is not 1-4 numbers of seconds "
					                     "from 10 to 604800: `%s'",
					           key, value);
				n++;
			}
			if (n == 0)
				return bad(p, "%s is empty: `%s'", key, value);
			c->period = c->periods[0];
		} else if (!strcmp(key, "rotation_ms")) {
			if (u32(&c->rot_ms, value, 100, 3600000) < 0)
				return bad(p,
				           "%s is not a number of milliseconds from 100 to "
				           "3600000: `%s'",
				           key, value);
		} else if (!strcmp(key, "transport")) {
			int t = mt6d_rdv_transport_parse(value);
			if (t < 0)
				return bad(p, "%s is neither bep44, stuffing nor both: `%s'", key,
				           value);
			c->transports = t;
		} else if (c->is_server && !strcmp(key, "publish_lead")) {
			if (u32(&c->lead_s, value, 0, 86400) < 0)
				return bad(p, "%s is not a number of seconds from 0 to 86400: `%s'",
				           key, value);
		} else if (c->is_server && !strcmp(key, "publish_inflight")) {
			uint32_t v;
			if (u32(&v, value, 1, 4096) < 0)
				return bad(p, "%s is not a number from 1 to 4096: `%s'", key,
				           value);
			c->max_inflight = v;
		} else {
			return bad(p, "unknown key `%s' (value `%s')", key, value);
		}
	} else if (!strcmp(section, "dht")) {
		if (!strcmp(key, "listen")) {
			if (c->nlisten == CONF_MAX_LISTEN)
				return bad(p,
				           "%s is given more than twice (one IPv4, one IPv6): `%s'",
				           key, value);
			if (conf_parse_addr(&c->listen[c->nlisten], value) < 0)
				return bad(p, "%s is not ADDRESS:PORT or [ADDRESS]:PORT: `%s'", key,
				           value);
			c->nlisten++;
		} else if (!strcmp(key, "bootstrap")) {
			if (c->nbootstrap == CONF_MAX_BOOTSTRAP)
				return bad(p, "more than 16 %s nodes: `%s'", key, value);
			if (conf_parse_addr(&c->bootstrap[c->nbootstrap], value) < 0)
				return bad(p, "%s is not ADDRESS:PORT or [ADDRESS]:PORT: `%s'", key,
				           value);
			c->nbootstrap++;
		} else if (!strcmp(key, "state")) {
			if (path(c->dht_state, value) < 0)
				return bad(p, "%s is not a file path: `%s'", key, value);
		} else {
			return bad(p, "unknown key `%s' (value `%s')", key, value);
		}
	} else if (!strcmp(section, "control")) {
		if (!strcmp(key, "socket")) {
			if (path(c->control_socket, value) < 0 || strlen(value) >= 108)
				return bad(p, "%s is not a socket path shorter than 108: `%s'", key,
				           value);
		} else {
			return bad(p, "unknown key `%s' (value `%s')", key, value);
		}
	} else {
		return bad(p, "unknown section [%.60s] (expected [%s], [dht] or [control])",
		           section, role);
	}
	return 1;
}

static void defaults(struct conf *c, int is_server)
{
	memset(c, 0, sizeof(*c));
	c->is_server = is_server;
	c->period = MT6D_DEFAULT_PERIOD;
	c->periods[0] = MT6D_DEFAULT_PERIOD;
	c->rot_ms = MT6D_DEFAULT_ROT_MS;
	c->transports = is_server ? MT6D_RDV_BEP44 : MT6D_RDV_BOTH;
	c->max_inflight = 64;
	strcpy(c->ifname, "mt6d0");
	c->tproxy_port = 7364;
	c->lookup_timeout_s = 30;
}

static int finish(struct conf *c, const char *name, int line)
{
	char msg[sizeof(c->error)];

	if (line < 0) {
		snprintf(c->error, sizeof(c->error), "%s: out of memory", name);
		return -ENOMEM;
	}
	if (line > 0) {
		if (!c->error[0])
			snprintf(c->error, sizeof(c->error), "syntax error");
		snprintf(msg, sizeof(msg), "%s", c->error);
		snprintf(c->error, sizeof(c->error), "%.40s:%d: %.440s", name, line, msg);
		return -EINVAL;
	}
	if (!c->private_key[0]) {
		snprintf(c->error, sizeof(c->error), "%s: [%s] private_key is required", name,
		         c->is_server ? "server" : "client");
		return -EINVAL;
	}
	if (c->is_server && !c->clients[0]) {
		snprintf(c->error, sizeof(c->error), "%s: [server] clients is required", name);
		return -EINVAL;
	}
	if (c->is_server && !c->have_prefix) {
		snprintf(c->error, sizeof(c->error), "%s: [server] prefix is required", name);
		return -EINVAL;
	}
	if (!c->is_server && !c->have_server_pub) {
		snprintf(c->error, sizeof(c->error), "%s: [client] server_public_key is required",
		         name);
		return -EINVAL;
	}
	return 0;
}

int conf_load(struct conf *c, const char *path_, int is_server)
{
	struct parse p = {.c = c, .name = path_};
	FILE *f;
	int line;

	defaults(c, is_server);
	f = fopen(path_, "re");
	if (!f) {
		int err = errno;
		snprintf(c->error, sizeof(c->error), "%s: %s", path_, strerror(err));
		return -err;
	}
	line = ini_parse_file(f, handler, &p);
	fclose(f);
	return finish(c, path_, line);
}

int conf_load_string(struct conf *c, const char *text, const char *name, int is_server)
{
	struct parse p = {.c = c, .name = name};

	defaults(c, is_server);
	return finish(c, name, ini_parse_string(text, handler, &p));
}
