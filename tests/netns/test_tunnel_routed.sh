#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# MT6D tunnel, routed mode: the router routes each host's MT6D /64 to it,
# the daemon makes the /64 local (`local` route on lo) and binds no
# address; each slot's socket binds its rotating address with
# IPV6_FREEBIND. Rotation 1000 ms so that 62 s cover >= 60 rotations.
# Checks:
#  - ping and a 62 s TCP stream with no reset, all bytes intact, every
#    datagram sent accepted by the other end;
#  - no rotating address is ever configured on an interface;
#  - crash cleanup: after kill -9 the local route stays (the state file
#    names it); the next start removes it, comes up again (the peer accepts
#    the restarted sender's counters) and the ping works again;
#  - after SIGINT, nothing left: routes, addresses, nftables rules, state.
# Usage: test_tunnel_routed.sh PATH/TO/mt6d   (root)
source "$(dirname "$0")/lib.sh"
ROT=1000
KEY=$(hex 16)
IID_A=$(hex 8)
IID_B=$(hex 8)

topology routed
config a client routed ar 2001:db8:100::1 2001:db8:1a:: "$IID_A" 2001:db8:1b:: "$IID_B" "$KEY" $ROT
config b server routed br 2001:db8:100::2 2001:db8:1b:: "$IID_B" 2001:db8:1a:: "$IID_A" "$KEY" $ROT
start "$A" a
start "$B" b
run ip -n "$A" -6 route show table local type local
run ip netns exec "$A" ping -6 -c 5 -i 0.2 -w 10 2001:db8:100::2
mark
stream "${STREAM_SECONDS:-62}" 1000000
for n in "$A" "$B"; do
	c=$(ip -n "$n" -6 addr show | grep -c 'inet6 2001:db8:1[ab]:' || true)
	echo "+ ip -n $n -6 addr show: $c rotating address(es) configured"
	[ "$c" = 0 ] || { echo "FAIL: routed mode configured addresses"; exit 1; }
done
ROTS=$(stat_of a rotations)
echo "A rotated $ROTS times"
[ "$ROTS" -ge 60 ] || [ -n "${STREAM_SECONDS:-}" ] || { echo "FAIL: < 60 rotations"; exit 1; }
delivered

echo "== crash: kill -9 A's daemon"
run kill -KILL "$PID_a"
wait "$PID_a" || true
run cat "$TMP/a.state"
n=$(ip -n "$A" -6 route show table local type local | grep -c 2001:db8:1a:: || true)
echo "local routes left by the crash: $n"
[ "$n" = 1 ] || { echo "FAIL: expected the crash to leave the local route"; exit 1; }
start "$A" a
grep 'removed' "$TMP/a.log" || { echo "FAIL: restart did not clean up"; exit 1; }
n=$(ip -n "$A" -6 route show table local type local | grep -c 2001:db8:1a:: || true)
[ "$n" = 1 ] || { echo "FAIL: $n local routes after restart, want 1"; exit 1; }
run ip netns exec "$A" ping -6 -c 5 -i 0.2 -w 10 2001:db8:100::2

stop a
stop b
grep stats "$TMP/a.log" "$TMP/b.log"
check_clean "$A" ar 2001:db8:a::2 "$TMP/a.state"
check_clean "$B" br 2001:db8:b::2 "$TMP/b.state"
echo "PASS"
