#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Crash loop (issue 15): the server is killed with SIGKILL SERVER_KILLS
# times (6; bench/crashloop/run.sh does 20) and restarted each time, at
# moments taken in turn: mid-publication (a round of 303 puts in progress),
# mid-introduction (a client has logged its request to the restarted
# server and has no session yet), mid-rotation (the last 10 ms of a slot);
# then a client CLIENT_KILLS times (6; 20), at a random moment of its
# session. (Mid-rebind is not covered: no client rebinds here.)
# After each restart:
#  - nothing stale remains: the new start says it removed what the crash
#    left (route and nftables table; a client's addresses), and there is
#    exactly one route and one table (every address on a client's link
#    but its static one is listed in its new state file);
#  - every client is back in a session with the new server within 10 s
#    (BACK_S) of the restart, and the server holds all three.
# Period 20 s, so windows change (and new rounds run) during the loop.
# NO_RESTORE=1 deletes the server's stored introduction configurations
# before each restart: the behaviour before they were stored, to compare.
# Usage: test_crash_loop.sh PATH/TO/mt6d   (root; about 100 s)
source "$(dirname "$0")/sesslib.sh"
ROT=1000
PERIOD=20
SERVER_KILLS=${SERVER_KILLS:-6}
CLIENT_KILLS=${CLIENT_KILLS:-6}
BACK_S=${BACK_S:-10}

topology 3
swarm
keys 3 3
# 300 more registered keys (random, no client behind them): a publication
# round then lasts long enough to be interrupted.
/usr/bin/python3 -c '
import base64, os
for i in range(300):
    print(base64.b64encode(os.urandom(32)).decode(), "filler%d" % i)' >>"$TMP/clients"
server_config
start_server
for i in 1 2 3; do start_client "$i"; done
for i in 1 2 3; do wait_for 30 "client $i in a session" in_session "$i"; done

ms() { echo $(($(date +%s%N) / 1000000)); }
# day_ms HH:MM:SS.FRACTION: milliseconds since midnight (the logs' clock)
day_ms() {
	local h m x
	IFS=: read -r h m x <<<"$1"
	x=${x}000
	echo $(((10#$h * 3600 + 10#$m * 60 + 10#${x%%.*}) * 1000 + 10#$(cut -c1-3 <<<"${x#*.}")))
}

# moment KIND: wait (at most 8 s) for a moment of that kind; prints what
# was seen
moment() {
	local end=$(($(ms) + 8000)) st
	while [ "$(ms)" -lt $end ]; do
		case $1 in
		publication)
			# one process a poll (no Python): rounds of 303 puts are short
			st=$("$MT6D" show --json --socket "$TMP/server.sock" 2>/dev/null) || true
			if [[ $st =~ \"done\":([0-9]+),\"total\":([0-9]+) ]] &&
				[ "${BASH_REMATCH[1]}" -lt "${BASH_REMATCH[2]}" ]; then
				echo "publication round ${BASH_REMATCH[1]}/${BASH_REMATCH[2]}"
				return
			fi
			sleep 0.01
			continue ;;
		introduction)
			# a client's request logged after the restart, its session not yet
			for i in 1 2 3; do
				if [ "$(grep -c 'introduction: window' "$TMP/c$i.log")" -gt "${INTROS[$i]}" ] &&
					is "c$i" "j['state']!='session'" 2>/dev/null; then
					echo "client $i between its request and its session"
					return
				fi
			done
			sleep 0.01
			continue ;;
		rotation)
			while [ $(($(ms) % ROT)) -lt $((ROT - 10)) ]; do :; done
			echo "slot edge, $(($(ms) % ROT)) ms into the slot"
			return ;;
		esac
		sleep 0.05
	done
	echo "none seen in 8 s: at a random moment"
}

all_back() {
	is server "j['session_count']==3" || return 1
	for i in 1 2 3; do in_session "$i" || return 1; done
}

server_stale() {
	local n t
	n=$(ip -n "$S" -6 route show table local type local | grep -c '2001:db8:5::' || true)
	t=$(ip netns exec "$S" nft list tables | grep -c mt6d || true)
	echo "$n $t"
}

declare -A SEEN
worst=0
kinds=(publication introduction rotation)
declare -A INTROS
for k in $(seq "$SERVER_KILLS"); do
	kind=${kinds[$(((k - 1) % 3))]}
	echo "== server kill $k/$SERVER_KILLS, mid-$kind"
	if [ "$kind" = introduction ]; then
		# the clients come back only after a restart: restart once more first
		for i in 1 2 3; do INTROS[$i]=$(grep -c 'introduction: window' "$TMP/c$i.log"); done
		run kill -KILL "$PID_server"
		wait "$PID_server" || true
		start_server
	fi
	what=$(moment "$kind")
	run kill -KILL "$PID_server"
	wait "$PID_server" || true
	echo "killed at: $what"
	[[ $what == none* ]] || SEEN[$kind]=$((${SEEN[$kind]:-0} + 1))
	echo "left by the crash (routes tables): $(server_stale)"
	[ -z "${NO_RESTORE:-}" ] || rm -f "$TMP/server.intro"
	lines=$(wc -l <"$TMP/server.log")
	t0=$(day_ms "$(date +%H:%M:%S.%N)")
	start_server
	tail -n +"$((lines + 1))" "$TMP/server.log" | grep -E 'removed|restored' ||
		{ echo "FAIL: the restart removed nothing"; exit 1; }
	[ "$(server_stale)" = "1 1" ] || { echo "FAIL: $(server_stale) routes/tables after the restart"; exit 1; }
	for _ in $(seq $((BACK_S * 10 + 30))); do
		all_back && break
		sleep 0.1
	done
	all_back || { echo "FAIL: not every client is back"; exit 1; }
	# From the server's log: its last "session up" since the restart.
	t=$(($(day_ms "$(tail -n +"$((lines + 1))" "$TMP/server.log" | grep 'session up' | tail -1 | cut -d' ' -f1)") - t0))
	[ $t -ge 0 ] || t=$((t + 86400000)) # past midnight
	echo "every client back $t ms after the restart (the server's log)"
	[ $t -le $((BACK_S * 1000)) ] || { echo "FAIL: more than $BACK_S s"; exit 1; }
	[ $t -gt "$worst" ] && worst=$t
done
for i in 1 2 3; do
	echo "client $i: $(json "c$i" "'sessions %d, server silent %d, replies %d, claims %d' % (j['stats']['sessions'], j['stats']['server_silent'], j['stats']['replies_rx'], j['stats']['claims_sent'])")"
done
echo "server: unrecognized $(json server "j['stats']['unrecognized']"), replies $(json server "j['stats']['replies']") (last run)"
echo "server: $SERVER_KILLS kills, slowest return $worst ms; moments seen: $(for x in "${kinds[@]}"; do printf '%s %s, ' "$x" "${SEEN[$x]:-0}"; done)"

cworst=0
for k in $(seq "$CLIENT_KILLS"); do
	i=$(((k - 1) % 3 + 1))
	ns=$(cns "$i")
	echo "== client $i kill $k/$CLIENT_KILLS"
	sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
	echo "state at the kill: $(json "c$i" "j['state']")"
	run kill -KILL "$(eval echo "\$PID_c$i")"
	wait "$(eval echo "\$PID_c$i")" || true
	n=$(ip -n "$ns" -6 addr show scope global | grep -c inet6 || true)
	echo "addresses left by the crash: $n"
	lines=$(wc -l <"$TMP/c$i.log")
	t0=$(ms)
	start_client "$i"
	for _ in $(seq $((BACK_S * 10 + 30))); do
		in_session "$i" && break
		sleep 0.1
	done
	t=$(($(ms) - t0))
	in_session "$i" || { echo "FAIL: client $i is not back"; exit 1; }
	echo "client $i back $t ms after the restart"
	[ $t -le $((BACK_S * 1000)) ] || { echo "FAIL: more than $BACK_S s"; exit 1; }
	[ $t -gt "$cworst" ] && cworst=$t
	[ "$n" -le 1 ] || tail -n +"$((lines + 1))" "$TMP/c$i.log" | grep removed ||
		{ echo "FAIL: the restart removed nothing"; exit 1; }
	# Every address but the static one is listed in the new state file
	# (read before and after the addresses: one listing covers the moment).
	s1=$(cat "$TMP/c$i.state")
	a=$(ip -n "$ns" -6 addr show dev wan scope global | awk '/inet6/ {print $2}' | grep -v "^2001:db8:c$i::2/")
	s2=$(cat "$TMP/c$i.state")
	for x in $a; do
		grep -q " ${x%/*}/128$" <<<"$s1
$s2" || { echo "FAIL: stale address $x on client $i"; exit 1; }
	done
	echo "client $i: $(wc -w <<<"$a") slot address(es), each in its state file"
	wait_for 5 "the server holds 3 sessions" is server "j['session_count']==3"
done
echo "client: $CLIENT_KILLS kills, slowest return $cworst ms"

echo "== SIGINT, nothing left"
stop server
for i in 1 2 3; do stop "c$i"; done
check_server_clean
for i in 1 2 3; do check_client_clean "$i"; done
echo "PASS"
