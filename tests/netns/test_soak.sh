#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Soak, short (issue 15): a server and 3 clients, each client pinging the
# server through its session (20 a second), rotation 1 s, period 20 s (new
# windows and rounds during the run), for SOAK_SECONDS (60). The counters
# of the start (after 10 s of warm-up) and of the end, for the server and
# each client: resident memory (VmRSS), open descriptors; no session
# dropped (the server made 3 and ended none, each client is in its first);
# no slot drift (each daemon's slot is floor(now_ms / rotation_ms) +-1 at
# both ends). Fails if a descriptor count grows or RSS grows by more than
# 2 MiB. libev timers are not counted (not exposed).
# Usage: test_soak.sh PATH/TO/mt6d   (root; about 90 s)
source "$(dirname "$0")/sesslib.sh"
# Under ASan every free goes to a quarantine of up to 256 MB, so RSS grows
# with the traffic whether or not anything leaks. For this test only, a 1 MB
# quarantine: RSS then measures what the daemons hold, and LeakSanitizer
# (detect_leaks=1, checked by `stop`'s exit status 0) still catches what
# they lose.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1:thread_local_quarantine_size_kb=64"
ROT=1000
PERIOD=20
SECS=${SOAK_SECONDS:-60}

topology 3
swarm
keys 3 3
server_config
start_server
for i in 1 2 3; do start_client "$i"; done
for i in 1 2 3; do wait_for 30 "client $i in a session" in_session "$i"; done
for i in 1 2 3; do
	ip netns exec "$(cns "$i")" ping -6 -q -i 0.05 -w $((SECS + 15)) 2001:db8:100::1 \
		>"$TMP/ping$i.out" 2>&1 &
	PIDS+=($!)
done
sleep 10

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# fds PID: the fewest open descriptors over 1 s (a rotation opens the new
# slot's socket before it closes the oldest)
fds() {
	local m=999999 n
	for _ in 1 2 3 4 5; do
		n=$(ls "/proc/$1/fd" | wc -l)
		[ "$n" -lt "$m" ] && m=$n
		sleep 0.2
	done
	echo "$m"
}
# drift NAME: slot minus floor(now_ms / rotation_ms) in the daemon's status
drift() {
	if [ "$1" = server ]; then
		json server "j['introduction'][0]['slot'] - j['now_ms'] // j['introduction'][0]['rotation_ms']"
	else
		json "$1" "j['slot'] - j['now_ms'] // j['rotation_ms']"
	fi
}
declare -A R0 F0 R1 F1
sample() {
	local tag=$1 n p
	for n in server c1 c2 c3; do
		eval "p=\$PID_$n"
		R1[$n]=$(rss "$p")
		F1[$n]=$(fds "$p")
		printf '%-6s %-5s rss %6s KiB, fds %3s, slot drift %s\n' "$n" "$tag" "${R1[$n]}" "${F1[$n]}" "$(drift "$n")"
		if [ "$tag" = start ]; then R0[$n]=${R1[$n]}; F0[$n]=${F1[$n]}; fi
	done
}
sample start
sleep "$SECS"
sample end
fail=0
for n in server c1 c2 c3; do
	eval "p=\$PID_$n"
	[ "${F1[$n]}" -le "${F0[$n]}" ] || { echo "FAIL: $n descriptors grew"; fail=1; }
	[ $((R1[$n] - R0[$n])) -le 2048 ] || { echo "FAIL: $n RSS grew by more than 2 MiB"; fail=1; }
	d=$(drift "$n")
	[ "${d#-}" -le 1 ] || { echo "FAIL: $n slot drift $d"; fail=1; }
done
is server "j['session_count']==3 and j['stats']['sessions_created']==3" ||
	{ echo "FAIL: the server dropped a session"; fail=1; }
for i in 1 2 3; do
	is "c$i" "j['state']=='session' and j['stats']['sessions']==1" ||
		{ echo "FAIL: client $i dropped its session"; fail=1; }
done
echo "server: $(json server "'%d rotations, windows up to %d' % (j['sessions'][0]['rotations'] if j['sessions'] and 'rotations' in j['sessions'][0] else -1, j['publisher']['window'])")"
[ $fail = 0 ] || exit 1
# The pings end by their deadline (-w), a few seconds from now.
for p in "${PIDS[@]: -3}"; do wait "$p" || true; done
for i in 1 2 3; do echo "client $i: $(grep -h "packet loss" "$TMP/ping$i.out" || echo "no ping summary")"; done
stop server
for i in 1 2 3; do stop "c$i"; done
check_server_clean
for i in 1 2 3; do check_client_clean "$i"; done
echo "PASS"
