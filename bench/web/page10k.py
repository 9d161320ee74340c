#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The dashboard with many sessions (docs/bench.md, "Dashboard"). Run by hand, not in CI.

  bench/web/page10k.py PATH/TO/mt6d [SESSIONS] [SECONDS]

A stand-in daemon (a Unix socket here, answering `status` with SESSIONS sessions and
streaming one rotation event per session per second on `events`) behind a real
`mt6d web`; headless Chromium opens the page. Prints the time from navigation to the
table holding every session (first render), and the CPU of the mt6d web process while
the page stays open SECONDS (default 30). Needs no root and no namespace (loopback only).
"""
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time

MT6D, N = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10000
HOLD = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
PORT = 18000 + os.getpid() % 1000
ROT_MS = 1000
rnd = random.Random(1)


def ep(prefix):
    return "[%s:%x:%x:%x:%x]:%d" % (prefix, *(rnd.getrandbits(16) for _ in range(4)),
                                    rnd.randint(1024, 65535))


def status(now_ms):
    slot = now_ms // ROT_MS
    ss = [{"name": "sim%d" % i, "tunnel": "2001:db8:100::%x" % (i + 2), "slot": slot,
           "local": ep("2001:db8:5:0"), "remote": ep("2001:db8:c8:0"),
           "established_ms": now_ms - 60000, "last_rx_ms": now_ms - 500, "rx_spoofed": 0,
           "underlay": False, "rebinds": 0, "rebind_ms": 0, "rx_packets": 10, "rx_bytes": 1000,
           "tx_packets": 10, "tx_bytes": 1000, "rotations": 60} for i in range(N)]
    return {"role": "server", "interface": "mt6d0", "prefix": "2001:db8:5::/64",
            "now_ms": now_ms, "clients": N, "session_count": N,
            "publisher": {"window": 1, "period": 900, "rotation_ms": ROT_MS, "round_window": 1,
                          "done": N, "total": N, "failed": 0},
            "stats": {"unrecognized": 0}, "sessions": ss}


def serve(path):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(64)

    def one(c):
        req = c.recv(600).split(b"\n")[0]
        try:
            if req == b"events":
                c.sendall(b'{"event":"hello","queue_max":1048576}\n')
                while True:
                    now = int(time.time() * 1000)
                    slot = now // ROT_MS
                    lines = "".join(json.dumps(
                        {"event": "rotation", "session": "sim%d" % i, "slot": slot,
                         "local": ep("2001:db8:5:0"), "remote": ep("2001:db8:c8:0"),
                         "rotation_ms": ROT_MS}, separators=(",", ":")) + "\n" for i in range(N))
                    c.sendall(lines.encode())
                    time.sleep(max(0.0, (slot + 1) * ROT_MS / 1000.0 - time.time()))
            else:
                c.sendall(json.dumps(status(int(time.time() * 1000))).encode() + b"\n")
        except OSError:
            pass
        c.close()

    while True:
        c, _ = srv.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


def cpu_s(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def main():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    tmp = tempfile.mkdtemp(prefix="mt6d-page10k.")
    sock = os.path.join(tmp, "fake.sock")
    threading.Thread(target=serve, args=(sock,), daemon=True).start()
    time.sleep(0.3)
    web = subprocess.Popen([MT6D, "web", "--socket", sock, "--listen", "127.0.0.1:%d" % PORT],
                           stderr=open(os.path.join(tmp, "web.log"), "w"))
    o = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1500,1000"):
        o.add_argument(a)
    o.binary_location = "/usr/bin/chromium"
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = None
    try:
        time.sleep(0.5)
        drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
        drv.get("http://127.0.0.1:%d/" % PORT)
        t_end = time.time() + 120
        while time.time() < t_end:
            ms = drv.execute_script(
                "return document.querySelectorAll('tr.session').length >= arguments[0]"
                " ? performance.now() : null;", N)
            if ms is not None:
                break
            time.sleep(0.05)
        else:
            print("FAIL: the table never held %d sessions" % N)
            return 1
        print("RESULT sessions=%d first_render_ms=%.0f (navigation to every row in the table)"
              % (N, ms))
        c0, w0 = cpu_s(web.pid), time.time()
        time.sleep(HOLD)
        c1, w1 = cpu_s(web.pid), time.time()
        print("RESULT sessions=%d web_cpu=%.3f cores over %.0f s with the page open "
              "(%d rotation events/s)" % (N, (c1 - c0) / (w1 - w0), w1 - w0, N))
        errors = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]
        print("console errors: %d" % len(errors))
    finally:
        if drv:
            drv.quit()
        web.terminate()
        web.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
