#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# MT6D tunnel, bind mode:
#  1. B's clock 1 s ahead (clock_offset_ms = 1000) with a rotation of 1500 ms
#     (the receiver's window of slots i-1..i+1 covers a skew of up to one
#     slot less the path delay); a 92 s TCP stream crosses >= 60 rotations
#     with no reset, all bytes intact and every datagram accepted;
#  2. crash cleanup in bind mode: kill -9 leaves rotating addresses on the
#     uplink; the next start removes them (state file); SIGINT then leaves
#     nothing.
# Usage: test_tunnel_skew.sh PATH/TO/mt6d   (root)
source "$(dirname "$0")/lib.sh"
KEY=$(hex 16)
IID_A=$(hex 8)
IID_B=$(hex 8)
SECS=${STREAM_SECONDS:-92}

topology bind

echo "== 1. B's clock 1 s ahead"
config a client bind ar 2001:db8:100::1 2001:db8:a:: "$IID_A" 2001:db8:b:: "$IID_B" "$KEY" 1500
config b server bind br 2001:db8:100::2 2001:db8:b:: "$IID_B" 2001:db8:a:: "$IID_A" "$KEY" 1500 \
	"clock_offset_ms = 1000"
start "$A" a
start "$B" b
run ip netns exec "$A" ping -6 -c 5 -i 0.2 -w 10 2001:db8:100::2
mark
stream "$SECS" 1000000
delivered
ROTS=$(stat_of a rotations)
echo "A rotated $ROTS times"
[ "$ROTS" -ge 60 ] || [ -n "${STREAM_SECONDS:-}" ] || { echo "FAIL: < 60 rotations"; exit 1; }

echo "== 2. crash cleanup in bind mode"
run kill -KILL "$PID_a"
wait "$PID_a" || true
n=$(ip -n "$A" -6 addr show dev ar scope global | grep -c inet6 || true)
echo "global addresses on ar after the crash: $n"
[ "$n" -gt 1 ] || { echo "FAIL: expected the crash to leave addresses"; exit 1; }
start "$A" a
grep 'removed' "$TMP/a.log" || { echo "FAIL: restart did not clean up"; exit 1; }
n=$(ip -n "$A" -6 addr show dev ar scope global | grep -c inet6 || true)
echo "global addresses on ar after the restart: $n (1 static + 3 slots)"
[ "$n" = 4 ] || { echo "FAIL: want 4"; exit 1; }
stop a
stop b
check_clean "$A" ar 2001:db8:a::2 "$TMP/a.state"
check_clean "$B" br 2001:db8:b::2 "$TMP/b.state"
echo "PASS"
