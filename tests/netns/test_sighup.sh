#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SIGHUP reloads the server's registry (issue 15), in namespaces:
#  1. client 3, not registered, has no session; it is added to the registry
#     and the server gets SIGHUP: its configuration is published for the
#     live windows at once and it gets a session, while 1 and 2 keep theirs;
#  2. client 2 is removed, SIGHUP: its session ends at once on both sides
#     and it gets no new one; 1 and 3 keep theirs;
#  3. a broken registry (a bad key on line 3), SIGHUP: the server names the
#     file and the line, keeps the previous registry, and every session and
#     the publication go on; a good one then loads again.
# Usage: test_sighup.sh PATH/TO/mt6d   (root; about 60 s)
source "$(dirname "$0")/sesslib.sh"
ROT=1000
PERIOD=900 # the next window is minutes away: an added client cannot wait for it

topology 3
swarm
keys 3 2
server_config
start_server
for i in 1 2; do start_client "$i"; done
for i in 1 2; do wait_for 30 "client $i in a session" in_session "$i"; done
# Client 3 starts now so that its backoff is short (1 s, then 2 s) when it
# is added: the test measures the server, not how long a client waits.
start_client 3
wait_for 30 "client 3 had a failed rendezvous" is c3 "j['stats']['lookups_failed']>=1"
not_in_session 3 || { echo "FAIL: unregistered client 3 has a session"; exit 1; }
s1=$(json c1 "j['stats']['sessions']")
s2=$(json c2 "j['stats']['sessions']")

hup() {
	run kill -HUP "$PID_server"
	sleep 0.5
	tail -3 "$TMP/server.log"
}

echo "== 1. client 3 added"
echo "$(cat "$TMP/c3.pub") client3" >>"$TMP/clients"
t0=$(date +%s)
hup
grep -q '3 registered clients' "$TMP/server.log" || { echo "FAIL: no reload"; exit 1; }
wait_for 15 "client 3 in a session" in_session 3
echo "client 3 in a session $(($(date +%s) - t0)) s after SIGHUP"
is server "j['session_count']==3" || { echo "FAIL: server does not hold 3 sessions"; exit 1; }

echo "== 2. client 2 removed"
grep -v ' client2$' "$TMP/clients" >"$TMP/clients.new"
mv "$TMP/clients.new" "$TMP/clients"
hup
wait_for 3 "server ended client 2's session" is server "j['session_count']==2"
wait_for 3 "client 2 left its session" not_in_session 2
grep 'session down: client2' "$TMP/server.log"
sleep 8
not_in_session 2 || { echo "FAIL: removed client 2 has a session again"; exit 1; }
[ "$(json c2 "j['stats']['sessions']")" = "$s2" ] || { echo "FAIL: client 2 got a new session"; exit 1; }

echo "== 3. a broken registry"
cp "$TMP/clients" "$TMP/clients.good"
sed -i '2a not-a-key client9' "$TMP/clients"
run cat -n "$TMP/clients"
hup
grep -q "$TMP/clients: line 3: \`not-a-key' is not a base64 public key" "$TMP/server.log" ||
	{ echo "FAIL: the error does not name the file and line 3"; exit 1; }
grep -q 'keeping the previous registry' "$TMP/server.log" || { echo "FAIL: not kept"; exit 1; }
sleep 3
for i in 1 3; do in_session "$i" || { echo "FAIL: client $i lost its session"; exit 1; }; done
[ "$(json c1 "j['stats']['sessions']")" = "$s1" ] || { echo "FAIL: client 1 had to start again"; exit 1; }
is server "j['session_count']==2" || { echo "FAIL: server sessions changed"; exit 1; }
run ip netns exec "$(cns 1)" ping -6 -c 3 -i 0.3 -w 5 2001:db8:100::1
run ip netns exec "$(cns 3)" ping -6 -c 3 -i 0.3 -w 5 2001:db8:100::1
mv "$TMP/clients.good" "$TMP/clients"
hup
[ "$(grep -c '2 registered clients' "$TMP/server.log")" -ge 2 ] || { echo "FAIL: the good registry did not load"; exit 1; }

echo "== SIGINT, nothing left"
stop server
for i in 1 2 3; do stop "c$i"; done
check_server_clean
for i in 1 2 3; do check_client_clean "$i"; done
echo "PASS"
