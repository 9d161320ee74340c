#!/usr/bin/env bash
# The main job: client/server MT6D live, in network namespaces this script
# creates (a router with a local DHT swarm, a server, three clients, an
# observer) and removes again on exit or Ctrl-C. It shows the blind
# rendezvous through the DHT, the session establishment, the addresses
# rotating every second on the wire, and traffic through the sessions.
# Needs root (namespaces). Installs dependencies and builds first.
#   DEMO_SECONDS=N  how long traffic runs while the observer watches (15)
#   DEMO_WEB_PORT=N the dashboard's port on 127.0.0.1 (8646)
#   DEMO_MT6D=PATH  use this mt6d binary; skip the install and the build
#                   (tests/netns/test_demo_sigint.sh)
# Only 2001:db8::/32 addresses are used; nothing leaves the namespaces (the
# dashboard listens on this machine's 127.0.0.1).
set -euo pipefail
# Ctrl-C (SIGINT to the process group) ends the demo at once, cleans up and
# exits 130. A shell cannot trap a signal that was ignored when it started
# (as a background job's SIGINT is), so start again with it at its default.
if [ -z "${DEMO_SIGINT_RESET:-}" ] && grep -Eq '^SigIgn:.*[2367abef]$' /proc/$$/status; then
	DEMO_SIGINT_RESET=1 exec env --default-signal=INT bash "$0" "$@"
fi
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: needs root (it creates network namespaces)" >&2
	exit 1
fi
if [ -n "${DEMO_MT6D:-}" ]; then
	mt6d_bin=$(readlink -f "$DEMO_MT6D")
else
	bash scripts/deps.sh
	cmake --preset release >/dev/null
	cmake --build --preset release -j"$(nproc)" >/dev/null
	mt6d_bin=$PWD/build/release/mt6d
fi
secs=${DEMO_SECONDS:-15}

ROT=1000 PERIOD=60 KEEPALIVE=5
source tests/netns/sesslib.sh "$mt6d_bin"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
logs() { sed 's/^/   /' "$TMP/$1.log"; }

step "Network: router R with a DHT swarm of $SWARM_N nodes, server S, clients C1-C3, observer O"
topology 3 2>/dev/null
observer 2>/dev/null
swarm 2>/dev/null
cat <<EOF
   S  2001:db8:5:1::2, MT6D prefix 2001:db8:5::/64 (routed to S), tunnel 2001:db8:100::1
   Ci 2001:db8:ci::2, rotating addresses in 2001:db8:ci::/64 (added and removed on its link)
   R  routes, runs the DHT swarm on [2001:db8:d::1]:$SWARM_PORT..; O sees a copy of S's link
EOF

step "Keys: the server and each client make an X25519 key pair; the server registers the clients"
keys 3 3 2>&1 | sed 's/^+ /   $ /'
server_config 2>/dev/null
echo "   server public key: $(cat "$TMP/server.pub") (all a client is told)"

step "Server (Algorithm 1): introduction endpoint with SeedIPv6_S and K; publishes each client's sealed configuration in the DHT (Algorithm 2)"
start_server 2>/dev/null
sleep 1.5
logs server
# The dashboard (docs/web.md) on this machine's loopback: the control socket is a file.
WEB=127.0.0.1:${DEMO_WEB_PORT:-8646}
"$MT6D" web --socket "$TMP/server.sock" --listen "$WEB" 2>"$TMP/web.log" &
PIDS+=($!)
echo "   dashboard: open http://$WEB/ to watch the outer addresses move (mt6d web)"

step "Clients (FIG. 5): blind rendezvous through the DHT, then a configuration request to the introduction endpoint"
for i in 1 2 3; do
	start_client "$i" 2>/dev/null
	wait_for 30 "client $i in a session" in_session "$i" 2>/dev/null
	echo "   -- client $i:"
	logs "c$i"
done
echo "   -- server:"
grep 'session up' "$TMP/server.log" | sed 's/^/   /'

step "mt6d show on the server (like wg show): sessions, current addresses and ports, slot, bytes"
"$MT6D" show --socket "$TMP/server.sock" | sed 's/^/   /'

step "Traffic through every session for $secs s (iperf3 over TCP), while the observer on S's link watches"
for i in 1 2 3; do
	ip netns exec "$S" iperf3 -s -1 -p "520$i" >/dev/null 2>&1 &
	PIDS+=($!)
done
sleep 0.5
for i in 1 2 3; do
	ip netns exec "$(cns "$i")" iperf3 -c 2001:db8:100::1 -p "520$i" -t "$secs" -b 20M \
		>"$TMP/iperf$i.out" 2>&1 &
	PIDS+=($!)
done
ip netns exec "$O" $SESSHELPER watch obs "$secs" 2001:db8:5::/64
wait_for 10 "iperf3 done" bash -c "grep -q receiver $TMP/iperf1.out && grep -q receiver $TMP/iperf2.out && grep -q receiver $TMP/iperf3.out" 2>/dev/null || true
for i in 1 2 3; do
	printf '   client %d: ' "$i"
	grep receiver "$TMP/iperf$i.out" | awk '{print $5, $6, $7, $8, "received by the server through the session"}'
done

step "mt6d show on client 1: its session rotated every second and kept its TCP connection"
"$MT6D" show --socket "$TMP/c1.sock" | sed 's/^/   /'

step "Teardown: client 1 stops (SIGINT); the server ends its session at once"
stop c1 2>/dev/null
sleep 0.3
grep 'session down' "$TMP/server.log" | sed 's/^/   /'
"$MT6D" show --socket "$TMP/server.sock" | sed -n '1,6p' | sed 's/^/   /'

step "Done: stopping everything and removing the namespaces"
stop server 2>/dev/null
for i in 2 3; do stop "c$i" 2>/dev/null; done
check_server_clean 2>/dev/null && echo "   server: no route, rule, address or state file left"
echo "   see docs/sessions.md for the protocol, docs/bench.md for numbers"
