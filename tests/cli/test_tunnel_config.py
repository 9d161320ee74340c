#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""mt6d tunnel -c: config errors name the file and line, a config readable
by others is refused (it holds the session key), missing keys are named,
the old key names are refused with the new one, and the session key never
appears in an error.
These fail before any device is touched, so no root is needed.
Usage: test_tunnel_config.py PATH/TO/mt6d"""
import os
import subprocess
import sys
import tempfile

GOOD = """[tunnel]
role = client
session_key = 000102030405060708090a0b0c0d0e0f
mode = routed
[local]
prefix = 2001:db8:a::/64
iid = 0123456789abcdef
[peer]
prefix = 2001:db8:b::/64
iid = fedcba9876543210
"""
KEY = "000102030405060708090a0b0c0d0e0f"


def run(mt6d, text, mode=0o600):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.conf")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        p = subprocess.run([mt6d, "tunnel", "-c", path], capture_output=True, text=True,
                           timeout=10)
        return p.returncode, p.stderr.replace(path, "FILE")


def main():
    mt6d = sys.argv[1]
    cases = [
        (GOOD.replace("role = client", "role = both"), "FILE:2: role is neither client nor server: `both'"),
        (GOOD.replace("mode = routed", "rotation_ms = fast"), "FILE:4: rotation_ms is not a number of milliseconds from 100 to 3600000: `fast'"),
        (GOOD.replace("iid = 0123456789abcdef", "iid = 0123"), "FILE:7: iid is not 16 hex digits: `0123'"),
        (GOOD.replace("prefix = 2001:db8:a::/64", "prefix = 2001:db8:a::/48"), "FILE:6: prefix is not an IPv6 prefix ADDRESS/64: `2001:db8:a::/48'"),
        (GOOD + "colour = blue\n", "FILE:11: unknown key `colour' in [peer]"),
        (GOOD.replace("session_key = " + KEY + "\n", ""), "[tunnel] session_key is required"),
        (GOOD.replace("role = client\n", ""), "[tunnel] role is required"),
        (GOOD.replace("iid = fedcba9876543210\n", ""), "[peer] iid is required"),
        (GOOD.replace("prefix = 2001:db8:a::/64\n", ""), "[local] prefix is required"),
        (GOOD.replace("mode = routed", "mode = bind"), "[tunnel] mode = bind needs uplink"),
        (GOOD.replace("fedcba9876543210", "0123456789abcdef").replace("2001:db8:b::/64", "2001:db8:a::/64"), "[local] and [peer] are the same host"),
        # The old names (before the one parser) are refused with the new one.
        (GOOD.replace("[tunnel]", "[Tunnel]"), "FILE:2: [Tunnel] role is the old spelling: write [tunnel] role"),
        (GOOD.replace("session_key =", "SessionKey ="), "FILE:3: [tunnel] SessionKey is the old spelling: write [tunnel] session_key"),
        (GOOD.replace("mode = routed", "Name = mt6d0"), "FILE:4: [tunnel] Name is the old spelling: write [tunnel] interface"),
        (GOOD.replace("[peer]\nprefix", "[Peer]\nPrefix"), "FILE:9: [Peer] Prefix is the old spelling: write [peer] prefix"),
        (GOOD.replace("mode = routed", "ClockOffsetMs = 5"), "FILE:4: [tunnel] ClockOffsetMs is the old spelling: write [tunnel] clock_offset_ms"),
        # A malformed key names the key, never its value.
        (GOOD.replace(KEY, KEY[:-1]), "FILE:3: session_key is not 32 hex digits (31 characters given; value not shown)"),
    ]
    failed = 0
    for text, want in cases:
        rc, err = run(mt6d, text)
        ok = rc == 1 and want in err and KEY[:-1] not in err and KEY[8:] not in err
        print(("ok  " if ok else "FAIL") + f" rc={rc} {err.strip()}")
        failed += not ok
    # A misspelt session_key is an unknown key: its value is not printed either.
    rc, err = run(mt6d, GOOD.replace("session_key", "sesion_key"))
    ok = rc == 1 and "FILE:3: unknown key `sesion_key' in [tunnel]" in err and KEY[8:] not in err
    print(("ok  " if ok else "FAIL") + f" rc={rc} {err.strip()}")
    failed += not ok
    rc, err = run(mt6d, GOOD, 0o644)
    ok = rc == 1 and "accessible by group or others; chmod 600" in err
    print(("ok  " if ok else "FAIL") + f" rc={rc} {err.strip()}")
    failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
