#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# MT6D tunnel, bind mode (rotating addresses added to the uplink with
# netlink, nodad), static two-peer configuration.
#
# Rotation is 1000 ms here (default 3000) so that the TCP stream crosses 60+
# rotations in about a minute. Checks:
#  - ping through the tunnel;
#  - a TCP stream of 62 s (>= 60 rotations) with no reset, all bytes intact;
#    nothing lost at a slot edge: every datagram one end sent was received
#    and accepted by the other, and the TUN device dropped nothing (TCP
#    retransmission counters are printed: tail loss probes count there even
#    when nothing is lost);
#  - forged, replayed and truncated datagrams injected by the router during
#    the stream (copies of B's datagrams to A) are dropped and counted
#    while the stream goes on;
#  - observer (tcpdump on the router): >= 20 distinct outer address pairs,
#    no outer (address, port) used beyond one slot, no inner address or
#    payload byte in clear, no two datagrams with the same first 16 bytes;
#  - after SIGINT, nothing left: addresses, nftables rules, state files.
# Usage: test_tunnel_bind.sh PATH/TO/mt6d   (root)
source "$(dirname "$0")/lib.sh"
ROT=1000
KEY=$(hex 16)
IID_A=$(hex 8)
IID_B=$(hex 8)

topology bind
config a client bind ar 2001:db8:100::1 2001:db8:a:: "$IID_A" 2001:db8:b:: "$IID_B" "$KEY" $ROT
config b server bind br 2001:db8:100::2 2001:db8:b:: "$IID_B" 2001:db8:a:: "$IID_A" "$KEY" $ROT
start "$A" a
start "$B" b

run ip netns exec "$A" ping -6 -c 5 -i 0.2 -w 10 2001:db8:100::2
mark
# The rotating addresses are deprecated: other traffic keeps the static
# source, or its connections would break when a slot's address goes.
run ip -n "$A" -6 addr show dev ar
SRC=$(ip -n "$A" -6 route get 2001:db8:b::2 | sed -n 's/.* src \([^ ]*\).*/\1/p')
echo "source for other traffic: $SRC"
[ "$SRC" = 2001:db8:a::2 ] || { echo "FAIL: a rotating address is chosen as source"; exit 1; }

echo "+ ip netns exec $R tcpdump -i ra -s 0 -U -w $TMP/obs.pcap udp &" >&2
ip netns exec "$R" tcpdump -i ra -s 0 -U -w "$TMP/obs.pcap" udp 2>"$TMP/tcpdump.log" &
TCPDUMP=$!
PIDS+=($TCPDUMP)
# B -> A: B's datagrams carrying TCP ACKs leave one per frame; A -> B data
# leaves in UDP GSO trains that veth forwards unsplit, which a replay of the
# whole frame would not reproduce.
echo "+ (sleep 10; ip netns exec $R $HELPER inject ra 2001:db8:b::/64 2001:db8:a::/64 30) &" >&2
(sleep 10; ip netns exec "$R" $HELPER inject ra 2001:db8:b::/64 2001:db8:a::/64 30 \
	>"$TMP/inject.log" 2>&1) &
INJ=$!
PIDS+=($INJ)
run ip netns exec "$A" nstat -n
stream ${STREAM_SECONDS:-62} 1000000
wait "$INJ" || { cat "$TMP/inject.log"; exit 1; }
cat "$TMP/inject.log"
sleep 1
kill -INT "$TCPDUMP"
wait "$TCPDUMP" || true
run ip netns exec "$A" nstat -az TcpRetransSegs TcpExtTCPLossProbes TcpExtTCPLostRetransmit
DROPS=$(ip -n "$A" -s -j link show dev mt6d0 | /usr/bin/python3 -c \
	'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["dropped"])')
echo "TUN tx drops on A: $DROPS"

for k in rx_replayed rx_forged rx_truncated; do
	v=$(stat_of a $k)
	echo "a: $k=$v"
	[ "$v" -ge 30 ] || { echo "FAIL: a counted $v $k, want >= 30"; exit 1; }
done
run $HELPER observe "$TMP/obs.pcap" $ROT 2001:db8:100::1 2001:db8:100::2
delivered

stop a
stop b
grep stats "$TMP/a.log" "$TMP/b.log"
ROTS=$(final_stat a rotations)
echo "A rotated $ROTS times"
[ "$ROTS" -ge 60 ] || { echo "FAIL: fewer than 60 rotations"; exit 1; }
[ "$DROPS" = 0 ] || { echo "FAIL: A's TUN dropped $DROPS packets"; exit 1; }
check_clean "$A" ar 2001:db8:a::2 "$TMP/a.state"
check_clean "$B" br 2001:db8:b::2 "$TMP/b.state"
echo "PASS"
