# SPDX-License-Identifier: MIT
# Sourced by bench/tunnel/run.sh and session.sh (not a benchmark itself).
# measure LABEL NS ADDR: from namespace NS to an iperf3 server at ADDR,
# RUNS x SECS s of TCP each way (up: NS sends; down: -R), then 50 pings.
# Prints one Markdown row:
#   | LABEL | up Gbit/s | down Gbit/s | runs up / down | RTT ms | retransmits per run |
# medians of the runs; retransmits are the sender's TCP retransmits
# (iperf3's sum_sent.retransmits), the median per SECS-second run, up and down.
measure() {
	local label=$1 ns=$2 addr=$3 up=() down=() rup=() rdown=() v r rtt dir
	run ip netns exec "$ns" ping -6 -c 3 -i 0.2 -w 5 "$addr" >/dev/null
	for _ in $(seq "$RUNS"); do
		for dir in up down; do
			# Bounded: an iperf3 client was once seen spinning past its -t.
			if ! ip netns exec "$ns" timeout $((SECS + 30)) iperf3 -6 -c "$addr" -t "$SECS" -J \
				$([ $dir = down ] && echo -R) >"$TMP/iperf.json"; then
				echo "iperf3 to $addr ($dir) failed:" >&2
				head -c 3000 "$TMP/iperf.json" >&2
				return 1
			fi
			read -r v r < <(/usr/bin/python3 -c 'import json,sys
e = json.load(sys.stdin)["end"]
print("%.2f %d" % (e["sum_received"]["bits_per_second"] / 1e9, e["sum_sent"].get("retransmits", 0)))' <"$TMP/iperf.json")
			echo "  $label $dir: $v Gbit/s, $r retransmits" >&2
			if [ $dir = up ]; then up+=("$v"); rup+=("$r"); else down+=("$v"); rdown+=("$r"); fi
		done
	done
	rtt=$(ip netns exec "$ns" ping -6 -c 50 -i 0.02 -q "$addr" | sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1|p')
	median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
	printf '| %s | %s | %s | %s / %s | %s | %s / %s |\n' "$label" "$(median "${up[@]}")" \
		"$(median "${down[@]}")" "${up[*]}" "${down[*]}" "$rtt" "$(median "${rup[@]}")" \
		"$(median "${rdown[@]}")"
}

table_head() {
	echo "| path | up Gbit/s | down Gbit/s | runs (up / down) | ping RTT avg ms | TCP retransmits per ${SECS} s (up / down) |"
	echo "| --- | --- | --- | --- | --- | --- |"
}
