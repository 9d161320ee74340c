#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Cost of one routed-mode slot rotation per session (slot_sockets.c), in a
# namespace of its own where 2001:db8:77::/64 is local. Root.
# Usage: bench/tunnel/slots.sh [N]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
NS=mt6d-tunslots-$$
TMP=$(mktemp -d)
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
set -x
cc -O2 -o "$TMP/slot_sockets" "$HERE/slot_sockets.c"
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" -6 route add local 2001:db8:77::/64 dev lo
ip netns exec "$NS" "$TMP/slot_sockets" "${1:-100000}"
