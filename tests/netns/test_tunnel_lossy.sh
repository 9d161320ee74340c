#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# MT6D tunnel, bind mode, under adverse conditions:
#  1. 5% random loss on the router in both directions (nftables numgen
#     random; netem is not available here), rotation 1000 ms, 30 s TCP
#     stream: no reset, all bytes intact.
#  2. B's clock 1 s ahead (ClockOffsetMs = 1000), rotation 2000 ms, 30 s
#     stream: no reset, every datagram accepted (the receiver's window of
#     slots i-1..i+1 covers the skew).
#  3. crash cleanup in bind mode: kill -9 leaves rotating addresses on the
#     uplink; the next start removes them (state file); SIGINT then leaves
#     nothing.
# Usage: test_tunnel_lossy.sh PATH/TO/mt6d   (root)
source "$(dirname "$0")/lib.sh"
KEY=$(hex 16)
IID_A=$(hex 8)
IID_B=$(hex 8)
SECS=${STREAM_SECONDS:-30}

topology bind

echo "== 1. 5% loss"
run ip netns exec "$R" nft add table inet mt6dtest
run ip netns exec "$R" nft add chain inet mt6dtest lossy '{ type filter hook forward priority 0; }'
run ip netns exec "$R" nft add rule inet mt6dtest lossy meta l4proto udp numgen random mod 100 '<' 5 counter drop
config a client bind ar 2001:db8:100::1 2001:db8:a:: "$IID_A" 2001:db8:b:: "$IID_B" "$KEY" 1000
config b server bind br 2001:db8:100::2 2001:db8:b:: "$IID_B" 2001:db8:a:: "$IID_A" "$KEY" 1000
start "$A" a
start "$B" b
run ip netns exec "$A" ping -6 -c 20 -i 0.1 -w 10 2001:db8:100::2 || true
stream "$SECS" 1000000
run ip netns exec "$R" nft list chain inet mt6dtest lossy
TXA=$(stat_of a tx_packets); RXB=$(stat_of b rx_packets)
echo "A sent $TXA, B received $RXB"
LOSS=$(( (TXA - RXB) * 1000 / TXA ))
echo "loss A->B: $LOSS per mille"
[ "$LOSS" -ge 20 ] && [ "$LOSS" -le 80 ] || { echo "FAIL: loss not near 5%"; exit 1; }
stop a
stop b
run ip netns exec "$R" nft delete table inet mt6dtest

echo "== 2. B's clock 1 s ahead"
config a client bind ar 2001:db8:100::1 2001:db8:a:: "$IID_A" 2001:db8:b:: "$IID_B" "$KEY" 2000
config b server bind br 2001:db8:100::2 2001:db8:b:: "$IID_B" 2001:db8:a:: "$IID_A" "$KEY" 2000 \
	"ClockOffsetMs = 1000"
start "$A" a
start "$B" b
run ip netns exec "$A" ping -6 -c 5 -i 0.2 -w 10 2001:db8:100::2
stream "$SECS" 1000000
delivered

echo "== 3. crash cleanup in bind mode"
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
