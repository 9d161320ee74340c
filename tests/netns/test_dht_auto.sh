#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `[dht] listen = auto`, the server's default (issue 14, docs/rendezvous.md):
# the server's DHT traffic moves with its prefix. A router with a DHT swarm, a server in
# routed mode with 10 registered clients (3 of them running), publication
# period 20 s; tcpdump on the server's link over two publication rounds
# and the sessions. Checks (tests/netns/dhtauto_check.py on the capture):
#  1. the server's static address sends and receives no UDP at all;
#  2. every DHT endpoint (address, port) of the server sends in one
#     publication window only, and there are several of them;
#  3. no endpoint puts more than 4 clients' BEP 44 items;
#  4. the three running clients still get sessions, and the server's
#     status counts the identities it made and closed.
# Usage: test_dht_auto.sh PATH/TO/mt6d   (root; about 1 minute)
SERVER_DHT=auto
source "$(dirname "$0")/sesslib.sh"
ROT=1000
PERIOD=20

topology 3
swarm
keys 10 10
server_config
# The default: no listen line at all means listen = auto (test_ndp.sh with
# NDP_SERVER_DHT=auto runs the key given explicitly, in ndp mode).
sed -i '/^listen = auto$/d' "$TMP/server.conf"
! grep -q '^listen' "$TMP/server.conf" || { echo "FAIL: listen still in the config"; exit 1; }

echo "== capture on the server's link"
ip netns exec "$R" tcpdump -i rs -w "$TMP/server-link.pcap" -U -s 1600 udp \
	2>"$TMP/tcpdump.log" &
PIDS+=($!)
TCPDUMP=$!
sleep 1

echo "== 1. sessions"
start_server
for i in 1 2 3; do start_client "$i"; done
for i in 1 2 3; do wait_for 40 "client $i in session" in_session "$i"; done
run ip netns exec "$(cns 1)" ping -6 -c 3 -i 0.2 -w 5 2001:db8:100::1
run "$MT6D" show --json --socket "$TMP/server.sock"

echo "== 2. publication rounds in two windows, then past the window's edge"
# The round of window W0 + 2n is published (lead 4 s) inside window W0 + n,
# and window W0 had a round too (at start, or W0 + n's): so the capture
# holds the server's DHT traffic of at least two windows, wherever in its
# window the server started.
W0=$(( $(date +%s) / PERIOD * PERIOD ))
round2() { is server "j['publisher']['round_window']>=$((W0 + 2 * PERIOD)) and j['publisher']['done']==j['publisher']['total']>0"; }
wait_for 60 "the round of window $((W0 + 2 * PERIOD)) done" round2
W2=$(json server "j['publisher']['round_window']")
past() { [ "$(date +%s)" -ge $((W2 + 2)) ]; }
wait_for 30 "window $W2 begun" past
for i in 1 2 3; do in_session "$i" || { echo "FAIL: client $i lost its session"; exit 1; }; done
is server "j['dht_auto']['identities_made']>=4 and j['dht_auto']['closed']>=2" ||
	{ echo "FAIL: the server did not move its DHT identity"; json server "j['dht_auto']"; exit 1; }
run json server "j['dht_auto']"
kill -INT "$TCPDUMP"
wait "$TCPDUMP" 2>/dev/null || true

echo "== 3. what the capture shows"
run /usr/bin/python3 "$HERE/dhtauto_check.py" "$TMP/server-link.pcap" "$PERIOD" \
	2001:db8:5:1::2 2001:db8:5::/64 2001:db8:d::1

echo "== 4. clean exit"
stop server
for i in 1 2 3; do stop "c$i"; done
check_server_clean
echo PASS
