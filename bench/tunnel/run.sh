#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tunnel benchmark: iperf3 TCP throughput both ways (10 s, median of 3
# runs), ping RTT and TCP retransmits over the raw veth path, through
# wireguard-go (userspace, Debian), through the static `mt6d tunnel` (bind
# mode, 3 s rotation), side by side in one run, in the same namespaces and
# veths:
#
#   A --ar/ra-- R (router) --rb/br-- B
#
# and through a `mt6d server` + `mt6d client` session at 1 s and 3 s
# rotation (session.sh: the session tests' topology, also one router hop).
#
# Usage: bench/tunnel/run.sh PATH/TO/mt6d [SECONDS] [RUNS] [PATHS]   (root)
#   PATHS: which rows, default "raw wg mt6d session1 session3"
# Prints a Markdown table. Only 2001:db8::/32 addresses are used; every
# namespace and process is removed on exit.
set -euo pipefail
MT6D=$(readlink -f "$1")
SECS=${2:-10}
RUNS=${3:-3}
PATHS=" ${4:-raw wg mt6d session1 session3} "
ID=tunb$$
R=mt6d-$ID-r
A=mt6d-$ID-a
B=mt6d-$ID-b
TMP=$(mktemp -d /tmp/mt6d-$ID.XXXXXX)
PIDS=()

run() {
	echo "+ $*" >&2
	"$@"
}

cleanup() {
	local rc=$?
	set +e
	for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
	sleep 0.5
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	for n in "$A" "$B" "$R"; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 143' TERM INT

for n in "$R" "$A" "$B"; do
	run ip netns add "$n"
	run ip -n "$n" link set lo up
	run ip netns exec "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0
done
run ip link add ra netns "$R" type veth peer name ar netns "$A"
run ip link add rb netns "$R" type veth peer name br netns "$B"
run ip netns exec "$R" sysctl -qw net.ipv6.conf.all.forwarding=1
run ip -n "$R" addr add 2001:db8:a::1/64 dev ra nodad
run ip -n "$R" addr add 2001:db8:b::1/64 dev rb nodad
run ip -n "$A" addr add 2001:db8:a::2/64 dev ar nodad
run ip -n "$B" addr add 2001:db8:b::2/64 dev br nodad
for l in "$R ra" "$R rb" "$A ar" "$B br"; do
	set -- $l
	run ip -n "$1" link set dev "$2" up
done
run ip -n "$A" -6 route add default via 2001:db8:a::1
run ip -n "$B" -6 route add default via 2001:db8:b::1

# wireguard-go: wga in A, wgb in B, 2001:db8:200::1 <-> ::2. Distinct names:
# its control sockets (/var/run/wireguard/NAME.sock) share one file system.
for n in A B; do
	ns=${!n}
	dev=wg${n,,}
	(umask 077; wg genkey >"$TMP/wg$n.key")
	wg pubkey <"$TMP/wg$n.key" >"$TMP/wg$n.pub"
	echo "+ ip netns exec $ns wireguard-go -f $dev &" >&2
	# It runs on a kernel with WireGuard only when told to, with a banner.
	WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 ip netns exec "$ns" wireguard-go -f "$dev" >"$TMP/wg$n.log" 2>&1 &
	PIDS+=($!)
done
sleep 1
run ip netns exec "$A" wg set wga private-key "$TMP/wgA.key" listen-port 51820 \
	peer "$(cat "$TMP/wgB.pub")" endpoint '[2001:db8:b::2]:51820' allowed-ips 2001:db8:200::2/128
run ip netns exec "$B" wg set wgb private-key "$TMP/wgB.key" listen-port 51820 \
	peer "$(cat "$TMP/wgA.pub")" endpoint '[2001:db8:a::2]:51820' allowed-ips 2001:db8:200::1/128
run ip -n "$A" addr add 2001:db8:200::1/64 dev wga nodad
run ip -n "$B" addr add 2001:db8:200::2/64 dev wgb nodad
run ip -n "$A" link set dev wga up
run ip -n "$B" link set dev wgb up

# mt6d: bind mode, default rotation
KEY=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
IA=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
IB=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
mkconf() { # name role uplink inner lprefix liid pprefix piid
	cat >"$TMP/$1.conf" <<CONF
[tunnel]
interface = mt6d0
role = $2
mode = bind
uplink = $3
address = $4/64
session_key = $KEY
state_file = $TMP/$1.state
[local]
prefix = $5/64
iid = $6
[peer]
prefix = $7/64
iid = $8
CONF
	chmod 600 "$TMP/$1.conf"
}
mkconf a client ar 2001:db8:100::1 2001:db8:a:: "$IA" 2001:db8:b:: "$IB"
mkconf b server br 2001:db8:100::2 2001:db8:b:: "$IB" 2001:db8:a:: "$IA"
for n in a b; do
	ns=$A
	[ $n = b ] && ns=$B
	echo "+ ip netns exec $ns $MT6D tunnel -c $TMP/$n.conf &" >&2
	ip netns exec "$ns" "$MT6D" tunnel -c "$TMP/$n.conf" 2>"$TMP/mt6d-$n.log" &
	PIDS+=($!)
done
sleep 1

echo "+ ip netns exec $B iperf3 -s &" >&2
ip netns exec "$B" iperf3 -s >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.5

source "$(dirname "${BASH_SOURCE[0]}")/measure.sh"

{
	table_head
	[[ $PATHS != *" raw "* ]] || measure "raw veth (via router)" "$A" 2001:db8:b::2
	[[ $PATHS != *" wg "* ]] || measure "wireguard-go" "$A" 2001:db8:200::2
	[[ $PATHS != *" mt6d "* ]] || measure "mt6d tunnel (bind, 3 s rotation)" "$A" 2001:db8:100::2
	rots=()
	[[ $PATHS != *" session1 "* ]] || rots+=(1000)
	[[ $PATHS != *" session3 "* ]] || rots+=(3000)
	if [ ${#rots[@]} -gt 0 ]; then
		bash "$(dirname "${BASH_SOURCE[0]}")/session.sh" "$MT6D" "$SECS" "$RUNS" "${rots[@]}" \
			2>"$TMP/session.log" | grep '^|' || { tail -40 "$TMP/session.log" >&2; exit 1; }
		grep -E '^(dropped|datapath|nstat)' "$TMP/session.log" >&2 || true
	fi
} | tee "$TMP/table.md"
grep stats "$TMP"/mt6d-*.log >&2 || true
