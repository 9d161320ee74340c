#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The dashboard with many sessions (tests/web/test_web_many.sh).

  manycheck.py PATH/TO/mt6d SESSIONS

A stand-in daemon (standin.py: SESSIONS sessions, every one rotating each second, so
SESSIONS rotation events a second) behind a real `mt6d web` on 127.0.0.1; headless
Chromium opens the page. Checks, by behaviour:
  1. the table comes to hold every session;
  2. rows out of view are not laid out: at most a few chunks of the table are rendered
     (content-visibility), not all of them;
  3. a row brought into view shows the current slot within 3 slots, and it keeps being
     updated while it stays in view (chunks out of view are redrawn when they come in);
  4. the page's event stream keeps being read: the newest timeline cell follows the
     stand-in's slot while the page is open;
  5. no error on the browser console.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from standin import StandIn  # noqa: E402

PORT = 17000 + os.getpid() % 1000


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def wait(what, fn, secs):
    end = time.time() + secs
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    fail("%s: not within %d s" % (what, secs))


def main():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    mt6d, n = sys.argv[1], int(sys.argv[2])
    tmp = tempfile.mkdtemp(prefix="mt6d-many.")
    os.environ["HOME"] = tmp  # Chromium's profile and caches, removed at the end
    fake = StandIn(os.path.join(tmp, "fake.sock"), n)
    web = subprocess.Popen([mt6d, "web", "--socket", fake.path, "--listen",
                            "127.0.0.1:%d" % PORT], stderr=open(os.path.join(tmp, "web.log"), "w"))
    o = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1500,1000", "--no-first-run", "--disable-extensions"):
        o.add_argument(a)
    o.binary_location = "/usr/bin/chromium"
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = None
    try:
        time.sleep(0.5)
        drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
        drv.set_script_timeout(30)
        drv.get("http://127.0.0.1:%d/" % PORT)
        js = drv.execute_script

        wait("the table holds %d sessions" % n,
             lambda: js("return document.querySelectorAll('tr.session').length") >= n, 60)
        print("ok: the table holds %d rows" % n, flush=True)

        chunks = js("return document.querySelectorAll('#sessions .chunk').length")
        if chunks < n // 100:
            fail("%d rows in %d chunks of the table" % (n, chunks))
        rendered = ("return [...document.querySelectorAll('#sessions .chunk')].filter("
                    "(c) => c.firstChild.checkVisibility({contentVisibilityAuto: true})).length")
        drawn = []  # once a frame has been drawn, only the chunks in view are rendered
        wait("only the table chunks in view rendered (of %d)" % chunks,
             lambda: drawn.append(js(rendered)) or drawn[-1] <= 5, 10)
        print("ok: %d of %d table chunks rendered" % (drawn[-1], chunks), flush=True)

        last = "sim%d" % (n - 1)  # sorted by name, the last row for n = 10, 100, 10,000
        js("document.querySelector('tr.session[data-session=\"%s\"]').scrollIntoView()" % last)
        cell = "return +document.querySelector('tr.session[data-session=\"%s\"]')" \
               ".children[3].textContent" % last
        s0 = wait("%s's row shows the current slot once in view" % last,
                  lambda: js(cell) >= fake.slot() - 3 and js(cell), 10)
        s1 = wait("%s's row updated while in view" % last, lambda: js(cell) > s0 and js(cell), 10)
        print("ok: %s in view shows slot %d, then %d (stand-in at %d)" % (last, s0, s1,
              fake.slot()), flush=True)

        newest = "return +[...document.querySelectorAll('.tl .cell')].pop().dataset.slot"
        js("window.scrollTo(0, 0)")
        t0 = js(newest)
        wait("the timelines follow the event stream", lambda: js(newest) >= t0 + 3, 15)
        behind = fake.slot() - js(newest)
        print("ok: newest timeline cell %d slots behind the stand-in" % behind, flush=True)
        if behind > 3:
            fail("the page is %d slots behind the event stream" % behind)

        errors = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]
        if errors:
            fail("browser console: %s" % errors[:3])
        print("ok: no console error")
    finally:
        if drv:
            drv.quit()
        web.terminate()
        web.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
