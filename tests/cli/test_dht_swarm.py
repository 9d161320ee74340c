#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A swarm of 60 mt6d DHT nodes on 127.0.0.1 (one `mt6d dht swarm`
process) and every client operation against it; then a single node with
a state file, a read-only node, and a node that takes a stream of
malformed and oversized datagrams and must keep what it stores and exit
cleanly (under ASan: no leak). Usage: test_dht_swarm.py PATH-TO-MT6D"""
import hashlib
import json
import os
import random
import signal
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dhtlib import (Krpc, benc, bounded, check, free_ports, run, spawn)  # noqa: E402

MT6D = sys.argv[1]
N = 60
bounded(300)
base = free_ports(N + 4)
swarm = spawn([MT6D, "dht", "swarm", "--count", str(N), "--listen", "127.0.0.1",
               "--base-port", str(base)])
line = swarm.stdout.readline()
check(json.loads(line)["nodes"] == N, "swarm of %d nodes started" % N)


def boot(i=None):
    return "127.0.0.1:%d" % (base + (random.randrange(N) if i is None else i))


def dht(*args):
    return run([MT6D, "dht"] + list(args) + ["--stats"])


# wait until lookups reach a full K set
for _ in range(60):
    rc, js, _ = dht("get-peers", "--bootstrap", boot(), "--infohash", os.urandom(20).hex())
    if rc == 0 and js["nodes_answered"] >= 8:
        break
    time.sleep(0.5)
check(js["nodes_answered"] >= 8, "lookups reach 8 nodes (%d)" % js["nodes_answered"])

ih = os.urandom(20).hex()
ports = [1111, 2222, 3333, 65535]
args = ["announce", "--bootstrap", boot(), "--infohash", ih]
for p in ports:
    args += ["--port", str(p)]
rc, js, err = dht(*args)
check(rc == 0 and js["infohash"] == ih and js["stored_on"] >= 6,
      "announce of 4 ports stored on %s nodes" % (js and js["stored_on"]))
rc, js, _ = dht("get-peers", "--bootstrap", boot(), "--infohash", ih)
check(rc == 0 and js["peers"] == ["127.0.0.1:%d" % p for p in ports],
      "get-peers returns the 4 ports grouped and sorted: %s" % js["peers"])
check(js["nodes_answered"] >= 8, "get-peers: %d nodes answered" % js["nodes_answered"])

rc, js, _ = dht("put", "--bootstrap", boot(), "--value", "hello swarm")
target = hashlib.sha1(benc("hello swarm")).hexdigest()
check(rc == 0 and js["target"] == target and js["stored_on"] >= 6 and js["seq"] is None,
      "immutable put stored on %d nodes" % js["stored_on"])
rc, js, _ = dht("get", "--bootstrap", boot(), "--target", target)
check(rc == 0 and js["value"] == "hello swarm" and js["seq"] is None, "immutable get")

seed = os.urandom(32).hex()
rc, js, _ = dht("put", "--bootstrap", boot(), "--value", "v1", "--seed", seed, "--salt", "s",
                "--seq", "10")
check(rc == 0 and js["stored_on"] >= 6 and js["seq"] == 10, "mutable put seq 10")
pk = js["public_key"]
mtarget = js["target"]
check(mtarget == hashlib.sha1(bytes.fromhex(pk) + b"s").hexdigest(), "mutable target")
rc, js, _ = dht("put", "--bootstrap", boot(), "--value", "v2", "--seed", seed, "--salt", "s",
                "--seq", "11")
check(rc == 0 and js["stored_on"] >= 6, "mutable put seq 11")
rc, js, _ = dht("put", "--bootstrap", boot(), "--value", "v0", "--seed", seed, "--salt", "s",
                "--seq", "9")
check(js["stored_on"] <= 1, "older seq refused (stored on %d)" % js["stored_on"])
rc, js, _ = dht("get", "--bootstrap", boot(), "--public-key", pk, "--salt", "s")
check(rc == 0 and js["value"] == "v2" and js["seq"] == 11 and js["target"] == mtarget,
      "mutable get returns seq 11")
rc, js, _ = dht("get", "--bootstrap", boot(), "--public-key", pk)
check(rc == 1 and js["value"] is None, "mutable get without the salt finds nothing, exit 1")
rc, js, _ = dht("get", "--bootstrap", boot(), "--target", os.urandom(20).hex())
check(rc == 1, "get of a missing item exits 1")
rc, js, err = dht("get", "--bootstrap", boot(), "--target", "xyz")
check(rc == 2 and "`xyz'" in err, "bad --target quoted in the error")

# one node with a state file
with tempfile.TemporaryDirectory() as tmp:
    state = os.path.join(tmp, "dht.state")
    port = base + N
    node = spawn([MT6D, "dht", "node", "--listen", "127.0.0.1:%d" % port, "--bootstrap",
                  boot(0), "--state", state])
    nid = json.loads(node.stdout.readline())["id"]
    time.sleep(3)
    node.send_signal(signal.SIGTERM)
    check(node.wait(20) == 0, "node exits 0 on SIGTERM")
    lines = open(state).read().splitlines()
    check(lines[1] == "id " + nid and sum(l.startswith("node ") for l in lines) >= 8,
          "state file holds the id and %d nodes" % sum(l.startswith("node ") for l in lines))
    node = spawn([MT6D, "dht", "node", "--listen", "127.0.0.1:%d" % port, "--state", state])
    check(json.loads(node.stdout.readline())["id"] == nid, "restarted node keeps its id")
    k = Krpc()
    r = None
    for _ in range(20):
        r = k.query(("127.0.0.1", port), "find_node", {"target": os.urandom(20)})
        if r and len(r[b"r"].get(b"nodes", b"")) >= 8 * 26:
            break
        time.sleep(0.3)
    check(r and len(r[b"r"][b"nodes"]) == 8 * 26, "restarted node routes from its state file")
    node.send_signal(signal.SIGTERM)
    check(node.wait(20) == 0, "restarted node exits 0")

# read-only node: answers nothing, still looks up
ro_port = base + N + 1
ro = spawn([MT6D, "dht", "node", "--listen", "127.0.0.1:%d" % ro_port, "--bootstrap", boot(0),
            "--read-only"])
ro.stdout.readline()
k = Krpc()
check(k.query(("127.0.0.1", ro_port), "ping", {}, timeout=1.0) is None,
      "read-only node does not answer a ping")
ro.send_signal(signal.SIGTERM)
check(ro.wait(20) == 0, "read-only node exits 0")

# a node under a stream of malformed datagrams keeps what it stores
vport = base + N + 2
victim = spawn([MT6D, "dht", "node", "--listen", "127.0.0.1:%d" % vport, "--bootstrap",
                boot(0)])
victim.stdout.readline()
vaddr = ("127.0.0.1", vport)
k = Krpc()
value = benc("kept through the storm")
t = hashlib.sha1(value).digest()
r = k.query(vaddr, "get", {"target": t})
tok = r[b"r"][b"token"]
r = k.query(vaddr, "put", {"token": tok, "v": "kept through the storm"})
check(r and r[b"y"] == b"r", "immutable item put directly on the node")
ih = os.urandom(20)
r = k.query(vaddr, "get_peers", {"info_hash": ih})
r = k.query(vaddr, "announce_peer", {"info_hash": ih, "port": 4321, "token": r[b"r"][b"token"]})
check(r and r[b"y"] == b"r", "peer announced directly on the node")
rnd = random.Random(1)
valid = benc({"t": "aa", "y": "q", "q": "put", "a": {"id": os.urandom(20), "token": tok,
                                                      "v": "x" * 990}})
sent = 0
for i in range(20000):
    kind = i % 8
    if kind == 0:
        d = os.urandom(rnd.randrange(1, 1500))
    elif kind == 1:
        d = valid[:rnd.randrange(1, len(valid))]
    elif kind == 2:
        d = b"l" * rnd.randrange(1, 5000) + b"e" * rnd.randrange(0, 5000)
    elif kind == 3:
        d = b"d1:ad2:id20:" + os.urandom(20) + b"e1:q4:ping1:t2:aa1:y1:qe" + os.urandom(5)
    elif kind == 4:
        d = os.urandom(rnd.randrange(1500, 65000))
    elif kind == 5:
        d = b"d1:ad2:id20:" + os.urandom(20) + b"1:v99999999999:xe1:q3:put1:t2:aa1:y1:qe"
    elif kind == 6:
        d = bytearray(valid)
        for _ in range(5):
            d[rnd.randrange(len(d))] = rnd.randrange(256)
        d = bytes(d)
    else:
        d = b"d1:ad2:id20:" + os.urandom(20) + b"6:target20:" + t + \
            b"e1:q3:get1:t2:aa1:y1:qe"
    try:
        k.raw(vaddr, d)
        sent += 1
    except OSError:
        pass
    if i % 500 == 0:
        time.sleep(0.01)
check(victim.poll() is None, "node alive after %d malformed datagrams" % sent)
k = Krpc()  # a fresh socket: the old one is full of answers to the storm
for _ in range(5):
    r = k.query(vaddr, "get", {"target": t})
    if r:
        break
check(r and r[b"r"].get(b"v") == b"kept through the storm", "stored item intact")
r = k.query(vaddr, "get_peers", {"info_hash": ih})
check(r and r[b"r"].get(b"values") == [bytes([127, 0, 0, 1, 4321 >> 8, 4321 & 255])],
      "stored peer intact")
victim.send_signal(signal.SIGTERM)
rc = victim.wait(30)
err = victim.stderr.read()
check(rc == 0 and "ERROR: AddressSanitizer" not in err and "LeakSanitizer" not in err,
      "node exits 0, no sanitizer report")

# BEP 32: the same over IPv6 loopback, nodes6 instead of nodes
try:
    sk = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sk.bind(("::1", 0))
    sk.close()
    have6 = True
except OSError:
    have6 = False
    print("skip: no ::1")
if have6:
    base6 = free_ports(20)
    swarm6 = spawn([MT6D, "dht", "swarm", "--count", "20", "--listen", "::1", "--base-port",
                    str(base6)])
    swarm6.stdout.readline()
    boot6 = "[::1]:%d" % base6
    for _ in range(40):
        rc, js, _ = run([MT6D, "dht", "get-peers", "--bootstrap", boot6, "--infohash",
                         os.urandom(20).hex()])
        if rc == 0 and js["nodes_answered"] >= 8:
            break
        time.sleep(0.5)
    ih6 = os.urandom(20).hex()
    rc, js, _ = run([MT6D, "dht", "announce", "--bootstrap", "[::1]:%d" % (base6 + 3),
                     "--infohash", ih6, "--port", "4444"])
    check(rc == 0 and js["stored_on"] >= 6, "IPv6 announce stored on %d" % js["stored_on"])
    rc, js, _ = run([MT6D, "dht", "get-peers", "--bootstrap", "[::1]:%d" % (base6 + 11),
                     "--infohash", ih6])
    check(rc == 0 and js["peers"] == ["[::1]:4444"], "IPv6 get-peers: %s" % js["peers"])
    swarm6.send_signal(signal.SIGTERM)
    check(swarm6.wait(30) == 0, "IPv6 swarm exits 0")

swarm.send_signal(signal.SIGTERM)
rc = swarm.wait(60)
err = swarm.stderr.read()
check(rc == 0 and "Sanitizer" not in err, "swarm exits 0, no sanitizer report")
print("PASS")
