#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Ctrl-C in scripts/demo.sh (issue 15): SIGINT to the demo's process group
# while the observer prints ends the demo at once (within 5 s), removes its
# namespaces, processes and files, and exits 130. Twice: as from a terminal
# (SIGINT at its default) and as a shell's background job (SIGINT ignored at
# start, which a shell cannot trap: the demo starts again without that).
# The demo runs with DEMO_MT6D (no install, no build) and DEMO_SECONDS=60.
# Usage: test_demo_sigint.sh PATH/TO/mt6d   (root; about 40 s)
set -euo pipefail
MT6D=$(readlink -f "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(mktemp -d /tmp/mt6d-demosig$$.XXXXXX)
DEMO=

cleanup() {
	local rc=$?
	set +e
	if [ -n "$DEMO" ] && kill -0 "$DEMO" 2>/dev/null; then
		kill -TERM -- "-$DEMO" 2>/dev/null
		sleep 3
		kill -KILL -- "-$DEMO" 2>/dev/null
	fi
	if [ -n "$DEMO" ]; then
		for n in $(ip netns list | awk '{print $1}' | grep "^mt6d-sess$DEMO-"); do
			ip netns del "$n"
		done
	fi
	[ $rc -ne 0 ] && [ -f "$OUT/demo.out" ] && tail -40 "$OUT/demo.out"
	rm -rf "$OUT"
	echo "exit status $rc"
	exit $rc
}
trap cleanup EXIT

# one MODE: MODE is "default" or "ignored" (SIGINT's disposition at start)
one() {
	local mode=$1 sig=--default-signal=INT t0 t1 rc lines after n
	[ "$mode" = ignored ] && sig=--ignore-signal=INT
	echo "== demo with SIGINT $mode at start"
	# setsid: the demo leads its own process group, as a terminal's job does.
	(cd "$ROOT" && DEMO_SECONDS=60 DEMO_MT6D="$MT6D" DEMO_WEB_PORT=$((30000 + $$ % 20000)) exec env "$sig" setsid \
		bash scripts/demo.sh >"$OUT/demo.out" 2>&1) &
	DEMO=$!
	for _ in $(seq 600); do
		grep -q 'observer, second 2:' "$OUT/demo.out" 2>/dev/null && break
		kill -0 "$DEMO" 2>/dev/null || break
		sleep 0.1
	done
	grep -q 'observer, second 2:' "$OUT/demo.out" || { echo "FAIL: the demo did not reach its traffic"; return 1; }
	lines=$(grep -c 'observer, second' "$OUT/demo.out")
	t0=$(date +%s%N)
	echo "+ kill -INT -- -$DEMO (after $lines observer lines)"
	kill -INT -- "-$DEMO"
	rc=0
	wait "$DEMO" || rc=$?
	t1=$(date +%s%N)
	after=$(($(grep -c 'observer, second' "$OUT/demo.out") - lines))
	echo "exit status $rc, $(((t1 - t0) / 1000000)) ms after SIGINT, $after observer line(s) after it"
	[ "$rc" = 130 ] || { echo "FAIL: exit status $rc, want 130"; return 1; }
	[ $((t1 - t0)) -lt 5000000000 ] || { echo "FAIL: took more than 5 s"; return 1; }
	[ "$after" -le 1 ] || { echo "FAIL: the demo went on printing"; return 1; }
	n=$(ip netns list | grep -c "^mt6d-sess$DEMO-" || true)
	echo "namespaces left: $n"
	[ "$n" = 0 ] || { echo "FAIL: namespaces left"; return 1; }
	n=$(ps -o pid= -s "$DEMO" | wc -l || true)
	echo "processes left in the demo's session: $n"
	[ "$n" = 0 ] || { ps -f -s "$DEMO"; echo "FAIL: processes left"; return 1; }
	! ls -d /tmp/mt6d-sess"$DEMO".* 2>/dev/null || { echo "FAIL: files left"; return 1; }
	DEMO=
}

one default
one ignored
echo "PASS"
