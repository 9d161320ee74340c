#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mt6d web end to end (docs/web.md), in namespaces (tests/netns/sesslib.sh): a server
# and 3 clients with 1 s rotation, a dashboard for the server and one for client 1.
#  1. the control socket: 20 peers that send nothing or never read do not stall the
#     server while client 1 streams pings through its session (issue 15);
#  2. headless Chromium: each session's timeline shows >= 3 distinct outer addresses
#     within 5 slots, the page shows 3 sessions, client 3's teardown shows it down, no
#     console error; a PNG screenshot (WEB_SCREENSHOT=PATH keeps it);
#  3. /metrics parses and equals show --json; the client's dashboard serves its status;
#  4. SSE: one rotation per slot per session, in order;
#  5. bad input: malformed requests, oversized headers, 1,000 connections, unknown
#     paths, other methods: a 4xx each, no crash, memory bounded;
#  6. listening on a non-loopback address needs --token-file; with it, every data path
#     wants the bearer token;
#  7. none of the run's private keys appears in any response.
# Usage: test_web_browser.sh PATH/TO/mt6d   (root; about 1.5 minutes)
source "$(dirname "$0")/../netns/sesslib.sh"
ROT=1000
PERIOD=900
WEBCHECK="/usr/bin/python3 $HERE/../web/webcheck.py"
export WEBCHECK_LOG=$TMP/responses.log
export HOME=$TMP
: >"$WEBCHECK_LOG"

topology 3
swarm
keys 3 3
server_config
start_server
for i in 1 2 3; do start_client "$i"; done
for i in 1 2 3; do wait_for 30 "client $i in session" in_session "$i"; done

# web NS NAME ARGS...: mt6d web in NS, log to NAME.log
web() {
	local ns=$1 name=$2
	shift 2
	echo "+ ip netns exec $ns $MT6D web $* 2>$TMP/$name.log &" >&2
	ip netns exec "$ns" "$MT6D" web "$@" 2>>"$TMP/$name.log" &
	PIDS+=($!)
	eval "PID_$name=$!"
}
web "$S" web_server --socket "$TMP/server.sock"
web "$(cns 1)" web_c1 --socket "$TMP/c1.sock" --listen "[::1]:8646"
up() { ip netns exec "$1" /usr/bin/python3 -c "import urllib.request; urllib.request.urlopen('$2', timeout=2)"; }
wait_for 10 "server dashboard answers" up "$S" http://127.0.0.1:8646/
wait_for 10 "client dashboard answers" up "$(cns 1)" "http://[::1]:8646/"

echo "== traffic through every session while the checks run"
for i in 1 2 3; do
	ip netns exec "$(cns "$i")" ping -6 -q -i 0.2 -w 80 2001:db8:100::1 >"$TMP/ping$i.out" 2>&1 &
	PIDS+=($!)
done

echo "== 1. the control socket: 20 stuck peers while client 1 streams"
$WEBCHECK stuck "$TMP/server.sock" 8 &
STUCK=$!
PIDS+=($STUCK)
sleep 0.5
t0=$(date +%s.%N)
run "$MT6D" show --socket "$TMP/server.sock" >/dev/null
t1=$(date +%s.%N)
echo "+ mt6d show answered in $(echo "$t1 - $t0" | bc) s with 20 stuck peers"
[ "$(echo "$t1 - $t0 < 1" | bc)" = 1 ] || { echo "FAIL: the server's control socket stalled"; exit 1; }
run ip netns exec "$(cns 1)" ping -6 -c 50 -i 0.1 -W 1 2001:db8:100::1 | tee "$TMP/ping-stuck.out" | tail -2
got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$TMP/ping-stuck.out")
[ "${got:-0}" -ge 49 ] || { echo "FAIL: $got of 50 pings through the session with stuck peers"; exit 1; }
wait "$STUCK"
is server "j['session_count']==3" || { echo "FAIL: a session was lost"; exit 1; }

echo "== 2. the dashboard in headless Chromium"
SHOT=${WEB_SCREENSHOT:-$TMP/dashboard.png}
run ip netns exec "$S" env HOME="$TMP" $WEBCHECK browser http://127.0.0.1:8646/ "$SHOT" \
	client1,client2,client3 client3 "kill -INT $PID_c3" $ROT
wait_for 10 "server holds 2 sessions" is server "j['session_count']==2"

echo "== 3. /metrics against show --json; the client's dashboard"
run ip netns exec "$S" $WEBCHECK metrics http://127.0.0.1:8646 "$MT6D" "$TMP/server.sock"
ip netns exec "$(cns 1)" /usr/bin/python3 - "$MT6D" "$TMP/c1.sock" <<'PY'
import json, subprocess, sys, urllib.request
st = json.load(urllib.request.urlopen("http://[::1]:8646/api/v1/status", timeout=5))
m = urllib.request.urlopen("http://[::1]:8646/metrics", timeout=5).read().decode()
assert st["role"] == "client" and st["state"] == "session", st
assert "mt6d_sessions 1\n" in m, m
print("ok: the client's dashboard: role client, state session, mt6d_sessions 1")
PY

echo "== 4. SSE: one rotation per slot per session, in order"
run ip netns exec "$S" $WEBCHECK sse http://127.0.0.1:8646 5 2 $ROT

echo "== 5. bad input"
run ip netns exec "$S" $WEBCHECK badinput 127.0.0.1 8646 "$PID_web_server"
kill -0 "$PID_web_server" || { echo "FAIL: mt6d web died"; exit 1; }

echo "== 6. non-loopback listening needs a token"
if ip netns exec "$S" "$MT6D" web --socket "$TMP/server.sock" --listen "[2001:db8:5:1::2]:8647" \
	2>"$TMP/refused.log"; then
	echo "FAIL: mt6d web served a non-loopback address without a token"; exit 1
fi
run cat "$TMP/refused.log"
grep -q "not a loopback address" "$TMP/refused.log" || { echo "FAIL: unclear refusal"; exit 1; }
(umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$TMP/token")
web "$S" web_token --socket "$TMP/server.sock" --listen "[2001:db8:5:1::2]:8647" \
	--token-file "$TMP/token"
wait_for 10 "token dashboard answers" up "$(cns 1)" "http://[2001:db8:5:1::2]:8647/"
ip netns exec "$(cns 1)" /usr/bin/python3 - "$(cat "$TMP/token")" <<'PY'
import sys, urllib.request, urllib.error
base, tok = "http://[2001:db8:5:1::2]:8647", sys.argv[1]
def code(path, auth=None):
    h = {"Authorization": auth} if auth else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(base + path, headers=h), timeout=5) as r:
            body = r.read()
            return r.status, body
    except urllib.error.HTTPError as e:
        return e.code, e.read()
for p in ("/api/v1/status", "/metrics", "/api/v1/events"):
    for auth in (None, "Bearer wrong", "Bearer " + tok[:-1], "Basic " + tok):
        c, body = code(p, auth)
        assert c == 401, (p, auth, c)
        assert tok.encode() not in body
c, _ = code("/api/v1/status", "Bearer " + tok)
assert c == 200, c
c, _ = code("/metrics", "Bearer " + tok)
assert c == 200, c
c, _ = code("/")
assert c == 200, c
print("ok: without the token or with a wrong one 401 on every data path; with it 200; / is static")
PY

echo "== 7. no key material in any response"
run $WEBCHECK secrets "$WEBCHECK_LOG" "$TMP/server.key" "$TMP"/c[123].key
grep -q 'mt6d web: serving' "$TMP/web_server.log"
echo "PASS"
