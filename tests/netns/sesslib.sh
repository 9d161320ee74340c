# SPDX-License-Identifier: MIT
# Shared by the session netns tests (sourced; not a test itself).
#
# Topology, all created here and removed by cleanup (trap EXIT):
#
#        S (server) 2001:db8:5:1::2
#             | rs/sr
#   C1 --r1-- R (router, DHT swarm on 2001:db8:d::1, observer) --r3-- C3
#             | r2                                           (--r4-- C4)
#            C2
#
# The server's MT6D prefix 2001:db8:5::/64 is routed by R to S (routed
# mode: a `local` route and a TPROXY rule on S). Client i lives on
# 2001:db8:c<i>::/64, its link with R, where it adds its rotating addresses
# (bind mode, nodad). The tunnel network is 2001:db8:100::/64, the server
# being ::1. C4, when made, is not registered. Every command is echoed.
#
# Knobs for other topologies (test_rebind_*.sh): SWARM_ADDR (the swarm's
# address, IPv6 or IPv4), SERVER_DHT (the server's [dht] listen),
# CLIENT_DHT_<i> (client i's [dht] listen), AUTO="1" (client 1 in bind mode
# with prefix = auto), UNDERLAY="1" (client 1 in underlay mode),
# PRIV_USER=NAME (every daemon gets `user = NAME`: it drops to that user
# after set-up, docs/privdrop.md; $TMP is then owned by that user, so state
# files can be rewritten, and check_dropped tells whether it held), STATE_DIR
# (where the daemons' state files are; $TMP).
set -euo pipefail

MT6D=$(readlink -f "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HELPER="/usr/bin/python3 $HERE/tunhelper.py"
SESSHELPER="/usr/bin/python3 $HERE/sesshelper.py"
ID=sess$$
R=mt6d-$ID-r
S=mt6d-$ID-s
TMP=$(mktemp -d /tmp/mt6d-$ID.XXXXXX)
chmod 700 "$TMP"
[ -z "${PRIV_USER:-}" ] || chown "$PRIV_USER:" "$TMP"
SWARM_PORT=20000
SWARM_N=${SWARM_N:-16}
ROT=${ROT:-1000}
PERIOD=${PERIOD:-900}
SWARM_ADDR=${SWARM_ADDR:-2001:db8:d::1}
NS_ALL=()
MOUNTS=() # file systems mounted under $TMP, unmounted by cleanup
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
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${DAEMONS[@]}" "${PIDS[@]}"; do
		for _ in $(seq 25); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	for n in "${NS_ALL[@]}"; do ip netns del "$n" 2>/dev/null; done
	for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
	# The logs of a failure; not of an interruption (Ctrl-C, SIGTERM).
	if [ $rc -ne 0 ] && [ $rc -ne 130 ] && [ $rc -ne 143 ]; then
		for f in "$TMP"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -40 "$f"; }; done
	fi
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
	echo "exit status $rc"
	exit $rc
}
trap cleanup EXIT
# The shell's conventions: 128 + the signal's number (Ctrl-C is SIGINT, 130).
trap 'echo terminated; exit 143' TERM
trap 'echo interrupted; exit 130' INT

cns() { echo "mt6d-$ID-c$1"; }

mkns() {
	run ip netns add "$1"
	NS_ALL+=("$1")
	run ip -n "$1" link set lo up
	# No DAD: fresh links would keep their addresses tentative for a second.
	run ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0
}

# link NS LOCAL_IF ROUTER_IF PREFIX: NS gets PREFIX::2, R gets PREFIX::1
link() {
	run ip link add "$3" netns "$R" type veth peer name "$2" netns "$1"
	run ip -n "$R" addr add "$4::1/64" dev "$3" nodad
	run ip -n "$1" addr add "$4::2/64" dev "$2" nodad
	run ip -n "$R" link set "$3" up
	run ip -n "$1" link set "$2" up
	run ip -n "$1" -6 route add default via "$4::1"
}

# topology NCLIENTS: client i is in bind mode on 2001:db8:c<i>::/64, or, if
# it is listed in ROUTED (e.g. ROUTED="3"), in routed mode with
# 2001:db8:e<i>::/64 routed to it by R
routed() { [[ " ${ROUTED:-} " == *" $1 "* ]]; }
auto() { [[ " ${AUTO:-} " == *" $1 "* ]]; }
underlay() { [[ " ${UNDERLAY:-} " == *" $1 "* ]]; }

topology() {
	mkns "$R"
	run ip netns exec "$R" sysctl -qw net.ipv6.conf.all.forwarding=1
	run ip -n "$R" addr add 2001:db8:d::1/128 dev lo
	mkns "$S"
	link "$S" sr rs 2001:db8:5:1
	run ip -n "$R" -6 route add 2001:db8:5::/64 via 2001:db8:5:1::2
	for i in $(seq "$1"); do
		mkns "$(cns "$i")"
		link "$(cns "$i")" wan "r$i" "2001:db8:c$i"
		if routed "$i"; then
			run ip -n "$R" -6 route add "2001:db8:e$i::/64" via "2001:db8:c$i::2"
		fi
	done
}

# observer: namespace O gets a copy of every frame on R's link to the server
# (tc mirred), as a wiretap there would
observer() {
	O=mt6d-$ID-o
	mkns "$O"
	run ip link add o netns "$R" type veth peer name obs netns "$O"
	run ip -n "$R" link set o up
	run ip -n "$O" link set obs up
	run ip netns exec "$R" tc qdisc add dev rs clsact
	for dir in ingress egress; do
		run ip netns exec "$R" tc filter add dev rs "$dir" u32 match u32 0 0 \
			action mirred egress mirror dev o
	done
}

# swarm_ep: the swarm's first node, ADDRESS:PORT or [ADDRESS]:PORT
swarm_ep() {
	if [[ $SWARM_ADDR == *:* ]]; then echo "[$SWARM_ADDR]:$SWARM_PORT"; else echo "$SWARM_ADDR:$SWARM_PORT"; fi
}

swarm() {
	echo "+ ip netns exec $R $MT6D dht swarm --count $SWARM_N --listen $SWARM_ADDR --base-port $SWARM_PORT --rate-limit 1000000 &" >&2
	ip netns exec "$R" "$MT6D" dht swarm --count "$SWARM_N" --listen "$SWARM_ADDR" \
		--base-port $SWARM_PORT --rate-limit 1000000 >"$TMP/swarm.out" 2>"$TMP/swarm.log" &
	PIDS+=($!)
	for _ in $(seq 50); do
		grep -q nodes "$TMP/swarm.out" && break
		sleep 0.1
	done
	grep -q nodes "$TMP/swarm.out" || { echo "FAIL: the DHT swarm did not start"; return 1; }
	sleep 1
}

# keys N: server key and N client keys; the first NREG clients registered
keys() {
	local nreg=$2
	(umask 077
	 "$MT6D" genkey >"$TMP/server.key"
	 for i in $(seq "$1"); do "$MT6D" genkey >"$TMP/c$i.key"; done)
	"$MT6D" pubkey <"$TMP/server.key" >"$TMP/server.pub"
	: >"$TMP/clients"
	for i in $(seq "$1"); do
		"$MT6D" pubkey <"$TMP/c$i.key" >"$TMP/c$i.pub"
		[ "$i" -le "$nreg" ] && echo "$(cat "$TMP/c$i.pub") client$i" >>"$TMP/clients"
	done
	run cat "$TMP/clients"
}

server_config() {
	cat >"$TMP/server.conf" <<CONF
# written by $(basename "$0")
[server]
private_key = $TMP/server.key
clients = $TMP/clients
prefix = 2001:db8:5::/64
tunnel_prefix = 2001:db8:100::/64
period = $PERIOD
rotation_ms = $ROT
transport = bep44
idle_timeout = ${IDLE:-30}
keepalive = ${KEEPALIVE:-2}
state_file = ${STATE_DIR:-$TMP}/server.state
$([ -z "${PRIV_USER:-}" ] || echo "user = $PRIV_USER")
${SERVER_EXTRA:-}

[dht]
listen = ${SERVER_DHT:-[2001:db8:5:1::2]:6881}
bootstrap = $(swarm_ep)

[control]
socket = $TMP/server.sock
CONF
	run cat "$TMP/server.conf"
}

client_config() {
	local i=$1 dht
	eval "dht=\${CLIENT_DHT_$i:-[2001:db8:c$i::2]:6881}"
	cat >"$TMP/c$i.conf" <<CONF
# written by $(basename "$0")
[client]
private_key = $TMP/c$i.key
server_public_key = $(cat "$TMP/server.pub")
$(if routed "$i"; then echo "prefix = 2001:db8:e$i::/64"; echo "mode = routed"
  elif underlay "$i"; then echo "mode = underlay"
  elif auto "$i"; then echo "prefix = auto"; echo "uplink = wan"
  else echo "prefix = 2001:db8:c$i::/64"; echo "uplink = wan"; fi)
period = $PERIOD
transport = bep44
keepalive = ${KEEPALIVE:-2}
lookup_timeout = 10
state_file = ${STATE_DIR:-$TMP}/c$i.state
$([ -z "${PRIV_USER:-}" ] || echo "user = $PRIV_USER")

[dht]
listen = $dht
bootstrap = $(swarm_ep)

[control]
socket = $TMP/c$i.sock
CONF
}

# daemon NS NAME ARGS...: start mt6d in NS, log to NAME.log
daemon() {
	local ns=$1 name=$2
	shift 2
	echo "+ ip netns exec $ns $MT6D $* 2>$TMP/$name.log &" >&2
	ip netns exec "$ns" "$MT6D" "$@" 2>>"$TMP/$name.log" &
	DAEMONS+=($!)
	eval "PID_$name=$!"
}

ups() {
	local n
	n=$(grep -c ' up: ' "$TMP/server.log" 2>/dev/null) || true
	echo "${n:-0}"
}
more_ups() { [ "$(ups)" -gt "$1" ] || ! kill -0 "$PID_server" 2>/dev/null; }

start_server() {
	local before
	before=$(ups)
	daemon "$S" server server -c "$TMP/server.conf"
	wait_for "${SERVER_START_TIMEOUT:-10}" "server up" more_ups "$before"
	kill -0 "$PID_server" 2>/dev/null || { echo "FAIL: the server exited" >&2; return 1; }
}

start_client() {
	client_config "$1"
	daemon "$(cns "$1")" "c$1" client -c "$TMP/c$1.conf"
}

# stop NAME: SIGINT, wait for exit status 0
stop() {
	local pid
	eval "pid=\$PID_$1"
	run kill -INT "$pid"
	if ! wait "$pid"; then
		echo "FAIL: daemon $1 exited with an error" >&2
		return 1
	fi
}

# wait_for SECONDS WHAT CMD...: poll CMD every 0.2 s
wait_for() {
	local t=$1 what=$2 i
	shift 2
	for i in $(seq $((t * 5))); do
		"$@" >/dev/null 2>&1 && { echo "ok: $what (after $((i / 5)).$((i % 5 * 2)) s)" >&2; return 0; }
		sleep 0.2
	done
	echo "FAIL: $what: not within $t s" >&2
	return 1
}

# json NAME EXPR: a Python expression over the daemon's status `j`
json() {
	"$MT6D" show --json --socket "$TMP/$1.sock" | /usr/bin/python3 -c \
		"import json,sys; j=json.load(sys.stdin); print($2)"
}

# is NAME EXPR: succeeds when the expression is true
is() {
	[ "$(json "$1" "bool($2)" 2>/dev/null)" = True ]
}

in_session() { is "c$1" "j['state']=='session'"; }
not_in_session() { is "c$1" "j['state']!='session'"; }

# client_addr I: the client's tunnel address
client_addr() { json "c$1" "j['tunnel']"; }

# check_server_clean: nothing the server added is left
check_server_clean() {
	local routes rules
	routes=$(ip -n "$S" -6 route show table local type local | grep -c '2001:db8:5::' || true)
	echo "+ ip -n $S -6 route show table local type local: $routes route(s) for the /64" >&2
	[ "$routes" = 0 ] || { echo "FAIL: local route left on the server"; return 1; }
	rules=$(ip netns exec "$S" nft list ruleset | wc -c)
	echo "+ ip netns exec $S nft list ruleset: $rules bytes" >&2
	[ "$rules" = 0 ] || { echo "FAIL: nftables rules left on the server"; return 1; }
	! ip -n "$S" link show mt6d0 >/dev/null 2>&1 || { echo "FAIL: TUN left"; return 1; }
	[ ! -e "$TMP/server.state" ] || { echo "FAIL: server state file left"; return 1; }
	[ "$(ip -n "$S" -6 addr show scope global | grep -c inet6)" = 1 ] ||
		{ echo "FAIL: addresses left on the server"; ip -n "$S" -6 addr show; return 1; }
}

# check_client_clean I: only the link's static address is left
check_client_clean() {
	local ns n
	ns=$(cns "$1")
	n=$(ip -n "$ns" -6 addr show scope global | grep -c inet6 || true)
	echo "+ ip -n $ns -6 addr show scope global: $n address(es)" >&2
	[ "$n" = 1 ] || { echo "FAIL: addresses left on client $1"; ip -n "$ns" -6 addr show; return 1; }
	[ "$(ip netns exec "$ns" nft list ruleset | wc -c)" = 0 ] || { echo "FAIL: nft rules on client $1"; return 1; }
	n=$(ip -n "$ns" -6 route show table local type local | grep -c '/64' || true)
	[ "$n" = 0 ] || { echo "FAIL: local route left on client $1"; return 1; }
	! ip -n "$ns" link show mt6d0 >/dev/null 2>&1 || { echo "FAIL: TUN left on client $1"; return 1; }
	[ ! -e "$TMP/c$1.state" ] || { echo "FAIL: state file left on client $1"; return 1; }
}

# check_dropped NAME: the daemon runs as $PRIV_USER with exactly
# CAP_NET_ADMIN and CAP_NET_RAW (bits 12, 13: 0x3000) effective and
# permitted, none inheritable or ambient, no_new_privs and a seccomp filter
check_dropped() {
	local pid st uid want
	eval "pid=\$PID_$1"
	st=/proc/$pid/status
	want=$(id -u "$PRIV_USER")
	grep -E '^(Uid|Gid|Cap|NoNewPrivs|Seccomp:)' "$st" | sed "s/^/+ $1 (pid $pid): /" >&2
	uid=$(awk '/^Uid:/ {print $2 " " $3 " " $4 " " $5}' "$st")
	[ "$uid" = "$want $want $want $want" ] || { echo "FAIL: $1 runs as uid $uid, not $want"; return 1; }
	[ "$want" != 0 ] || { echo "FAIL: PRIV_USER is root"; return 1; }
	grep -q '^CapEff:[[:space:]]*0000000000003000$' "$st" &&
		grep -q '^CapPrm:[[:space:]]*0000000000003000$' "$st" &&
		grep -q '^CapInh:[[:space:]]*0000000000000000$' "$st" &&
		grep -q '^CapAmb:[[:space:]]*0000000000000000$' "$st" &&
		grep -q '^CapBnd:[[:space:]]*0000000000003000$' "$st" ||
		{ echo "FAIL: $1 keeps other capabilities than CAP_NET_ADMIN, CAP_NET_RAW"; return 1; }
	grep -q '^NoNewPrivs:[[:space:]]*1$' "$st" && grep -q '^Seccomp:[[:space:]]*2$' "$st" ||
		{ echo "FAIL: $1 has no seccomp filter"; return 1; }
	grep -q "running as user $PRIV_USER" "$TMP/$1.log" || { echo "FAIL: $1 did not log the drop"; return 1; }
	echo "ok: $1 runs as $PRIV_USER (uid $want) with cap_net_admin,cap_net_raw and a seccomp filter" >&2
}
