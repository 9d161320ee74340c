#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""mt6d tunnel -c: config errors name the file and line, a config readable
by others is refused (it holds the session key), missing keys are named.
These fail before any device is touched, so no root is needed.
Usage: test_tunnel_config.py PATH/TO/mt6d"""
import os
import subprocess
import sys
import tempfile

GOOD = """[Tunnel]
Role = client
SessionKey = 000102030405060708090a0b0c0d0e0f
Mode = routed
[Local]
Prefix = 2001:db8:a::/64
IID = 0123456789abcdef
[Peer]
Prefix = 2001:db8:b::/64
IID = fedcba9876543210
"""


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
        (GOOD.replace("Role = client", "Role = both"), "FILE:2: Role is neither client nor server: `both'"),
        (GOOD.replace("Mode = routed", "RotationMs = fast"), "FILE:4: RotationMs is not an integer from 100 to 3600000: `fast'"),
        (GOOD.replace("IID = 0123456789abcdef", "IID = 0123"), "FILE:7: IID is not 16 hex digits: `0123'"),
        (GOOD.replace("Prefix = 2001:db8:a::/64", "Prefix = 2001:db8:a::/48"), "FILE:6: Prefix is not an IPv6 prefix of length 64: `2001:db8:a::/48'"),
        (GOOD + "Colour = blue\n", "FILE:11: unknown key `Colour' in [Peer]"),
        (GOOD.replace("SessionKey = 000102030405060708090a0b0c0d0e0f\n", ""), "Role and SessionKey in [Tunnel], Prefix and IID in [Local] and [Peer] are required"),
        (GOOD.replace("Mode = routed", "Mode = bind"), "Mode = bind needs Uplink"),
        (GOOD.replace("fedcba9876543210", "0123456789abcdef").replace("2001:db8:b::/64", "2001:db8:a::/64"), "[Local] and [Peer] are the same host"),
    ]
    failed = 0
    for text, want in cases:
        rc, err = run(mt6d, text)
        ok = rc == 1 and want in err
        print(("ok  " if ok else "FAIL") + f" rc={rc} {err.strip()}")
        failed += not ok
    rc, err = run(mt6d, GOOD, 0o644)
    ok = rc == 1 and "accessible by group or others; chmod 600" in err
    print(("ok  " if ok else "FAIL") + f" rc={rc} {err.strip()}")
    failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
