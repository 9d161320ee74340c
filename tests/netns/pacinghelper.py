#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
DHT send pacing (run by test_dht_pacing.sh inside its namespace, whose
loopback is shaped by a token-bucket qdisc): a full socket must not lose
datagrams. A swarm of mt6d nodes and independent libtorrent nodes; a server
publishes 12 clients by port stuffing (85 announces to each of 8 nodes per
client); the qdisc holds the burst back, so the publisher's socket, with
the system's default send buffer, meets EAGAIN. Checks:
  1. the publisher's DHT queued datagrams (the path under test was taken),
     dropped none and had no send errors;
  2. every node that holds any port of a client's d_T holds all 85, and
     they decode (by the independent unstuff of `mt6d unstuff`) to one
     message that opens with the client's key: not one announce was lost;
  3. every client finds its configuration through port stuffing, first try.

Usage: pacinghelper.py MT6D
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from dhtlib import Krpc, bounded, check, free_ports, spawn  # noqa: E402

MT6D = sys.argv[1]
NCLIENTS = 12
NM, NL = 16, 3
bounded(100)

import libtorrent as lt  # noqa: E402  (python3-libtorrent, an independent DHT)

base = free_ports(NM + NL + 2)
server_port = base + NM + NL
swarm = spawn([MT6D, "dht", "swarm", "--count", str(NM), "--listen", "127.0.0.1",
               "--base-port", str(base)])
check(json.loads(swarm.stdout.readline())["nodes"] == NM, "%d mt6d nodes started" % NM)
sessions = []
for i in range(NL):
    s = lt.session({
        "listen_interfaces": "127.0.0.1:%d" % (base + NM + i),
        "dht_bootstrap_nodes": "", "enable_dht": True, "enable_lsd": False,
        "enable_upnp": False, "enable_natpmp": False,
        "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
        "dht_block_ratelimit": 100000, "dht_upload_rate_limit": 10000000,
    })
    s.add_dht_node(("127.0.0.1", base + i))
    sessions.append(s)
print("ok: %d libtorrent nodes joined" % NL, flush=True)
time.sleep(7)

tmp = tempfile.TemporaryDirectory()
os.umask(0o077)


def sh(*args, stdin=None, timeout=60):
    p = subprocess.run([MT6D, *args], input=stdin, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def path(name):
    return os.path.join(tmp.name, name)


def genkey(name):
    _, out, _ = sh("genkey")
    with open(path(name), "w") as f:
        f.write(out)
    _, pub, _ = sh("pubkey", stdin=out)
    return pub.strip()


spub = genkey("server.key")
cpubs = [genkey("c%d.key" % i) for i in range(NCLIENTS)]
with open(path("clients"), "w") as f:
    for i, p in enumerate(cpubs):
        f.write("%s client-%d\n" % (p, i))
with open(path("s.conf"), "w") as f:
    f.write("[server]\nprivate_key = %s\nclients = %s\nprefix = 2001:db8:4::/64\n"
            "transport = stuffing\n[dht]\nlisten = 127.0.0.1:%d\nbootstrap = 127.0.0.1:%d\n"
            % (path("server.key"), path("clients"), server_port, base))

t0 = int(time.time())
rc, out, err = sh("publish", "--config", path("s.conf"), "--once", timeout=90)
res = json.loads(out) if rc == 0 else {}
check(rc == 0 and res["done"] == NCLIENTS and res["failed"] == 0,
      "published %d clients by port stuffing: %s %s" % (NCLIENTS, out.strip(), err[-300:]))
print("publisher DHT: %d datagrams queued behind a full socket, longest queue %d, "
      "%d dropped, %d send errors" % (res["dht_tx_queued"], res["dht_tx_queued"] and
                                      res["dht_txq_max"], res["dht_tx_dropped"],
                                      res["dht_tx_errors"]), flush=True)
check(res["dht_tx_queued"] > 0, "the burst met a full socket (EAGAIN): the queue was used")
check(res["dht_tx_dropped"] == 0 and res["dht_tx_errors"] == 0, "no datagram dropped or failed")

# 2. Every node that stored a client's announces stored all of them.
nodes = [("127.0.0.1", base + i) for i in range(NM + NL)]
k = Krpc()
bad, holders = [], []
for i in range(NCLIENTS):
    rc, d, _ = sh("derive", "descriptor", "--key", path("server.key"), "--peer", cpubs[i],
                  "--time", str(t0))
    ih = bytes.fromhex(d.strip())
    held = 0
    for n in nodes:
        r = k.query(n, "get_peers", {"info_hash": ih}, timeout=1.0)
        vals = (r or {}).get(b"r", {}).get(b"values", [])
        ports = sorted({int.from_bytes(v[4:6], "big") for v in vals if len(v) == 6
                        and v[:4] == bytes([127, 0, 0, 1])})
        if not ports:
            continue
        held += 1
        if len(ports) != 85:
            bad.append("client %d on %s: %d ports" % (i, n, len(ports)))
            continue
        rc, msg, err = sh("unstuff", stdin="".join("%d\n" % p for p in ports))
        rc2, _, err2 = sh("open", "--key", path("c%d.key" % i), "--peer", spub, stdin=msg)
        if rc != 0 or rc2 != 0:
            bad.append("client %d on %s: does not open (%s%s)" % (i, n, err, err2))
    holders.append(held)
check(not bad, "every node holding a client's d_T holds all 85 announces, and they open (%s)"
      % bad[:3])
check(min(holders) >= 6, "each client's announces are on >= 6 nodes (%s)" % holders)

# 3. Every client looks up through port stuffing, first try.
fails = []
for i in range(NCLIENTS):
    rc, out, err = sh("lookup", "--key", path("c%d.key" % i), "--server", spub, "--bootstrap",
                      "127.0.0.1:%d" % (base + 1 + i % (NM - 1)), "--transport", "stuffing")
    if rc != 0:
        fails.append("client %d: %s" % (i, err.strip()[-200:]))
check(not fails, "all %d clients found their configuration by port stuffing (%s)"
      % (NCLIENTS, fails[:2]))
print("dht pacing: all checks passed")
