#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mt6d web's event stream with 100 sessions (docs/web.md): a server holding 100
# simulated clients (bench/sessions/simclients) at 1 s rotation, its dashboard, and an
# SSE reader: for 10 slots every session's rotation comes once per slot, in order,
# none lost. A subscriber of the control socket that never reads meanwhile changes
# nothing (it is dropped once 1 MiB behind).
# Usage: test_web_sse.sh PATH/TO/mt6d PATH/TO/simclients   (root; about 1 minute)
SIM=$(readlink -f "$2")
source "$(dirname "$0")/../netns/sesslib.sh"
[ -x "$SIM" ] || { echo "FAIL: no simclients at $2"; exit 1; }
N=${SSE_SESSIONS:-100}
ROT=1000 PERIOD=900 KEEPALIVE=25 IDLE=120
WEBCHECK="/usr/bin/python3 $HERE/../web/webcheck.py"
export WEBCHECK_LOG=$TMP/responses.log

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
(umask 077; "$MT6D" genkey >"$TMP/server.key")
"$MT6D" pubkey <"$TMP/server.key" >"$TMP/server.pub"
"$SIM" keys "$N" "$TMP"
cp "$TMP/registry" "$TMP/clients"
server_config
start_server
lookup_sim0() {
	ip netns exec "$SIMNS" "$MT6D" lookup --key "$TMP/sim0.key" --server "$(cat "$TMP/server.pub")" \
		--bootstrap "[2001:db8:d::1]:$SWARM_PORT" --period $PERIOD --transport bep44 \
		--timeout 5 >"$TMP/lookup.out" 2>"$TMP/lookup.err"
}
wait_for 60 "sim0 finds the introduction configuration" lookup_sim0
get() { sed -n "s/^$1=//p" "$TMP/lookup.out"; }
echo "+ ip netns exec $SIMNS $SIM run $N ... &" >&2
ip netns exec "$SIMNS" "$SIM" run "$N" "$(cat "$TMP/server.pub")" 2001:db8:c8::/64 \
	"$(get seed_address)" "$(get intro_key)" "$(get window)" "$(get rot_ms)" 100 7400 60 \
	>"$TMP/sim.out" 2>&1 &
PIDS+=($!)
wait_for 30 "server holds $N sessions" is server "j['session_count']>=$N"

echo "+ ip netns exec $S $MT6D web --socket $TMP/server.sock &" >&2
ip netns exec "$S" "$MT6D" web --socket "$TMP/server.sock" 2>"$TMP/web.log" &
PIDS+=($!)
up() { ip netns exec "$S" /usr/bin/python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8646/', timeout=2)"; }
wait_for 10 "dashboard answers" up

echo "== a control-socket subscriber that never reads"
/usr/bin/python3 - "$TMP/server.sock" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1])
s.sendall(b"events\n")
time.sleep(60)
PY
PIDS+=($!)

echo "== SSE: $N sessions, 10 slots"
run ip netns exec "$S" $WEBCHECK sse http://127.0.0.1:8646 10 "$N" $ROT
is server "j['session_count']>=$N" || { echo "FAIL: sessions lost"; exit 1; }
run $WEBCHECK secrets "$WEBCHECK_LOG" "$TMP/server.key" "$TMP/sim0.key"
echo "PASS"
