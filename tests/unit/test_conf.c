/* SPDX-License-Identifier: MIT */
/* Configuration files: every value checked, errors name the line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "conf.h"
#include "mt6d/rendezvous.h"

static const char good_server[] = "# comment\n"
                                  "[server]\n"
                                  "private_key = /etc/mt6d/server.key\n"
                                  "clients = /etc/mt6d/clients\n"
                                  "prefix = 2001:db8:1:2::/64\n"
                                  "period = 300\n"
                                  "rotation_ms = 1500\n"
                                  "transport = both\n"
                                  "[dht]\n"
                                  "listen = 127.0.0.1:6881\n"
                                  "listen = [::1]:6881\n"
                                  "bootstrap = 192.0.2.1:6881\n"
                                  "bootstrap = [2001:db8::1]:6881\n"
                                  "[control]\n"
                                  "socket = /run/mt6d/mt6d.sock\n";

static void test_server_good(void **state)
{
	struct conf c;

	assert_int_equal(conf_load_string(&c, good_server, "s.conf", 1), 0);
	assert_string_equal(c.private_key, "/etc/mt6d/server.key");
	assert_memory_equal(c.prefix, "\x20\x01\x0d\xb8\x00\x01\x00\x02", 8);
	assert_int_equal(c.period, 300);
	assert_int_equal(c.rot_ms, 1500);
	assert_int_equal(c.transports, MT6D_RDV_BOTH);
	assert_int_equal(c.nlisten, 2);
	assert_false(mt6d_endpoint_is_v4(&c.listen[1]));
	assert_int_equal(c.nbootstrap, 2);
	assert_true(mt6d_endpoint_is_v4(&c.bootstrap[0]));
	assert_int_equal(c.bootstrap[0].port, 6881);
	assert_string_equal(c.control_socket, "/run/mt6d/mt6d.sock");
	assert_false(c.dht_auto);
	/* listen = auto: identities under the /64, no address */
	assert_int_equal(conf_load_string(&c,
	                                  "[server]\nprivate_key = /k\nclients = /c\n"
	                                  "prefix = 2001:db8:1:2::/64\n[dht]\nlisten = auto\n",
	                                  "a.conf", 1),
	                 0);
	assert_true(c.dht_auto);
	assert_int_equal(c.nlisten, 0);
}

static void test_client_periods(void **state)
{
	struct conf c;
	const char *text = "[client]\nprivate_key = k\n"
	                   "server_public_key = 0cwRe3M/LRxGSCPmn3Zkkd7JX9j3WL5Vg9A+9iNoWng=\n"
	                   "period = 300, 900\n";

	assert_int_equal(conf_load_string(&c, text, "c.conf", 0), 0);
	assert_int_equal(c.period, 300);
	assert_int_equal(c.periods[1], 900);
	assert_int_equal(c.transports, MT6D_RDV_BOTH);
	/* A server takes one period only. */
	assert_int_equal(
	        conf_load_string(&c,
	                         "[server]\nprivate_key=k\nclients=c\nprefix=2001:db8::/64\n"
	                         "period = 300, 900\n",
	                         "s.conf", 1),
	        -EINVAL);
	assert_non_null(strstr(c.error, "s.conf:5:"));
}

static void test_session_keys(void **state)
{
	struct conf c;
	const char *srv = "[server]\nprivate_key = k\nclients = c\nprefix = 2001:db8:5::/64\n"
	                  "tunnel_prefix = 2001:db8:100::/64\ninterface = mt6ds\n"
	                  "idle_timeout = 30\nkeepalive = 5\nmax_sessions = 100000\n"
	                  "tproxy_port = 9000\nstate_file = /run/mt6d/server.state\n";
	const char *cli = "[client]\nprivate_key = k\n"
	                  "server_public_key = 0cwRe3M/LRxGSCPmn3Zkkd7JX9j3WL5Vg9A+9iNoWng=\n"
	                  "prefix = 2001:db8:c1::/64\nmode = routed\nuplink = eth0\n"
	                  "keepalive = 2\nlookup_timeout = 10\n";

	assert_int_equal(conf_load_string(&c, srv, "s.conf", 1), 0);
	assert_int_equal(c.have_tun_prefix, 1);
	assert_memory_equal(c.tun_prefix, "\x20\x01\x0d\xb8\x01\x00\x00\x00", 8);
	assert_string_equal(c.ifname, "mt6ds");
	assert_int_equal(c.idle_timeout_s, 30);
	assert_int_equal(c.keepalive_s, 5);
	assert_int_equal(c.max_sessions, 100000);
	assert_int_equal(c.tproxy_port, 9000);
	assert_string_equal(c.state_file, "/run/mt6d/server.state");
	assert_int_equal(conf_load_string(&c, cli, "c.conf", 0), 0);
	assert_int_equal(c.have_prefix, 1);
	assert_memory_equal(c.prefix, "\x20\x01\x0d\xb8\x00\xc1\x00\x00", 8);
	assert_int_equal(c.routed, 1);
	assert_string_equal(c.uplink, "eth0");
	assert_string_equal(c.ifname, "mt6d0"); /* the default */
	assert_int_equal(c.keepalive_s, 2);
	assert_int_equal(c.lookup_timeout_s, 10);
}

static void test_rebind_keys(void **state)
{
	struct conf c;
	const char *srv = "[server]\nprivate_key = k\nclients = c\nprefix = 2001:db8:5::/64\n"
	                  "underlay = 203.0.113.1:7000\nrebind_levels = 20\nrebind_epoch = 60\n"
	                  "rebind_window = 5\nreply_rate = 7\nreply_burst = 3\n";
	const char *cli = "[client]\nprivate_key = k\n"
	                  "server_public_key = 0cwRe3M/LRxGSCPmn3Zkkd7JX9j3WL5Vg9A+9iNoWng=\n"
	                  "prefix = auto\nuplink = eth0\n";

	assert_int_equal(conf_load_string(&c, srv, "s.conf", 1), 0);
	assert_memory_equal(c.underlay_addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff\xcb\x00\x71\x01", 16);
	assert_int_equal(c.underlay_port, 7000);
	assert_int_equal(c.rebind_levels, 20);
	assert_int_equal(c.rebind_epoch_s, 60);
	assert_int_equal(c.rebind_window_s, 5);
	assert_int_equal(c.reply_rate, 7);
	assert_int_equal(c.reply_burst, 3);
	assert_int_equal(conf_load_string(&c,
	                                  "[server]\nprivate_key=k\nclients=c\n"
	                                  "prefix=2001:db8::/64\nunderlay = [2001:db8:9::1]:443\n",
	                                  "s.conf", 1),
	                 0);
	assert_int_equal(c.underlay_addr[0], 0x20);
	assert_int_equal(c.underlay_addr[15], 1);
	assert_int_equal(c.underlay_port, 443);
	assert_int_equal(conf_load_string(&c, cli, "c.conf", 0), 0);
	assert_int_equal(c.prefix_auto, 1);
	assert_int_equal(c.have_prefix, 0);
	assert_int_equal(c.underlay, 0);
	assert_int_equal(conf_load_string(&c,
	                                  "[client]\nprivate_key=k\nmode = underlay\n"
	                                  "server_public_key = "
	                                  "0cwRe3M/LRxGSCPmn3Zkkd7JX9j3WL5Vg9A+9iNoWng=\n",
	                                  "c.conf", 0),
	                 0);
	assert_int_equal(c.underlay, 1);
	assert_int_equal(c.routed, 0);
}

static void test_errors_name_the_line(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	        {"[server]\nperiod = 5\n", "x.conf:2: period is not"},
	        {"[server]\nrotation_ms = abc\n", "x.conf:2: rotation_ms"},
	        {"[server]\ntransport = carrier-pigeon\n", "`carrier-pigeon'"},
	        {"[server]\nprefix = 2001:db8::/48\n", "x.conf:2: prefix"},
	        {"[server]\nprefix = 2001:db8::1\n", "x.conf:2: prefix"},
	        {"\n\n[dht]\nlisten = 127.0.0.1\n", "x.conf:4: listen"},
	        {"[dht]\nbootstrap = 127.0.0.1:0\n", "x.conf:2: bootstrap"},
	        {"[dht]\nbootstrap = [::1:6881\n", "x.conf:2: bootstrap"},
	        {"[dht]\nlisten = 1.2.3.4:1\nlisten = 1.2.3.4:2\nlisten = 1.2.3.4:3\n",
	         "x.conf:4:"},
	        {"[server]\ncolour = blue\n", "unknown key `colour'"},
	        {"[servre]\nprivate_key = k\n", "x.conf:2: unknown section [servre]"},
	        {"[server]\nno equals sign here\n", "x.conf:2: syntax error"},
	        {"[client]\nserver_public_key = short\n", "x.conf:2: server_public_key"},
	        {"[server]\nclients = /c\nprefix = 2001:db8::/64\n", "private_key is required"},
	        {"[server]\nperiod = 10\nperiod = -20\n", "x.conf:3:"},
	        {"[server]\n\ntunnel_prefix = 2001:db8::/56\n", "x.conf:3: tunnel_prefix"},
	        {"[server]\nidle_timeout = 1\n", "x.conf:2: idle_timeout is not"},
	        {"[server]\ninterface = a-name-much-too-long\n", "x.conf:2: interface"},
	        {"[server]\nmode = bind\n", "x.conf:2: mode is neither routed nor ndp: `bind'"},
	        {"[server]\ntproxy_port = 70000\n", "x.conf:2: tproxy_port"},
	        {"[client]\nmode = bridged\n", "x.conf:2: mode is neither"},
	        {"[server]\nunderlay = 203.0.113.1\n", "x.conf:2: underlay"},
	        {"[server]\nrebind_levels = 25\n", "x.conf:2: rebind_levels"},
	        {"[server]\nrebind_epoch = 5\n", "x.conf:2: rebind_epoch"},
	        {"[server]\n\nrebind_window = 0\n", "x.conf:3: rebind_window"},
	        {"[server]\nreply_rate = 0\n", "x.conf:2: reply_rate"},
	        {"[client]\nunderlay = 203.0.113.1:7000\n", "x.conf:2: unknown key `underlay'"},
	        {"[client]\nuplink = eth 0\n", "x.conf:2: uplink"},
	        {"[client]\nkeepalive = 0\n", "x.conf:2: keepalive"},
	        {"[client]\n[dht]\nlisten = auto\n",
	         "x.conf:3: listen = auto is for mt6d server only"},
	        {"[dht]\nlisten = auto\nlisten = [::1]:1\n",
	         "x.conf:3: listen given with listen = auto"},
	        {"[dht]\nlisten = [::1]:1\nlisten = auto\n",
	         "x.conf:3: listen = auto with an address"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf c;
		int is_server = strstr(cases[i].text, "[client]") == NULL;
		assert_int_equal(conf_load_string(&c, cases[i].text, "x.conf", is_server), -EINVAL);
		if (!strstr(c.error, cases[i].want))
			fail_msg("case %zu: `%s' does not contain `%s'", i, c.error, cases[i].want);
	}
}

static void test_missing_file(void **state)
{
	struct conf c;
	assert_int_equal(conf_load(&c, "/nonexistent/mt6d.conf", 1), -ENOENT);
	assert_non_null(strstr(c.error, "/nonexistent/mt6d.conf"));
}

static const char good_tunnel[] = "[tunnel]\n"
                                  "interface = mt6d7\n"
                                  "role = server\n"
                                  "session_key = 000102030405060708090a0b0c0d0e0f\n"
                                  "rotation_ms = 1500\n"
                                  "mode = routed\n"
                                  "address = 2001:db8:100::1/64\n"
                                  "route = 2001:db8:200::/56\n"
                                  "route = 2001:db8:300::1\n"
                                  "mtu = 1300\n"
                                  "clock_offset_ms = -250\n"
                                  "[local]\n"
                                  "prefix = 2001:db8:a::/64\n"
                                  "iid = 0123456789abcdef\n"
                                  "[peer]\n"
                                  "prefix = 2001:db8:b::/64\n"
                                  "iid = fedcba9876543210\n";

static void test_tunnel_good(void **state)
{
	struct conf c;
	const struct conf_tunnel *t = &c.tunnel;

	assert_int_equal(conf_load_string(&c, good_tunnel, "t.conf", CONF_TUNNEL), 0);
	assert_string_equal(t->name, "mt6d7");
	assert_int_equal(t->role, MT6D_ROLE_SERVER);
	assert_memory_equal(t->ks,
	                    "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f", 16);
	assert_int_equal(t->rot_ms, 1500);
	assert_int_equal(t->mode, CONF_TUN_ROUTED);
	assert_int_equal(t->naddrs, 1);
	assert_int_equal(t->addrs[0].plen, 64);
	assert_int_equal(t->nroutes, 2);
	assert_int_equal(t->routes[0].plen, 56);
	assert_int_equal(t->routes[1].plen, 128);
	assert_int_equal(t->mtu, 1300);
	assert_int_equal(t->clock_offset_ms, -250);
	assert_memory_equal(t->local.prefix, "\x20\x01\x0d\xb8\x00\x0a\x00\x00", 8);
	assert_memory_equal(t->remote.iid, "\xfe\xdc\xba\x98\x76\x54\x32\x10", 8);
	assert_string_equal(t->state_file, "/run/mt6d-mt6d7.state");
	/* The same text is not a server's file, nor a tunnel's a client's. */
	assert_int_equal(conf_load_string(&c, good_tunnel, "t.conf", CONF_SERVER), -EINVAL);
	assert_non_null(strstr(c.error, "t.conf:2: unknown section [tunnel]"));
}

static void test_tunnel_errors(void **state)
{
	static const struct {
		const char *from, *to, *want;
	} cases[] = {
	        {"role = server", "role = Server", "t.conf:3: role is neither"},
	        {"mtu = 1300", "mtu = 9000", "t.conf:10: mtu is not a number from 1280 to 1404"},
	        {"route = 2001:db8:300::1", "route = 2001:db8:300::1/129", "t.conf:9: route"},
	        {"route = 2001:db8:300::1", "route = 2001:db8:300::1/ 64", "t.conf:9: route"},
	        {"clock_offset_ms = -250", "clock_offset_ms = 1e3", "t.conf:11: clock_offset_ms"},
	        {"[peer]\nprefix = 2001:db8:b::/64", "[peer]\nprefix = 2001:db8:b::/65",
	         "t.conf:16: prefix is not an IPv6 prefix ADDRESS/64"},
	        {"[tunnel]", "[Tunnel]",
	         "t.conf:2: [Tunnel] interface is the old spelling: write [tunnel] interface"},
	        {"interface =", "Name =",
	         "t.conf:2: [tunnel] Name is the old spelling: write [tunnel] interface"},
	        {"rotation_ms =", "RotationMs =",
	         "t.conf:5: [tunnel] RotationMs is the old spelling: write [tunnel] rotation_ms"},
	        {"mtu =", "MTU =",
	         "t.conf:10: [tunnel] MTU is the old spelling: write [tunnel] mtu"},
	        {"[local]\nprefix", "[Local]\nPrefix",
	         "t.conf:13: [Local] Prefix is the old spelling: write [local] prefix"},
	        {"iid = 0123456789abcdef", "IID = 0123456789abcdef",
	         "t.conf:14: [local] IID is the old spelling: write [local] iid"},
	        {"[peer]", "[dht]", "t.conf:16: unknown section [dht] (expected [tunnel]"},
	        {"mode = routed", "mode = bind", "t.conf: [tunnel] mode = bind needs uplink"},
	        {"role = server\n", "", "t.conf: [tunnel] role is required"},
	        {"iid = fedcba9876543210\n", "", "t.conf: [peer] iid is required"},
	        /* The key is never printed: not when malformed, not under a
	         * misspelt or old name. */
	        {"0e0f\n", "0e0\n",
	         "t.conf:4: session_key is not 32 hex digits (31 characters given; value not "
	         "shown)"},
	        {"0e0f\n", "0e0g\n", "t.conf:4: session_key is not 32 hex digits"},
	        {"session_key", "sesion_key", "t.conf:4: unknown key `sesion_key' in [tunnel]"},
	        {"session_key", "SessionKey",
	         "t.conf:4: [tunnel] SessionKey is the old spelling: write [tunnel] session_key"},
	        {"session_key", "session_key = 00\nx", "t.conf:4: session_key is not 32 hex"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[sizeof(good_tunnel) + 64];
		const char *at = strstr(good_tunnel, cases[i].from);
		struct conf c;

		assert_non_null(at);
		snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - good_tunnel), good_tunnel,
		         cases[i].to, at + strlen(cases[i].from));
		assert_int_equal(conf_load_string(&c, text, "t.conf", CONF_TUNNEL), -EINVAL);
		if (!strstr(c.error, cases[i].want))
			fail_msg("case %zu: `%s' does not contain `%s'", i, c.error, cases[i].want);
		if (strstr(c.error, "0405060708090a0b"))
			fail_msg("case %zu: `%s' shows the session key", i, c.error);
	}
}

/* The one endpoint parser (mt6d_endpoint_parse, text.c) as config files
 * use it. */
static void test_addr(void **state)
{
	struct mt6d_endpoint a;
	char out[MT6D_ENDPOINT_STRLEN];

	assert_int_equal(mt6d_endpoint_parse(&a, "203.0.113.7:65535", MT6D_EP_PORT), 0);
	assert_true(mt6d_endpoint_is_v4(&a));
	assert_int_equal(a.port, 65535);
	assert_string_equal(mt6d_endpoint_format(out, sizeof(out), &a), "203.0.113.7:65535");
	assert_int_equal(mt6d_endpoint_parse(&a, "[2001:db8::7]:1", MT6D_EP_PORT), 0);
	assert_string_equal(mt6d_endpoint_format(out, sizeof(out), &a), "[2001:db8::7]:1");
	assert_int_equal(mt6d_endpoint_parse(&a, "203.0.113.7:65536", MT6D_EP_PORT), -EINVAL);
	assert_int_equal(mt6d_endpoint_parse(&a, "203.0.113.7:+5", MT6D_EP_PORT), -EINVAL);
	assert_int_equal(mt6d_endpoint_parse(&a, "203.0.113.7: 5", MT6D_EP_PORT), -EINVAL);
	assert_int_equal(mt6d_endpoint_parse(&a, "2001:db8::7:5", MT6D_EP_PORT), -EINVAL);
	assert_int_equal(mt6d_endpoint_parse(&a, ":5", MT6D_EP_PORT), -EINVAL);
	assert_int_equal(mt6d_endpoint_parse(&a, "[]:5", MT6D_EP_PORT), -EINVAL);
	assert_int_equal(mt6d_endpoint_parse(&a, "192.0.2.1:0", MT6D_EP_PORT), -EINVAL);
	assert_int_equal(mt6d_endpoint_parse(&a, NULL, MT6D_EP_PORT), -EINVAL);
	/* Port 0 (any) where a listener may take an ephemeral port. */
	assert_int_equal(mt6d_endpoint_parse(&a, "192.0.2.1:0", MT6D_EP_PORT0), 0);
	assert_int_equal(mt6d_endpoint_parse(&a, "[::1]:0", MT6D_EP_PORT0), 0);
	assert_int_equal(mt6d_endpoint_parse(&a, "::1", MT6D_EP_PORT0), -EINVAL);
	/* An address alone. */
	assert_int_equal(mt6d_endpoint_parse(&a, "2001:db8::7", MT6D_EP_HOST), 0);
	assert_false(mt6d_endpoint_is_v4(&a));
	assert_int_equal(mt6d_endpoint_parse(&a, "[2001:db8::7]", MT6D_EP_HOST), 0);
	assert_int_equal(mt6d_endpoint_parse(&a, "198.51.100.3", MT6D_EP_HOST), 0);
	assert_true(mt6d_endpoint_is_v4(&a));
	assert_int_equal(mt6d_endpoint_parse(&a, "198.51.100.3:5", MT6D_EP_HOST), -EINVAL);
	assert_int_equal(mt6d_endpoint_parse(&a, "[198.51.100.3]:5", MT6D_EP_PORT), -EINVAL);
	assert_int_equal(mt6d_endpoint_parse(&a, "2001:db8::7:5", MT6D_EP_PORT), -EINVAL);
	/* A failed parse leaves zeros. */
	assert_memory_equal(a.addr, (uint8_t[16]){0}, 16);
	assert_int_equal(a.port, 0);
}

/* The one prefix parser (mt6d_prefix_parse): config /64s, tunnel routes,
 * the command line's --prefix and the state file. */
static void test_prefix(void **state)
{
	uint8_t a[16];
	unsigned plen;

	assert_int_equal(mt6d_prefix_parse(a, &plen, "2001:db8:1:2::/64", 64), 0);
	assert_int_equal(plen, 64);
	assert_memory_equal(a, "\x20\x01\x0d\xb8\x00\x01\x00\x02", 8);
	assert_int_equal(mt6d_prefix_parse(a, &plen, "2001:db8::/48", 64), -EINVAL);
	assert_int_equal(mt6d_prefix_parse(a, &plen, "2001:db8::", 64), -EINVAL);
	assert_int_equal(mt6d_prefix_parse(a, &plen, "2001:db8::/ 64", 64), -EINVAL);
	assert_int_equal(mt6d_prefix_parse(a, &plen, "2001:db8::/+64", 64), -EINVAL);
	assert_int_equal(mt6d_prefix_parse(a, &plen, "2001:db8::/", 0), -EINVAL);
	assert_int_equal(mt6d_prefix_parse(a, &plen, "2001:db8::/129", 0), -EINVAL);
	assert_int_equal(mt6d_prefix_parse(a, &plen, "192.0.2.0/24", 0), -EINVAL);
	assert_int_equal(mt6d_prefix_parse(a, &plen, NULL, 0), -EINVAL);
	assert_int_equal(mt6d_prefix_parse(a, &plen, "2001:db8::1", 0), 0);
	assert_int_equal(plen, 128);
	assert_int_equal(mt6d_prefix_parse(a, &plen, "2001:db8::/0", 0), 0);
	assert_int_equal(plen, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_server_good),
	        cmocka_unit_test(test_client_periods),
	        cmocka_unit_test(test_session_keys),
	        cmocka_unit_test(test_rebind_keys),
	        cmocka_unit_test(test_errors_name_the_line),
	        cmocka_unit_test(test_missing_file),
	        cmocka_unit_test(test_tunnel_good),
	        cmocka_unit_test(test_tunnel_errors),
	        cmocka_unit_test(test_addr),
	        cmocka_unit_test(test_prefix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
