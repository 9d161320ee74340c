#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian package, end to end (docs/package.md):
#  1. dpkg-buildpackage -us -uc -b in a copy of the tree; lintian reports no
#     error; `mt6d --version' is the CMake project version;
#  2. dpkg -i of mt6d and libmt6d-dev: the mt6d system user exists, a program
#     builds against mt6d.pc; systemd-analyze verify of the installed units is
#     clean and their exposure (systemd-analyze security) is at most 2.5;
#  3. a short session in network namespaces with the installed binary run
#     as its units say: mt6d-server.service and mt6d-client@NAME.service,
#     their ExecStart= (configuration under /etc/mt6d), User=/Group=,
#     AmbientCapabilities=, CapabilityBoundingSet=, NoNewPrivileges=, UMask=,
#     RuntimeDirectory= and StateDirectory=. With systemd as PID 1 the units
#     themselves are started (NetworkNamespacePath= in a runtime drop-in);
#     without it (containers, most CI) setpriv(1) applies the same user,
#     capability and no_new_privs settings, which is what decides whether
#     the daemons work; the mount-namespace settings (ProtectSystem= ...)
#     only need systemd-analyze verify. Checks: session up, ping through
#     the tunnel, the daemons as mt6d with exactly CAP_NET_ADMIN and
#     CAP_NET_RAW, rotations, SIGHUP, and SIGTERM leaving nothing.
# Usage: scripts/pkgtest.sh   (root; about 2 minutes; removes the packages
# it installed (purged) only if they were not installed before: PKG_KEEP=1 keeps them;
# the build is nocheck, the unit tests having run before it in test.sh:
# PKG_BUILD_OPTIONS= runs them in the package build too)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive

[ "$(id -u)" -eq 0 ] || { echo "pkgtest: needs root (dpkg -i, namespaces)"; exit 1; }
WORK=$(mktemp -d /tmp/mt6d-pkg$$.XXXXXX)
INST=pkgtest$$
ETC_MADE=()
was_installed=0
dpkg-query -W -f='${Status}' mt6d 2>/dev/null | grep -q "install ok installed" && was_installed=1

pkg_cleanup() {
	set +e
	if [ "${SYSTEMD:-0}" = 1 ]; then
		systemctl stop mt6d-server.service "mt6d-client@$INST.service" 2>/dev/null
		rm -rf /run/systemd/system/mt6d-server.service.d/pkgtest.conf \
			"/run/systemd/system/mt6d-client@$INST.service.d"
		systemctl daemon-reload
	fi
	for f in "${ETC_MADE[@]}"; do rm -f "$f"; done
	rm -f /run/mt6d/server-mt6d0.state /run/mt6d/client-mt6d0.state /run/mt6d/mt6d.sock \
		"/run/mt6d/$INST.sock" /var/lib/mt6d/dht.state
	rm -rf "$WORK"
	if [ "$was_installed" = 0 ] && [ "${PKG_KEEP:-0}" != 1 ]; then
		dpkg -P mt6d libmt6d-dev >/dev/null 2>&1
	fi
}

echo "== 1. build the packages"
version=$(sed -n 's/^project(mt6d VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
mkdir -p "$WORK/src/mt6d"
tar -C "$SRC" --exclude=./build --exclude=./.git --exclude='./obj-*' -cf - . |
	tar -C "$WORK/src/mt6d" -xf -
start=$(date +%s)
if ! (cd "$WORK/src/mt6d" &&
	DEB_BUILD_OPTIONS="parallel=$(nproc) ${PKG_BUILD_OPTIONS-nocheck}" \
		dpkg-buildpackage -us -uc -b >"$WORK/build.log" 2>&1); then
	tail -40 "$WORK/build.log"
	echo "FAIL: dpkg-buildpackage"
	rm -rf "$WORK"
	exit 1
fi
echo "dpkg-buildpackage -us -uc -b: $(($(date +%s) - start)) s"
ls "$WORK/src"/*.deb
echo "+ lintian --fail-on error"
lintian --fail-on error "$WORK/src/mt6d_${version}_"*.changes ||
	{ echo "FAIL: lintian reports an error"; rm -rf "$WORK"; exit 1; }

echo "== 2. install"
echo "+ dpkg -i mt6d libmt6d-dev"
dpkg -i "$WORK/src/mt6d_${version}_"*.deb "$WORK/src/libmt6d-dev_${version}_"*.deb >/dev/null
MT6D=/usr/sbin/mt6d
got=$($MT6D --version)
echo "+ $MT6D --version: $got"
[ "$got" = "mt6d $version" ] || { echo "FAIL: version '$got', not $version"; pkg_cleanup; exit 1; }
id mt6d || { echo "FAIL: no mt6d user"; pkg_cleanup; exit 1; }
[ "$(stat -c '%U:%G %a' /etc/mt6d)" = "root:mt6d 750" ] ||
	{ echo "FAIL: /etc/mt6d is $(stat -c '%U:%G %a' /etc/mt6d)"; pkg_cleanup; exit 1; }
cat >"$WORK/pc.c" <<'C'
#include <stdio.h>
#include <mt6d/mt6d.h>
int main(void)
{
	uint8_t priv[MT6D_KEY_LEN], pub[MT6D_KEY_LEN];
	char b64[MT6D_KEY_B64_LEN + 1];
	if (mt6d_init() < 0)
		return 1;
	mt6d_key_generate(priv);
	mt6d_key_public(pub, priv);
	mt6d_key_to_base64(b64, pub);
	puts(b64);
	return 0;
}
C
echo "+ cc pc.c \$(pkg-config --cflags --libs mt6d)   (pkg-config: mt6d $(pkg-config --modversion mt6d))"
cc -o "$WORK/pc" "$WORK/pc.c" $(pkg-config --cflags --libs mt6d) ||
	{ echo "FAIL: cannot build against libmt6d-dev"; pkg_cleanup; exit 1; }
"$WORK/pc" >/dev/null || { echo "FAIL: the program built against libmt6d failed"; pkg_cleanup; exit 1; }
UNITS=(/lib/systemd/system/mt6d-server.service "/lib/systemd/system/mt6d-client@.service"
	"/lib/systemd/system/mt6d-tunnel@.service")
echo "+ systemd-analyze verify mt6d-server.service mt6d-client@$INST.service mt6d-tunnel@$INST.service"
out=$(systemd-analyze verify /lib/systemd/system/mt6d-server.service \
	"/lib/systemd/system/mt6d-client@$INST.service" \
	"/lib/systemd/system/mt6d-tunnel@$INST.service" 2>&1 | grep -v '^$' || true)
# Messages about other units on this host are not ours.
ours=$(echo "$out" | grep 'mt6d' || true)
[ -z "$ours" ] || { echo "$ours"; echo "FAIL: systemd-analyze verify"; pkg_cleanup; exit 1; }
for u in "${UNITS[@]}"; do
	e=$(systemd-analyze security --offline=true "$u" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	echo "systemd-analyze security $(basename "$u"): $e"
	[ -n "$e" ] && [ "$(echo "$e <= 2.5" | bc)" = 1 ] ||
		{ echo "FAIL: exposure $e above 2.5"; pkg_cleanup; exit 1; }
done

echo "== 3. a session with the installed binary, run as its units say"
for f in /etc/mt6d/server.conf /etc/mt6d/server.key /etc/mt6d/clients \
	"/etc/mt6d/client-$INST.conf" "/etc/mt6d/client-$INST.key"; do
	[ ! -e "$f" ] || { echo "FAIL: $f exists already; not touching it"; pkg_cleanup; exit 1; }
done
SYSTEMD=0
[ -d /run/systemd/system ] && SYSTEMD=1
echo "systemd as PID 1: $([ $SYSTEMD = 1 ] && echo yes || echo no, setpriv emulation)"

# The namespaces, swarm and helpers of the session tests.
ROT=500
source "$SRC/tests/netns/sesslib.sh" "$MT6D"
trap 'rc=$?; pkg_cleanup; (exit $rc); cleanup' EXIT
topology 1
swarm

umask 077
$MT6D genkey >/etc/mt6d/server.key
ETC_MADE+=(/etc/mt6d/server.key)
$MT6D genkey >"/etc/mt6d/client-$INST.key"
ETC_MADE+=("/etc/mt6d/client-$INST.key")
echo "$($MT6D pubkey <"/etc/mt6d/client-$INST.key") client1" >/etc/mt6d/clients
ETC_MADE+=(/etc/mt6d/clients)
# From the installed examples: keys and the registry owned by mt6d.
sed -e "s|^prefix = .*|prefix = 2001:db8:5::/64|" -e "s|^rotation_ms = .*|rotation_ms = $ROT|" \
	-e "s|^period = .*|period = 60|" -e "s|^listen = .*|listen = [2001:db8:5:1::2]:6881|" \
	-e "s|^bootstrap = .*|bootstrap = $(swarm_ep)|" -e "s|^keepalive = .*|keepalive = 2|" \
	/usr/share/doc/mt6d/examples/server.conf >/etc/mt6d/server.conf
ETC_MADE+=(/etc/mt6d/server.conf)
sed -e "s|^private_key = .*|private_key = /etc/mt6d/client-$INST.key|" \
	-e "s|^server_public_key = .*|server_public_key = $($MT6D pubkey </etc/mt6d/server.key)|" \
	-e "s|^prefix = .*|prefix = 2001:db8:c1::/64|" -e "s|^uplink = .*|uplink = wan|" \
	-e "s|^period = .*|period = 60|" -e "s|^transport = .*|transport = bep44\nkeepalive = 2|" \
	-e "s|^listen = .*|listen = [2001:db8:c1::2]:6881|" \
	-e "s|^bootstrap = .*|bootstrap = $(swarm_ep)|" -e "s|^socket = .*|socket = /run/mt6d/$INST.sock|" \
	/usr/share/doc/mt6d/examples/client.conf >"/etc/mt6d/client-$INST.conf"
ETC_MADE+=("/etc/mt6d/client-$INST.conf")
umask 022
chown mt6d:mt6d /etc/mt6d/server.key "/etc/mt6d/client-$INST.key"
chmod 640 /etc/mt6d/clients /etc/mt6d/server.conf "/etc/mt6d/client-$INST.conf"
chgrp mt6d /etc/mt6d/clients /etc/mt6d/server.conf "/etc/mt6d/client-$INST.conf"
grep -H '^user' /etc/mt6d/server.conf "/etc/mt6d/client-$INST.conf"

# unit_key UNIT KEY: the last value of KEY= in the unit
unit_key() { sed -n "s/^$2=//p" "$1" | tail -1; }
# caps "CAP_A CAP_B" -> "+a,+b"
caps() { local c out=""; for c in $1; do out+="${out:+,}+$(echo "${c#CAP_}" | tr A-Z a-z)"; done; echo "$out"; }

# unit_start NS NAME UNITFILE INSTANCE: run the unit's ExecStart= in NS
unit_start() {
	local ns=$1 name=$2 unit=$3 inst=$4 exec user group amb bnd nnp um rt st base
	base=$(basename "$unit")
	if [ "$SYSTEMD" = 1 ]; then
		local u=${base/@/@$inst} d
		d=/run/systemd/system/$u.d
		mkdir -p "$d"
		printf '[Service]\nNetworkNamespacePath=/run/netns/%s\nRestart=no\n' "$ns" >"$d/pkgtest.conf"
		systemctl daemon-reload
		run systemctl start "$u"
		eval "PID_$name=$(systemctl show -p MainPID --value "$u")"
		eval "UNIT_$name=$u"
		journalctl -fu "$u" -o cat >"$TMP/$name.log" 2>&1 &
		PIDS+=($!)
		return
	fi
	exec=$(unit_key "$unit" ExecStart); exec=${exec//%i/$inst}
	user=$(unit_key "$unit" User); group=$(unit_key "$unit" Group)
	amb=$(caps "$(unit_key "$unit" AmbientCapabilities)")
	bnd=$(caps "$(unit_key "$unit" CapabilityBoundingSet)")
	nnp=$([ "$(unit_key "$unit" NoNewPrivileges)" = yes ] && echo --no-new-privs)
	um=$(unit_key "$unit" UMask)
	rt=$(unit_key "$unit" RuntimeDirectory); st=$(unit_key "$unit" StateDirectory)
	install -d -o "$user" -g "$group" -m "$(unit_key "$unit" RuntimeDirectoryMode)" "/run/$rt"
	install -d -o "$user" -g "$group" -m "$(unit_key "$unit" StateDirectoryMode)" "/var/lib/$st"
	echo "+ ip netns exec $ns setpriv --reuid=$user --regid=$group --init-groups --inh-caps=$amb --ambient-caps=$amb --bounding-set=-all,$bnd $nnp -- $exec   (umask $um) &" >&2
	# PrivateDevices= with BindPaths=/dev/net/tun: the TUN node as the
	# kernel's devtmpfs makes it (0666); some containers have it 0600, so a
	# node of that mode is bound over it in the daemon's mount namespace
	# (ip netns exec made one).
	local tun=""
	if [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
		[ -e "$WORK/tun" ] || { mknod "$WORK/tun" c 10 200 && chmod 666 "$WORK/tun"; }
		tun="mount --bind $WORK/tun /dev/net/tun && "
	fi
	# shellcheck disable=SC2086
	ip netns exec "$ns" bash -c "$tun umask $um; exec setpriv --reuid=$user --regid=$group --init-groups \
		--inh-caps=$amb --ambient-caps=$amb --bounding-set=-all,$bnd $nnp -- $exec" \
		2>>"$TMP/$name.log" &
	DAEMONS+=($!)
	eval "PID_$name=$!"
}

# unit_stop NAME: the unit's KillSignal=, exit status 0
unit_stop() {
	local pid u
	eval "pid=\$PID_$1"
	if [ "$SYSTEMD" = 1 ]; then
		eval "u=\$UNIT_$1"
		run systemctl stop "$u"
		[ "$(systemctl show -p ExecMainStatus --value "$u")" = 0 ] ||
			{ echo "FAIL: $u exited with an error"; return 1; }
		return
	fi
	run kill "-$(unit_key /lib/systemd/system/mt6d-server.service KillSignal | sed 's/^SIG//')" "$pid"
	wait "$pid" || { echo "FAIL: $1 exited with an error"; return 1; }
}

# check_unit_caps NAME: uid mt6d, CapEff = CapPrm = CAP_NET_ADMIN|CAP_NET_RAW
check_unit_caps() {
	local pid st want
	eval "pid=\$PID_$1"
	st=/proc/$pid/status
	want=$(id -u mt6d)
	grep -E '^(Uid|Cap(Eff|Prm|Inh|Amb)|NoNewPrivs|Seccomp):' "$st" | sed "s/^/+ $1 (pid $pid): /" >&2
	[ "$(awk '/^Uid:/ {print $2 $3 $4 $5}' "$st")" = "$want$want$want$want" ] ||
		{ echo "FAIL: $1 does not run as mt6d"; return 1; }
	grep -q '^CapEff:[[:space:]]*0000000000003000$' "$st" &&
		grep -q '^CapPrm:[[:space:]]*0000000000003000$' "$st" &&
		grep -q '^CapAmb:[[:space:]]*0000000000000000$' "$st" &&
		grep -q '^Seccomp:[[:space:]]*2$' "$st" ||
		{ echo "FAIL: $1: not exactly CAP_NET_ADMIN and CAP_NET_RAW, or no seccomp filter"; return 1; }
	echo "ok: $1 runs as mt6d with cap_net_admin,cap_net_raw only, seccomp on" >&2
}

srv_is() { [ "$("$MT6D" show --json --socket /run/mt6d/mt6d.sock | python3 -c "import json,sys; j=json.load(sys.stdin); print(bool($1))")" = True ]; }
cli_is() { [ "$("$MT6D" show --json --socket "/run/mt6d/$INST.sock" | python3 -c "import json,sys; j=json.load(sys.stdin); print(bool($1))")" = True ]; }
server_up() { grep -q ' up: ' "$TMP/server.log"; }

unit_start "$S" server /lib/systemd/system/mt6d-server.service ""
wait_for 10 "server up" server_up
unit_start "$(cns 1)" c1 "/lib/systemd/system/mt6d-client@.service" "$INST"
wait_for 40 "client in session" cli_is "j['state']=='session'"
check_unit_caps server
check_unit_caps c1
run ip netns exec "$(cns 1)" ping -6 -c 3 -i 0.2 -w 5 2001:db8:100::1
r0=$("$MT6D" show --json --socket "/run/mt6d/$INST.sock" | python3 -c "import json,sys; print(json.load(sys.stdin)['rotations'])")
run ip netns exec "$(cns 1)" ping -6 -c 20 -i 0.4 -w 15 -q 2001:db8:100::1
r1=$("$MT6D" show --json --socket "/run/mt6d/$INST.sock" | python3 -c "import json,sys; print(json.load(sys.stdin)['rotations'])")
echo "client: $((r1 - r0)) rotations while pinging"
[ $((r1 - r0)) -ge 10 ] || { echo "FAIL: fewer than 10 rotations"; exit 1; }
echo "== SIGHUP (ExecReload=): the registry read again as mt6d"
echo "$($MT6D genkey | $MT6D pubkey) client2" >>/etc/mt6d/clients
if [ "$SYSTEMD" = 1 ]; then run systemctl reload mt6d-server.service; else run kill -HUP "$PID_server"; fi
wait_for 5 "the server knows 2 clients" srv_is "j['clients']==2"
check_unit_caps server
echo "== SIGTERM (KillSignal=): nothing left"
unit_stop c1
unit_stop server
n=$(ip -n "$S" -6 route show table local type local | grep -c '2001:db8:5::' || true)
[ "$n" = 0 ] || { echo "FAIL: local route left on the server"; exit 1; }
[ "$(ip netns exec "$S" nft list ruleset | wc -c)" = 0 ] || { echo "FAIL: nftables rules left"; exit 1; }
[ "$(ip -n "$(cns 1)" -6 addr show scope global | grep -c inet6)" = 1 ] ||
	{ echo "FAIL: addresses left on the client"; exit 1; }
[ ! -e /run/mt6d/server-mt6d0.state ] && [ ! -e /run/mt6d/client-mt6d0.state ] ||
	{ echo "FAIL: a state file is left"; exit 1; }
echo "PASS"
