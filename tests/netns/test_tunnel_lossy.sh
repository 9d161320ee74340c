#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# MT6D tunnel, bind mode, with 5% random loss on the router in both
# directions (nftables numgen random; netem is not available here).
# Rotation 1000 ms and a 62 s TCP stream: >= 60 rotations, no reset, all
# bytes intact, and the measured datagram loss A->B near 5%. (veth forwards
# a UDP GSO train as one skb, so the rule drops whole trains: the loss is
# bursty, 5% of trains.)
# Usage: test_tunnel_lossy.sh PATH/TO/mt6d   (root)
source "$(dirname "$0")/lib.sh"
KEY=$(hex 16)
IID_A=$(hex 8)
IID_B=$(hex 8)
SECS=${STREAM_SECONDS:-62}

topology bind

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
ROTS=$(final_stat a rotations)
echo "A rotated $ROTS times"
[ "$ROTS" -ge 60 ] || [ -n "${STREAM_SECONDS:-}" ] || { echo "FAIL: < 60 rotations"; exit 1; }
run ip netns exec "$R" nft delete table inet mt6dtest
check_clean "$A" ar 2001:db8:a::2 "$TMP/a.state"
check_clean "$B" br 2001:db8:b::2 "$TMP/b.state"
echo "PASS"

