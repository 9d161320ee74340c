#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mode = ndp end to end (docs/design.md, "An on-link /64"). One link, a
# bridge in the router R that holds 2001:db8:5::/64 on-link (2001:db8:5::1,
# fe80::1) and has no route for it: the server S (static 2001:db8:5::2) and
# the client C (2001:db8:5::3) both take their rotating addresses from that
# /64, in mode = ndp, and reach each other only through R (no on-link
# route on the hosts, redirects ignored), so R solicits every outer
# address before it delivers to it, as a provider's router does. Checks:
#  1. the client finds the server through the DHT (swarm on R) and gets a
#     session; neither host has an address or a local-table route for the
#     /64, only the rule and the table-27958 route;
#  2. a TCP stream survives >= 30 rotations (rotation 500 ms); R's
#     neighbour cache learnt the outer addresses from the daemons' answers;
#  3. from R, 10,000 random addresses of the /64 get no advertisement
#     (ndphelper.py scan, tcpdump as a second observer), the live ones do,
#     and both daemons saw every solicitation (not_ours counters);
#  4. SIGKILL of both leaves the rule, the route, the nftables table and
#     the state files; the restart removes them first, holds exactly one
#     of each, and the session comes back;
#  5. SIGINT leaves nothing.
# Usage: test_ndp.sh PATH/TO/mt6d   (root; about 1 minute)
source "$(dirname "$0")/sesslib.sh"
NDPHELPER="/usr/bin/python3 $HERE/ndphelper.py"
ROT=500
PERIOD=900
STREAM=${STREAM_SECONDS:-20}
SCAN=${SCAN_COUNT:-10000}
C=$(cns 1)

echo "== topology: one on-link /64 behind R"
mkns "$R"
run ip netns exec "$R" sysctl -qw net.ipv6.conf.all.forwarding=1
run ip -n "$R" addr add 2001:db8:d::1/128 dev lo
run ip -n "$R" link add lan type bridge mcast_snooping 0
run ip -n "$R" link set lan up
run ip -n "$R" addr add fe80::1/64 dev lan nodad
run ip -n "$R" addr add 2001:db8:5::1/64 dev lan nodad
for h in "$S s 2" "$C c 3"; do
	set -- $h
	mkns "$1"
	run ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_redirects=0 \
		net.ipv6.conf.default.accept_redirects=0
	run ip link add "$2" netns "$R" type veth peer name up0 netns "$1"
	run ip -n "$R" link set "$2" master lan up
	run ip -n "$1" link set up0 up
	run ip -n "$1" addr add "2001:db8:5::$3/64" dev up0 nodad noprefixroute
	run ip -n "$1" -6 route add default via fe80::1 dev up0
done
swarm
keys 1 1
SERVER_DHT=${NDP_SERVER_DHT:-"[2001:db8:5::2]:6881"} # NDP_SERVER_DHT=auto: listen = auto
SERVER_EXTRA="mode = ndp
uplink = up0"
server_config
cat >"$TMP/c1.conf" <<CONF
# written by $(basename "$0")
[client]
private_key = $TMP/c1.key
server_public_key = $(cat "$TMP/server.pub")
prefix = 2001:db8:5::/64
mode = ndp
uplink = up0
period = $PERIOD
transport = bep44
keepalive = 2
lookup_timeout = 10
state_file = $TMP/c1.state

[dht]
listen = [2001:db8:5::3]:6881
bootstrap = $(swarm_ep)

[control]
socket = $TMP/c1.sock
CONF
run cat "$TMP/c1.conf"

# routing NS: the rule and the table route of mode = ndp, and no other
# trace of the /64 (no address in it but the static one, no local-table route)
routing_ok() {
	local ns=$1 rules routes locals
	rules=$(ip -n "$ns" -6 rule show | grep -c 'from all to 2001:db8:5::/64 iif up0 lookup 27958' || true)
	routes=$(ip -n "$ns" -6 route show table 27958 | grep -c '^local 2001:db8:5::/64 dev lo' || true)
	locals=$(ip -n "$ns" -6 route show table local | grep -c '2001:db8:5::/64' || true)
	echo "+ $ns: $rules rule(s), $routes table-27958 route(s), $locals local-table /64 route(s)" >&2
	[ "$rules" = 1 ] && [ "$routes" = 1 ] && [ "$locals" = 0 ]
}

# clean NS NAME: nothing of mode = ndp left in NS
clean() {
	local ns=$1 n
	n=$(ip -n "$ns" -6 rule show | grep -c 'lookup 27958' || true)
	[ "$n" = 0 ] || { echo "FAIL: $n rule(s) left in $ns"; ip -n "$ns" -6 rule show; return 1; }
	n=$(ip -n "$ns" -6 route show table 27958 2>/dev/null | wc -l)
	[ "$n" = 0 ] || { echo "FAIL: routes left in table 27958 of $ns"; return 1; }
	n=$(ip netns exec "$ns" nft list ruleset | wc -c)
	[ "$n" = 0 ] || { echo "FAIL: nftables rules left in $ns"; return 1; }
	n=$(ip -n "$ns" -6 addr show scope global | grep -c inet6 || true)
	[ "$n" = 1 ] || { echo "FAIL: addresses left in $ns"; ip -n "$ns" -6 addr show; return 1; }
	! ip -n "$ns" link show mt6d0 >/dev/null 2>&1 || { echo "FAIL: TUN left in $ns"; return 1; }
	[ ! -e "$TMP/$2.state" ] || { echo "FAIL: state file $2.state left"; return 1; }
	echo "ok: nothing left in $ns" >&2
}

echo "== 1. rendezvous and session on the on-link /64"
start_server
daemon "$C" c1 client -c "$TMP/c1.conf"
wait_for 30 "client in session" in_session 1
run "$MT6D" show --socket "$TMP/server.sock"
run "$MT6D" show --socket "$TMP/c1.sock"
for ns in "$S" "$C"; do routing_ok "$ns" || { echo "FAIL: routing of mode = ndp in $ns"; exit 1; }; done
is server "j['ndp']['uplink']=='up0' and j['ndp']['addresses']>=4" ||
	{ echo "FAIL: the server answers for no session and introduction slots"; exit 1; }
is c1 "j['mode']=='ndp' and j['ndp']['addresses']==3" ||
	{ echo "FAIL: the client does not answer for its three slots"; exit 1; }
run ip netns exec "$C" ping -6 -c 3 -i 0.2 -w 5 2001:db8:100::1

echo "== 2. a TCP stream for $STREAM s (rotation $ROT ms)"
echo "+ ip netns exec $S $HELPER stream-server 5001 $((STREAM + 10)) &" >&2
ip netns exec "$S" $HELPER stream-server 5001 $((STREAM + 10)) >"$TMP/stream-server.out" 2>&1 &
SRV=$!
PIDS+=($SRV)
sleep 0.5
run ip netns exec "$C" $HELPER stream-client 2001:db8:100::1 5001 "$STREAM" 200000 ||
	{ echo "FAIL: the stream broke"; exit 1; }
wait "$SRV" || { cat "$TMP/stream-server.out"; echo "FAIL: stream server"; exit 1; }
cat "$TMP/stream-server.out"
rc=$(json c1 "j['rotations']")
rs=$(json server "j['sessions'][0]['rotations']")
echo "rotations in the session: client $rc, server $rs"
[ "$rc" -ge 30 ] && [ "$rs" -ge 30 ] || { echo "FAIL: fewer than 30 rotations"; exit 1; }
is server "j['stats']['sessions_created']==1" || { echo "FAIL: the session was re-made"; exit 1; }
SMAC=$(ip netns exec "$S" cat /sys/class/net/up0/address)
CMAC=$(ip netns exec "$C" cat /sys/class/net/up0/address)
ns_s=$(ip -n "$R" -6 neigh show dev lan | grep -v '2001:db8:5::2 ' | grep -c "lladdr $SMAC" || true)
ns_c=$(ip -n "$R" -6 neigh show dev lan | grep -v '2001:db8:5::3 ' | grep -c "lladdr $CMAC" || true)
echo "R's neighbour cache: $ns_s outer address(es) at the server's MAC, $ns_c at the client's"
[ "$ns_s" -ge 10 ] && [ "$ns_c" -ge 10 ] || { echo "FAIL: R did not learn the rotating addresses"; exit 1; }
run "$MT6D" show --json --socket "$TMP/server.sock" | /usr/bin/python3 -c \
	"import json,sys; print(json.dumps(json.load(sys.stdin)['ndp']))"

echo "== 3. a scan from R: $SCAN random addresses of the /64, and the live ones"
ip netns exec "$R" tcpdump -i lan -w "$TMP/scan.pcap" -U -s 128 'icmp6 and ip6[40] == 136' \
	2>"$TMP/tcpdump.log" &
TCPDUMP=$!
PIDS+=($TCPDUMP)
sleep 1
seen_s=$(json server "j['ndp']['not_ours']")
seen_c=$(json c1 "j['ndp']['not_ours']")
scan() {
	echo "+ ip netns exec $R $NDPHELPER scan lan 2001:db8:5::/64 $SCAN $TMP/random.$1 @server.sock @c1.sock 2001:db8:5::2" >&2
	MT6D=$MT6D ip netns exec "$R" $NDPHELPER scan lan 2001:db8:5::/64 "$SCAN" "$TMP/random.$1" \
		"@$TMP/server.sock" "@$TMP/c1.sock" 2001:db8:5::2
}
# With 500 ms slots an address may leave its window before its
# solicitation is out: two retries.
scan 1 || scan 2 || scan 3 || { echo "FAIL: the scan"; exit 1; }
sleep 0.5
kill -INT "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null || true
cat "$TMP/tcpdump.log"
# The second observer: of the addresses the scanner picked, none appears
# as the target of an advertisement on the link (the advertisements that
# are there answer R's own solicitations for the live outer addresses, the
# traffic goes on meanwhile, and the scanner's for the live ones).
tcpdump -nr "$TMP/scan.pcap" 2>/dev/null | grep -o 'tgt is [0-9a-f:]*' | awk '{print $3}' |
	sort -u >"$TMP/advertised"
leaked=$(cat "$TMP"/random.* | sort -u | comm -12 - "$TMP/advertised" | wc -l)
echo "tcpdump on R's link: $(wc -l <"$TMP/advertised") address(es) advertised during the scan," \
	"$leaked of the $(cat "$TMP"/random.* | wc -l) random ones"
[ "$leaked" = 0 ] && [ "$(wc -l <"$TMP/advertised")" -ge 3 ] ||
	{ tcpdump -nr "$TMP/scan.pcap"; echo "FAIL: the observer saw advertisements for random addresses"; exit 1; }
seen_s=$(( $(json server "j['ndp']['not_ours']") - seen_s ))
seen_c=$(( $(json c1 "j['ndp']['not_ours']") - seen_c ))
echo "solicitations for addresses not held: server $seen_s, client $seen_c;" \
	"lost for want of room: server $(json server "j['ndp']['rx_lost']"), client $(json c1 "j['ndp']['rx_lost']")"
[ "$seen_s" -ge "$SCAN" ] && [ "$seen_c" -ge "$SCAN" ] ||
	{ echo "FAIL: a daemon did not see the whole scan: its silence would prove nothing"; exit 1; }

echo "== 4. SIGKILL both, restart"
run kill -KILL "$PID_server" "$PID_c1"
wait "$PID_server" "$PID_c1" 2>/dev/null || true
run cat "$TMP/server.state" "$TMP/c1.state"
for ns in "$S" "$C"; do routing_ok "$ns" || { echo "FAIL: the crash should leave the rule and route"; exit 1; }; done
[ "$(ip netns exec "$S" nft list tables | grep -c mt6d || true)" = 1 ] ||
	{ echo "FAIL: the crash should leave the nftables table"; exit 1; }
start_server
daemon "$C" c1 client -c "$TMP/c1.conf"
client_ups() { [ "$(grep -c ' up, ndp mode' "$TMP/c1.log")" -ge 2 ]; }
wait_for 5 "client up again" client_ups
grep 'removed 3 item' "$TMP/server.log" || { echo "FAIL: the server's restart did not clean up"; exit 1; }
grep 'removed 2 item' "$TMP/c1.log" || { echo "FAIL: the client's restart did not clean up"; exit 1; }
for ns in "$S" "$C"; do routing_ok "$ns" || { echo "FAIL: routing after the restart in $ns"; exit 1; }; done
[ "$(ip netns exec "$S" nft list tables | grep -c mt6d || true)" = 1 ] || { echo "FAIL: nftables tables"; exit 1; }
wait_for 40 "client in a new session" in_session 1
run ip netns exec "$C" ping -6 -c 3 -i 0.2 -w 5 2001:db8:100::1

echo "== 5. SIGINT, nothing left"
stop server
stop c1
clean "$S" server
clean "$C" c1
echo "PASS"
