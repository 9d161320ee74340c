#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Rebinding in MT6D mode (docs/rebind.md, issue #7): the client's prefix
# changes under a running TCP stream. Topology of sesslib.sh with one client
# (bind mode, prefix = auto, uplink holding 2001:db8:c1::2/64), an attacker
# A (2001:db8:a::2) on its own link to R, a capture on R's link to the
# server, rotation 1000 ms, rebind_window = 5. Checks:
#  a. the client's /64 becomes 2001:db8:c7::/64 mid-stream (new address and
#     route first, then the old ones removed): the stream (one TCP
#     connection, pattern checked) goes on for 10 more rotations; the
#     server's session now sends to 2001:db8:c7::/64, its "rebinds" and
#     claims_accepted count the claim; the observer sees the session's
#     datagrams from and to 2001:db8:c7::/64 after the change and none
#     with 2001:db8:c1::/64 3 s after it;
#  c. the claim the observer captured, sent again from A's own address to
#     the session's current endpoint: refused for its location, session
#     unchanged;
#  e. the same claim spoofed from its original source address and port to
#     the session's current endpoint, inside the window: it passes the
#     location and window checks and is refused as a replay (the session's
#     mark is at its time or later); again after the 5 s window: refused as
#     stale (docs/rebind.md, steps 5, 6, 7);
#  the stream is unaffected by c and e; both daemons stop cleanly and
#  leave nothing behind.
# Usage: test_rebind_prefix.sh PATH/TO/mt6d   (root; about 35 s, ASan too)
AUTO="1"
CLIENT_DHT_1="[::]:6881" # the client's uplink address changes
source "$(dirname "$0")/sesslib.sh"
source "$(dirname "$0")/rblib.sh"
ROT=1000
WINDOW=5
SERVER_EXTRA="rebind_window = $WINDOW"
STREAM=28

topology 1
attacker6
swarm
keys 1 1
server_config

echo "== observer: capture on the server's link"
ip netns exec "$R" tcpdump -i rs -w "$TMP/server-link.pcap" -U -s 128 'udp and net 2001:db8:5::/64' \
	2>"$TMP/tcpdump.log" &
PIDS+=($!)
TCPDUMP=$!
sleep 1

echo "== session on 2001:db8:c1::/64"
start_server
start_client 1
wait_for 30 "client 1 in session" in_session 1
run "$MT6D" show --socket "$TMP/c1.sock"
is c1 "j['mode']=='bind' and j['prefix']=='2001:db8:c1::/64'" ||
	{ json c1 "j.get('mode'), j.get('prefix')"; echo "FAIL: client 1 did not take its uplink's /64"; exit 1; }
is server "j['sessions'][0]['remote'].startswith('[2001:db8:c1:')" ||
	{ echo "FAIL: the server's session is not on 2001:db8:c1::/64"; exit 1; }
is server "j['rebind']['levels']==16 and j['rebind']['window_s']==$WINDOW" ||
	{ json server "j.get('rebind')"; echo "FAIL: rebind parameters"; exit 1; }

echo "== a. TCP stream for $STREAM s; the client's prefix changes under it"
stream_start 1 5001 "$STREAM" 200000
wait_for 10 "stream flowing" flowing 1 1
sleep 3
accepted0=$(sstat claims_accepted)
rebinds0=$(session rebinds)
# The datagrams of the claim length the client sends from its new prefix to
# the server's: the first of them should be its claim.
echo "+ ip netns exec $R $RBHELPER capture rs 2001:db8:c7::/64 2001:db8:5::/64 $CLAIM_LEN 4 8 $TMP/claims &" >&2
ip netns exec "$R" $RBHELPER capture rs 2001:db8:c7::/64 2001:db8:5::/64 $CLAIM_LEN 4 8 "$TMP/claims" \
	>"$TMP/capture.out" 2>&1 &
CAPTURE=$!
PIDS+=($!)
sleep 0.5
run ip -n "$R" addr add 2001:db8:c7::1/64 dev r1 nodad
run ip -n "$(cns 1)" addr add 2001:db8:c7::2/64 dev wan nodad
run ip -n "$(cns 1)" -6 route replace default via 2001:db8:c7::1
sleep 1
run ip -n "$(cns 1)" addr del 2001:db8:c1::2/64 dev wan
run ip -n "$R" addr del 2001:db8:c1::1/64 dev r1
CHANGE=$(now)
rot0=$(json c1 "j['rotations']")
wait_for 10 "the server's session moved to 2001:db8:c7::/64" \
	is server "j['sessions'][0]['remote'].startswith('[2001:db8:c7:')"
wait_for 5 "client 1 on 2001:db8:c7::/64" is c1 "j['prefix']=='2001:db8:c7::/64'"
run "$MT6D" show --socket "$TMP/server.sock"
json server "j['stats']"
json c1 "j['stats']"
accepted=$(sstat claims_accepted)
rebinds=$(session rebinds)
echo "server: claims accepted $accepted0 -> $accepted, session rebinds $rebinds0 -> $rebinds"
[ "$accepted" -gt "$accepted0" ] || { echo "FAIL: no claim accepted"; exit 1; }
[ "$rebinds" -gt "$rebinds0" ] || { echo "FAIL: the session's rebinds did not move"; exit 1; }
is c1 "j['stats']['prefix_changes']>=1 and j['stats']['claims_sent']>=1" ||
	{ echo "FAIL: client 1 counted no prefix change or claim"; exit 1; }
wait_for 5 "stream flowing after the change" flowing 1 1
wait_for 5 "the observer has a datagram of $CLAIM_LEN bytes from 2001:db8:c7::/64" test -s "$TMP/claims"
sleep 0.5
kill -TERM "$CAPTURE" 2>/dev/null || true
wait "$CAPTURE" || true
run cat "$TMP/capture.out"

echo "== c. the captured claim from the attacker's own address"
# Tunnel datagrams of the claim length are possible (an inner packet of 206
# bytes): try what was captured, in order, until one is refused for its
# location rather than as a bad claim.
CLAIM=
rebinds1=$(session rebinds)
while read -r t src sport dst dport hex; do
	replay_claim "$hex" own
	if [ "$REFUSED" = location ]; then
		CLAIM=$hex CLAIM_T=$t CLAIM_SRC=$src CLAIM_SPORT=$sport
		echo "the claim: $CLAIM_LEN bytes from [$src]:$sport at $t, $(echo "$(now) - $t" | bc) s ago"
		break
	fi
	[ "$REFUSED" = bad ] || { echo "FAIL: refused as '$REFUSED', expected its location"; exit 1; }
done <"$TMP/claims"
[ -n "$CLAIM" ] || { echo "FAIL: no captured datagram was refused for its location"; exit 1; }
is server "j['sessions'][0]['rebinds']==$rebinds1 and j['sessions'][0]['remote'].startswith('[2001:db8:c7:')" ||
	{ echo "FAIL: the replay moved the session"; exit 1; }

echo "== e. the claim from its original source, inside the window, then after it"
# 2.5 s after the claim its slot has left the client's window of three: the
# client no longer holds that address, and so never sees the server's
# replies to the spoofed datagrams (it would answer them with a new claim).
# Any later slot of the server's makes the tuple one it does not expect.
delay=$(echo "$CLAIM_T + 2.5 - $(now)" | bc)
[[ $delay == -* ]] || sleep "$delay"
left=$(echo "$CLAIM_T + $WINDOW - $(now)" | bc)
echo "inside the window: $left s of it left"
[[ $left == -* ]] && { echo "FAIL: too slow to replay inside the window (the machine is overloaded)"; exit 1; }
replay_claim "$CLAIM" "$CLAIM_SRC" "$CLAIM_SPORT"
# docs/rebind.md: location (5), then window (6), then the mark (7).
[ "$REFUSED" = replayed ] || { echo "FAIL: refused as '$REFUSED', expected a replay"; exit 1; }
delay=$(echo "$CLAIM_T + $WINDOW + 2 - $(now)" | bc)
[[ $delay == -* ]] || sleep "$delay"
replay_claim "$CLAIM" "$CLAIM_SRC" "$CLAIM_SPORT"
[ "$REFUSED" = stale ] || { echo "FAIL: refused as '$REFUSED', expected stale"; exit 1; }
is server "j['sessions'][0]['rebinds']==$rebinds1 and j['sessions'][0]['remote'].startswith('[2001:db8:c7:')" ||
	{ echo "FAIL: a replay moved the session"; exit 1; }
run "$MT6D" show --socket "$TMP/server.sock"

echo "== the stream goes on"
wait_for 5 "stream flowing after the replays" flowing 1 1
stream_wait 1
rot=$(json c1 "j['rotations']")
echo "client 1: $((rot - rot0)) rotations since the change"
[ $((rot - rot0)) -ge 10 ] || { echo "FAIL: fewer than 10 rotations after the change"; exit 1; }
# TCP backs off while the path is broken; a rebind takes a round trip.
run $RBHELPER stall "$TMP/progress1" "$(echo "$CHANGE - 2" | bc)" "$(now)" 8 ||
	{ echo "FAIL: the stream stalled"; exit 1; }
is server "j['stats']['sessions_created']==1" || { echo "FAIL: the session was re-made"; exit 1; }

echo "== observer"
sleep 0.5
run kill -INT "$TCPDUMP"
wait "$TCPDUMP" || true
run $RBHELPER observe "$TMP/server-link.pcap" "$CHANGE" 2001:db8:c7::/64 2001:db8:c1::/64 \
	2001:db8:5::/64 3 || { echo "FAIL: observer"; exit 1; }

echo "== SIGINT, nothing left"
stop server
stop c1
check_server_clean
check_client_clean 1
echo "PASS"
