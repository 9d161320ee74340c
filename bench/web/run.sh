#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Subscribers against the packet path (docs/bench.md, "Dashboard"). Root; run by hand on an
# idle machine, not in CI.
#
#   bench/web/run.sh BUILD_DIR [SIM_SESSIONS] [SECONDS]
#
# In namespaces made and removed here (tests/netns/sesslib.sh): a server, one real client,
# and SIM_SESSIONS simulated ones (default 1000, bench/sessions/simclients) so the server
# emits SIM_SESSIONS rotation events a second. iperf3 through the real client's session
# for SECONDS (default 20), three times:
#   A. nobody subscribed;
#   B. mt6d web with 50 SSE readers, one SSE client that never reads, and one
#      control-socket subscriber that never reads (dropped once 1 MiB behind);
#   C. A again.
# Prints the throughput and the server's CPU for each: B against A and C says what the
# subscribers cost the packet path.
set -euo pipefail
BUILD=$(readlink -f "$1")
N=${2:-1000}
SECS=${3:-20}
SIM=$BUILD/bench/sessions/simclients
[ -x "$SIM" ] || { echo "no $SIM: build the project first" >&2; exit 1; }
ROT=1000 PERIOD=900 KEEPALIVE=25 IDLE=120
source "$(dirname "$0")/../../tests/netns/sesslib.sh" "$BUILD/mt6d"

topology 1
swarm
SIMNS=mt6d-$ID-sim
mkns "$SIMNS"
link "$SIMNS" wan r9 2001:db8:c9
run ip -n "$R" -6 route add 2001:db8:c8::/64 via 2001:db8:c9::2
run ip -n "$SIMNS" -6 route add local 2001:db8:c8::/64 dev lo
ip netns exec "$SIMNS" nft -f - <<NFT
table ip6 simclients {
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		ip6 daddr 2001:db8:c8::/64 meta l4proto udp tproxy to :7400
	}
}
NFT
(umask 077; "$MT6D" genkey >"$TMP/server.key"; "$MT6D" genkey >"$TMP/c1.key")
"$MT6D" pubkey <"$TMP/server.key" >"$TMP/server.pub"
"$MT6D" pubkey <"$TMP/c1.key" >"$TMP/c1.pub"
"$SIM" keys "$N" "$TMP"
{ cat "$TMP/registry"; echo "$(cat "$TMP/c1.pub") client1"; } >"$TMP/clients"
server_config
start_server
lookup_sim0() {
	ip netns exec "$SIMNS" "$MT6D" lookup --key "$TMP/sim0.key" --server "$(cat "$TMP/server.pub")" \
		--bootstrap "[2001:db8:d::1]:$SWARM_PORT" --period $PERIOD --transport bep44 \
		--timeout 5 >"$TMP/lookup.out" 2>"$TMP/lookup.err"
}
wait_for 120 "sim0 finds the introduction configuration" lookup_sim0
get() { sed -n "s/^$1=//p" "$TMP/lookup.out"; }
ip netns exec "$SIMNS" "$SIM" run "$N" "$(cat "$TMP/server.pub")" 2001:db8:c8::/64 \
	"$(get seed_address)" "$(get intro_key)" "$(get window)" "$(get rot_ms)" 1000 7400 \
	$((SECS * 3 + 120)) >"$TMP/sim.out" 2>&1 &
PIDS+=($!)
start_client 1
wait_for 60 "client 1 in session" in_session 1
wait_for 60 "server holds $((N + 1)) sessions" is server "j['session_count']>=$((N + 1))"
ip netns exec "$S" iperf3 -s -p 5201 >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.5

pid=$PID_server
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
HZ=$(getconf CLK_TCK)
measure() {
	local c0 c1 w0 w1 bps
	c0=$(cpu); w0=$(date +%s.%N)
	bps=$(ip netns exec "$(cns 1)" iperf3 -c 2001:db8:100::1 -p 5201 -t "$SECS" -J |
		/usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['end']['sum_received']['bits_per_second'])")
	c1=$(cpu); w1=$(date +%s.%N)
	echo "RESULT $1 sessions=$((N + 1)) throughput_mbit=$(echo "scale=1; $bps / 1000000" | bc)" \
		"server_cpu=$(echo "scale=3; ($c1 - $c0) / $HZ / ($w1 - $w0)" | bc) cores"
}

echo "== A. nobody subscribed"
measure A-none

echo "== B. mt6d web, 50 SSE readers, an SSE client and a control subscriber that never read"
ip netns exec "$S" "$MT6D" web --socket "$TMP/server.sock" 2>"$TMP/web.log" &
PIDS+=($!)
WEBPID=$!
sleep 1
ip netns exec "$S" /usr/bin/python3 - "$TMP/server.sock" $((SECS + 10)) <<'PY' &
import socket, sys, threading, time
sock, hold = sys.argv[1], float(sys.argv[2])
def reader():
    s = socket.create_connection(("127.0.0.1", 8646))
    s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
    end = time.time() + hold
    while time.time() < end and s.recv(65536):
        pass
threads = [threading.Thread(target=reader, daemon=True) for _ in range(50)]
for t in threads:
    t.start()
stuck = socket.create_connection(("127.0.0.1", 8646))
stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
stuck.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ctl.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
ctl.connect(sock)
ctl.sendall(b"events\n")
time.sleep(hold)
PY
SUBS=$!
PIDS+=($SUBS)
sleep 2
measure B-subscribers
wait "$SUBS" || true
kill -TERM "$WEBPID"
wait "$WEBPID" || true

echo "== C. nobody subscribed, again"
sleep 2
measure C-none
