# SPDX-License-Identifier: MIT
# Shared by the rebinding netns tests (sourced after sesslib.sh; not a test
# itself). docs/rebind.md describes what they check.
RBHELPER="/usr/bin/python3 $HERE/rbhelper.py"
# Claim length at rebind_levels = 16: 24 + 16 * 16 + 46.
CLAIM_LEN=326

# attacker6: namespace A on its own link to R, 2001:db8:a::2/64
attacker6() {
	A=mt6d-$ID-a
	mkns "$A"
	link "$A" wan ra 2001:db8:a
}

# nat_topology: all IPv4 addresses from the documentation ranges.
#
#   C1 192.0.2.2 --wan/nc-- N (NAT) 198.51.100.2 --nr/rn-- R --rs/sr-- S 203.0.113.1
#     inside 192.0.2.0/24     masquerade fully-random      |  swarm    (+ 2001:db8:5:1::2,
#                                                          |  203.0.113.200   2001:db8:5::/64)
#                                             A 203.0.113.18 --wan/ra
#
# R routes 203.0.113.0/28 (S), 203.0.113.16/28 (A), 198.51.100.0/24 (N's
# public side) and knows nothing of 192.0.2.0/24: C1 reaches anything only
# through N's masquerade. The swarm is on R's lo (203.0.113.200).
nat_topology() {
	N=mt6d-$ID-n
	A=mt6d-$ID-a
	mkns "$R"
	run ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	run ip -n "$R" addr add 203.0.113.200/32 dev lo
	mkns "$S"
	run ip link add rs netns "$R" type veth peer name sr netns "$S"
	run ip -n "$R" addr add 203.0.113.14/28 dev rs
	run ip -n "$S" addr add 203.0.113.1/28 dev sr
	run ip -n "$R" addr add 2001:db8:5:1::1/64 dev rs nodad
	run ip -n "$S" addr add 2001:db8:5:1::2/64 dev sr nodad
	run ip -n "$R" link set rs up
	run ip -n "$S" link set sr up
	run ip -n "$S" route add default via 203.0.113.14
	run ip -n "$S" -6 route add default via 2001:db8:5:1::1
	run ip -n "$R" -6 route add 2001:db8:5::/64 via 2001:db8:5:1::2
	mkns "$N"
	run ip netns exec "$N" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv4.conf.all.promote_secondaries=1 net.ipv4.conf.default.promote_secondaries=1
	run ip link add rn netns "$R" type veth peer name nr netns "$N"
	run ip -n "$R" addr add 198.51.100.1/24 dev rn
	run ip -n "$N" addr add 198.51.100.2/24 dev nr
	run ip -n "$R" link set rn up
	run ip -n "$N" link set nr up
	run ip -n "$N" route add default via 198.51.100.1
	mkns "$(cns 1)"
	run ip link add nc netns "$N" type veth peer name wan netns "$(cns 1)"
	run ip -n "$N" addr add 192.0.2.1/24 dev nc
	run ip -n "$(cns 1)" addr add 192.0.2.2/24 dev wan
	run ip -n "$N" link set nc up
	run ip -n "$(cns 1)" link set wan up
	run ip -n "$(cns 1)" route add default via 192.0.2.1
	# fully-random: a new mapping gets a new random port even for a tuple
	# seen before (plain masquerade keeps the source port when it is free).
	ip netns exec "$N" nft -f - <<'NFT'
table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "nr" masquerade fully-random
	}
}
NFT
	run ip netns exec "$N" nft list ruleset
	mkns "$A"
	run ip link add ra netns "$R" type veth peer name wan netns "$A"
	run ip -n "$R" addr add 203.0.113.17/28 dev ra
	run ip -n "$A" addr add 203.0.113.18/28 dev wan
	run ip -n "$R" link set ra up
	run ip -n "$A" link set wan up
	run ip -n "$A" route add default via 203.0.113.17
}

# stream_start I PORT SECONDS RATE: a TCP stream from client I to the
# server's tunnel address 2001:db8:100::1 (one connection, pattern checked);
# the receiver logs its byte count every 0.25 s to $TMP/progressI.
stream_start() {
	local i=$1 port=$2 secs=$3 rate=$4
	echo "+ ip netns exec $S $RBHELPER stream-server $port $((secs + 30)) $TMP/progress$i &" >&2
	ip netns exec "$S" $RBHELPER stream-server "$port" $((secs + 30)) "$TMP/progress$i" \
		>"$TMP/stream-server$i.out" 2>&1 &
	eval "SSRV$i=$!"
	PIDS+=($!)
	sleep 0.5
	echo "+ ip netns exec $(cns "$i") $HELPER stream-client 2001:db8:100::1 $port $secs $rate &" >&2
	ip netns exec "$(cns "$i")" $HELPER stream-client 2001:db8:100::1 "$port" "$secs" "$rate" \
		>"$TMP/stream-client$i.out" 2>&1 &
	eval "SCLI$i=$!"
	PIDS+=($!)
}

# stream_wait I: both ends exit 0 (no reset, every byte counted)
stream_wait() {
	local pc ps
	eval "pc=\$SCLI$1; ps=\$SSRV$1"
	wait "$pc" || { cat "$TMP/stream-client$1.out"; echo "FAIL: stream $1 broke"; return 1; }
	wait "$ps" || { cat "$TMP/stream-server$1.out"; echo "FAIL: stream $1 receiver"; return 1; }
	cat "$TMP/stream-client$1.out" "$TMP/stream-server$1.out"
}

# flowing I SECONDS: the stream received bytes in the last SECONDS
flowing() {
	$RBHELPER progress "$TMP/progress$1" "$2"
}

now() { date +%s.%N; }

# sstat KEY: the server's counter KEY
sstat() { json server "j['stats']['$1']"; }

# session KEY: the server's first (only) session's KEY
session() { json server "j['sessions'][0]['$1']"; }

REFUSALS="claims_refused_bad claims_refused_location claims_refused_stale claims_refused_replayed"

# refusals: the server's claim refusal counters, "bad location stale replayed"
refusals() {
	json server "' '.join(str(j['stats'][k]) for k in '$REFUSALS'.split())"
}

# ep_addr EP, ep_port EP: of "[ADDR]:PORT" or "A.B.C.D:PORT"
ep_addr() { local a=${1%:*}; a=${a#[}; echo "${a%]}"; }
ep_port() { echo "${1##*:}"; }

# replay_claim HEX FROM [SPORT]: send HEX to the server session's current
# local endpoint, from the attacker's own address (FROM = own) or spoofed
# from FROM:SPORT, until one of the server's claim refusal counters moves
# (the endpoint may rotate between reading it and sending: up to 4 tries).
# Sets REFUSED to the counter that moved (bad, location, stale, replayed).
replay_claim() {
	local hex=$1 from=$2 sport=${3:-} before after ep try k name
	local -a a b
	REFUSED=
	for try in 1 2 3 4; do
		before=$(refusals)
		ep=$(session local)
		if [ "$from" = own ]; then
			run ip netns exec "$A" $RBHELPER send 2001:db8:a::2 "$(ep_addr "$ep")" "$(ep_port "$ep")" "$hex"
		else
			run ip netns exec "$A" $RBHELPER spoof "$from" "$sport" "$(ep_addr "$ep")" "$(ep_port "$ep")" "$hex"
		fi
		for _ in 1 2 3 4 5; do
			sleep 0.1
			after=$(refusals)
			[ "$after" != "$before" ] && break
		done
		echo "claim refusals (bad location stale replayed): $before -> $after" >&2
		if [ "$after" != "$before" ]; then
			read -r -a b <<<"$before"
			read -r -a a <<<"$after"
			k=0
			for name in bad location stale replayed; do
				[ "${a[$k]}" != "${b[$k]}" ] && REFUSED="$REFUSED$name "
				k=$((k + 1))
			done
			REFUSED=${REFUSED% }
			echo "refused as: $REFUSED" >&2
			return 0
		fi
	done
	echo "FAIL: no claim counter moved after 4 tries" >&2
	return 1
}
