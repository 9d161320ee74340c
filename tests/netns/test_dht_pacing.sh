#!/bin/bash
# SPDX-License-Identifier: MIT
# DHT send pacing (issue #15): a DHT send that meets a full socket (EAGAIN)
# is queued and paced, never dropped. In a namespace of its own whose
# loopback goes through a token-bucket qdisc (20 Mbit/s), so a
# port-stuffing burst fills the publisher's socket (default send buffer);
# pacinghelper.py then checks that every announce arrived. About 40 s.
# Usage: test_dht_pacing.sh MT6D   (root)
set -euo pipefail

MT6D=$(readlink -f "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NS=mt6d-pace$$

run() {
	echo "+ $*" >&2
	"$@"
}

cleanup() {
	local rc=$?
	set +e
	ip netns pids "$NS" 2>/dev/null | xargs -r kill -TERM 2>/dev/null
	sleep 0.5
	ip netns pids "$NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	exit $rc
}
trap cleanup EXIT

run ip netns add "$NS"
run ip -n "$NS" link set lo up
# a queue the burst waits in (5 s of it at 20 Mbit/s: nothing is dropped
# by the qdisc itself); the socket's send buffer fills while it waits
run tc -n "$NS" qdisc add dev lo root tbf rate 20mbit burst 32kb latency 5s
run ip netns exec "$NS" /usr/bin/python3 "$HERE/pacinghelper.py" "$MT6D"
