# SPDX-License-Identifier: MIT
"""Helpers for the DHT tests: an independent bencode, a KRPC client over a
UDP socket, free-port selection and process cleanup. Loopback only."""
import atexit
import json
import os
import random
import signal
import socket
import subprocess
import time

PROCS = []


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.time() + 10
    for p in PROCS:
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


atexit.register(cleanup)


def bounded(seconds):
    """Fail the whole test rather than hang."""
    def on_alarm(signum, frame):
        raise SystemExit("test timed out after %d s" % seconds)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)


def spawn(args, **kw):
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    PROCS.append(p)
    return p


def free_ports(n):
    """A run of n UDP ports on 127.0.0.1 nobody holds, from a pid-derived start."""
    rnd = random.Random(os.getpid())
    for _ in range(200):
        base = 20000 + rnd.randrange(0, 40000 - n)
        socks = []
        try:
            for i in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise SystemExit("no free port range")


def benc(x):
    if isinstance(x, int):
        return b"i%de" % x
    if isinstance(x, str):
        x = x.encode()
    if isinstance(x, bytes):
        return b"%d:%s" % (len(x), x)
    if isinstance(x, list):
        return b"l" + b"".join(benc(i) for i in x) + b"e"
    if isinstance(x, dict):
        out = b"d"
        for k in sorted(x, key=lambda k: k.encode() if isinstance(k, str) else k):
            out += benc(k) + benc(x[k])
        return out + b"e"
    raise TypeError(type(x))


def bdec(b, i=0):
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c == b"l":
        out, i = [], i + 1
        while b[i:i + 1] != b"e":
            v, i = bdec(b, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        out, i = {}, i + 1
        while b[i:i + 1] != b"e":
            k, i = bdec(b, i)
            v, i = bdec(b, i)
            out[k] = v
        return out, i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    return b[j + 1:j + 1 + n], j + 1 + n


def bdecode(b):
    v, i = bdec(b)
    if i != len(b):
        raise ValueError("trailing bytes")
    return v


class Krpc:
    """A bare KRPC client: one socket, one query at a time."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.id = os.urandom(20)
        self.t = 0

    def query(self, addr, q, a, timeout=2.0):
        self.t += 1
        t = self.t.to_bytes(2, "big")
        a = dict(a)
        a["id"] = self.id
        self.s.sendto(benc({"t": t, "y": "q", "q": q, "a": a}), addr)
        self.s.settimeout(timeout)
        end = time.time() + timeout
        while time.time() < end:
            try:
                data, src = self.s.recvfrom(4096)
            except socket.timeout:
                return None
            try:
                m = bdecode(data)
            except Exception:
                continue
            if m.get(b"t") == t and m.get(b"y") in (b"r", b"e"):
                return m
        return None

    def raw(self, addr, data):
        self.s.sendto(data, addr)


def run(args, timeout=60):
    """Run an mt6d client command; (exit code, parsed JSON or None, stderr)."""
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    out = p.stdout.strip()
    js = json.loads(out.splitlines()[-1]) if out else None
    return p.returncode, js, p.stderr


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)
    print("ok:", what, flush=True)
