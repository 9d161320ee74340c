#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Command lines (issue 15): `mt6d help NAME` prints NAME's usage on stdout
and exits 0 for every subcommand `mt6d help` lists; an unknown name is a
usage error (exit 2, nothing on stdout) wherever a name is read.
Usage: test_usage.py PATH/TO/mt6d"""
import re
import subprocess
import sys

MT6D = sys.argv[1]
failed = 0


def run(*args):
    return subprocess.run([MT6D, *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=10)


def check(ok, what):
    global failed
    print(("ok: " if ok else "FAIL: ") + what)
    failed += not ok


top = run("help")
names = re.findall(r"^  (\w+) ", top.stdout, re.M)
check(top.returncode == 0 and len(names) >= 15, "mt6d help lists %d subcommands" % len(names))
for n in names:
    r = run("help", n)
    check(r.returncode == 0 and "Usage" in r.stdout and not r.stderr,
          "mt6d help %s: exit %d, usage on stdout" % (n, r.returncode))
for args in (["help", "nosuch"], ["nosuch"], ["dht", "nosuch"], ["help", "server", "extra"],
             ["help", "--nosuch"]):
    r = run(*args)
    check(r.returncode == 2 and not r.stdout and r.stderr,
          "mt6d %s: exit %d, an error on stderr" % (" ".join(args), r.returncode))
print("PASS" if not failed else "%d check(s) failed" % failed)
sys.exit(1 if failed else 0)
