#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The dashboard with many sessions (docs/bench.md, "Dashboard"). Run by hand, not in CI.

  bench/web/page10k.py [--hold S] [--idle S] [--sizes 100,10000] [--before OLD_MT6D] MT6D

For each size (and, with --before, for 10,000 sessions with another mt6d binary: the page
before a change), one after the other in this run:
  a stand-in daemon (tests/web/standin.py: SIZE sessions, each rotating every second, so
  SIZE rotation events a second on `events`, and a status document of SIZE sessions)
  behind a real `mt6d web` on 127.0.0.1;
  1. --idle seconds with no page open: the web process's CPU (the feed alone: reading and
     parsing SIZE events a second into its ring), the anchor for 3;
  2. headless Chromium opens the page, TRIALS (5) times: first render = navigation to the
     table holding every session, taken in the page (a MutationObserver,
     performance.now()), the median and every trial; the web process's CPU seconds from
     navigation until this script saw the render (median; a busy page answers it late);
  3. --hold seconds with the page open: the web process's CPU (cores), the browser's CPU
     (every Chromium process), the page's responsiveness (a 100 ms interval timer: its
     longest gap and the 95th percentile), status documents the page fetched, whether
     mt6d web dropped the page's event stream (mt6d_web_sse_dropped_total), and how many
     slots the newest timeline cell is behind the clock at the end.
CPU is utime + stime from /proc, so the figures are CPU time, not wall time of a loaded
machine; the page's figures are wall time in the browser. Needs no root or namespace.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "web"))
from standin import StandIn  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")
TRIALS = 5

# Installed before the page's own script: the first moment every row is in the table,
# and the gaps of a 100 ms timer (a main thread that is busy delays it).
PROBE = """
window.__gaps = [];
let __last = performance.now();
setInterval(() => { const t = performance.now(); window.__gaps.push(t - __last); __last = t; }, 100);
document.addEventListener("DOMContentLoaded", () => {
  const want = %d, box = document.getElementById("sessions");
  new MutationObserver(() => {
    if (!window.__rows && document.querySelectorAll("tr.session").length >= want)
      window.__rows = performance.now();
  }).observe(box, { childList: true, subtree: true });
});
"""


def cpu_s(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / HZ


def tree_cpu_s(root):
    """CPU seconds of root's descendants (Chromium's processes under chromedriver)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                f = open("/proc/%s/stat" % d).read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            kids.setdefault(int(f[1]), []).append(int(d))
    total, todo = 0.0, list(kids.get(root, []))
    while todo:
        p = todo.pop()
        try:
            total += cpu_s(p)
        except OSError:
            continue
        todo += kids.get(p, [])
    return total


def metric(port, name):
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read()
    m = re.search(r"^%s (\S+)$" % re.escape(name), body.decode(), re.M)
    return float(m.group(1)) if m else float("nan")


def one(mt6d, n, label, idle, hold, port):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    tmp = tempfile.mkdtemp(prefix="mt6d-page10k.")
    os.environ["HOME"] = tmp
    fake = StandIn(os.path.join(tmp, "fake.sock"), n)
    web = subprocess.Popen([mt6d, "web", "--socket", fake.path, "--listen",
                            "127.0.0.1:%d" % port],
                           stderr=open(os.path.join(tmp, "web.log"), "w"))
    o = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1500,1000", "--no-first-run", "--disable-extensions"):
        o.add_argument(a)
    o.binary_location = "/usr/bin/chromium"
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = None
    r = {"label": label, "sessions": n}
    try:
        time.sleep(2)  # the feed connected and the first slot's events in
        c0, w0 = cpu_s(web.pid), time.time()
        time.sleep(idle)
        r["web_idle_cores"] = (cpu_s(web.pid) - c0) / (time.time() - w0)

        svc = Service("/usr/bin/chromedriver")
        drv = webdriver.Chrome(service=svc, options=o)
        drv.set_script_timeout(120)
        drv.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE % n})
        renders, cpus = [], []
        for _ in range(TRIALS):  # the page opened TRIALS times: at other phases of a slot
            c0 = cpu_s(web.pid)
            drv.get("http://127.0.0.1:%d/" % port)
            end = time.time() + 120
            while time.time() < end:
                ms = drv.execute_script("return window.__rows || null;")
                if ms is not None:
                    break
                time.sleep(0.2)
            else:
                r["fail"] = "the table never held %d sessions" % n
                return r
            renders.append(ms)
            # The web process's CPU from navigation to the harness seeing the render.
            cpus.append(cpu_s(web.pid) - c0)
            time.sleep(1.3)
        r["first_render_ms"] = sorted(renders)[len(renders) // 2]
        r["first_render_all_ms"] = ",".join("%.0f" % x for x in renders)
        r["web_render_cpu_s"] = sorted(cpus)[len(cpus) // 2]

        d0 = metric(port, "mt6d_web_sse_dropped_total")
        drv.execute_script("window.__gaps = [];")
        st0 = drv.execute_script(
            "return performance.getEntriesByType('resource')"
            ".filter((e) => e.name.endsWith('/api/v1/status')).length")
        c0, b0, w0 = cpu_s(web.pid), tree_cpu_s(svc.process.pid), time.time()
        time.sleep(hold)
        c1, b1, w1 = cpu_s(web.pid), tree_cpu_s(svc.process.pid), time.time()
        r["web_open_cores"] = (c1 - c0) / (w1 - w0)
        r["browser_cores"] = (b1 - b0) / (w1 - w0)
        r["hold_s"] = w1 - w0
        gaps = sorted(drv.execute_script("return window.__gaps;"))
        r["gap_max_ms"] = gaps[-1] if gaps else float("nan")
        r["gap_p95_ms"] = gaps[int(len(gaps) * 0.95)] if gaps else float("nan")
        r["status_polls"] = drv.execute_script(
            "return performance.getEntriesByType('resource')"
            ".filter((e) => e.name.endsWith('/api/v1/status')).length") - st0
        r["sse_dropped"] = metric(port, "mt6d_web_sse_dropped_total") - d0
        # In the page, on its clock: a page that is late runs this late too.
        r["behind_slots"] = drv.execute_script(
            "const c = [...document.querySelectorAll('.tl .cell')].pop();"
            "return Math.floor(Date.now() / arguments[0]) - (c ? +c.dataset.slot : 0);",
            fake.rot_ms)
        r["console_errors"] = len([e for e in drv.get_log("browser")
                                   if e.get("level") == "SEVERE"])
    finally:
        if drv:
            drv.quit()
        web.terminate()
        web.wait(10)
        fake.srv.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mt6d")
    ap.add_argument("--sizes", default="100,10000")
    ap.add_argument("--before", help="another mt6d binary, run with the largest size too")
    ap.add_argument("--hold", type=float, default=30)
    ap.add_argument("--idle", type=float, default=10)
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    runs = [(a.mt6d, n, "this tree") for n in sizes]
    if a.before:
        runs.append((a.before, max(sizes), "before"))
    port = 18000 + os.getpid() % 1000
    out = []
    for mt6d, n, label in runs:
        print("== %s, %d sessions" % (label, n), flush=True)
        r = one(mt6d, n, label, a.idle, a.hold, port)
        print("RESULT " + " ".join("%s=%s" % (k, ("%.3f" % v) if isinstance(v, float) else
                                              str(v).replace(" ", "_")) for k, v in r.items()),
              flush=True)
        out.append(r)
        port += 1
    return 1 if any("fail" in r for r in out) else 0


if __name__ == "__main__":
    sys.exit(main())
