# SPDX-License-Identifier: MIT
# Shared by the tunnel netns tests (sourced; not a test itself).
#
# Topology, all created here and removed by cleanup (trap EXIT):
#
#   A (2001:db8:a::2) --ar/ra-- R (router + observer) --rb/br-- B (2001:db8:b::2)
#
# bind mode: each host's MT6D prefix is its link's /64, where it adds its
# rotating addresses (nodad). routed mode: R routes 2001:db8:1a::/64 to A and
# 2001:db8:1b::/64 to B; the hosts make them local with a `local` route.
# Inside the tunnel A is 2001:db8:100::1 and B 2001:db8:100::2.
# Only 2001:db8::/32 addresses are used. Every command is echoed.
set -euo pipefail

MT6D=$(readlink -f "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HELPER="/usr/bin/python3 $HERE/tunhelper.py"
ID=tun$$
R=mt6d-$ID-r
A=mt6d-$ID-a
B=mt6d-$ID-b
TMP=$(mktemp -d /tmp/mt6d-$ID.XXXXXX)
PIDS=()
DAEMONS=()

run() {
	echo "+ $*" >&2
	"$@"
}

cleanup() {
	local rc=$?
	set +e
	for p in "${DAEMONS[@]}"; do kill -INT "$p" 2>/dev/null; done
	for p in "${DAEMONS[@]}" "${PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	for n in "$A" "$B" "$R"; do ip netns del "$n" 2>/dev/null; done
	if [ $rc -ne 0 ]; then
		for f in "$TMP"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -30 "$f"; }; done
	fi
	rm -rf "$TMP"
	echo "exit status $rc"
	exit $rc
}
trap cleanup EXIT
trap 'echo terminated; exit 143' TERM INT

# topology MODE
topology() {
	local mode=$1
	run ip netns add "$R"
	run ip netns add "$A"
	run ip netns add "$B"
	# No DAD anywhere: link-local addresses of fresh links would stay
	# tentative for a second and delay the first neighbor discoveries.
	for n in "$R" "$A" "$B"; do
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
	if [ "$mode" = routed ]; then
		run ip -n "$R" -6 route add 2001:db8:1a::/64 via 2001:db8:a::2
		run ip -n "$R" -6 route add 2001:db8:1b::/64 via 2001:db8:b::2
	fi
}

hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# config NAME ROLE MODE UPLINK INNER LPREFIX LIID PPREFIX PIID KEY ROT [EXTRA]
config() {
	local f=$TMP/$1.conf
	cat >"$f" <<CONF
# written by $(basename "$0")
[tunnel]
interface = mt6d0
role = $2
mode = $3
uplink = $4
address = $5/64
session_key = ${10}
rotation_ms = ${11}
state_file = $TMP/$1.state
${12:-}

[local]
prefix = $6/64
iid = $7

[peer]
prefix = $8/64
iid = $9
CONF
	chmod 600 "$f"
	echo "+ cat $f" >&2
	sed 's/^session_key = .*/session_key = (hidden)/' "$f" >&2
}

# start NS NAME: run the daemon, wait until it says it is up
start() {
	local ns=$1 name=$2
	echo "+ ip netns exec $ns $MT6D tunnel -v -c $TMP/$name.conf 2>$TMP/$name.log &" >&2
	ip netns exec "$ns" "$MT6D" tunnel -v -c "$TMP/$name.conf" 2>"$TMP/$name.log" &
	DAEMONS+=($!)
	eval "PID_$name=$!"
	for _ in $(seq 50); do
		grep -q ' up, ' "$TMP/$name.log" && return 0
		kill -0 "$!" 2>/dev/null || break
		sleep 0.1
	done
	echo "daemon $name did not start" >&2
	cat "$TMP/$name.log" >&2
	return 1
}

# stop NAME: SIGINT, wait for exit status 0
stop() {
	local pid
	eval "pid=\$PID_$1"
	run kill -INT "$pid"
	if ! wait "$pid"; then
		echo "daemon $1 exited with an error" >&2
		return 1
	fi
}

# stat NAME KEY: the value of KEY in the daemon's last stats line (SIGUSR1)
stat_of() {
	local pid
	eval "pid=\$PID_$1"
	kill -USR1 "$pid"
	sleep 0.3
	grep 'stats' "$TMP/$1.log" | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# final_stat NAME KEY: from the stats line printed at exit
final_stat() {
	grep 'stats' "$TMP/$1.log" | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# mark: remember the counters once both ends are up and the path is warm.
# What one end sent before the other had started (its TUN device's first
# router solicitations and MLD reports) is lost by design and not counted.
mark() {
	BASE_TXA=$(stat_of a tx_packets); BASE_RXB=$(stat_of b rx_packets)
	BASE_TXB=$(stat_of b tx_packets); BASE_RXA=$(stat_of a rx_packets)
	echo "counters at the mark: A sent $BASE_TXA, B received $BASE_RXB;" \
		"B sent $BASE_TXB, A received $BASE_RXA" >&2
}

# delivered: since the mark, every datagram each end sent was accepted by
# the other. The counters are read a few times: a stray packet (a router
# solicitation, a last ACK) may be in flight between reading one end and
# the other.
delivered() {
	local txa rxb txb rxa
	for _ in 1 2 3 4 5; do
		txa=$(( $(stat_of a tx_packets) - BASE_TXA )); rxb=$(( $(stat_of b rx_packets) - BASE_RXB ))
		txb=$(( $(stat_of b tx_packets) - BASE_TXB )); rxa=$(( $(stat_of a rx_packets) - BASE_RXA ))
		echo "since the mark: A sent $txa, B received $rxb; B sent $txb, A received $rxa" >&2
		[ "$txa" = "$rxb" ] && [ "$txb" = "$rxa" ] && return 0
		sleep 0.5
	done
	echo "FAIL: datagrams lost" >&2
	for n in "$A" "$B"; do
		echo "+ ip netns exec $n nstat -az Udp6InDatagrams Udp6NoPorts Udp6RcvbufErrors Udp6InErrors" >&2
		ip netns exec "$n" nstat -az Udp6InDatagrams Udp6NoPorts Udp6RcvbufErrors Udp6InErrors >&2
	done
	echo "+ ip netns exec $R nstat -az Ip6OutDiscards Ip6InDiscards Ip6OutNoRoutes" >&2
	ip netns exec "$R" nstat -az Ip6OutDiscards Ip6InDiscards Ip6OutNoRoutes >&2
	echo "+ ip netns exec $R cat /proc/net/stat/ndisc_cache" >&2
	ip netns exec "$R" cat /proc/net/stat/ndisc_cache >&2
	grep stats "$TMP/a.log" | tail -1 >&2
	grep stats "$TMP/b.log" | tail -1 >&2
	return 1
}

# check_clean NS IFNAME STATIC_ADDR STATEFILE: nothing the daemon added is left
check_clean() {
	local ns=$1 ifname=$2 static=$3 state=$4 addrs rules routes
	addrs=$(ip -n "$ns" -6 addr show dev "$ifname" scope global | grep -c inet6 || true)
	echo "+ ip -n $ns -6 addr show dev $ifname scope global: $addrs address(es)" >&2
	ip -n "$ns" -6 addr show dev "$ifname" scope global >&2
	[ "$addrs" = 1 ] || { echo "FAIL: rotating addresses left on $ns" >&2; return 1; }
	# Not `| grep -q`: with pipefail, ip dying of SIGPIPE would fail it.
	[[ "$(ip -n "$ns" -6 addr show dev "$ifname")" == *"$static/64"* ]] || return 1
	rules=$(ip netns exec "$ns" nft list ruleset | wc -c)
	echo "+ ip netns exec $ns nft list ruleset: $rules bytes" >&2
	[ "$rules" = 0 ] || { echo "FAIL: nftables rules left on $ns" >&2; return 1; }
	routes=$(ip -n "$ns" -6 route show table local type local | grep -c '/64' || true)
	echo "+ ip -n $ns -6 route show table local type local: $routes /64 local route(s)" >&2
	[ "$routes" = 0 ] || { echo "FAIL: local routes left on $ns" >&2; return 1; }
	! ip -n "$ns" link show mt6d0 >/dev/null 2>&1 || { echo "FAIL: TUN left" >&2; return 1; }
	[ ! -e "$state" ] || { echo "FAIL: state file $state left" >&2; return 1; }
}

# stream SECONDS RATE: TCP from A to B through the tunnel; fails on a reset
stream() {
	echo "+ ip netns exec $B $HELPER stream-server 5001 30 &" >&2
	ip netns exec "$B" $HELPER stream-server 5001 30 >"$TMP/server.out" 2>&1 &
	local srv=$!
	PIDS+=($srv)
	sleep 0.5
	run ip netns exec "$A" $HELPER stream-client 2001:db8:100::2 5001 "$1" "$2"
	wait "$srv" || { cat "$TMP/server.out" >&2; return 1; }
	cat "$TMP/server.out" >&2
}
