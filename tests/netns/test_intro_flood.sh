#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Introduction flood (issue 15): while 3 clients ping the server through
# their sessions (20 a second each), the router sends junk at the server's
# introduction endpoints and its sessions' current endpoints from one /64
# (FLOOD_COUNT datagrams, 1,000,000, or FLOOD_SECONDS, 20, whichever comes
# first; bench: FLOOD_SECONDS=600). Checks: no session lost (each client
# still in its first session, the server ended none), the longest gap
# between ping replies under 2 s, the introduction rate limit (20/s per
# /64) dropped the flood's introduction datagrams, and the server's CPU
# over the flood is reported.
# Usage: test_intro_flood.sh PATH/TO/mt6d   (root; about 50 s)
source "$(dirname "$0")/sesslib.sh"
ROT=1000
PERIOD=60
COUNT=${FLOOD_COUNT:-1000000}
SECS=${FLOOD_SECONDS:-20}

topology 3
swarm
keys 3 3
server_config
start_server
for i in 1 2 3; do start_client "$i"; done
for i in 1 2 3; do wait_for 30 "client $i in a session" in_session "$i"; done

ticks() { awk '{print $14 + $15}' "/proc/$PID_server/stat"; }

for i in 1 2 3; do
	ip netns exec "$(cns "$i")" ping -6 -D -i 0.05 -w $((SECS + 6)) 2001:db8:100::1 \
		>"$TMP/ping$i.out" 2>&1 &
	PIDS+=($!)
done
sleep 2
c0=$(ticks)
t0=$(date +%s%N)
run ip netns exec "$R" /usr/bin/python3 "$HERE/floodhelper.py" "$MT6D" "$TMP/server.sock" \
	"$COUNT" "$SECS"
t1=$(date +%s%N)
c1=$(ticks)
wall=$(((t1 - t0) / 1000000))
cpu=$(((c1 - c0) * 1000 / $(getconf CLK_TCK)))
echo "server CPU during the flood: $cpu ms in $wall ms ($((cpu * 100 / wall))% of one core)"
sleep 3
for p in "${PIDS[@]: -3}"; do wait "$p" || true; done

json server "'introduction: %d datagrams, %d rate-limited, %d unknown; session endpoints: %d unrecognized tuples, %d replies, %d held back, %d forged' % (j['stats']['intro_rx'], j['stats']['intro_limited'], j['stats']['intro_unknown'], j['stats']['unrecognized'], j['stats']['replies'], j['stats']['replies_limited'], j['stats']['rx_forged'])"
is server "j['stats']['intro_limited'] > 0" || { echo "FAIL: nothing rate-limited"; exit 1; }
is server "j['session_count']==3 and j['stats']['sessions_created']==3" ||
	{ echo "FAIL: the server lost a session"; exit 1; }
worst=0
for i in 1 2 3; do
	is "c$i" "j['state']=='session' and j['stats']['sessions']==1" ||
		{ echo "FAIL: client $i lost its session"; exit 1; }
	g=$(/usr/bin/python3 -c '
import re, sys
t = [float(m.group(1)) for m in re.finditer(r"^\[(\d+\.\d+)\].*bytes from", open(sys.argv[1]).read(), re.M)]
print(int(max(b - a for a, b in zip(t, t[1:])) * 1000) if len(t) > 1 else 99999, len(t))' "$TMP/ping$i.out")
	echo "client $i: longest gap between ping replies ${g% *} ms, ${g#* } replies"
	[ "${g% *}" -gt "$worst" ] && worst=${g% *}
done
[ "$worst" -lt 2000 ] || { echo "FAIL: a stall of $worst ms"; exit 1; }
echo "longest stall $worst ms"

stop server
for i in 1 2 3; do stop "c$i"; done
check_server_clean
for i in 1 2 3; do check_client_clean "$i"; done
echo "PASS"
