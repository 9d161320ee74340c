#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""DHT lookup benchmark: mt6d against libtorrent in one local swarm.

A swarm of NODES mt6d nodes (one `mt6d dht swarm` process) and LT
libtorrent sessions (this process) on 127.0.0.1. LOOKUPS infohashes are
announced and LOOKUPS mutable items put (by the mt6d CLI). Then the same
lookups run twice, one after another:
  mt6d:       one warmed-up full node (`mt6d dht batch`) runs them;
  libtorrent: one warmed-up session runs them (dht_get_peers,
              dht_get_mutable_item), observed through its alerts.
Both sides are measured the same way: latency from the call that starts the
lookup to the notice that it ended, measured by the caller (mt6d: `dht
batch`, from the mt6d_dht_*() call to the callback; libtorrent: this
script, from the session call to the alert with its traversal's COMPLETED
log line, so libtorrent's figure includes alert delivery to Python), nodes
contacted (distinct nodes queried for the target), hops (referral depth of
the closest node that answered: nodes taken from the routing table are
hop 1, a node first learnt from an answer of a hop-d node is hop d+1, the
least depth counts), success (the announced port or the put value found).
mt6d computes its own numbers (--stats); libtorrent's are rebuilt from its
DHT packet log. Last, for 50 of the items, how many of the 8 nodes truly
closest to the target (ids of every node, asked by ping) hold it: a lookup
that stops in the wrong neighbourhood shows here. Loopback only.

Usage: bench.py PATH-TO-MT6D [--nodes 1000] [--lt 20] [--lookups 200]"""
import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "tests", "cli"))
from dhtlib import Krpc, bdecode, free_ports, run, spawn  # noqa: E402
import libtorrent as lt  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("mt6d")
ap.add_argument("--nodes", type=int, default=1000)
ap.add_argument("--lt", type=int, default=20)
ap.add_argument("--lookups", type=int, default=200)
ap.add_argument("--warmup", type=int, default=60)
ap.add_argument("--json", default=None)
args = ap.parse_args()
MT6D = args.mt6d
N, L, M = args.nodes, args.lt, args.lookups

base = free_ports(N + L + 2)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


swarm = spawn([MT6D, "dht", "swarm", "--count", str(N), "--listen", "127.0.0.1",
               "--base-port", str(base)])
swarm.stdout.readline()
log("swarm of %d mt6d nodes on ports %d-%d" % (N, base, base + N - 1))

sessions = []
for i in range(L):
    s = lt.session({
        "listen_interfaces": "127.0.0.1:%d" % (base + N + i),
        "dht_bootstrap_nodes": "", "enable_dht": True, "enable_lsd": False,
        "enable_upnp": False, "enable_natpmp": False,
        "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
        "dht_block_ratelimit": 1000000, "dht_upload_rate_limit": 10000000,
        "alert_mask": lt.alert.category_t.all_categories if i == 0 else 0,
        # the lookups are rebuilt from alerts: none may be dropped
        "alert_queue_size": 1000000,
    })
    for j in range(3):
        s.add_dht_node(("127.0.0.1", base + (i * 37 + j * 101) % N))
    sessions.append(s)
log("%d libtorrent sessions" % L)

batch_port = base + N + L
log("warming up %d s" % (args.warmup // 2))
time.sleep(args.warmup // 2)


def boot():
    return "127.0.0.1:%d" % (base + int.from_bytes(os.urandom(2), "big") % N)


ihs, items = [], []
stored = []
for i in range(M):
    ih = os.urandom(20)
    rc, js, _ = run([MT6D, "dht", "announce", "--bootstrap", boot(), "--infohash", ih.hex(),
                     "--port", str(10000 + i)])
    ihs.append((ih, 10000 + i))
    stored.append(js["stored_on"] if js else 0)
    seed = os.urandom(32).hex()
    value = "bench item %d" % i
    rc, js, _ = run([MT6D, "dht", "put", "--bootstrap", boot(), "--value", value, "--seed", seed])
    items.append((bytes.fromhex(js["public_key"]), value))
    stored.append(js["stored_on"] if js else 0)
log("published %d announces and %d mutable items; stored on min %d, median %d nodes" %
    (M, M, min(stored), statistics.median(stored)))

# ---- mt6d ----
lines = "".join("get-peers %s\n" % ih.hex() for ih, _ in ihs)
lines += "".join("get-mutable %s\n" % pk.hex() for pk, _ in items)
p = subprocess.run([MT6D, "dht", "batch", "--bootstrap", boot(), "--bootstrap", boot(),
                    "--listen", "127.0.0.1:%d" % batch_port, "--warmup",
                    str(args.warmup // 2)], input=lines, capture_output=True, text=True,
                   timeout=args.warmup + 60 * 2 * M)
out = [json.loads(x) for x in p.stdout.splitlines()]
res = {"mt6d": {"get_peers": [], "get": []}, "libtorrent": {"get_peers": [], "get": []}}
for k, o in enumerate(out):
    if k < M:
        ok = "127.0.0.1:%d" % ihs[k][1] in o["peers"]
        res["mt6d"]["get_peers"].append((ok, o["elapsed_us"] / 1000.0, o["hops"],
                                          o["nodes_contacted"]))
    else:
        ok = o["value"] == items[k - M][1]
        res["mt6d"]["get"].append((ok, o["elapsed_us"] / 1000.0, o["hops"], o["nodes_contacted"]))
log("mt6d: %d lookups done" % len(out))

# ---- libtorrent ----
s = sessions[0]


def xor(a, b):
    return int.from_bytes(a, "big") ^ int.from_bytes(b, "big")


def lt_lookup(start, target, found):
    """Run one lookup; rebuild its numbers from the packet and traversal log."""
    s.pop_alerts()
    t0 = time.monotonic()
    start()
    tid = None
    ok = False
    queried = {}      # endpoint -> transaction ids
    txn = {}          # transaction id -> endpoint
    depth = {}        # endpoint -> hop
    answered = {}     # endpoint -> node id
    listed_before = set()
    end = t0 + 30
    done_at = None
    while time.monotonic() < end and done_at is None:
        s.wait_for_alert(100)
        for a in s.pop_alerts():
            if isinstance(a, lt.dht_log_alert):
                m = a.log_message() if hasattr(a, "log_message") else a.message()
                if "NEW target: " + target.hex() in m:
                    tid = m.split("[")[1].split("]")[0]
                elif tid and ("[%s] COMPLETED" % tid) in m:
                    done_at = time.monotonic()
            elif isinstance(a, lt.dht_pkt_alert):
                msg = a.message()
                ep = msg.split("[")[1].split("]")[0]
                try:
                    pkt = bdecode(a.pkt_buf)
                except Exception:
                    continue
                if msg.startswith("==>") and pkt.get(b"y") == b"q":
                    args_ = pkt.get(b"a", {})
                    if args_.get(b"info_hash") == target or args_.get(b"target") == target:
                        txn[pkt[b"t"]] = ep
                        if ep not in depth:
                            depth[ep] = 1
                        queried.setdefault(ep, 0)
                        queried[ep] += 1
                elif msg.startswith("<==") and pkt.get(b"y") == b"r" and \
                        txn.get(pkt.get(b"t")) == ep:
                    r = pkt[b"r"]
                    answered[ep] = r.get(b"id", b"")
                    nodes = r.get(b"nodes", b"")
                    for i in range(0, len(nodes) - 25, 26):
                        ip = ".".join(str(x) for x in nodes[i + 20:i + 24])
                        port = int.from_bytes(nodes[i + 24:i + 26], "big")
                        nep = "%s:%d" % (ip, port)
                        d = depth.get(ep, 1) + 1
                        if nep not in queried and (nep not in depth or d < depth[nep]):
                            depth[nep] = d
                        elif nep in depth and d < depth[nep]:
                            depth[nep] = d
            if found(a):
                ok = True
    ms = (done_at or time.monotonic()) - t0
    best = min((xor(i, target), ep) for ep, i in answered.items() if len(i) == 20) \
        if answered else None
    hops = depth.get(best[1], 0) if best else 0
    return ok and done_at is not None, ms * 1000.0, hops, len(queried)


for n, (ih, port) in enumerate(ihs):
    if os.environ.get("BENCH_DEBUG"):
        log("lt lookup", n, time.monotonic())
    want = ("127.0.0.1", port)
    r = lt_lookup(lambda: s.dht_get_peers(lt.sha1_hash(ih)), ih,
                  lambda a: isinstance(a, lt.dht_get_peers_reply_alert) and
                  any(tuple(p) == want for p in a.peers()))
    res["libtorrent"]["get_peers"].append(r)
for pk, value in items:
    target = hashlib.sha1(pk).digest()

    def found(a, value=value):
        if not isinstance(a, lt.dht_mutable_item_alert):
            return False
        try:
            it = a.item
        except RuntimeError:  # an empty item: nothing found
            return False
        if isinstance(it, dict):
            it = it.get("value", it.get(b"value"))
        if isinstance(it, bytes):
            it = it.decode(errors="replace")
        return it == value
    r = lt_lookup(lambda: s.dht_get_mutable_item(pk, b""), target, found)
    res["libtorrent"]["get"].append(r)
log("libtorrent: %d lookups done" % (2 * M))


# ---- placement: do the stored items sit on the true 8 closest nodes? ----
k = Krpc()
ids = {}
for port in range(base, base + N + L):
    r = k.query(("127.0.0.1", port), "ping", {}, timeout=1.0)
    if r and b"r" in r:
        ids[port] = r[b"r"][b"id"]
placement = []
for pk, _ in items[:50]:
    target = hashlib.sha1(pk).digest()
    close = sorted(ids, key=lambda p: int.from_bytes(ids[p], "big") ^
                   int.from_bytes(target, "big"))[:8]
    held = 0
    for port in close:
        r = k.query(("127.0.0.1", port), "get", {"target": target}, timeout=1.0)
        held += bool(r and b"r" in r and b"v" in r[b"r"])
    placement.append(held)
log("placement: of the 8 nodes closest to each of %d mutable items (%d node ids known), "
    "held by min %d, median %s" % (len(placement), len(ids), min(placement),
                                   statistics.median(placement)))


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100.0 * (len(xs) - 1))))]


summary = {}
print("| implementation | lookup | success | p50 ms | p99 ms | median hops | mean hops "
      "| median nodes contacted |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for impl in ("mt6d", "libtorrent"):
    for op in ("get_peers", "get"):
        rows = res[impl][op]
        ok = [r for r in rows if r[0]]
        lat = [r[1] for r in rows]
        hops = [r[2] for r in rows]
        cont = [r[3] for r in rows]
        summary["%s.%s" % (impl, op)] = {
            "n": len(rows), "success": len(ok) / max(1, len(rows)),
            "p50_ms": pct(lat, 50) if lat else None, "p99_ms": pct(lat, 99) if lat else None,
            "median_hops": statistics.median(hops) if hops else None,
            "mean_hops": statistics.mean(hops) if hops else None,
            "median_contacted": statistics.median(cont) if cont else None}
        v = summary["%s.%s" % (impl, op)]
        print("| %s | %s | %d/%d (%.1f%%) | %.1f | %.1f | %s | %.2f | %s |" % (
            impl, "get_peers" if op == "get_peers" else "mutable get", len(ok), len(rows),
            100.0 * v["success"], v["p50_ms"], v["p99_ms"], v["median_hops"], v["mean_hops"],
            v["median_contacted"]))
if args.json:
    with open(args.json, "w") as f:
        json.dump({"summary": summary, "raw": res, "nodes": N, "libtorrent_sessions": L,
                   "placement": placement}, f)
