/* SPDX-License-Identifier: MIT */
/*
 * Configuration files (INI, libinih) of the three daemons: mt6d server,
 * mt6d client and mt6d tunnel. One parser for every caller; section and key
 * names are snake_case; an error names the file, the line and the value
 * (never a key's value). docs/config.md and docs/tunnel.md document every
 * key; examples are in contrib/.
 */
#ifndef MT6D_CONF_H
#define MT6D_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mt6d/mt6d.h"
#include "mt6d/tunnel.h"

#define CONF_MAX_BOOTSTRAP 16
#define CONF_MAX_LISTEN    2
#define CONF_PATH_MAX      256
#define CONF_MAX_INNER     8 /* tunnel: address and route lines each */

/* What conf_load reads: the role argument, and the sections it takes. */
enum conf_role {
	CONF_CLIENT = 0, /* [client], [dht], [control] */
	CONF_SERVER = 1, /* [server], [dht], [control] */
	CONF_TUNNEL = 2, /* [tunnel], [local], [peer] (docs/tunnel.md) */
};

struct conf_prefix {
	uint8_t addr[16];
	unsigned plen;
};

enum conf_tun_mode { CONF_TUN_BIND, CONF_TUN_ROUTED };

/* mt6d tunnel: the static two-peer tunnel. The file holds the session key:
 * conf_load refuses it when group or others can read it, and the caller
 * wipes ks (sodium_memzero) when done. */
struct conf_tunnel {
	/* [tunnel] */
	char name[16];   /* interface; default mt6d%d (the kernel picks) */
	char uplink[16]; /* mode = bind: where the rotating addresses go */
	char state_file[CONF_PATH_MAX];
	char user[64]; /* run as this user after set-up (privdrop.h) */
	enum mt6d_role role;
	uint8_t ks[MT6D_INTRO_KEY_LEN]; /* session_key */
	uint32_t rot_ms;
	enum conf_tun_mode mode;
	unsigned mtu;
	int64_t clock_offset_ms; /* a test knob */
	struct conf_prefix addrs[CONF_MAX_INNER], routes[CONF_MAX_INNER];
	size_t naddrs, nroutes;
	/* [local] and [peer] */
	struct mt6d_tun_host local, remote;
	bool have_role, have_key, have_lp, have_li, have_rp, have_ri;
};

struct conf {
	int role;      /* enum conf_role */
	int is_server; /* role == CONF_SERVER */
	/* [server] or [client] */
	char private_key[CONF_PATH_MAX];  /* path of the private key file */
	char clients[CONF_PATH_MAX];      /* server: registry file */
	uint8_t server_pub[MT6D_KEY_LEN]; /* client: the server's public key */
	int have_server_pub;
	uint8_t prefix[MT6D_PREFIX_LEN]; /* server: its /64 */
	int have_prefix;
	uint32_t period;     /* seconds; the first of periods */
	uint32_t periods[4]; /* client: periods to try, new first */
	uint32_t rot_ms;
	int transports;        /* MT6D_RDV_* */
	uint32_t lead_s;       /* server: pre-publication lead; 0 auto */
	unsigned max_inflight; /* server: DHT operations at once */
	/* Sessions (mt6d server, mt6d client); docs/config.md */
	uint8_t tun_prefix[MT6D_PREFIX_LEN]; /* server: the tunnel network /64 */
	int have_tun_prefix;
	char ifname[16];         /* TUN device name; default mt6d0 */
	uint32_t idle_timeout_s; /* server; 0: default */
	uint32_t keepalive_s;    /* 0: default */
	uint32_t max_sessions;   /* server; 0: no limit */
	uint32_t tproxy_port;    /* server: port of the TPROXY socket */
	int routed;              /* client: mode = routed (else bind) */
	int underlay;            /* client: mode = underlay (docs/rebind.md) */
	int ndp;                 /* mode = ndp (ndp.h) */
	int prefix_auto;         /* client: prefix = auto, follow the uplink's /64 */
	/* server: the static underlay endpoint (IPv4 as ::ffff:a.b.c.d); port 0: none */
	uint8_t underlay_addr[16];
	uint16_t underlay_port;
	/* server: rebinding (docs/rebind.md); 0: the library's default */
	uint32_t rebind_levels, rebind_epoch_s, rebind_window_s;
	uint32_t reply_rate, reply_burst; /* unrecognized-connection replies per /64 (/24) */
	char uplink[16];                  /* the rotating addresses' interface */
	uint32_t lookup_timeout_s;        /* client: one rendezvous attempt */
	char state_file[CONF_PATH_MAX];   /* what to undo after a crash */
	char user[64];                    /* run as this user after set-up (privdrop.h) */
	/* [dht] */
	struct mt6d_endpoint listen[CONF_MAX_LISTEN];
	int nlisten;
	int dht_auto; /* server: listen = auto (dhtauto.h) */
	struct mt6d_endpoint bootstrap[CONF_MAX_BOOTSTRAP];
	int nbootstrap;
	char dht_state[CONF_PATH_MAX];
	/* [control] */
	char control_socket[CONF_PATH_MAX];
	/* role CONF_TUNNEL */
	struct conf_tunnel tunnel;
	/* error of the last parse */
	char error[512];
};

/* Defaults for role (enum conf_role), then the file. 0, or -EINVAL with
 * c->error set ("FILE:LINE: message"), or -errno when the file cannot be
 * read. A tunnel file that group or others may access is refused (-EPERM).
 * A key renamed since (the tunnel's old `[Tunnel] SessionKey' style) is
 * refused with its new name. */
int conf_load(struct conf *c, const char *path, int role);
/* The same from a string (fuzzing, tests); name is used in messages. */
int conf_load_string(struct conf *c, const char *text, const char *name, int role);

#endif
