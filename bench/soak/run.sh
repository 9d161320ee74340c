#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Soak, long (issue 15): tests/netns/test_soak.sh for an hour (SOAK_SECONDS,
# 3600): 3 real clients pinging through their sessions, RSS, descriptors,
# sessions and slot drift at the start and the end. Not yet here: the
# 1,000 simulated sessions at 1 s rotation (bench/sessions/simclients.c)
# the issue asks for beside them, and a count of libev timers.
# Usage: bench/soak/run.sh [PATH/TO/mt6d]   (root)
set -euo pipefail
cd "$(dirname "$0")/../.."
MT6D=${1:-build/dev/mt6d}
SOAK_SECONDS=${SOAK_SECONDS:-3600} exec bash tests/netns/test_soak.sh "$MT6D"
