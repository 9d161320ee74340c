#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Client/server sessions end to end (docs/sessions.md): a router with a DHT
# swarm, a server, three registered clients and one unregistered, all in
# namespaces; clients 1, 2, 4 in bind mode, client 3 in routed mode.
# Rotation 1000 ms, publication period 20 s (so windows and
# their K change during the streams). Checks:
#  1. the three registered clients find the server through the DHT and get
#     sessions; the unregistered one gets none;
#  2. a TCP stream per client survives >= 40 rotations and two new windows;
#     an observer on the server's link sees only short-lived endpoints and
#     no inner address in clear;
#  3. client 2 is registered and knows K: it cannot open client 1's
#     introduction or session datagrams (fix 1), and its forged requests
#     and datagrams into client 1's session are dropped and counted;
#  4. teardown from the server (mt6d teardown) and from a client (SIGINT)
#     ends the session on both sides at once;
#  5. the server killed with SIGKILL leaves its route and rule (state
#     file), the restarted one removes them first, and the clients get new
#     sessions on their own;
#  6. SIGINT leaves nothing: addresses, routes, nftables rules, TUN, state.
# With PRIV_USER=NAME (test_privdrop.sh) every daemon runs as NAME after
# set-up, and the test also checks their uid, capabilities and seccomp
# filter (check_dropped) and that SIGHUP re-reads the registry as NAME.
# Usage: test_sessions.sh PATH/TO/mt6d   (root; about 2 minutes)
ROUTED="3" # client 3 in routed mode, the others in bind mode
source "$(dirname "$0")/sesslib.sh"
ROT=1000
PERIOD=20
STREAM=${STREAM_SECONDS:-44}

topology 4
swarm
keys 4 3
server_config

echo "== observer: capture on the server's link and on client 1's"
ip netns exec "$R" tcpdump -i rs -w "$TMP/server-link.pcap" -U -s 256 'udp and net 2001:db8:5::/64' \
	2>"$TMP/tcpdump1.log" &
PIDS+=($!)
ip netns exec "$R" tcpdump -i r1 -w "$TMP/c1-link.pcap" -U -s 1600 'udp and net 2001:db8:5::/64' \
	2>"$TMP/tcpdump2.log" &
PIDS+=($!)
sleep 1

echo "== 1. rendezvous and session establishment"
start_server
for i in 1 2 3 4; do start_client "$i"; done
for i in 1 2 3; do wait_for 30 "client $i in session" in_session "$i"; done
run "$MT6D" show --socket "$TMP/server.sock"
run "$MT6D" show --socket "$TMP/c1.sock"
for i in 1 2 3; do
	run ip netns exec "$(cns "$i")" ping -6 -c 3 -i 0.2 -w 5 2001:db8:100::1
done
is server "j['session_count']==3" || { echo "FAIL: server does not hold 3 sessions"; exit 1; }
if [ -n "${PRIV_USER:-}" ]; then
	for n in server c1 c2 c3 c4; do check_dropped "$n"; done
fi
# The window of client 1's introduction: the attacker (client 2) later
# fetches that window's K, as any registered client can while it is live.
W1=$(json c1 "j['window']")

echo "== sessions are isolated: nothing crosses unless the server's routing says so"
A2=$(client_addr 2)
if run ip netns exec "$(cns 1)" ping -6 -c 2 -i 0.2 -w 2 "$A2"; then
	echo "FAIL: client 1 reached client 2 with forwarding off"; exit 1
fi
run ip netns exec "$S" sysctl -qw net.ipv6.conf.all.forwarding=1
run ip netns exec "$(cns 1)" ping -6 -c 2 -i 0.2 -w 5 "$A2"
run ip netns exec "$S" sysctl -qw net.ipv6.conf.all.forwarding=0

echo "== 2. a TCP stream per client for $STREAM s; client 2 attacks client 1 meanwhile"
for i in 1 2 3; do
	echo "+ ip netns exec $S $HELPER stream-server 500$i 30 &" >&2
	ip netns exec "$S" $HELPER stream-server "500$i" 30 >"$TMP/stream-server$i.out" 2>&1 &
	eval "SRV$i=$!"
	PIDS+=($!)
done
sleep 0.5
for i in 1 2 3; do
	echo "+ ip netns exec $(cns "$i") $HELPER stream-client 2001:db8:100::1 500$i $STREAM 200000 &" >&2
	ip netns exec "$(cns "$i")" $HELPER stream-client 2001:db8:100::1 "500$i" "$STREAM" 200000 \
		>"$TMP/stream-client$i.out" 2>&1 &
	eval "CLI$i=$!"
	PIDS+=($!)
done

echo "== 3. client 2 (registered) learns K through its own rendezvous"
sleep 3
run ip netns exec "$(cns 2)" "$MT6D" lookup --key "$TMP/c2.key" --server "$(cat "$TMP/server.pub")" \
	--bootstrap "[2001:db8:d::1]:$SWARM_PORT" --period $PERIOD --transport bep44 >"$TMP/lookup2.out"
cat "$TMP/lookup2.out"
K=$(sed -n 's/^intro_key=//p' "$TMP/lookup2.out")
# K of the window client 1 introduced itself in (it may be an earlier one).
run ip netns exec "$(cns 2)" "$MT6D" lookup --key "$TMP/c2.key" --server "$(cat "$TMP/server.pub")" \
	--bootstrap "[2001:db8:d::1]:$SWARM_PORT" --period $PERIOD --transport bep44 \
	--time $((W1 + 1)) >"$TMP/lookup2w1.out"
K1=$(sed -n 's/^intro_key=//p' "$TMP/lookup2w1.out")
SEED=$(sed -n 's/^seed_address=//p' "$TMP/lookup2.out")
forged0=$(json server "j['stats']['intro_unknown']")
unrec0=$(json server "j['stats']['unrecognized']")
run ip netns exec "$(cns 2)" $SESSHELPER forge-intro "$SEED" "$K" $ROT 20
EP=$(json server "[s['local'] for s in j['sessions'] if s['name']=='client1'][0]")
EPA=${EP%]*}; EPA=${EPA#[}; EPP=${EP##*:}
run ip netns exec "$(cns 2)" $SESSHELPER forge-session "$EPA" "$EPP" "$K" 50
sleep 0.5
forged=$(json server "j['stats']['intro_unknown']")
sforged=$(json server "[s['rx_forged'] for s in j['sessions'] if s['name']=='client1'][0]")
unrec=$(json server "j['stats']['unrecognized']")
created=$(json server "j['stats']['sessions_created']")
echo "server: introduction datagrams from unknown IIDs $forged0 -> $forged," \
	"datagrams from a tuple no session expects $unrec0 -> $unrec," \
	"client 1's session saw $sforged forged, $created sessions created"
[ $((forged - forged0)) -ge 15 ] || { echo "FAIL: forged requests not refused as unknown"; exit 1; }
# Client 2's source is not client 1's: its datagrams never reach client 1's
# session (a session is its whole tuple); they are unrecognized.
[ $((unrec - unrec0)) -ge 45 ] || { echo "FAIL: datagrams sealed with K not refused as unrecognized"; exit 1; }
[ "$sforged" = 0 ] || { echo "FAIL: a stranger's datagrams reached client 1's session"; exit 1; }
[ "$created" = 3 ] || { echo "FAIL: a forged request made a session"; exit 1; }

for i in 1 2 3; do
	eval "pc=\$CLI$i; ps=\$SRV$i"
	wait "$pc" || { cat "$TMP/stream-client$i.out"; echo "FAIL: stream $i broke"; exit 1; }
	wait "$ps" || { cat "$TMP/stream-server$i.out"; echo "FAIL: stream $i server"; exit 1; }
	cat "$TMP/stream-client$i.out" "$TMP/stream-server$i.out"
done
for i in 1 2 3; do
	rot=$(json "c$i" "j['rotations']")
	echo "client $i: $rot rotations in its session"
	[ "$rot" -ge 40 ] || { echo "FAIL: fewer than 40 rotations"; exit 1; }
done
opened=$(grep -c 'introduction endpoint of window .* open' "$TMP/server.log" || true)
closed=$(grep -c 'introduction endpoint of window .* closed' "$TMP/server.log" || true)
echo "server: $opened introduction windows opened, $closed closed so far"
[ "$opened" -ge 3 ] && [ "$closed" -ge 1 ] || { echo "FAIL: no new window during the streams"; exit 1; }
is server "j['stats']['sessions_created']==3" || { echo "FAIL: sessions were re-made"; exit 1; }

echo "== the unregistered client 4 has no session"
run "$MT6D" show --socket "$TMP/c4.sock"
is c4 "j['stats']['sessions']==0 and j['state']!='session'" ||
	{ echo "FAIL: the unregistered client got a session"; exit 1; }
is c4 "j['stats']['lookups_failed']>=1" || { echo "FAIL: client 4 never tried"; exit 1; }

echo "== observer: what client 2 captured of client 1 opens with none of its keys"
sleep 1
run $SESSHELPER decrypt "$TMP/c1-link.pcap" "$K1" "$(cat "$TMP/server.pub")" "$TMP/c1.key" \
	"$TMP/c2.key" 2001:db8:c1::/64 2001:db8:5::/64 ||
	{ echo "FAIL: isolation"; exit 1; }
A1=$(client_addr 1); A2=$(client_addr 2); A3=$(client_addr 3)
run $HELPER observe "$TMP/server-link.pcap" $ROT "$A1" "$A2" "$A3" 2001:db8:100::1 ||
	{ echo "FAIL: observer"; exit 1; }

echo "== 4. teardown from the server, then from a client"
run "$MT6D" teardown --socket "$TMP/server.sock" client3
wait_for 2 "client 3 left its session" not_in_session 3
is server "j['session_count']==2" || { echo "FAIL: server still holds client 3"; exit 1; }
wait_for 20 "client 3 back in a session" in_session 3
stop c2
wait_for 2 "server ended client 2's session" is server "j['stats']['ended_teardown']==1"
is server "j['session_count']==2" || { echo "FAIL: server still holds client 2"; exit 1; }
check_client_clean 2

echo "== 5. server killed with SIGKILL, restarted"
run kill -KILL "$PID_server"
wait "$PID_server" || true
run cat "$TMP/server.state"
n=$(ip -n "$S" -6 route show table local type local | grep -c '2001:db8:5::' || true)
t=$(ip netns exec "$S" nft list tables | grep -c mt6d || true)
echo "left by the crash: $n local route(s), $t nftables table(s)"
[ "$n" = 1 ] && [ "$t" = 1 ] || { echo "FAIL: expected the crash to leave the route and the table"; exit 1; }
start_server
grep 'removed 2 item' "$TMP/server.log" || { echo "FAIL: the restart did not clean up"; exit 1; }
n=$(ip -n "$S" -6 route show table local type local | grep -c '2001:db8:5::' || true)
t=$(ip netns exec "$S" nft list tables | grep -c mt6d || true)
[ "$n" = 1 ] && [ "$t" = 1 ] || { echo "FAIL: $n routes, $t tables after the restart"; exit 1; }
for i in 1 3; do
	wait_for 40 "client $i has a new session" is "c$i" "j['state']=='session' and j['stats']['sessions']>=2"
done
wait_for 5 "the new server holds both" is server "j['session_count']==2"
for i in 1 3; do
	run ip netns exec "$(cns "$i")" ping -6 -c 3 -i 0.2 -w 5 2001:db8:100::1
done
if [ -n "${PRIV_USER:-}" ]; then
	check_dropped server
	echo "== SIGHUP as $PRIV_USER: the registry is read again (client 4 added)"
	echo "$(cat "$TMP/c4.pub") client4" >>"$TMP/clients"
	run kill -HUP "$PID_server"
	wait_for 5 "the server knows 4 clients" is server "j['clients']==4"
	check_dropped server
fi

echo "== 6. SIGINT everywhere, nothing left"
stop server
for i in 1 3 4; do stop "c$i"; done
check_server_clean
for i in 1 2 3 4; do check_client_clean "$i"; done
echo "PASS"
