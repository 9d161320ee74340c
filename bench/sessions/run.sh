#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Session benchmark (docs/bench.md, "Sessions"). Root; run by hand.
#
#   bench/sessions/run.sh BUILD_DIR [SESSIONS] [STARTS]
#
# BUILD_DIR holds mt6d and bench/sessions/simclients (a RelWithDebInfo or
# Release build). In namespaces made and removed here (tests/netns/sesslib.sh:
# a router with a DHT swarm, the server, a client; plus a namespace for the
# simulated clients, whose 2001:db8:c8::/64 the router routes to it):
#  1. time from `mt6d client` start to the first byte through its session
#     (a UDP echo from the server's side), STARTS times (default 30), p50/p99;
#  2. a server with SESSIONS registered clients (default 100000) and 3 s
#     rotation, all simulated in one process: the time to establish them,
#     then the server's CPU and memory while it holds them for 60 s.
set -euo pipefail
BUILD=$(readlink -f "$1")
N=${2:-100000}
STARTS=${3:-30}
HOLD=${HOLD:-60}
SIM=$BUILD/bench/sessions/simclients
[ -x "$SIM" ] || { echo "no $SIM: build the project first" >&2; exit 1; }
SWARM_N=${SWARM_N:-256}
ROT=3000 PERIOD=3600 KEEPALIVE=25 IDLE=120 SERVER_START_TIMEOUT=180
source "$(dirname "$0")/../../tests/netns/sesslib.sh" "$BUILD/mt6d"

topology 1
swarm
if [ "$STARTS" -gt 0 ]; then
	echo "== 1. time from client start to first byte ($STARTS starts)"
	keys 1 1
	server_config
	start_server
	sleep 2
	ip netns exec "$S" $SESSHELPER echo 7 &
	PIDS+=($!)
	client_config 1
	ip netns exec "$(cns 1)" $SESSHELPER firstbyte "$MT6D" "$TMP/c1.conf" 2001:db8:100::1 7 \
		"$STARTS" | tee "$TMP/firstbyte.out"
	stop server
fi

echo "== 2. $N simulated clients, rotation $ROT ms"
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
(umask 077; "$MT6D" genkey >"$TMP/server.key")
"$MT6D" pubkey <"$TMP/server.key" >"$TMP/server.pub"
"$SIM" keys "$N" "$TMP"
cp "$TMP/registry" "$TMP/clients"
server_config
t0=$(date +%s.%N)
start_server
# sim0 is first in the registry, so first published: look it up at once.
# A node keeps at most 4096 items, so the swarm has SWARM_N nodes (256 by
# default here: room for 100,000 items on 8 nodes each, roughly).
lookup_sim0() {
	ip netns exec "$SIMNS" "$MT6D" lookup --key "$TMP/sim0.key" --server "$(cat "$TMP/server.pub")" \
		--bootstrap "[2001:db8:d::1]:$SWARM_PORT" --period $PERIOD --transport bep44 \
		--timeout 15 >"$TMP/lookup.out" 2>"$TMP/lookup.err" || { cat "$TMP/lookup.err" >&2; false; }
}
wait_for 120 "sim0 finds the introduction configuration" lookup_sim0
cat "$TMP/lookup.out"
wait_for 900 "publication round for $N clients done" \
	is server "j['publisher']['total']>0 and j['publisher']['done']+j['publisher']['failed']>=j['publisher']['total']"
echo "server up and published in $(echo "$(date +%s.%N) - $t0" | bc) s"
run "$MT6D" show --json --brief --socket "$TMP/server.sock"
get() { sed -n "s/^$1=//p" "$TMP/lookup.out"; }
pid=$PID_server
stat_cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
RSS0=$(rss_kb)
echo "server RSS with $N clients registered, no session: $RSS0 kB"
RATE=${RATE:-5000}
SECS=$((N / RATE + HOLD + 30))
ip netns exec "$SIMNS" "$SIM" run "$N" "$(cat "$TMP/server.pub")" 2001:db8:c8::/64 "$(get seed_address)" \
	"$(get intro_key)" "$(get window)" "$(get rot_ms)" "$RATE" 7400 $((HOLD + 30)) >"$TMP/sim.out" 2>&1 &
SIMPID=$!
PIDS+=($SIMPID)
wait_for $((N / RATE + 120)) "server holds $N sessions" is server "j['session_count']>=$N"
tail -1 "$TMP/sim.out" || true
sleep 5
HZ=$(getconf CLK_TCK)
c0=$(stat_cpu); w0=$(date +%s.%N)
sleep "$HOLD"
c1=$(stat_cpu); w1=$(date +%s.%N)
RSS1=$(rss_kb)
run "$MT6D" show --json --brief --socket "$TMP/server.sock" | tee "$TMP/final.json"
held=$(json server "j['session_count']")
wait "$SIMPID" || true
tail -1 "$TMP/sim.out"
echo "RESULT sessions=$held rotation_ms=$ROT hold_s=$HOLD" \
	"server_cpu=$(echo "scale=4; ($c1 - $c0) / $HZ / ($w1 - $w0)" | bc) cores" \
	"rss_kb=$RSS1 rss0_kb=$RSS0 per_session_bytes=$(( (RSS1 - RSS0) * 1024 / (held > 0 ? held : 1) ))"
[ "$STARTS" -gt 0 ] && echo "RESULT $(tail -1 "$TMP/firstbyte.out")"
true
