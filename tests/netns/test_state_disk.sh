#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The state file on a full disk and in a read-only directory (issue 15);
# the state directory is a small tmpfs this test mounts under its $TMP:
#  1. read-only, then full, at start: the server and the client exit 1 at
#     once with an error that names the file, the cause and what to do;
#  2. writable at start, then filled while a session is up: the client
#     keeps its session (its new addresses are listed in memory), says once
#     that the file is no longer written, and the ping goes on;
#  3. then read-only as well; SIGINT: both exit 0 and remove everything
#     (addresses, routes, nftables, TUN), and say that the file could not
#     be removed.
# Usage: test_state_disk.sh PATH/TO/mt6d   (root; about 30 s)
source "$(dirname "$0")/sesslib.sh"
ROT=1000
PERIOD=60
ST=$TMP/st

topology 1
swarm
keys 1 1
mkdir "$ST"
run mount -t tmpfs -o size=64k,mode=0700 mt6d-test-state "$ST"
MOUNTS+=("$ST")
STATE_DIR=$ST
server_config
client_config 1

# must_fail NAME NS CONF WORDS: the daemon exits 1 within 10 s, its log
# names the state file and says WORDS
must_fail() {
	local name=$1 ns=$2 conf=$3 words=$4 rc=0
	: >"$TMP/$name.log"
	echo "+ ip netns exec $ns $MT6D ${name%%[0-9]*} -c $conf" >&2
	timeout 10 ip netns exec "$ns" "$MT6D" "$([ "$name" = server ] && echo server || echo client)" \
		-c "$conf" 2>"$TMP/$name.log" || rc=$?
	sed 's/^/   /' "$TMP/$name.log"
	[ "$rc" = 1 ] || { echo "FAIL: $name exit status $rc, want 1"; return 1; }
	grep -q "cannot write the state file \`$ST/" "$TMP/$name.log" &&
		grep -q "$words" "$TMP/$name.log" ||
		{ echo "FAIL: $name: no clear error ($words)"; return 1; }
}

echo "== 1a. read-only state directory at start"
run mount -o remount,ro "$ST"
must_fail server "$S" "$TMP/server.conf" "Read-only file system.*remount it read-write"
must_fail c1 "$(cns 1)" "$TMP/c1.conf" "Read-only file system.*remount it read-write"
check_server_clean
check_client_clean 1

echo "== 1b. full disk at start"
run mount -o remount,rw "$ST"
dd if=/dev/zero of="$ST/fill" bs=4k 2>/dev/null || true
echo "free: $(df --output=avail -k "$ST" | tail -1) KiB"
must_fail server "$S" "$TMP/server.conf" "No space left on device.*free some space"
must_fail c1 "$(cns 1)" "$TMP/c1.conf" "No space left on device.*free some space"
check_server_clean
check_client_clean 1
run rm "$ST/fill"
run rm -f "$ST"/*.state

echo "== 2. the disk fills while a session is up"
: >"$TMP/server.log"; : >"$TMP/c1.log"
start_server
start_client 1
wait_for 30 "client 1 in a session" in_session 1
dd if=/dev/zero of="$ST/fill" bs=4k 2>/dev/null || true
echo "free: $(df --output=avail -k "$ST" | tail -1) KiB"
wait_for 10 "client 1 says its state file is not written" \
	grep -q "c1.state': No space left on device; what is added from now on" "$TMP/c1.log"
r0=$(json c1 "j['rotations']")
sleep 3
r1=$(json c1 "j['rotations']")
echo "rotations while the disk is full: $((r1 - r0))"
[ $((r1 - r0)) -ge 2 ] || { echo "FAIL: the client stopped rotating"; exit 1; }
in_session 1 || { echo "FAIL: client 1 lost its session"; exit 1; }
run ip netns exec "$(cns 1)" ping -6 -c 3 -i 0.3 -w 5 2001:db8:100::1

echo "== 3. read-only as well, then SIGINT"
run mount -o remount,ro "$ST"
sleep 2
in_session 1 || { echo "FAIL: client 1 lost its session"; exit 1; }
stop c1
stop server
grep "cannot remove the state file" "$TMP/c1.log" "$TMP/server.log" ||
	{ echo "FAIL: no word about the state file left"; exit 1; }
# The state files left on the read-only disk are elsewhere than the ones
# the checks look for: these check what is on the system.
check_server_clean
check_client_clean 1
echo "PASS"
