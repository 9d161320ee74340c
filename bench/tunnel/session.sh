#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Session rows of the tunnel benchmark: `mt6d server` and one `mt6d client`
# (bind mode) found through a local DHT swarm, in the session tests'
# namespaces (tests/netns/sesslib.sh: client -- router -- server, one
# router hop as in run.sh), iperf3 over the session's tunnel.
#
# Usage: bench/tunnel/session.sh PATH/TO/mt6d SECONDS RUNS ROTATION_MS...  (root)
# Prints one Markdown row per rotation period (no header; run.sh prints it)
# and, on stderr, the server's and client's drop counters after each.
set -euo pipefail
BIN=$1
SECS=$2
RUNS=$3
shift 3
ROTS=("$@")
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROT=${ROTS[0]}
source "$BENCH/../../tests/netns/sesslib.sh" "$BIN"
source "$BENCH/measure.sh"

topology 1
swarm
keys 1 1
for ROT in "${ROTS[@]}"; do
	server_config
	start_server
	start_client 1
	wait_for 30 "client 1 in session" in_session 1
	echo "+ ip netns exec $S iperf3 -s &" >&2
	ip netns exec "$S" iperf3 -s >/dev/null 2>&1 &
	IPERF=$!
	PIDS+=($IPERF)
	sleep 0.5
	# Where packets are lost, by the kernels' own counters (nstat's
	# history reset in each namespace first), beside mt6d's below.
	for ns in "$(cns 1)" "$S" "$R"; do NSTAT_HISTORY=$TMP/nstat.$ns ip netns exec "$ns" nstat -n >/dev/null; done
	measure "mt6d server + client session ($((ROT / 1000)) s rotation)" "$(cns 1)" 2001:db8:100::1
	for ns in "$(cns 1)" "$S" "$R"; do
		echo "nstat ($ns, $ROT ms): $(NSTAT_HISTORY=$TMP/nstat.$ns ip netns exec "$ns" nstat -z TcpRetransSegs TcpExtTCPSACKReorder \
			Udp6RcvbufErrors Udp6SndbufErrors Udp6InErrors Ip6InDiscards Ip6OutDiscards |
			awk 'NR > 1 && $2 != 0 {printf "%s=%s ", $1, $2}')" >&2
	done
	for n in server c1; do
		echo "dropped ($n, $ROT ms): $(json "$n" "j.get('dropped')")" >&2
		echo "datapath ($n, $ROT ms): $(json "$n" "j.get('datapath')")" >&2
	done
	kill "$IPERF" 2>/dev/null || true
	wait "$IPERF" 2>/dev/null || true
	stop c1
	stop server
done
