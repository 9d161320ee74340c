#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
DHT churn (issue 15), on 127.0.0.1 only: a swarm of 500 mt6d nodes in 10
`mt6d dht swarm` processes of 50 nodes each, a server publishing one round
for 200 registered clients (`mt6d publish --once`, BEP 44), and 200
client lookups (`mt6d lookup`, one per client), while 30% of the nodes die
and come back:

  1. 3 of the 10 processes (set A, 150 nodes) are killed (SIGKILL) in the
     middle of the publication round.
  2. Lookups 0-99 run with A dead (10 at a time).
  3. A is restarted on the same ports (new ids, empty stores); lookups
     100-199 start, and when 20 of them are done another 3 processes (set
     B) are killed while lookups are in flight; after 80, B is restarted.
  4. At least 99% of the 200 lookups must find the client's configuration.

Process 0 is never killed: the restarted processes bootstrap from it, and
each lookup from one of its nodes and one node of another live process,
as a client bootstraps from a well-known router. A lookup has 30 s; the
test has 115 s (bounded). For a lookup that failed, the test asks every
node whether it holds the item and prints how close the holders are.

Usage: test_dht_churn.py MT6D
"""
import base64
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dhtlib  # noqa: E402
import nacl.bindings as nb  # noqa: E402
from dhtlib import bounded, check, free_ports  # noqa: E402

MT6D = sys.argv[1]
PROCS, PER = 10, 50
N = PROCS * PER
NCLIENTS = 200
PARALLEL = 10
T0 = time.time()
bounded(int(os.environ.get("CHURN_BOUND", "115")))
rnd = random.Random(int(os.environ.get("CHURN_SEED", str(os.getpid()))))

tmp = tempfile.TemporaryDirectory()
os.umask(0o077)
base = free_ports(N + 2)
pub_port = base + N


def log(*a):
    print("[%5.1f s]" % (time.time() - T0), *a, flush=True)


def path(name):
    return os.path.join(tmp.name, name)


swarms = [None] * PROCS


def start_swarm(i):
    """Process i: ports base+50i .. base+50i+49; all but 0 bootstrap from 0."""
    args = [MT6D, "dht", "swarm", "--count", str(PER), "--listen", "127.0.0.1",
            "--base-port", str(base + PER * i)]  # loopback: no rate limit
    if i:
        args += ["--bootstrap", "127.0.0.1:%d" % base,
                 "--bootstrap", "127.0.0.1:%d" % (base + PER * rnd.randrange(i) + 1)]
    err = open(path("swarm%d.err" % i), "a")
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True)
    dhtlib.PROCS.append(p)
    check(json.loads(p.stdout.readline())["nodes"] == PER, "swarm %d (%d nodes) up" % (i, PER))
    swarms[i] = p


def kill(procs):
    for i in procs:
        swarms[i].send_signal(signal.SIGKILL)
    for i in procs:
        swarms[i].wait()


def sh(*args, stdin=None, timeout=60):
    p = subprocess.run([MT6D, *args], input=stdin, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def genkey(name):
    """A key file as `mt6d genkey` writes it; the public key (X25519 base
    point multiple, by libsodium through PyNaCl: 400 runs of an ASan mt6d
    took 30 s)."""
    priv = os.urandom(32)
    fd = os.open(path(name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, base64.b64encode(priv) + b"\n")
    os.close(fd)
    return base64.b64encode(nb.crypto_scalarmult_base(priv)).decode()


for i in range(PROCS):
    start_swarm(i)
alive = set(range(PROCS))
log("%d nodes in %d processes on ports %d-%d" % (N, PROCS, base, base + N - 1))

spub = genkey("server.key")
rc, out, _ = sh("pubkey", stdin=open(path("server.key")).read())
check(rc == 0 and out.strip() == spub, "mt6d pubkey agrees on the server's public key")
cpubs = [genkey("c%d.key" % i) for i in range(NCLIENTS)]
with open(path("clients"), "w") as f:
    for i, p in enumerate(cpubs):
        f.write("%s client-%d\n" % (p, i))
with open(path("server.conf"), "w") as f:
    # publish_inflight 8: the round lasts long enough to be cut in the middle
    f.write("[server]\nprivate_key = %s\nclients = %s\nprefix = 2001:db8:15::/64\n"
            "period = 900\ntransport = bep44\npublish_inflight = 8\n"
            "[dht]\nlisten = 127.0.0.1:%d\nbootstrap = 127.0.0.1:%d\n[control]\nsocket = %s\n"
            % (path("server.key"), path("clients"), pub_port, base, path("ctl.sock")))
log("%d client keys made" % NCLIENTS)

# Let the swarm's first self-lookups run (every node joined within seconds).
for _ in range(40):
    rc, js, _ = dhtlib.run([MT6D, "dht", "get-peers", "--bootstrap",
                            "127.0.0.1:%d" % (base + rnd.randrange(N)),
                            "--infohash", os.urandom(20).hex()])
    if rc == 0 and js["nodes_answered"] >= 8:
        break
    time.sleep(0.5)
check(js["nodes_answered"] >= 8, "a lookup reaches 8 nodes (%d)" % js["nodes_answered"])

# 1. The publication round, cut by the death of set A.
victims = list(range(1, PROCS))
rnd.shuffle(victims)
set_a, set_b = sorted(victims[:3]), sorted(victims[3:6])
pub = subprocess.Popen([MT6D, "publish", "--config", path("server.conf"), "--once"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
dhtlib.PROCS.append(pub)
pub_err = []
killed_at = None


def read_pub_err():
    for line in pub.stderr:
        pub_err.append(line.rstrip())


threading.Thread(target=read_pub_err, daemon=True).start()
# Kill A once the first puts have completed, the round still open: the
# round's progress is read from the publisher's control socket.
deadline = time.time() + 30
while time.time() < deadline and killed_at is None and pub.poll() is None:
    try:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(2)
        c.connect(path("ctl.sock"))
        c.sendall(b"status\n")
        st = b""
        while True:
            d = c.recv(4096)
            if not d:
                break
            st += d
        c.close()
        rd = json.loads(st)["round"]
    except (OSError, ValueError):
        time.sleep(0.01)
        continue
    if NCLIENTS // 4 <= rd["done"] < NCLIENTS // 2 and not rd["elapsed_ms"]:
        kill(set_a)
        alive -= set(set_a)
        killed_at = (rd["done"], rd["inflight"])
    time.sleep(0.005)
out, _ = pub.communicate(timeout=60)
log("publisher: %s" % " | ".join(pub_err[-6:]))
check(killed_at is not None,
      "processes %s (%d nodes) killed with %d/%d clients published, %d in flight"
      % (set_a, 3 * PER, killed_at[0] if killed_at else -1, NCLIENTS,
         killed_at[1] if killed_at else -1))
res = json.loads(out) if out.strip() else {}
log("publication: %s" % out.strip())
check(res.get("done") == NCLIENTS and res.get("failed") == 0,
      "the round published all %d clients through the loss (%s)"
      % (NCLIENTS, pub_err[-2:]))

# 2. and 3. Lookups.
results = [None] * NCLIENTS
lock = threading.Lock()


def lookup(i):
    with lock:
        # a node of process 0 (the stable router) and one of another live one
        boots = ["127.0.0.1:%d" % (base + rnd.randrange(PER)),
                 "127.0.0.1:%d" % (base + PER * rnd.choice(sorted(alive - {0}))
                                   + rnd.randrange(PER))]
    t = time.time()
    rc, out, err = sh("lookup", "--key", path("c%d.key" % i), "--server", spub,
                      "--bootstrap", boots[0], "--bootstrap", boots[1],
                      "--transport", "bep44", "--timeout", "30", timeout=40)
    ok = rc == 0 and ("seed_address=2001:db8:15:0:" in out)
    results[i] = (ok, time.time() - t, err.strip())
    return ok


def run_lookups(lo, hi, event=None):
    with ThreadPoolExecutor(PARALLEL) as ex:
        futs = [ex.submit(lookup, i) for i in range(lo, hi)]
        for k, f in enumerate(futs):
            f.result()
            if event:
                event(k + 1)


run_lookups(0, 100)
ok1 = sum(1 for r in results[:100] if r[0])
log("lookups 0-99 with %s dead: %d/100" % (set_a, ok1))

for i in set_a:
    start_swarm(i)
alive |= set(set_a)
log("restarted %s on the same ports" % set_a)
state = {"b_killed": False, "b_back": False}


def churn(done):
    if done == 20 and not state["b_killed"]:
        with lock:
            alive.difference_update(set_b)
        kill(set_b)
        state["b_killed"] = True
        log("killed %s with lookups in flight" % set_b)
    if done == 80 and not state["b_back"]:
        for i in set_b:
            start_swarm(i)
        with lock:
            alive.update(set_b)
        state["b_back"] = True
        log("restarted %s" % set_b)


run_lookups(100, 200, churn)
ok = [r for r in results if r[0]]
times = sorted(r[1] for r in results)
fails = ["client %d: %s" % (i, r[2][-160:]) for i, r in enumerate(results) if not r[0]]
log("lookups: %d/%d found, median %.2f s, max %.2f s" %
    (len(ok), NCLIENTS, times[len(times) // 2], times[-1]))
for f in fails[:10]:
    log("  " + f)


def where(i):
    """For a miss: which live nodes hold the client's item, and how close."""
    rc, out, _ = sh("derive", "bep44", "--key", path("c%d.key" % i), "--peer", spub,
                    "--time", str(res["window"]))
    target = bytes.fromhex(out.split()[0])
    k = dhtlib.Krpc()
    got = {}
    k.s.settimeout(0.05)
    for lo in range(base, base + N, 25):
        for port in range(lo, lo + 25):
            k.s.sendto(dhtlib.benc({"t": b"%05d" % (port - base), "y": "q", "q": "get",
                                    "a": {"id": k.id, "target": target}}),
                       ("127.0.0.1", port))
        end = time.time() + 0.15
        while time.time() < end:
            try:
                data, src = k.s.recvfrom(4096)
                r = dhtlib.bdecode(data)[b"r"]
                d = int.from_bytes(r[b"id"], "big") ^ int.from_bytes(target, "big")
                got[src[1]] = (d, b"v" in r)
            except (OSError, ValueError, KeyError):
                continue
    order = sorted(got.values())
    ranks = [n for n, (d, held) in enumerate(order) if held]
    return "%d nodes answered, holders at ranks %s" % (len(order), ranks)


for i, r in enumerate(results):
    if not r[0]:
        log("  client %d: %s" % (i, where(i)))
check(len(ok) >= NCLIENTS * 99 // 100,
      "%d/%d lookups succeeded through the churn (>= 99%%)" % (len(ok), NCLIENTS))
log("done in %.1f s" % (time.time() - T0))
