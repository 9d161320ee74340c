# SPDX-License-Identifier: MIT
"""Junk at a running server (tests/netns/test_intro_flood.sh): random
datagrams at its introduction endpoints and its sessions' endpoints, read
from `mt6d show --json` every half second, from one source address (one
/64) and random ports, until COUNT are sent or SECONDS pass.
Usage: floodhelper.py MT6D SOCKET COUNT SECONDS"""
import json
import os
import random
import socket
import subprocess
import sys
import time


def targets(mt6d, sock):
    out = subprocess.run([mt6d, "show", "--json", "--socket", sock], capture_output=True,
                         text=True, timeout=5).stdout
    j = json.loads(out)
    eps = [i["endpoint"] for i in j.get("introduction", [])]
    eps += [s["local"] for s in j.get("sessions", []) if "local" in s]
    res = []
    for e in eps:
        a, p = e.rsplit(":", 1)
        res.append((a.strip("[]"), int(p)))
    return res


def main(argv):
    mt6d, sock, count, seconds = argv[1], argv[2], int(argv[3]), float(argv[4])
    socks = []
    for _ in range(64):
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::", 0))
        socks.append(s)
    junk = [os.urandom(random.randint(60, 200)) for _ in range(256)]
    start = time.monotonic()
    refresh = 0.0
    sent = errors = 0
    eps = []
    while sent < count and time.monotonic() - start < seconds:
        now = time.monotonic()
        if now >= refresh:
            try:
                eps = targets(mt6d, sock) or eps
            except (OSError, ValueError, subprocess.SubprocessError):
                pass
            refresh = now + 0.5
        if not eps:
            time.sleep(0.05)
            continue
        for _ in range(2000):
            try:
                socks[sent % 64].sendto(junk[sent % 256], eps[sent % len(eps)])
            except OSError:
                errors += 1
            sent += 1
    dt = time.monotonic() - start
    print(f"flood: {sent} datagrams in {dt:.1f} s ({sent / dt:.0f}/s) at {len(eps)} endpoints, "
          f"{errors} send errors")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
