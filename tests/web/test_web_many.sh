#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The dashboard with 10,000 sessions (docs/web.md, "Many sessions"): a stand-in daemon
# (tests/web/standin.py, 10,000 rotation events a second) behind a real mt6d web on
# 127.0.0.1, headless Chromium on the page: every row in the table, only the rows in
# view laid out, a row brought into view current, the timelines following the stream,
# no console error (tests/web/manycheck.py).
# Usage: test_web_many.sh PATH/TO/mt6d [SIMCLIENTS, unused]   (no root needed; < 1 minute)
set -euo pipefail
MT6D=$(readlink -f "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec /usr/bin/python3 "$HERE/manycheck.py" "$MT6D" "${WEB_MANY_SESSIONS:-10000}"
