/* SPDX-License-Identifier: MIT */
/*
 * Configuration files of mt6d server, mt6d client and mt6d tunnel. libinih
 * does the INI syntax; this file checks every value.
 *
 * Rules this file keeps:
 *  - The first bad value stops the parse and is reported with its line;
 *    nothing is applied from a file with an error.
 *  - Section and key names are snake_case and compared exactly. A name of
 *    the tunnel's old style (`[Tunnel] SessionKey') is refused with the
 *    new one, so an old file fails at once instead of half applying.
 *  - An error quotes the bad value, except where the value may be key
 *    material (session_key, and any unknown key): those name the key only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ini.h>

#include "conf.h"
#include "mt6d/rebind.h"
#include "mt6d/rendezvous.h"

struct parse {
	struct conf *c;
	const char *name;
	int lineno; /* libinih reports only the first failing line */
};

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
	struct conf_prefix p;

	if (mt6d_prefix_parse(p.addr, &p.plen, v, 64) < 0)
		return -1;
	memcpy(out, p.addr, MT6D_PREFIX_LEN);
	return 0;
}

static int ifname(char out[16], const char *v)
{
	if (!*v || strlen(v) >= 16 || strchr(v, '/') || strchr(v, ' '))
		return -1;
	strcpy(out, v);
	return 0;
}

static int username(char out[64], const char *v)
{
	if (!*v || strlen(v) >= 64 || strpbrk(v, "/: \t"))
		return -1;
	strcpy(out, v);
	return 0;
}

/* ---- mt6d tunnel: [tunnel], [local], [peer] ---- */

/* The names of the old style (compared ignoring case, as the old parser
 * did) and what they are now. */
static const struct {
	const char *old, *now;
} renamed[] = {
        {"Tunnel", "tunnel"},
        {"Local", "local"},
        {"Peer", "peer"},
        {"Name", "interface"},
        {"Role", "role"},
        {"SessionKey", "session_key"},
        {"RotationMs", "rotation_ms"},
        {"Mode", "mode"},
        {"Uplink", "uplink"},
        {"MTU", "mtu"},
        {"Address", "address"},
        {"Route", "route"},
        {"StateFile", "state_file"},
        {"User", "user"},
        {"ClockOffsetMs", "clock_offset_ms"},
        {"Prefix", "prefix"},
        {"IID", "iid"},
};

static const char *renamed_to(const char *name)
{
	for (size_t i = 0; i < sizeof(renamed) / sizeof(renamed[0]); i++)
		if (!strcasecmp(name, renamed[i].old))
			return renamed[i].now;
	return NULL;
}

static int i64(int64_t *out, const char *v, int64_t min, int64_t max)
{
	char *end;
	long long x;

	if (!*v || *v == '+')
		return -1;
	errno = 0;
	x = strtoll(v, &end, 10);
	if (errno || *end || x < min || x > max)
		return -1;
	*out = x;
	return 0;
}

static int tunnel_key(struct parse *p, const char *key, const char *value)
{
	struct conf_tunnel *t = &p->c->tunnel;
	struct conf_prefix pf;
	uint32_t v;

	if (!strcmp(key, "interface")) {
		if (ifname(t->name, value) < 0)
			return bad(p, "%s is not an interface name: `%s'", key, value);
	} else if (!strcmp(key, "role")) {
		if (!strcmp(value, "client"))
			t->role = MT6D_ROLE_CLIENT;
		else if (!strcmp(value, "server"))
			t->role = MT6D_ROLE_SERVER;
		else
			return bad(p, "%s is neither client nor server: `%s'", key, value);
		t->have_role = true;
	} else if (!strcmp(key, "session_key")) {
		/* Never quoted: a near miss is most of a key. */
		if (mt6d_hex_decode(t->ks, sizeof(t->ks), value) < 0)
			return bad(
			        p,
			        "%s is not %zu hex digits (%zu characters given; value not shown)",
			        key, 2 * sizeof(t->ks), strlen(value));
		t->have_key = true;
	} else if (!strcmp(key, "rotation_ms")) {
		if (u32(&t->rot_ms, value, 100, 3600000) < 0)
			return bad(p,
			           "%s is not a number of milliseconds from 100 to 3600000: `%s'",
			           key, value);
	} else if (!strcmp(key, "mode")) {
		if (!strcmp(value, "bind"))
			t->mode = CONF_TUN_BIND;
		else if (!strcmp(value, "routed"))
			t->mode = CONF_TUN_ROUTED;
		else
			return bad(p, "%s is neither bind nor routed: `%s'", key, value);
	} else if (!strcmp(key, "uplink")) {
		if (ifname(t->uplink, value) < 0)
			return bad(p, "%s is not an interface name: `%s'", key, value);
	} else if (!strcmp(key, "mtu")) {
		if (u32(&v, value, MT6D_IPV6_MIN_MTU, MT6D_TUN_MTU) < 0)
			return bad(p, "%s is not a number from %d to %d: `%s'", key,
			           MT6D_IPV6_MIN_MTU, MT6D_TUN_MTU, value);
		t->mtu = v;
	} else if (!strcmp(key, "address") || !strcmp(key, "route")) {
		bool is_addr = key[0] == 'a';
		size_t *n = is_addr ? &t->naddrs : &t->nroutes;
		if (mt6d_prefix_parse(pf.addr, &pf.plen, value, 0) < 0)
			return bad(p, "%s is not an IPv6 ADDRESS[/LEN]: `%s'", key, value);
		if (*n == CONF_MAX_INNER)
			return bad(p, "more than %d %s lines: `%s'", CONF_MAX_INNER, key, value);
		(is_addr ? t->addrs : t->routes)[(*n)++] = pf;
	} else if (!strcmp(key, "user")) {
		if (username(t->user, value) < 0)
			return bad(p, "%s is not a user name: `%s'", key, value);
	} else if (!strcmp(key, "state_file")) {
		if (path(t->state_file, value) < 0)
			return bad(p, "%s is not a file path: `%s'", key, value);
	} else if (!strcmp(key, "clock_offset_ms")) {
		if (i64(&t->clock_offset_ms, value, -86400000, 86400000) < 0)
			return bad(p, "%s is not a number from -86400000 to 86400000: `%s'", key,
			           value);
	} else {
		return 0;
	}
	return 1;
}

static int host_key(struct parse *p, bool local, const char *key, const char *value)
{
	struct conf_tunnel *t = &p->c->tunnel;
	struct mt6d_tun_host *h = local ? &t->local : &t->remote;

	if (!strcmp(key, "prefix")) {
		if (prefix64(h->prefix, value) < 0)
			return bad(p, "%s is not an IPv6 prefix ADDRESS/64: `%s'", key, value);
		*(local ? &t->have_lp : &t->have_rp) = true;
	} else if (!strcmp(key, "iid")) {
		if (mt6d_hex_decode(h->iid, sizeof(h->iid), value) < 0)
			return bad(p, "%s is not %zu hex digits: `%s'", key, 2 * sizeof(h->iid),
			           value);
		*(local ? &t->have_li : &t->have_ri) = true;
	} else {
		return 0;
	}
	return 1;
}

/* Nothing here prints an unknown key's value: it may be a misspelt
 * session_key. */
static int tunnel_handler(struct parse *p, const char *section, const char *key, const char *value)
{
	const char *sec_now = renamed_to(section), *key_now = renamed_to(key);
	int r = -1;

	if (!strcmp(section, "tunnel"))
		r = tunnel_key(p, key, value);
	else if (!strcmp(section, "local") || !strcmp(section, "peer"))
		r = host_key(p, section[0] == 'l', key, value);
	if (r > 0)
		return r;
	if ((sec_now && strcmp(section, sec_now)) || (key_now && strcmp(key, key_now)))
		return bad(p, "[%.40s] %.40s is the old spelling: write [%s] %s", section, key,
		           sec_now ? sec_now : section, key_now ? key_now : key);
	if (r == 0)
		return bad(p, "unknown key `%.60s' in [%s]", key, section);
	return bad(p, "unknown section [%.60s] (expected [tunnel], [local] or [peer])", section);
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct parse *p = user;
	struct conf *c = p->c;
	const char *role = c->is_server ? "server" : "client";

	if (c->role == CONF_TUNNEL)
		return tunnel_handler(p, section, key, value);
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
		} else if (!strcmp(key, "interface") || !strcmp(key, "uplink")) {
			if (ifname(key[0] == 'i' ? c->ifname : c->uplink, value) < 0)
				return bad(p, "%s is not an interface name: `%s'", key, value);
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
		} else if (!strcmp(key, "mode")) {
			c->routed = c->underlay = c->ndp = 0;
			if (!strcmp(value, "ndp"))
				c->ndp = 1;
			else if (c->is_server && strcmp(value, "routed") != 0)
				return bad(p, "%s is neither routed nor ndp: `%s'", key, value);
			else if (!c->is_server && !strcmp(value, "routed"))
				c->routed = 1;
			else if (!c->is_server && !strcmp(value, "underlay"))
				c->underlay = 1;
			else if (!c->is_server && strcmp(value, "bind") != 0)
				return bad(p, "%s is neither bind, routed, underlay nor ndp: `%s'",
				           key, value);
		} else if (c->is_server && !strcmp(key, "underlay")) {
			struct mt6d_endpoint a;
			if (mt6d_endpoint_parse(&a, value, MT6D_EP_PORT) < 0)
				return bad(p, "%s is not ADDRESS:PORT or [ADDRESS]:PORT: `%s'", key,
				           value);
			memcpy(c->underlay_addr, a.addr, 16);
			c->underlay_port = a.port;
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
			if (username(c->user, value) < 0)
				return bad(p, "%s is not a user name: `%s'", key, value);
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
			return bad(p, "unknown key `%.60s' in [%s]", key, section);
		}
	} else if (!strcmp(section, "dht")) {
		if (!strcmp(key, "listen") && !strcmp(value, "auto")) {
			if (!c->is_server)
				return bad(p, "%s = auto is for mt6d server only: `%s'", key,
				           value);
			if (c->nlisten)
				return bad(p, "%s = auto with an address given too: `%s'", key,
				           value);
			c->dht_auto = 1;
		} else if (!strcmp(key, "listen")) {
			if (c->dht_auto)
				return bad(p, "%s given with listen = auto: `%s'", key, value);
			if (c->nlisten == CONF_MAX_LISTEN)
				return bad(p,
				           "%s is given more than twice (one IPv4, one IPv6): `%s'",
				           key, value);
			if (mt6d_endpoint_parse(&c->listen[c->nlisten], value, MT6D_EP_PORT) < 0)
				return bad(p, "%s is not ADDRESS:PORT or [ADDRESS]:PORT: `%s'", key,
				           value);
			c->nlisten++;
		} else if (!strcmp(key, "bootstrap")) {
			if (c->nbootstrap == CONF_MAX_BOOTSTRAP)
				return bad(p, "more than 16 %s nodes: `%s'", key, value);
			if (mt6d_endpoint_parse(&c->bootstrap[c->nbootstrap], value, MT6D_EP_PORT) <
			    0)
				return bad(p, "%s is not ADDRESS:PORT or [ADDRESS]:PORT: `%s'", key,
				           value);
			c->nbootstrap++;
		} else if (!strcmp(key, "state")) {
			if (path(c->dht_state, value) < 0)
				return bad(p, "%s is not a file path: `%s'", key, value);
		} else {
			return bad(p, "unknown key `%.60s' in [%s]", key, section);
		}
	} else if (!strcmp(section, "control")) {
		if (!strcmp(key, "socket")) {
			if (path(c->control_socket, value) < 0 || strlen(value) >= 108)
				return bad(p, "%s is not a socket path shorter than 108: `%s'", key,
				           value);
		} else {
			return bad(p, "unknown key `%.60s' in [%s]", key, section);
		}
	} else {
		return bad(p, "unknown section [%.60s] (expected [%s], [dht] or [control])",
		           section, role);
	}
	return 1;
}

static void defaults(struct conf *c, int role)
{
	int is_server = role == CONF_SERVER;

	memset(c, 0, sizeof(*c));
	c->role = role;
	c->is_server = is_server;
	c->period = MT6D_DEFAULT_PERIOD;
	c->periods[0] = MT6D_DEFAULT_PERIOD;
	c->rot_ms = MT6D_DEFAULT_ROT_MS;
	c->transports = is_server ? MT6D_RDV_BEP44 : MT6D_RDV_BOTH;
	c->max_inflight = 64;
	strcpy(c->ifname, "mt6d0");
	c->tproxy_port = 7364;
	c->lookup_timeout_s = 30;
	strcpy(c->tunnel.name, "mt6d%d");
	c->tunnel.rot_ms = MT6D_DEFAULT_ROT_MS;
	c->tunnel.mtu = MT6D_TUN_MTU;
	c->tunnel.mode = CONF_TUN_BIND;
}

__attribute__((format(printf, 3, 4))) static int fail(struct conf *c, const char *name,
                                                      const char *fmt, ...)
{
	char msg[sizeof(c->error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->error, sizeof(c->error), "%.200s: %.300s", name, msg);
	return -EINVAL;
}

static int finish_tunnel(struct conf *c, const char *name)
{
	struct conf_tunnel *t = &c->tunnel;

	if (!t->have_role)
		return fail(c, name, "[tunnel] role is required");
	if (!t->have_key)
		return fail(c, name, "[tunnel] session_key is required");
	if (!t->have_lp || !t->have_rp)
		return fail(c, name, "[%s] prefix is required", t->have_lp ? "peer" : "local");
	if (!t->have_li || !t->have_ri)
		return fail(c, name, "[%s] iid is required", t->have_li ? "peer" : "local");
	if (t->mode == CONF_TUN_BIND && !t->uplink[0])
		return fail(c, name, "[tunnel] mode = bind needs uplink");
	if (!memcmp(&t->local, &t->remote, sizeof(t->local)))
		return fail(c, name, "[local] and [peer] are the same host");
	if (!t->state_file[0])
		snprintf(t->state_file, sizeof(t->state_file), "/run/mt6d-%s.state",
		         strchr(t->name, '%') ? "tunnel" : t->name);
	return 0;
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
		snprintf(c->error, sizeof(c->error), "%.180s:%d: %.300s", name, line, msg);
		return -EINVAL;
	}
	if (c->role == CONF_TUNNEL)
		return finish_tunnel(c, name);
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

int conf_load(struct conf *c, const char *path_, int role)
{
	struct parse p = {.c = c, .name = path_};
	struct stat sb;
	FILE *f;
	int line;

	defaults(c, role);
	f = fopen(path_, "re");
	if (!f) {
		int err = errno;
		snprintf(c->error, sizeof(c->error), "%.200s: %s", path_, strerror(err));
		return -err;
	}
	if (role == CONF_TUNNEL && (fstat(fileno(f), &sb) < 0 || (sb.st_mode & 077))) {
		snprintf(c->error, sizeof(c->error),
		         "%.200s: holds the session key and is accessible by group or others; "
		         "chmod 600 it",
		         path_);
		fclose(f);
		return -EPERM;
	}
	line = ini_parse_file(f, handler, &p);
	fclose(f);
	return finish(c, path_, line);
}

int conf_load_string(struct conf *c, const char *text, const char *name, int role)
{
	struct parse p = {.c = c, .name = name};

	defaults(c, role);
	return finish(c, name, ini_parse_string(text, handler, &p));
}
