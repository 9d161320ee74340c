/* SPDX-License-Identifier: MIT */
/*
 * mode = ndp, the pure parts: the Neighbor Solicitation parser (every
 * check of RFC 4861 section 7.1.1 as a table row that breaks one field),
 * the advertisement builder, and the address set against a naive list.
 * The good frame is a vector made by a separate Python computation of
 * the ICMPv6 checksum, not by ndp_ns_build.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "conf.h"
#include "ndp.h"

/* fe80::1 (02:00:00:00:00:01) asks ff02::1:ff34:5678 for
 * 2001:db8:5::abcd:1234:5678, with a source link-layer option. */
static const uint8_t good[86] = {
        0x33, 0x33, 0xff, 0x34, 0x56, 0x78, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x34, 0x56, 0x78, 0x87, 0x00, 0xe0, 0x37, 0x00, 0x00,
        0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0xab, 0xcd, 0x12,
        0x34, 0x56, 0x78, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t target[16] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x05, 0,    0,
                                   0,    0,    0xab, 0xcd, 0x12, 0x34, 0x56, 0x78};
static const uint8_t asker[16] = {0xfe, 0x80, [15] = 1};
static const uint8_t asker_mac[6] = {2, 0, 0, 0, 0, 1};
static const uint8_t our_mac[6] = {2, 0, 0, 0, 0, 0x55};

#define ICMP (14 + 40)

/* Recompute the checksum of f (after a change that should fail on
 * something else). */
static void fix_sum(uint8_t *f, size_t icmp_len)
{
	uint16_t s;

	f[ICMP + 2] = f[ICMP + 3] = 0;
	s = ndp_icmp6_sum(f + 22, f + 38, f + ICMP, icmp_len);
	f[ICMP + 2] = (uint8_t)(s >> 8);
	f[ICMP + 3] = (uint8_t)s;
}

static void test_parse_good(void **state)
{
	struct ndp_ns ns;
	uint8_t built[NDP_NS_FRAME];

	assert_int_equal(ndp_ns_parse(good, sizeof(good), &ns), NDP_OK);
	assert_memory_equal(ns.target, target, 16);
	assert_memory_equal(ns.src, asker, 16);
	assert_true(ns.has_slla);
	assert_memory_equal(ns.slla, asker_mac, 6);
	assert_memory_equal(ns.eth_src, asker_mac, 6);
	/* The builder makes the same bytes as the independent vector. */
	assert_int_equal(ndp_ns_build(built, asker, asker_mac, target), sizeof(good));
	assert_memory_equal(built, good, sizeof(good));
	/* Ethernet padding after the payload is ignored. */
	{
		uint8_t padded[100] = {0};
		memcpy(padded, good, sizeof(good));
		assert_int_equal(ndp_ns_parse(padded, sizeof(padded), &ns), NDP_OK);
	}
}

struct row {
	const char *what;
	size_t off;  /* byte to set */
	uint8_t val; /* to this */
	int refix;   /* recompute the checksum afterwards */
	enum ndp_drop want;
};

static void test_parse_drops(void **state)
{
	static const struct row rows[] = {
	        {"ARP ethertype", 12, 0x08, 0, NDP_NOT_NS},
	        {"IPv4 version", 14, 0x45, 0, NDP_NOT_NS},
	        {"UDP next header", 20, 17, 0, NDP_NOT_NS},
	        {"hop-by-hop header first", 20, 0, 0, NDP_NOT_NS},
	        {"an advertisement", ICMP, 136, 1, NDP_NOT_NS},
	        {"an echo request", ICMP, 128, 1, NDP_NOT_NS},
	        {"hop limit 254", 21, 254, 0, NDP_HOP_LIMIT},
	        {"hop limit 1", 21, 1, 0, NDP_HOP_LIMIT},
	        {"code 1", ICMP + 1, 1, 1, NDP_CODE},
	        {"checksum off by one bit", ICMP + 3, 0x36, 0, NDP_CHECKSUM},
	        {"target changed, checksum not", ICMP + 23, 0x79, 0, NDP_CHECKSUM},
	        {"multicast target", ICMP + 8, 0xff, 1, NDP_TARGET},
	        {"option length 0", ICMP + 25, 0, 1, NDP_OPTION},
	        {"option past the end", ICMP + 25, 2, 1, NDP_OPTION},
	        {"payload length past the frame", 19, 0x40, 0, NDP_SHORT},
	        {"payload length 0", 19, 0, 0, NDP_SHORT},
	        {"payload shorter than an NS", 19, 20, 0, NDP_SHORT},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t f[sizeof(good)];
		struct ndp_ns ns;
		enum ndp_drop got;

		memcpy(f, good, sizeof(f));
		f[rows[i].off] = rows[i].val;
		if (rows[i].refix)
			fix_sum(f, 32);
		got = ndp_ns_parse(f, sizeof(f), &ns);
		if (got != rows[i].want)
			fail_msg("row %zu (%s): %s, want %s", i, rows[i].what, ndp_drop_name(got),
			         ndp_drop_name(rows[i].want));
	}
	/* Every length short of the whole frame is refused, none read past. */
	for (size_t len = 0; len < sizeof(good); len++) {
		struct ndp_ns ns;
		uint8_t *f = malloc(len ? len : 1);

		memcpy(f, good, len);
		assert_int_not_equal(ndp_ns_parse(f, len, &ns), NDP_OK);
		free(f);
	}
}

static void test_parse_dad(void **state)
{
	uint8_t f[sizeof(good)];
	struct ndp_ns ns;

	/* Unspecified source with a source option: refused. */
	memcpy(f, good, sizeof(f));
	memset(f + 22, 0, 16);
	fix_sum(f, 32);
	assert_int_equal(ndp_ns_parse(f, sizeof(f), &ns), NDP_DAD);
	/* Without the option (payload 24): a valid DAD probe. */
	f[19] = 24;
	fix_sum(f, 24);
	assert_int_equal(ndp_ns_parse(f, 14 + 40 + 24, &ns), NDP_OK);
	assert_false(ns.has_slla);
	/* To ff02::1 instead of the solicited-node group: refused. */
	memset(f + 38 + 2, 0, 13);
	f[38 + 15] = 1;
	fix_sum(f, 24);
	assert_int_equal(ndp_ns_parse(f, 14 + 40 + 24, &ns), NDP_DAD);
}

static void check_na(const uint8_t *na, const uint8_t dmac[6], const uint8_t dst[16], uint8_t flags)
{
	assert_memory_equal(na, dmac, 6);
	assert_memory_equal(na + 6, our_mac, 6);
	assert_int_equal(na[12], 0x86);
	assert_int_equal(na[13], 0xdd);
	assert_int_equal(na[14] >> 4, 6);
	assert_int_equal(na[18] << 8 | na[19], 32);
	assert_int_equal(na[20], 58);
	assert_int_equal(na[21], 255);
	assert_memory_equal(na + 22, target, 16); /* from the target itself */
	assert_memory_equal(na + 38, dst, 16);
	assert_int_equal(na[ICMP], 136);
	assert_int_equal(na[ICMP + 1], 0);
	assert_int_equal(ndp_icmp6_sum(na + 22, na + 38, na + ICMP, 32), 0);
	assert_int_equal(na[ICMP + 4], flags); /* R clear: not a router */
	assert_memory_equal(na + ICMP + 8, target, 16);
	assert_int_equal(na[ICMP + 24], 2); /* target link-layer address */
	assert_int_equal(na[ICMP + 25], 1);
	assert_memory_equal(na + ICMP + 26, our_mac, 6);
}

static void test_na(void **state)
{
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	static const uint8_t all_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
	static const uint8_t other_mac[6] = {2, 0, 0, 0, 0, 9};
	uint8_t na[NDP_NA_FRAME];
	struct ndp_ns ns;

	assert_int_equal(ndp_ns_parse(good, sizeof(good), &ns), NDP_OK);
	assert_int_equal(ndp_na_build(na, &ns, our_mac), sizeof(na));
	check_na(na, asker_mac, asker, 0x60); /* S and O */
	/* No source option: to the frame's source. */
	ns.has_slla = false;
	memcpy(ns.eth_src, other_mac, 6);
	ndp_na_build(na, &ns, our_mac);
	check_na(na, other_mac, asker, 0x60);
	/* DAD: to all nodes, S clear. */
	memset(ns.src, 0, 16);
	ndp_na_build(na, &ns, our_mac);
	check_na(na, all_mac, all_nodes, 0x20);
}

static void test_addrset(void **state)
{
	enum { N = 3000, OPS = 40000 };
	static uint8_t addrs[N][16];
	static unsigned refs[N];
	struct addrset *s = addrset_new();
	size_t live = 0;

	assert_non_null(s);
	for (int i = 0; i < N; i++) {
		memcpy(addrs[i], target, 8);
		randombytes_buf(addrs[i] + 8, 8);
	}
	/* Random adds and removes against a naive count per address. */
	for (int op = 0; op < OPS; op++) {
		uint32_t i = randombytes_uniform(N);
		if (randombytes_uniform(3) != 0 || refs[i] == 0) {
			assert_int_equal(addrset_add(s, addrs[i]), 0);
			live += refs[i]++ == 0;
		} else {
			assert_int_equal(addrset_del(s, addrs[i]), 0);
			live -= --refs[i] == 0;
		}
		if (op % 997 == 0)
			for (int j = 0; j < N; j++)
				assert_int_equal(addrset_has(s, addrs[j]), refs[j] > 0);
		assert_int_equal(addrset_count(s), live);
	}
	for (int j = 0; j < N; j++) {
		assert_int_equal(addrset_has(s, addrs[j]), refs[j] > 0);
		while (refs[j]--)
			assert_int_equal(addrset_del(s, addrs[j]), 0);
		assert_int_equal(addrset_del(s, addrs[j]), -ENOENT);
		assert_false(addrset_has(s, addrs[j]));
	}
	assert_int_equal(addrset_count(s), 0);
	addrset_free(s);
	addrset_free(NULL);
}

static void test_tproxy_rules(void **state)
{
	static const uint8_t prefix[8] = {0x20, 0x01, 0x0d, 0xb8, 0, 5, 0, 0};
	uint8_t own[2][16] = {{0x20, 0x01, 0x0d, 0xb8, 0, 5, [15] = 2},
	                      {0x20, 0x01, 0x0d, 0xb8, 0, 5, [15] = 3}};
	char out[1024];

	ndp_tproxy_rules(out, sizeof(out), "mt6d7364", prefix, 7364, "up0", own, 2);
	assert_non_null(strstr(out, "iifname \"up0\" ip6 daddr != { 2001:db8:5::2, 2001:db8:5::3 } "
	                            "ip6 daddr 2001:db8:5::/64 meta l4proto udp tproxy to :7364"));
	ndp_tproxy_rules(out, sizeof(out), "mt6d7364", prefix, 7364, "up0", own, 0);
	assert_non_null(
	        strstr(out, "iifname \"up0\" ip6 daddr 2001:db8:5::/64 meta l4proto udp tproxy"));
}

/* The keys: mode = ndp for both daemons, uplink for the server too. */
static void test_conf_keys(void **state)
{
	static const char srv[] = "[server]\nprivate_key = k\nclients = c\n"
	                          "prefix = 2001:db8:5::/64\nmode = ndp\nuplink = eth0\n";
	static const char cli[] =
	        "[client]\nprivate_key = k\n"
	        "server_public_key = 0cwRe3M/LRxGSCPmn3Zkkd7JX9j3WL5Vg9A+9iNoWng=\n"
	        "prefix = 2001:db8:5::/64\nmode = ndp\nuplink = up0\n";
	char text[512];
	struct conf c;

	assert_int_equal(conf_load_string(&c, srv, "s", 1), 0);
	assert_true(c.ndp);
	assert_string_equal(c.uplink, "eth0");
	snprintf(text, sizeof(text), "%smode = routed\n", srv);
	assert_int_equal(conf_load_string(&c, text, "s", 1), 0);
	assert_false(c.ndp);
	snprintf(text, sizeof(text), "%smode = underlay\n", srv);
	assert_int_equal(conf_load_string(&c, text, "s.conf", 1), -EINVAL);
	assert_non_null(strstr(c.error, "s.conf:7: mode is neither routed nor ndp: `underlay'"));
	assert_int_equal(conf_load_string(&c, cli, "c", 0), 0);
	assert_true(c.ndp);
	assert_false(c.routed);
	assert_false(c.underlay);
	assert_string_equal(c.uplink, "up0");
	snprintf(text, sizeof(text), "%smode = ndpp\n", cli);
	assert_int_equal(conf_load_string(&c, text, "c.conf", 0), -EINVAL);
	assert_non_null(
	        strstr(c.error, "c.conf:7: mode is neither bind, routed, underlay nor ndp"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_good), cmocka_unit_test(test_parse_drops),
	        cmocka_unit_test(test_parse_dad),  cmocka_unit_test(test_na),
	        cmocka_unit_test(test_addrset),    cmocka_unit_test(test_tproxy_rules),
	        cmocka_unit_test(test_conf_keys),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
