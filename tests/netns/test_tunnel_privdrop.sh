#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Least privilege for the static tunnel (docs/privdrop.md): both ends in
# bind mode with `user = PRIV_USER' (default nobody), rotation 500 ms.
# Checks:
#  - /proc/PID/status of both daemons: the user's uid, exactly
#    CAP_NET_ADMIN and CAP_NET_RAW effective and permitted, none
#    inheritable or ambient, no_new_privs, a seccomp filter;
#  - ping and a 15 s TCP stream (>= 25 rotations, each adding and removing
#    addresses as the user) with every datagram accepted;
#  - kill -9 of A, restart: the state file the user rewrote names what is
#    left, the restart removes it, the ping works again;
#  - after SIGINT, nothing left: addresses, nftables rules, state files.
# Usage: test_tunnel_privdrop.sh PATH/TO/mt6d   (root; about 40 s)
source "$(dirname "$0")/lib.sh"
PRIV_USER=${PRIV_USER:-nobody}
ROT=500
KEY=$(hex 16)
IID_A=$(hex 8)
IID_B=$(hex 8)
# The state files are rewritten as the user: its directory must be its.
chown "$PRIV_USER:" "$TMP"

# dropped NAME: the daemon runs as PRIV_USER with CAP_NET_ADMIN, CAP_NET_RAW only
dropped() {
	local pid st want
	eval "pid=\$PID_$1"
	st=/proc/$pid/status
	want=$(id -u "$PRIV_USER")
	grep -E '^(Uid|Cap(Eff|Prm|Inh|Amb|Bnd)|NoNewPrivs|Seccomp):' "$st" | sed "s/^/+ $1 (pid $pid): /" >&2
	[ "$(awk '/^Uid:/ {print $2 " " $3 " " $4 " " $5}' "$st")" = "$want $want $want $want" ] ||
		{ echo "FAIL: $1 does not run as $PRIV_USER"; return 1; }
	grep -q '^CapEff:[[:space:]]*0000000000003000$' "$st" &&
		grep -q '^CapPrm:[[:space:]]*0000000000003000$' "$st" &&
		grep -q '^CapInh:[[:space:]]*0000000000000000$' "$st" &&
		grep -q '^CapAmb:[[:space:]]*0000000000000000$' "$st" &&
		grep -q '^NoNewPrivs:[[:space:]]*1$' "$st" && grep -q '^Seccomp:[[:space:]]*2$' "$st" ||
		{ echo "FAIL: $1: not exactly CAP_NET_ADMIN and CAP_NET_RAW under seccomp"; return 1; }
	grep -q "running as user $PRIV_USER" "$TMP/$1.log" || { echo "FAIL: $1 did not log the drop"; return 1; }
	echo "ok: $1 runs as $PRIV_USER with cap_net_admin,cap_net_raw only, seccomp on" >&2
}

topology bind
config a client bind ar 2001:db8:100::1 2001:db8:a:: "$IID_A" 2001:db8:b:: "$IID_B" "$KEY" $ROT "user = $PRIV_USER"
config b server bind br 2001:db8:100::2 2001:db8:b:: "$IID_B" 2001:db8:a:: "$IID_A" "$KEY" $ROT "user = $PRIV_USER"
start "$A" a
start "$B" b
sleep 0.3
dropped a
dropped b
run ip netns exec "$A" ping -6 -c 5 -i 0.2 -w 10 2001:db8:100::2
mark
R0=$(stat_of a rotations)
stream 15 1000000
ROTS=$(($(stat_of a rotations) - R0))
echo "A rotated $ROTS times during the stream"
[ "$ROTS" -ge 25 ] || { echo "FAIL: < 25 rotations"; exit 1; }
delivered
dropped a

echo "== crash: kill -9 A's daemon"
run kill -KILL "$PID_a"
wait "$PID_a" || true
run cat "$TMP/a.state"
[ "$(stat -c %U "$TMP/a.state")" = "$PRIV_USER" ] || { echo "FAIL: the state file was not rewritten as $PRIV_USER"; exit 1; }
start "$A" a
grep 'removed' "$TMP/a.log" || { echo "FAIL: restart did not clean up"; exit 1; }
run ip netns exec "$A" ping -6 -c 5 -i 0.2 -w 10 2001:db8:100::2
dropped a

stop a
stop b
check_clean "$A" ar 2001:db8:a::2 "$TMP/a.state"
check_clean "$B" br 2001:db8:b::2 "$TMP/b.state"
echo "PASS"
