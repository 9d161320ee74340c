#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Rebinding on the underlay behind a NAT (docs/rebind.md, issue #7). The
# client (mode = underlay, 192.0.2.2) is behind N, which masquerades it
# (fully-random ports) to 198.51.100.2; the server has the static underlay
# endpoint 203.0.113.1:7000 and finds the client's rendezvous through a DHT
# swarm over IPv4; an attacker A (203.0.113.18) is on the public side.
# Checks:
#  b. a TCP stream through the tunnel survives two NAT rebindings: (1) N's
#     conntrack table flushed, so the next datagram gets a new port; (2)
#     N's public address replaced by 198.51.100.7 (masquerade drops its
#     mappings). After each, the server's session sends to the mapping N
#     really made (conntrack), with "rebinds" counting both, "underlay": true;
#  f. A floods the underlay endpoint with 3000 junk datagrams of random
#     lengths 1..1400 over 3 s: no reply to one shorter than 34 bytes, every
#     reply is 34 bytes, echoes a trigger A sent and reports A's address and
#     port; at most reply_burst + reply_rate x elapsed + 1 replies; the
#     server counts replies_limited, every junk datagram that reached its
#     socket as unrecognized; the session and the stream are unaffected.
#  Both daemons stop cleanly and leave nothing behind.
# Usage: test_rebind_nat.sh PATH/TO/mt6d   (root; about 35 s, ASan too)
UNDERLAY="1"
CLIENT_DHT_1="192.0.2.2:6881"
SWARM_ADDR=203.0.113.200
SERVER_DHT="203.0.113.1:6881"
source "$(dirname "$0")/sesslib.sh"
source "$(dirname "$0")/rblib.sh"
ROT=1000
RATE=5
BURST=10
SERVER_EXTRA="underlay = 203.0.113.1:7000
reply_rate = $RATE
reply_burst = $BURST"
STREAM=30

nat_topology
swarm
keys 1 1
server_config

# remote_is ADDR [NOT_PORT]: the session's remote is IPv4 ADDR (in either
# notation), on another port than NOT_PORT
remote_is() {
	is server "__import__('re').sub(r'^\[(::ffff:)?|\]', '', j['sessions'][0]['remote']).rsplit(':', 1)[0]=='$1'
		and j['sessions'][0]['remote'].rsplit(':', 1)[1]!='${2:-}'"
}
remote_port() { ep_port "$(session remote)"; }

# nat_port PUBLIC: the port N maps the client's underlay flow to
nat_port() {
	ip netns exec "$N" conntrack -L -p udp --orig-dst 203.0.113.1 --orig-port-dst 7000 2>/dev/null |
		sed -n "s/.*src=203.0.113.1 dst=$1 sport=7000 dport=\([0-9]*\).*/\1/p" | head -1
}

# mapped PUBLIC: the server sends to the mapping N made
mapped() {
	local p
	p=$(nat_port "$1")
	[ -n "$p" ] && remote_is "$1" && [ "$(remote_port)" = "$p" ]
}

echo "== session through the NAT"
start_server
is server "j['underlay'] in ('203.0.113.1:7000', '[::ffff:203.0.113.1]:7000')" ||
	{ json server "j.get('underlay')"; echo "FAIL: the server's underlay endpoint"; exit 1; }
start_client 1
wait_for 30 "client 1 in session" in_session 1
run "$MT6D" show --socket "$TMP/server.sock"
run "$MT6D" show --socket "$TMP/c1.sock"
is c1 "j['mode']=='underlay'" || { echo "FAIL: client 1 is not in underlay mode"; exit 1; }
is server "j['sessions'][0]['underlay']==True" || { echo "FAIL: the session is not on the underlay"; exit 1; }
run ip netns exec "$N" conntrack -L -p udp --orig-port-dst 7000
wait_for 5 "the server sends to N's mapping on 198.51.100.2" mapped 198.51.100.2

echo "== b. TCP stream for $STREAM s; N's mapping changes twice under it"
stream_start 1 5001 "$STREAM" 200000
wait_for 10 "stream flowing" flowing 1 1
sleep 2
port0=$(remote_port)
rebinds0=$(session rebinds)
echo "-- (1) a new port: N forgets its mappings"
run ip netns exec "$N" conntrack -F
wait_for 10 "the session moved to another port of 198.51.100.2" remote_is 198.51.100.2 "$port0"
run ip netns exec "$N" conntrack -L -p udp --orig-port-dst 7000
wait_for 5 "the server sends to N's new mapping" mapped 198.51.100.2
port1=$(remote_port)
echo "server: session remote port $port0 -> $port1"
wait_for 5 "stream flowing after the new port" flowing 1 1
sleep 2
echo "-- (2) a new address: N's public address becomes 198.51.100.7"
run ip -n "$N" addr add 198.51.100.7/24 dev nr
run ip -n "$N" addr del 198.51.100.2/24 dev nr
run ip -n "$N" addr show dev nr
wait_for 10 "the session moved to 198.51.100.7" remote_is 198.51.100.7
run ip netns exec "$N" conntrack -L -p udp --orig-port-dst 7000
wait_for 5 "the server sends to N's mapping on 198.51.100.7" mapped 198.51.100.7
wait_for 5 "stream flowing after the new address" flowing 1 1
run "$MT6D" show --socket "$TMP/server.sock"
json server "j['stats']"
json c1 "j['stats']"
rebinds=$(session rebinds)
echo "server: session rebinds $rebinds0 -> $rebinds"
[ $((rebinds - rebinds0)) -ge 2 ] || { echo "FAIL: fewer than 2 rebinds"; exit 1; }
is server "j['stats']['claims_accepted']>=2 and j['sessions'][0]['underlay']==True" ||
	{ echo "FAIL: claims accepted / underlay"; exit 1; }
is c1 "j['stats']['replies_rx']>=2 and j['stats']['claims_sent']>=2 and j['stats']['rebinds']>=2" ||
	{ echo "FAIL: client 1 did not count 2 replies, claims and rebinds"; exit 1; }

echo "== f. junk flood on the underlay endpoint from A"
# What reaches the server's host from A (nftables counter), and what its
# UDP sockets dropped (receive buffers full): the rest reached the socket.
ip netns exec "$S" nft -f - <<'NFT'
table ip rbtest {
	chain input {
		type filter hook input priority filter; policy accept;
		ip saddr 203.0.113.18 udp dport 7000 counter
	}
}
NFT
rcvbuf_errors() {
	ip netns exec "$S" nstat -asz UdpRcvbufErrors Udp6RcvbufErrors | awk '/RcvbufErrors/ {n += $2} END {print n + 0}'
}
rcvbuf0=$(rcvbuf_errors)
read -r unrec0 replies0 limited0 bad0 <<<"$(json server "' '.join(str(j['stats'][k]) for k in
	('unrecognized', 'replies', 'replies_limited', 'claims_refused_bad'))")"
remote1=$(session remote)
rebinds1=$(session rebinds)
run ip netns exec "$A" $RBHELPER flood 203.0.113.1 7000 3000 3 "$RATE" "$BURST" $CLAIM_LEN | tee "$TMP/flood.out" ||
	{ echo "FAIL: replies to the flood"; exit 1; }
sleep 0.5
arrived=$(ip netns exec "$S" nft list table ip rbtest | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
run ip netns exec "$S" nft delete table ip rbtest
rcvbuf=$(rcvbuf_errors)
read -r unrec replies limited bad <<<"$(json server "' '.join(str(j['stats'][k]) for k in
	('unrecognized', 'replies', 'replies_limited', 'claims_refused_bad'))")"
got=$(sed -n 's/.* replies=\([0-9]*\) .*/\1/p' "$TMP/flood.out")
bound=$(sed -n 's/.* bound=\([0-9.]*\) .*/\1/p' "$TMP/flood.out")
claimlen=$(sed -n 's/.* claim_len=\([0-9]*\) .*/\1/p' "$TMP/flood.out")
dropped=$((rcvbuf - rcvbuf0))
echo "flood: $arrived datagrams reached the server's host, $dropped dropped by full socket buffers" \
	"($claimlen of the claim length, tried as claims: refused bad $bad0 -> $bad);" \
	"server: unrecognized $unrec0 -> $unrec, replies $replies0 -> $replies," \
	"replies_limited $limited0 -> $limited; A received $got replies (bound $bound)"
[ "$arrived" -ge 2900 ] || { echo "FAIL: the flood did not arrive"; exit 1; }
[ $((unrec - unrec0)) -ge $((arrived - dropped)) ] ||
	{ echo "FAIL: not every junk datagram counted as unrecognized"; exit 1; }
[ $((bad - bad0)) -ge "$claimlen" ] ||
	{ echo "FAIL: junk of the claim length not refused as a bad claim"; exit 1; }
[ "$got" -ge "$BURST" ] || { echo "FAIL: fewer replies than the burst"; exit 1; }
[ $((replies - replies0)) -ge "$got" ] || { echo "FAIL: the server counted fewer replies than A got"; exit 1; }
[ "$(echo "$((replies - replies0)) <= $bound" | bc)" = 1 ] ||
	{ echo "FAIL: the server sent more replies than the limit"; exit 1; }
[ $((limited - limited0)) -gt 0 ] || { echo "FAIL: no reply was rate-limited"; exit 1; }
is server "j['session_count']==1 and j['sessions'][0]['remote']=='$remote1' and j['sessions'][0]['rebinds']==$rebinds1" ||
	{ echo "FAIL: the flood moved the session"; exit 1; }
wait_for 5 "stream flowing after the flood" flowing 1 1

echo "== the stream ends well"
stream_wait 1
run $RBHELPER stall "$TMP/progress1" 0 "$(now)" 8 || { echo "FAIL: the stream stalled"; exit 1; }
is server "j['stats']['sessions_created']==1" || { echo "FAIL: the session was re-made"; exit 1; }

echo "== SIGINT, nothing left"
stop server
stop c1
check_server_clean
C1=$(cns 1)
[ "$(ip netns exec "$C1" nft list ruleset | wc -c)" = 0 ] || { echo "FAIL: nft rules on client 1"; exit 1; }
! ip -n "$C1" link show mt6d0 >/dev/null 2>&1 || { echo "FAIL: TUN left on client 1"; exit 1; }
[ ! -e "$TMP/c1.state" ] || { echo "FAIL: state file left on client 1"; exit 1; }
echo "PASS"
