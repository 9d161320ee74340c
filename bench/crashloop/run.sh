#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Crash loop, full length (issue 15): the server killed with SIGKILL 20
# times at the moments tests/netns/test_crash_loop.sh takes in turn, then a
# client 20 times; every restart checked as there (nothing stale, every
# client back within 10 s). The CI test does 6 of each. Several minutes.
# Usage: bench/crashloop/run.sh [PATH/TO/mt6d]   (root)
set -euo pipefail
cd "$(dirname "$0")/../.."
MT6D=${1:-build/dev/mt6d}
SERVER_KILLS=${SERVER_KILLS:-20} CLIENT_KILLS=${CLIENT_KILLS:-20} \
	exec bash tests/netns/test_crash_loop.sh "$MT6D"
