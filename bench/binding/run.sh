#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The patent's Table 2, reproduced (docs/bench.md "Binding n addresses"):
# the time until n addresses of a host H are reachable from its neighbour
# R on the link. R does what a router does (bench/binding/probe.c): a
# Neighbor Solicitation for each address, then an echo request to the MAC
# it learnt; an address is reachable when its echo reply is back. Three
# ways for H to hold the addresses:
#   bind    the kernel binds each one (ip -batch, `address add A/128 nodad`),
#           as the patent does; quadratic, so capped (--bind-max, --limit)
#   ndp     mode = ndp's responder and routing (bench/binding/ndp_hold.c)
#   routed  the /64 routed by R to H, one `local` route on H; R solicits
#           only its next hop
# The time is from the start of binding to the last echo reply.
#
# Usage: bench/binding/run.sh BUILD_DIR [--sizes "1000 2000 ..."]
#        [--modes "bind ndp routed"] [--bind-max N] [--limit SECONDS]
# Defaults: sizes 1000 2000 4000 8000 16000 32000 48000, all three modes,
# kernel bind up to 16000 addresses, 300 s per step. Root; namespaces
# mt6d-bind$$-{r,h}, removed on exit; only 2001:db8:6::/64, 2001:db8:7::/64.
# Prints one markdown table on stdout (the patent's ns-3 figures beside).
# Do not record figures from a machine that is busy with other work.
set -euo pipefail

BUILD=$(readlink -f "${1:?usage: run.sh BUILD_DIR [options]}")
shift
SIZES="1000 2000 4000 8000 16000 32000 48000"
MODES="bind ndp routed"
BIND_MAX=16000
LIMIT=300
while [ $# -gt 0 ]; do
	case $1 in
	--sizes) SIZES=$2; shift 2 ;;
	--modes) MODES=$2; shift 2 ;;
	--bind-max) BIND_MAX=$2; shift 2 ;;
	--limit) LIMIT=$2; shift 2 ;;
	*) echo "unknown option: $1" >&2; exit 2 ;;
	esac
done
HOLD=$BUILD/bench/binding/ndp_hold
PROBE=$BUILD/bench/binding/probe
[ -x "$HOLD" ] && [ -x "$PROBE" ] || { echo "build first: $HOLD, $PROBE missing" >&2; exit 1; }
R=mt6d-bind$$-r
H=mt6d-bind$$-h
TMP=$(mktemp -d /tmp/mt6d-bind$$.XXXXXX)
HOLDPID=

cleanup() {
	set +e
	[ -z "$HOLDPID" ] || { kill -INT "$HOLDPID"; wait "$HOLDPID"; }
	ip netns del "$R" 2>/dev/null
	ip netns del "$H" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# topology MODE: R holds 2001:db8:7::/64 on-link, except in routed mode,
# where it routes it to H (2001:db8:6::2)
topology() {
	ip netns del "$R" 2>/dev/null || true
	ip netns del "$H" 2>/dev/null || true
	ip netns add "$R"
	ip netns add "$H"
	local ns
	for ns in "$R" "$H"; do
		ip -n "$ns" link set lo up
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	done
	ip link add r0 netns "$R" type veth peer name h0 netns "$H"
	ip -n "$R" addr add fe80::1/64 dev r0 nodad
	[ "$1" = routed ] || ip -n "$R" addr add 2001:db8:7::1/64 dev r0 nodad
	ip -n "$R" addr add 2001:db8:6::1/64 dev r0 nodad
	ip -n "$H" addr add 2001:db8:6::2/64 dev h0 nodad
	ip -n "$R" link set r0 up
	ip -n "$H" link set h0 up
	ip -n "$H" -6 route add default via fe80::1 dev h0
}

# addresses N FILE: N distinct random addresses of 2001:db8:7::/64
addresses() {
	/usr/bin/python3 -c '
import ipaddress, os, sys
n = int(sys.argv[1]); seen = set()
while len(seen) < n:
    iid = int.from_bytes(os.urandom(8), "big")
    if iid > 1:
        seen.add(iid)
for iid in seen:
    print(ipaddress.IPv6Address((0x20010db8000700000000000000000000) | iid))
' "$1" >"$2"
}

# one MODE N: prints "bind_s probe_s total_s reachable"
one() {
	local mode=$1 n=$2 t0 t1 out via=() src=2001:db8:7::1
	topology "$mode"
	addresses "$n" "$TMP/addrs"
	t0=$(now)
	case $mode in
	bind)
		sed 's|^\(.*\)$|address add \1/128 dev h0 nodad|' "$TMP/addrs" >"$TMP/batch"
		if ! timeout "$LIMIT" ip -n "$H" -batch "$TMP/batch"; then
			echo "- - >$LIMIT (binding cut at the limit) -"
			return
		fi
		;;
	ndp)
		ip netns exec "$H" "$HOLD" h0 2001:db8:7::/64 "$TMP/addrs" "$TMP/hold.state" \
			>"$TMP/hold.out" 2>"$TMP/hold.log" &
		HOLDPID=$!
		for _ in $(seq $((LIMIT * 100))); do
			grep -q '^ready' "$TMP/hold.out" && break
			kill -0 "$HOLDPID" 2>/dev/null || { cat "$TMP/hold.log" >&2; return 1; }
			sleep 0.01
		done
		;;
	routed)
		ip -n "$R" -6 route add 2001:db8:7::/64 via 2001:db8:6::2
		ip -n "$H" -6 route add local 2001:db8:7::/64 dev lo
		via=(--via 2001:db8:6::2)
		src=2001:db8:6::1
		;;
	esac
	t1=$(now)
	out=$(ip netns exec "$R" "$PROBE" r0 "$src" "$TMP/addrs" "${via[@]}" --limit "$LIMIT" || true)
	echo "$mode $n: $out" >&2
	if [ -n "$HOLDPID" ]; then
		kill -INT "$HOLDPID"
		wait "$HOLDPID" || true
		HOLDPID=
		cat "$TMP/hold.log" >&2
	fi
	local b p
	b=$(secs "$t0" "$t1")
	p=$(echo "$out" | awk '{print $6}')
	echo "$b $p $(awk -v a="$b" -v b="$p" 'BEGIN { printf "%.3f", a + b }')" \
		"$(echo "$out" | awk '{print $2 "/" $4}')"
}

patent() {
	case $1 in
	16000) echo "37.27" ;;
	32000) echo "74.55" ;;
	*) echo "" ;;
	esac
}

declare -A RES
for n in $SIZES; do
	for mode in $MODES; do
		if [ "$mode" = bind ] && [ "$n" -gt "$BIND_MAX" ]; then
			RES[$mode.$n]="not run (n > --bind-max $BIND_MAX)"
			continue
		fi
		set -- $(one "$mode" "$n")
		if [ "$1" = - ]; then
			RES[$mode.$n]="$3"
		else
			RES[$mode.$n]="$3 s ($1 binding + $2 probing, $4 reachable)"
		fi
	done
done
echo "| n | patent (ns-3, 1 Gbps) | $(for m in $MODES; do printf '%s | ' "$m"; done)"
echo "| --- | --- | $(for m in $MODES; do printf -- '--- | '; done)"
for n in $SIZES; do
	p=$(patent "$n")
	echo "| $n | ${p:+$p s} | $(for m in $MODES; do printf '%s | ' "${RES[$m.$n]}"; done)"
done
