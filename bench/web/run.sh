#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The dashboard's cost (docs/bench.md, "Dashboard"): both figures of issue 12 in one run.
# Root; run by hand, not in CI.
#
#   bench/web/run.sh BUILD_DIR [SIM_SESSIONS] [SECONDS] [ROUNDS] [PAGE_HOLD]
#   BEFORE=OLD/mt6d bench/web/run.sh ...   (part 2 also runs OLD's page, as "before")
#
# Part 1, subscribers against the packet path. In namespaces made and removed here
# (tests/netns/sesslib.sh): a server, one real client and SIM_SESSIONS simulated ones
# (default 1000, bench/sessions/simclients) at 1 s rotation, so the server writes
# SIM_SESSIONS + 1 rotation events a second to its subscribers. iperf3 TCP through the
# real client's session for SECONDS (default 20), alternating (ROUNDS B runs, default 2):
#   A. nobody subscribed (the anchor);
#   B. mt6d web with 50 SSE readers, one SSE client that never reads, and one
#      control-socket subscriber that never reads (dropped by the server 1 MiB behind);
#   A. B. ... A.
# For each run: throughput, the server's CPU (utime + stime) and its datagrams sent and
# received (show --json), hence CPU microseconds per datagram; for B also the web
# process's CPU, the events each reader got and what became of the two that never read.
# The A runs around each B make the ratio B / A robust to a load that drifts.
#
# Part 2, the page with 10,000 sessions (bench/web/page10k.py, loopback only): first
# render and the web process's CPU, 100 sessions as the anchor, PAGE_HOLD (default 30) s
# with the page open.
#
# Part 3, what one open page costs the server: its CPU and wall time per `status`
# document with SIM_SESSIONS + 1 sessions (20 requests, as the page polls once a
# second), against its CPU over 10 s without requests. PARTS="1 2 3" (the default)
# picks the parts; e.g. PARTS=3 bench/web/run.sh build/dev 2000.
# The server admits 20 introductions a second from one /64 (docs/sessions.md, "Known
# limits") and the simulated clients share one: N sessions take about N / 20 s to come up.
set -euo pipefail
BUILD=$(readlink -f "$1")
N=${2:-1000}
SECS=${3:-20}
ROUNDS=${4:-2}
PAGE_HOLD=${5:-30}
PARTS=${PARTS:-1 2 3}
SIM=$BUILD/bench/sessions/simclients
[ -x "$SIM" ] || { echo "no $SIM: build the project first" >&2; exit 1; }
ROT=1000 PERIOD=900 KEEPALIVE=25 IDLE=120
source "$(dirname "$0")/../../tests/netns/sesslib.sh" "$BUILD/mt6d"
echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git -C "$HERE" rev-parse --short HEAD)," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"

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
	$(((SECS + 8) * (2 * ROUNDS + 1) + 180 + N / 20)) >"$TMP/sim.out" 2>&1 &
PIDS+=($!)
start_client 1
wait_for 60 "client 1 in session" in_session 1
wait_for $((60 + N / 15)) "server holds $((N + 1)) sessions" is server "j['session_count']>=$((N + 1))"
ip netns exec "$S" iperf3 -s -p 5201 >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.5

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
dgrams() { json server "j['stats']['rx_datagrams'] + j['stats']['tx_datagrams']"; }
: >"$TMP/results"
# measure NAME [WEBPID]: one iperf3 run through client 1's session
measure() {
	local c0 c1 w0 w1 d0 d1 wc0=0 wc1=0 bps
	d0=$(dgrams); c0=$(cpu "$PID_server"); w0=$(date +%s.%N)
	[ -z "${2:-}" ] || wc0=$(cpu "$2")
	bps=$(ip netns exec "$(cns 1)" iperf3 -c 2001:db8:100::1 -p 5201 -t "$SECS" -J |
		/usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['end']['sum_received']['bits_per_second'])")
	c1=$(cpu "$PID_server"); w1=$(date +%s.%N)
	[ -z "${2:-}" ] || wc1=$(cpu "$2")
	d1=$(dgrams)
	echo "RESULT run=$1 sessions=$((N + 1)) mbit=$(echo "scale=1; $bps / 1000000" | bc)" \
		"server_cpu_s=$(echo "scale=3; ($c1 - $c0) / $HZ" | bc)" \
		"wall_s=$(echo "scale=3; $w1 - $w0" | bc) datagrams=$((d1 - d0))" \
		"us_per_dgram=$(echo "scale=3; ($c1 - $c0) * 1000000 / $HZ / ($d1 - $d0)" | bc)" \
		"web_cpu_s=$(echo "scale=3; ($wc1 - $wc0) / $HZ" | bc)" | tee -a "$TMP/results"
}

# subscribers: 50 SSE readers, an SSE client and a control subscriber that never read;
# writes what each got to $TMP/subs.json when SIGTERM'd
SUBS_PY='
import json, signal, socket, sys, threading, time
sock, out = sys.argv[1], sys.argv[2]
got = [0] * 50
def reader(i):
    s = socket.create_connection(("127.0.0.1", 8646))
    s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
    while True:
        b = s.recv(65536)
        if not b:
            return
        got[i] += b.count(b"event: rotation")
for i in range(50):
    threading.Thread(target=reader, args=(i,), daemon=True).start()
stuck = socket.create_connection(("127.0.0.1", 8646))
stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
stuck.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ctl.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
ctl.connect(sock)
ctl.sendall(b"events\n")
def closed(s):  # read what is queued: EOF means the other side dropped it
    s.setblocking(False)
    try:
        while True:
            b = s.recv(1 << 20)
            if not b:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True
def done(*_):
    json.dump({"readers": sum(1 for g in got if g), "min": min(got), "max": max(got),
               "stuck_sse_dropped": closed(stuck), "stuck_ctl_dropped": closed(ctl)},
              open(out, "w"))
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
while True:
    time.sleep(1)
'

with_subscribers() {
	local web subs
	ip netns exec "$S" "$MT6D" web --socket "$TMP/server.sock" 2>>"$TMP/web.log" &
	web=$!
	PIDS+=($web)
	sleep 1
	ip netns exec "$S" /usr/bin/python3 -c "$SUBS_PY" "$TMP/server.sock" "$TMP/subs.json" &
	subs=$!
	PIDS+=($subs)
	sleep 3 # every reader connected and streaming
	measure "$1" "$web"
	kill -TERM "$subs"
	wait "$subs" || true
	echo "SUBSCRIBERS run=$1 $(cat "$TMP/subs.json")" | tee -a "$TMP/results"
	kill -TERM "$web"
	wait "$web" || true
	sleep 2
}

part() { [[ " $PARTS " == *" $1 "* ]]; }
if part 1; then
echo "== part 1: subscribers against the packet path ($((N + 1)) sessions, ${SECS} s runs)"
for r in $(seq "$ROUNDS"); do
	echo "-- A$r. nobody subscribed"
	measure "A$r"
	sleep 2
	echo "-- B$r. mt6d web, 50 SSE readers, an SSE client and a control subscriber that never read"
	with_subscribers "B$r"
done
echo "-- A$((ROUNDS + 1)). nobody subscribed"
measure "A$((ROUNDS + 1))"
/usr/bin/python3 - "$TMP/results" <<'PY'
import re, sys
rows = [dict(kv.split("=", 1) for kv in l.split()[1:]) for l in open(sys.argv[1])
        if l.startswith("RESULT")]
def mean(k, p):
    v = [float(r[k]) for r in rows if r["run"].startswith(p)]
    return sum(v) / len(v)
for k, what in (("mbit", "throughput Mbit/s"), ("us_per_dgram", "server CPU us/datagram")):
    a, b = mean(k, "A"), mean(k, "B")
    # each B against the mean of the A runs just before and after it
    pair = []
    for i, r in enumerate(rows):
        if r["run"].startswith("B"):
            pair.append(float(r[k]) / ((float(rows[i - 1][k]) + float(rows[i + 1][k])) / 2))
    print("SUMMARY %s: A (nobody subscribed) %.3f, B (subscribers) %.3f, B/A %.3f;"
          " each B / its neighbouring As: %s" % (what, a, b, b / a,
                                                 " ".join("%.3f" % x for x in pair)))
PY

fi

if part 2; then
echo "== part 2: the page with 10,000 sessions"
/usr/bin/python3 "$HERE/../../bench/web/page10k.py" --sizes 100,10000 --hold "$PAGE_HOLD" \
	${BEFORE:+--before "$BEFORE"} "$MT6D"
fi

if part 3; then
echo "== part 3: the server's cost of one status document ($((N + 1)) sessions)"
for k in 1 2; do
	c0=$(cpu "$PID_server"); w0=$(date +%s.%N)
	for i in $(seq 20); do "$MT6D" show --json --socket "$TMP/server.sock" >"$TMP/status.json"; done
	c1=$(cpu "$PID_server"); w1=$(date +%s.%N)
	sleep 1
	i0=$(cpu "$PID_server"); sleep 10; i1=$(cpu "$PID_server")
	echo "RESULT status sessions=$(json server "j['session_count']") bytes=$(wc -c <"$TMP/status.json")" \
		"server_cpu_ms_per_status=$(echo "scale=2; ($c1 - $c0) * 1000 / $HZ / 20" | bc)" \
		"wall_ms_per_status=$(echo "scale=1; ($w1 - $w0) * 1000 / 20" | bc)" \
		"server_cpu_idle_cores=$(echo "scale=4; ($i1 - $i0) / $HZ / 10" | bc)"
done
fi
