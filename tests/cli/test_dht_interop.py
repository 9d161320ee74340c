#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Interoperability with libtorrent (python3-libtorrent 2.0.8): 20 mt6d nodes
(one `mt6d dht swarm`) and 10 libtorrent sessions form one swarm on
127.0.0.1, and each side stores what the other side reads:
  libtorrent announce (a torrent added by infohash), immutable put and
  mutable put (salted) -> mt6d get-peers / get;
  mt6d announce, immutable put and mutable put -> libtorrent dht_get_peers,
  dht_get_immutable_item, dht_get_mutable_item.
libtorrent's session.dht_announce cannot be called from Python in 2.0.8
(no converter for its flags), hence the torrent. Usage: test_dht_interop.py MT6D"""
import hashlib
import json
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dhtlib import bounded, check, free_ports, run, spawn  # noqa: E402

try:
    import libtorrent as lt
except ImportError:
    # scripts/deps.sh installs it: the interop test must not skip silently in CI
    sys.exit("FAIL: python3-libtorrent is not installed")

MT6D = sys.argv[1]
NM, NL = 20, 10
bounded(300)
base = free_ports(NM + NL)
lt_ports = [base + NM + i for i in range(NL)]
swarm = spawn([MT6D, "dht", "swarm", "--count", str(NM), "--listen", "127.0.0.1",
               "--base-port", str(base),
               "--bootstrap", "127.0.0.1:%d" % lt_ports[0]])
check(json.loads(swarm.stdout.readline())["nodes"] == NM, "%d mt6d nodes started" % NM)


def lt_session(port):
    s = lt.session({
        "listen_interfaces": "127.0.0.1:%d" % port,
        "dht_bootstrap_nodes": "",
        "enable_dht": True, "enable_lsd": False, "enable_upnp": False,
        "enable_natpmp": False,
        "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
        "dht_block_ratelimit": 100000, "dht_upload_rate_limit": 1000000,
        "alert_mask": lt.alert.category_t.all_categories,
    })
    s.add_dht_node(("127.0.0.1", base))
    s.add_dht_node(("127.0.0.1", lt_ports[0]))
    return s


sessions = [lt_session(p) for p in lt_ports]


def wait_alert(s, kind, pred=lambda a: True, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        s.wait_for_alert(500)
        for a in s.pop_alerts():
            if isinstance(a, kind) and pred(a):
                return a
    return None


def item_text(item):
    """The binding hands items over as str, bytes, or a {'key','value'} dict."""
    if isinstance(item, dict):
        item = item.get("value", item.get(b"value"))
    if isinstance(item, bytes):
        item = item.decode(errors="replace")
    return item


def mt(*args):
    return run([MT6D, "dht"] + list(args) + ["--bootstrap", "127.0.0.1:%d" % (base + 5)])


# the swarm is ready when an mt6d lookup reaches 8 nodes, some of them libtorrent's
for _ in range(60):
    rc, js, _ = mt("get-peers", "--infohash", os.urandom(20).hex())
    if rc == 0 and js["nodes_answered"] >= 8:
        break
    time.sleep(0.5)
check(js["nodes_answered"] >= 8, "mixed swarm answers lookups (%d nodes)" % js["nodes_answered"])
known = []
for _ in range(20):
    known = []
    for s in sessions:
        s.post_dht_stats()
        a = wait_alert(s, lt.dht_stats_alert, timeout=5)
        known.append(sum(b["num_nodes"] for b in a.routing_table) if a else 0)
    if min(known) >= 4:
        break
    time.sleep(1)
check(min(known) >= 4, "every libtorrent node knows 4 or more nodes: %s" % known)

# ---- libtorrent stores, mt6d reads ----
tmp = tempfile.mkdtemp(prefix="mt6d-interop-")
ih = os.urandom(20)
atp = lt.add_torrent_params()
atp.info_hashes = lt.info_hash_t(lt.sha1_hash(ih))
atp.save_path = tmp
sessions[3].add_torrent(atp)
want = "127.0.0.1:%d" % lt_ports[3]
peers = []
for _ in range(60):
    rc, js, _ = mt("get-peers", "--infohash", ih.hex())
    peers = js["peers"] if js else []
    if want in peers:
        break
    time.sleep(1)
check(want in peers, "libtorrent announce read by mt6d get-peers: %s" % peers)

target = sessions[1].dht_put_immutable_item("from libtorrent")
a = wait_alert(sessions[1], lt.dht_put_alert)
check(a is not None and a.num_success >= 1, "libtorrent immutable put (%d nodes)" %
      (a.num_success if a else -1))
rc, js, _ = mt("get", "--target", str(target))
check(rc == 0 and js["value"] == "from libtorrent", "libtorrent immutable item read by mt6d")

seed = os.urandom(32)
h = bytearray(hashlib.sha512(seed).digest())  # libtorrent wants the expanded key
h[0] &= 248
h[31] &= 127
h[31] |= 64
try:
    import nacl.signing
    pk = nacl.signing.SigningKey(seed).verify_key.encode()
except ImportError:
    pk = None
if pk:
    sessions[2].dht_put_mutable_item(bytes(h), pk, "libtorrent mutable", b"salty")
    a = wait_alert(sessions[2], lt.dht_put_alert)
    check(a is not None and a.num_success >= 1, "libtorrent mutable put")
    rc, js, _ = mt("get", "--public-key", pk.hex(), "--salt", "salty")
    check(rc == 0 and js["value"] == "libtorrent mutable" and js["seq"] == 1,
          "libtorrent mutable item read by mt6d (seq %s)" % (js and js["seq"]))

# ---- mt6d stores, libtorrent reads ----
ih2 = os.urandom(20)
rc, js, _ = mt("announce", "--infohash", ih2.hex(), "--port", "5555", "--port", "6666")
check(rc == 0 and js["stored_on"] >= 6, "mt6d announce stored on %d nodes" % js["stored_on"])
got = set()
for _ in range(5):
    sessions[6].dht_get_peers(lt.sha1_hash(ih2))
    a = wait_alert(sessions[6], lt.dht_get_peers_reply_alert,
                   lambda a: a.info_hash == lt.sha1_hash(ih2))
    if a:
        got |= {"%s:%d" % p for p in a.peers()}
    if {"127.0.0.1:5555", "127.0.0.1:6666"} <= got:
        break
check({"127.0.0.1:5555", "127.0.0.1:6666"} <= got, "mt6d announce read by libtorrent: %s" % got)

rc, js, _ = mt("put", "--value", "from mt6d")
check(rc == 0 and js["stored_on"] >= 6, "mt6d immutable put stored on %d" % js["stored_on"])
sessions[7].dht_get_immutable_item(lt.sha1_hash(bytes.fromhex(js["target"])))
a = wait_alert(sessions[7], lt.dht_immutable_item_alert)
check(a is not None and item_text(a.item) == "from mt6d",
      "mt6d immutable item read by libtorrent: %r" % (item_text(a.item) if a else None))

rc, js, _ = mt("put", "--value", "mt6d mutable", "--seed", os.urandom(32).hex(), "--salt", "pepper",
               "--seq", "42")
check(rc == 0 and js["stored_on"] >= 6, "mt6d mutable put stored on %d" % js["stored_on"])
sessions[8].dht_get_mutable_item(bytes.fromhex(js["public_key"]), b"pepper")
a = wait_alert(sessions[8], lt.dht_mutable_item_alert, lambda a: a.seq == 42)
check(a is not None and item_text(a.item) == "mt6d mutable",
      "mt6d mutable item read by libtorrent: %r seq %s" % (item_text(a.item) if a else None,
                                                          a.seq if a else None))

del sessions
swarm.send_signal(signal.SIGTERM)
rc = swarm.wait(60)
check(rc == 0 and "Sanitizer" not in swarm.stderr.read(), "mt6d swarm exits 0")
print("PASS")
