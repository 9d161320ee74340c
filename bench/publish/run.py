#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
Benchmark: publish one window for many registered clients in a local swarm,
per transport, then look up as clients and report latency.

  bench/publish/run.py MT6D [--clients 15000] [--nodes 500] [--lookups 200]
                            [--transports bep44,stuffing]

Everything runs on 127.0.0.1: one `mt6d dht swarm` process with --nodes
nodes (no rate limit: they all share one IP), a one-shot `mt6d publish`
per transport, and `mt6d lookup` processes. Prints a Markdown table for
docs/bench.md.
"""
import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/cli"))
from dhtlib import free_ports, spawn  # noqa: E402
from nacl.public import PrivateKey  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("mt6d")
ap.add_argument("--clients", type=int, default=15000)
ap.add_argument("--nodes", type=int, default=500)
ap.add_argument("--lookups", type=int, default=200)
ap.add_argument("--transports", default="bep44,stuffing")
args = ap.parse_args()

tmp = tempfile.TemporaryDirectory()
os.umask(0o077)


def path(n):
    return os.path.join(tmp.name, n)


def keyfile(name, k):
    with open(path(name), "w") as f:
        f.write(base64.b64encode(bytes(k)).decode() + "\n")


base = free_ports(args.nodes + 2)
t0 = time.time()
swarm = spawn([args.mt6d, "dht", "swarm", "--count", str(args.nodes), "--listen", "127.0.0.1",
               "--base-port", str(base)])
json.loads(swarm.stdout.readline())
time.sleep(5)  # let the routing tables fill
print("swarm of %d nodes up in %.1f s" % (args.nodes, time.time() - t0), file=sys.stderr)

server = PrivateKey.generate()
keyfile("server.key", server)
spub = base64.b64encode(bytes(server.public_key)).decode()
lookers = []
with open(path("clients"), "w") as f:
    for i in range(args.clients):
        k = PrivateKey.generate()
        if i < args.lookups:
            keyfile("c%d.key" % i, k)
            lookers.append(i)
        f.write("%s c%d\n" % (base64.b64encode(bytes(k.public_key)).decode(), i))

rows = []
for transport in args.transports.split(","):
    conf = path("server-%s.conf" % transport)
    with open(conf, "w") as f:
        f.write("[server]\nprivate_key = %s\nclients = %s\nprefix = 2001:db8:b::/64\n"
                "transport = %s\npublish_inflight = 256\n[dht]\nlisten = 127.0.0.1:%d\n"
                "bootstrap = 127.0.0.1:%d\n" % (path("server.key"), path("clients"), transport,
                                               base + args.nodes, base))
    t = time.time()
    p = subprocess.run([args.mt6d, "publish", "--config", conf, "--once"], capture_output=True,
                       text=True, timeout=3600)
    wall = time.time() - t
    res = json.loads(p.stdout) if p.stdout.strip() else {}
    lat, ok = [], 0
    for i in lookers:
        q = subprocess.run([args.mt6d, "lookup", "--key", path("c%d.key" % i), "--server", spub,
                            "--bootstrap", "127.0.0.1:%d" % (base + 1 + i % (args.nodes - 1)),
                            "--transport", transport], capture_output=True, text=True,
                           timeout=120)
        f = dict(l.split("=", 1) for l in q.stdout.split()) if q.returncode == 0 else {}
        if "elapsed_ms" in f:
            ok += 1
            lat.append(int(f["elapsed_ms"]))
    lat.sort()
    rows.append((transport, res, wall, ok, lat))
    print("%s: %s" % (transport, p.stdout.strip() or p.stderr[-400:]), file=sys.stderr)

print("| transport | clients | nodes | publish time | DHT messages sent | per client | failed | "
      "longest slice | lookups found | lookup p50 | lookup p99 |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for transport, res, wall, ok, lat in rows:
    p50 = lat[len(lat) // 2] if lat else -1
    p99 = lat[min(len(lat) - 1, (len(lat) * 99) // 100)] if lat else -1
    print("| %s | %d | %d | %.1f s | %s | %.0f | %s | %.1f ms | %d/%d | %d ms | %d ms |" % (
        transport, args.clients, args.nodes, res.get("elapsed_ms", 0) / 1000.0,
        res.get("dht_messages", "?"), res.get("dht_messages", 0) / max(1, args.clients),
        res.get("failed", "?"), res.get("max_slice_ms", -1), ok, len(lookers), p50, p99))
