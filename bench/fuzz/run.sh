#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fuzzing depth (issue 15): each libFuzzer target runs until RUNS
# executions (10,000,000) or SECONDS_MAX (3600) seconds, whichever comes
# first, from its committed corpus; then what it found that adds coverage
# is merged into fuzz/corpus/NAME (-merge=1; the committed seeds, named
# regressions among them, stay). Prints
# one row per target: executions, seconds, corpus files before and after,
# crash or not. A crash leaves its input in $OUT and stops that target.
# Usage: bench/fuzz/run.sh [TARGET ...]   (all of build/fuzz/fuzz/fuzz_* by
#        default; cmake --preset fuzz && cmake --build --preset fuzz first)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-10000000}
SECONDS_MAX=${SECONDS_MAX:-3600}
OUT=$(mktemp -d /tmp/mt6d-fuzzdepth.XXXXXX)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || for f in build/fuzz/fuzz/fuzz_*; do [ -x "$f" ] && targets+=("$(basename "$f")"); done
printf '| target | executions | seconds | corpus before | corpus after | result |\n| --- | --- | --- | --- | --- | --- |\n'
status=0
for t in "${targets[@]}"; do
	bin=build/fuzz/fuzz/$t
	seeds=fuzz/corpus/$t
	mkdir -p "$seeds"
	work=$OUT/$t
	mkdir -p "$work"
	cp -r "$seeds/." "$work/" 2>/dev/null || true
	before=$(find "$seeds" -type f | wc -l)
	start=$(date +%s)
	if "$bin" -runs="$RUNS" -max_total_time="$SECONDS_MAX" -print_final_stats=1 \
		-artifact_prefix="$OUT/$t-" "$work" >"$OUT/$t.log" 2>&1; then
		result="no crash"
	else
		result="CRASH: $(ls "$OUT/$t-"* 2>/dev/null | head -1)"
		status=1
	fi
	secs=$(($(date +%s) - start))
	runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$OUT/$t.log" | grep -o '[0-9]*$' || echo "?")
	# what adds coverage to the committed seeds joins them
	"$bin" -merge=1 "$seeds" "$work" >"$OUT/$t.merge.log" 2>&1 || true
	after=$(find "$seeds" -type f | wc -l)
	printf '| %s | %s | %s | %s | %s | %s |\n' "$t" "$runs" "$secs" "$before" "$after" "$result"
done
[ "$status" = 0 ] && rm -rf "$OUT"
exit "$status"
