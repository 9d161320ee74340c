#!/usr/bin/env bash
# The test command: install dependencies, build twice (normal, ASan+UBSan),
# run the unit tests in both and every test (unit, command-line and DHT
# integration, network namespaces) under ASan+UBSan, then run each libFuzzer
# target briefly.
#   FUZZ_SECONDS=N   seconds per fuzz target (default 10; 0 skips fuzzing)
#   MT6D_NETNS=0     skip the network-namespace tests (they need root)
#   MT6D_PKG=0       skip the Debian package test (scripts/pkgtest.sh: build,
#                    lintian, dpkg -i, a session as the units run it; root)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

jobs=$(nproc)
fuzz_seconds=${FUZZ_SECONDS:-10}
netns=${MT6D_NETNS:-1}
[ "$(id -u)" -eq 0 ] || netns=0
label_args=()
[ "$netns" = 1 ] || label_args=(-LE netns)

echo "== build: dev"
cmake --preset dev >/dev/null
cmake --build --preset dev -j"$jobs"
echo "== build: asan-ubsan"
cmake --preset asan-ubsan >/dev/null
cmake --build --preset asan-ubsan -j"$jobs"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

status=0
echo "== unit tests: dev"
ctest --preset dev -L unit || status=1

if [ "$fuzz_seconds" -gt 0 ]; then
	echo "== fuzz: ${fuzz_seconds}s per target"
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j"$jobs"
	for f in build/fuzz/fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		name=$(basename "$f")
		corpus=$(mktemp -d)
		seeds=fuzz/corpus/$name
		dirs=("$corpus")
		[ -d "$seeds" ] && dirs+=("$seeds")
		if "$f" -max_total_time="$fuzz_seconds" -print_final_stats=1 "${dirs[@]}" \
			>"$corpus.log" 2>&1; then
			echo "fuzz $name: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$corpus.log" | grep -o '[0-9]*$') runs, no crash"
		else
			echo "fuzz $name: FAILED"; tail -40 "$corpus.log"; status=1
		fi
		rm -rf "$corpus" "$corpus.log"
	done
fi

if [ "$netns" = 1 ] && [ "${MT6D_PKG:-1}" = 1 ]; then
	echo "== package: build, lintian, dpkg -i, a session as the units run it"
	bash scripts/pkgtest.sh || status=1
fi

# Everything under the sanitizers last, so its ctest summary closes the output.
echo "== all tests: asan-ubsan"
ctest --preset asan-ubsan "${label_args[@]}" || status=1
exit $status
