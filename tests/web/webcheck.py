#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks of mt6d web (docs/web.md), called by tests/web/*.sh.

  webcheck.py browser URL SHOT SESSIONS TEARDOWN_NAME TEARDOWN_CMD ROT_MS
      headless Chromium: each of SESSIONS (comma list) shows >= 3 distinct outer
      addresses within 5 slots; TEARDOWN_CMD (a shell command) makes TEARDOWN_NAME go
      down and the page shows it; no console error; a PNG screenshot to SHOT.
  webcheck.py metrics URL MT6D SOCKET
      /metrics parses (prometheus_client) and its values equal show --json's.
  webcheck.py sse URL SLOTS MIN_SESSIONS ROT_MS
      every session's rotation events come one per slot, in order, for SLOTS slots.
  webcheck.py stuck SOCKET SECONDS
      20 control-socket peers that send nothing or never read, held SECONDS.
  webcheck.py badinput HOST PORT
      malformed requests, oversized headers, 1,000 connections, unknown paths, other
      methods: a 4xx each, and the server still answers.
  webcheck.py secrets LOG KEYFILE...
      no key of KEYFILE (base64 or hex) in LOG (every response body of the run).
Every response read is appended to $WEBCHECK_LOG when it is set.
"""
import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

LOG = os.environ.get("WEBCHECK_LOG")


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def record(data):
    if LOG:
        with open(LOG, "ab") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
            f.write(b"\n")


def get(url, headers=None, timeout=10):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        body = r.read()
    record(body)
    return body


def browser(url, shot, names, down_name, down_cmd, rot_ms):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    names = names.split(",")
    rot = int(rot_ms) / 1000.0
    o = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1500,1000", "--no-first-run", "--disable-extensions"):
        o.add_argument(a)
    o.binary_location = "/usr/bin/chromium"
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    try:
        drv.get(url)
        t0 = time.time()

        def distinct():
            # Read in one script: the page redraws its cells as slots come.
            return drv.execute_script(
                "const o = {}; for (const n of arguments[0]) o[n] = new Set([...document"
                ".querySelectorAll('.tl[data-session=\"' + n + '\"] .slot')].map("
                "(c) => c.dataset.local)).size; return o;", names)

        # Within 5 slots of the page opening.
        while True:
            d = distinct()
            if all(v >= 3 for v in d.values()):
                break
            if time.time() - t0 > 5 * rot + 1:
                fail("within 5 slots: distinct outer addresses per session %s" % d)
            time.sleep(0.1)
        print("ok: distinct outer addresses per session after %.1f s: %s" % (time.time() - t0, d))
        rows = drv.find_elements(By.CSS_SELECTOR, "tr.session.up")
        if len(rows) != len(names):
            fail("page shows %d sessions up, want %d" % (len(rows), len(names)))
        print("ok: the page shows %d sessions" % len(rows))
        body = drv.page_source
        record(body)
        print("+ " + down_cmd, flush=True)
        subprocess.run(down_cmd, shell=True, check=True)
        t1 = time.time()
        sel = 'tr.session.down[data-session="%s"]' % down_name
        while not drv.find_elements(By.CSS_SELECTOR, sel):
            if time.time() - t1 > 10:
                fail("session %s not shown down 10 s after its teardown" % down_name)
            time.sleep(0.1)
        state = drv.execute_script(
            "return document.querySelector(arguments[0]).children[1].textContent;", sel)
        print("ok: %s shown as `%s' %.1f s after the teardown" % (down_name, state, time.time() - t1))
        time.sleep(1.5)
        drv.save_screenshot(shot)
        print("ok: screenshot %s" % shot)
        record(drv.page_source)
        errors = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]
        if errors:
            fail("browser console errors: %s" % errors)
        print("ok: no console error")
    finally:
        drv.quit()


def show_json(mt6d, sock):
    out = subprocess.run([mt6d, "show", "--json", "--socket", sock], check=True,
                         capture_output=True).stdout
    return json.loads(out)


def metrics(url, mt6d, sock):
    from prometheus_client.parser import text_string_to_metric_families

    for attempt in range(5):
        s1 = show_json(mt6d, sock)
        text = get(url + "/metrics").decode()
        s2 = show_json(mt6d, sock)
        samples = {}
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                key = s.name + "".join('{%s="%s"}' % kv for kv in sorted(s.labels.items()))
                samples[key] = s.value
        for name in ("mt6d_sessions", "mt6d_rx_bytes_total", "mt6d_tx_bytes_total",
                     "mt6d_rotations_total", "mt6d_publication_duration_seconds_count",
                     "mt6d_lookup_duration_seconds_count"):
            if name not in samples:
                fail("/metrics has no %s" % name)
        if not any(k.startswith("mt6d_dropped_packets_total{reason=") for k in samples):
            fail("/metrics has no mt6d_dropped_packets_total{reason=...}")
        if not any(k.startswith("mt6d_claims_total{result=") for k in samples):
            fail("/metrics has no mt6d_claims_total{result=...}")

        def want(doc):
            ss = doc.get("sessions", [])
            st = doc.get("stats", {})
            w = {"mt6d_sessions": doc.get("session_count"),
                 "mt6d_rx_bytes_total": sum(x["rx_bytes"] for x in ss),
                 "mt6d_tx_bytes_total": sum(x["tx_bytes"] for x in ss),
                 "mt6d_rotations_total": sum(x["rotations"] for x in ss),
                 'mt6d_claims_total{result="accepted"}': st.get("claims_accepted")}
            drop = doc.get("dropped")
            if isinstance(drop, dict):
                for k, v in drop.items():
                    w['mt6d_dropped_packets_total{reason="%s"}' % k] = v
            else:
                w['mt6d_dropped_packets_total{reason="forged"}'] = st.get("rx_forged")
                w['mt6d_dropped_packets_total{reason="no_session"}'] = st.get("rx_no_session")
            return w

        w1, w2 = want(s1), want(s2)
        if w1 != w2:
            continue  # something moved between the two reads: read again
        bad = {k: (v, samples.get(k)) for k, v in w1.items() if samples.get(k) != v}
        if bad:
            fail("/metrics differs from show --json (want, got): %s" % bad)
        print("ok: /metrics parses and equals show --json: %s" % w1)
        return
    fail("show --json never stood still across a /metrics read (5 tries)")


def sse_stream(url, seconds, headers=None):
    """(event, data) pairs read from /api/v1/events for `seconds`."""
    host, port = url.split("//")[1].split("/")[0].rsplit(":", 1)
    s = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
    req = "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
    for k, v in (headers or {}).items():
        req += "%s: %s\r\n" % (k, v)
    s.sendall((req + "\r\n").encode())
    buf = b""
    end = time.time() + seconds
    s.settimeout(0.5)
    while time.time() < end:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        if not d:
            break
        buf += d
    s.close()
    record(buf)
    head, _, body = buf.partition(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n")[0]:
        fail("/api/v1/events: %s" % head[:200])
    # Chunked transfer encoding: strip the chunk framing.
    out, rest = b"", body
    while rest:
        line, _, rest = rest.partition(b"\r\n")
        try:
            n = int(line, 16)
        except ValueError:
            break
        if n == 0:
            break
        out += rest[:n]
        rest = rest[n + 2:]
    events = []
    for msg in out.decode().split("\n\n"):
        ev, data = None, ""
        for line in msg.split("\n"):
            if line.startswith("event: "):
                ev = line[7:]
            elif line.startswith("data: "):
                data += line[6:]
        if ev and data:
            events.append((ev, json.loads(data)))
    return events


def sse(url, slots, min_sessions, rot_ms):
    slots, min_sessions = int(slots), int(min_sessions)
    events = sse_stream(url, (slots + 2) * int(rot_ms) / 1000.0)
    per = {}
    for ev, d in events:
        if ev != "rotation":
            continue
        for k in ("session", "slot", "local", "remote"):
            if k not in d:
                fail("rotation event without %s: %s" % (k, d))
        per.setdefault(d["session"], []).append(d["slot"])
    if len(per) < min_sessions:
        fail("rotation events of %d sessions, want %d" % (len(per), min_sessions))
    for name, sl in per.items():
        if any(b != a + 1 for a, b in zip(sl, sl[1:])):
            fail("session %s: slots not one by one, in order: %s" % (name, sl))
        if len(sl) < slots:
            fail("session %s: %d rotations, want %d: %s" % (name, len(sl), slots, sl))
    print("ok: %d sessions, each %d+ rotations one per slot in order, none lost (%d events)"
          % (len(per), slots, sum(len(v) for v in per.values())))


def stuck(sock, seconds):
    conns = []
    for i in range(20):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        if i >= 10:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"status\n")  # and never read the answer
        conns.append(s)
    print("ok: 20 control-socket peers connected (10 silent, 10 never reading)", flush=True)
    time.sleep(float(seconds))
    for s in conns:
        s.close()


def raw(host, port, data, timeout=5):
    s = socket.create_connection((host, int(port)), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                d = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not d:
                break
            out += d
            if b"\r\n\r\n" in out and len(out) > 4096:
                break
    finally:
        s.close()
    record(out)
    return out


def status_of(resp):
    try:
        return int(resp.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def rss_kb(pid):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def badinput(host, port, pid):
    cases = [
        # Not HTTP at all: libmicrohttpd 0.9.75 closes without an answer (None).
        ("binary garbage", b"\x00\x01\x02 hello\r\n\r\n", None),
        ("no request line", b"hello\r\n\r\n", None),
        ("no version", b"GET /\r\n\r\n", 400),
        ("bad version", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505),
        ("unknown path", b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        ("unknown api", b"GET /api/v2/status HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        ("traversal", b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        ("POST", b"POST /api/v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 405),
        ("DELETE", b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        ("oversized header", b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n", 431),
        ("many headers", b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 8000 + b"\r\n", 431),
        ("oversized url", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ]
    rss0 = rss_kb(pid)
    for name, data, want in cases:
        got = status_of(raw(host, port, data, timeout=3))
        if want is None and got is None:
            print("ok: %s -> closed without an answer" % name)
            continue
        # Any 4xx is a clear refusal (libmicrohttpd picks some); a 5xx or nothing is not,
        # but an HTTP version it does not speak is 505 by the RFC.
        if got is None or not (400 <= got < 500 or (want == 505 and got == 505)):
            fail("%s: status %s, want %s (or another 4xx)" % (name, got, want))
        print("ok: %s -> %d" % (name, got))
    conns = []
    for i in range(1000):
        try:
            s = socket.create_connection((host, int(port)), timeout=5)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # a head never finished
            conns.append(s)
        except OSError:
            break
    print("ok: %d connections open at once" % len(conns))
    got = status_of(raw(host, port, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", timeout=2))
    rss1 = rss_kb(pid)
    for s in conns:
        s.close()
    # The server closes its side as it notices; it answers again within seconds.
    for _ in range(20):
        time.sleep(0.5)
        got2 = status_of(raw(host, port, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", timeout=2))
        if got2 == 404:
            break
    if got2 != 404:
        fail("10 s after 1,000 connections: status %s, want 404" % got2)
    print("ok: while they were open the server answered %s; after, %s" % (got, got2))
    if rss1 - rss0 > 64 * 1024:
        fail("memory grew %d kB with 1,000 connections" % (rss1 - rss0))
    print("ok: RSS %d kB before, %d kB with 1,000 connections" % (rss0, rss1))


def secrets(log, keyfiles):
    data = open(log, "rb").read()
    for kf in keyfiles:
        b64 = open(kf).read().strip()
        raw_key = base64.b64decode(b64)
        for form in (b64.encode(), raw_key.hex().encode(), raw_key.hex().upper().encode(), raw_key):
            if form in data:
                fail("key material of %s found in a response" % kf)
    print("ok: none of %d keys in %d bytes of responses" % (len(keyfiles), len(data)))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "browser":
        browser(*args)
    elif cmd == "metrics":
        metrics(*args)
    elif cmd == "sse":
        sse(*args)
    elif cmd == "stuck":
        stuck(*args)
    elif cmd == "badinput":
        badinput(*args)
    elif cmd == "secrets":
        secrets(args[0], args[1:])
    else:
        fail("unknown check " + cmd)


if __name__ == "__main__":
    main()
