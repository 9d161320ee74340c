#!/usr/bin/env bash
# A walk-through of protocol v1 with the mt6d command alone (no daemons, no
# root needed once built): keys, the rendezvous location a server and a client
# both compute, the sealed configuration, port stuffing, rotating addresses.
# The main job, with daemons in network namespaces, is scripts/demo.sh.
# Installs dependencies and builds first. Writes only to a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)" >/dev/null
mt6d=$PWD/build/release/mt6d

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; eval "$@"; }

step "Keys: the server and a client each make an X25519 key pair (private files are 0600)"
umask 077
run "$mt6d genkey > server.key"
run "$mt6d genkey > client.key"
run "$mt6d pubkey < server.key > server.pub"
run "$mt6d pubkey < client.key > client.pub"
printf 'server public key: %s\nclient public key: %s\n' "$(cat server.pub)" "$(cat client.pub)"

now=$(date +%s)
step "Blind rendezvous: both sides compute the same DHT location for window T (n = 900 s)"
run "$mt6d derive descriptor --key server.key --peer \$(cat client.pub) --time $now"
run "$mt6d derive descriptor --key client.key --peer \$(cat server.pub) --time $now"
echo "BEP 44 target and signing key (the default transport):"
run "$mt6d derive bep44 --key client.key --peer \$(cat server.pub) --time $now"

step "The server seals this window's configuration for this client only"
K=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
run "$mt6d seal --key server.key --peer \$(cat client.pub) --time $now --rot-ms 3000 --seed-address 2001:db8:5::1 --intro-key $K > m.hex"
echo "m ($(($(wc -c < m.hex) / 2)) bytes): $(cat m.hex)"
run "$mt6d open --key client.key --peer \$(cat server.pub) < m.hex"
echo "Another client cannot open it:"
run "$mt6d genkey > other.key"
run "$mt6d open --key other.key --peer \$(cat server.pub) < m.hex || true"

step "Port stuffing (the patent's BEP 5 transport): m as 85 announced ports"
run "$mt6d stuff < m.hex > ports.txt"
echo "first ports: $(head -5 ports.txt | tr '\n' ' ')..."
run "$mt6d unstuff < ports.txt | cmp - m.hex && echo 'unstuffed: identical to m'"

step "Moving target: the client's seed IID and its address and port, slot by slot (3 s)"
iid=$($mt6d derive seed-iid --key client.key --peer "$(cat server.pub)" --intro-key "$K")
echo "client seed IID: $iid"
ms=$(($(date +%s%N) / 1000000))
for i in 0 1 2 3 4; do
	t=$((ms + i * 3000))
	printf 'slot +%d: ' "$i"
	$mt6d derive address --prefix 2001:db8:c::/64 --iid "$iid" --session-key "$K" --time-ms "$t" --rot-ms 3000
done
echo
echo "Done. See docs/protocol.md for every formula and its test vectors."
