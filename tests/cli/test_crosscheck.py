#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
The mt6d command against the independent implementation of protocol v1
(tests/vectors/protocol_vectors.py: hashlib and PyNaCl) on random inputs,
configuration versions 1 and 2,
and the command's exit codes on bad input (1 error, 2 usage).

Usage: test_crosscheck.py PATH-TO-mt6d [ROUNDS]
"""
import base64
import ipaddress
import os
import random
import secrets
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "vectors"))
import protocol_vectors as ref  # noqa: E402
from nacl import bindings as nb  # noqa: E402

MT6D = sys.argv[1]
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 40
failures = 0
checks = 0


def run(*args, stdin=""):
    p = subprocess.run([MT6D, *args], input=stdin, capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", what)


def keypair(tmp, name):
    priv = ref.clamp(secrets.token_bytes(32))
    path = os.path.join(tmp, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, base64.b64encode(priv) + b"\n")
    os.close(fd)
    return priv, nb.crypto_scalarmult_base(priv), path


def b64(k):
    return base64.b64encode(k).decode()


def main():
    rng = random.Random(secrets.randbits(64))
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(ROUNDS):
            spriv, spub, sfile = keypair(tmp, "s%d.key" % r)
            cpriv, cpub, cfile = keypair(tmp, "c%d.key" % r)
            s = ref.shared_secret(spriv, cpub)

            rc, out, _ = run("pubkey", stdin=b64(cpriv) + "\n")
            check(rc == 0 and out.strip() == b64(cpub), "pubkey round %d" % r)

            t = rng.randrange(0, 2**40)
            n = rng.choice((1, 60, 900, 3600, rng.randrange(1, 2**32)))
            T = ref.window(t, n)
            rc, out, err = run("derive", "descriptor", "--key", sfile, "--peer", b64(cpub),
                               "--time", str(t), "--period", str(n))
            check(rc == 0 and out.strip() == ref.descriptor(s, T).hex(),
                  "descriptor (server side) t=%d n=%d: %s %s" % (t, n, out, err))
            rc, out, _ = run("derive", "descriptor", "--key", cfile, "--peer", b64(spub),
                             "--time", str(t), "--period", str(n))
            check(rc == 0 and out.strip() == ref.descriptor(s, T).hex(), "descriptor (client side)")

            _seed, pk, target = ref.bep44(s, T)
            rc, out, _ = run("derive", "bep44", "--key", cfile, "--peer", b64(spub),
                             "--time", str(t), "--period", str(n))
            check(rc == 0 and out.split() == [target.hex(), pk.hex()], "bep44 %s" % out)

            K = secrets.token_bytes(16)
            rc, out, _ = run("derive", "seed-iid", "--key", sfile, "--peer", b64(cpub),
                             "--intro-key", K.hex())
            check(rc == 0 and out.strip() == ref.seed_iid(s, K).hex(), "seed-iid")

            prefix = b"\x20\x01\x0d\xb8" + secrets.token_bytes(4)
            iid, ks = secrets.token_bytes(8), secrets.token_bytes(16)
            ms, rot = rng.randrange(0, 2**44), rng.choice((1, 1000, 3000, rng.randrange(1, 2**32)))
            addr, port = ref.slot_address(prefix, iid, ks, ref.slot(ms, rot))
            pfx = str(ipaddress.IPv6Address(prefix + bytes(8))) + "/64"
            rc, out, _ = run("derive", "address", "--prefix", pfx, "--iid", iid.hex(),
                             "--session-key", ks.hex(), "--time-ms", str(ms), "--rot-ms", str(rot))
            check(rc == 0 and out.split() == [str(ipaddress.IPv6Address(addr)), str(port)],
                  "address %s vs %s %d" % (out, ipaddress.IPv6Address(addr), port))

            # Python seals, mt6d opens.
            seed_addr = prefix + secrets.token_bytes(8)
            rot_ms = rng.randrange(1, 2**32)
            pt = ref.config_plaintext(T, rot_ms, seed_addr, K)
            m = ref.seal(spriv, cpub, secrets.token_bytes(24), pt)
            rc, out, err = run("open", "--key", cfile, "--peer", b64(spub), stdin=m.hex() + "\n")
            want = "version=1\nwindow=%d\nrot_ms=%d\nseed_address=%s\nintro_key=%s\n" % (
                T, rot_ms, ipaddress.IPv6Address(seed_addr), K.hex())
            check(rc == 0 and out == want, "open: %r %r" % (out, err))
            # A flipped bit: open fails with exit 1.
            bad = bytearray(m)
            bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
            rc, _, _ = run("open", "--key", cfile, "--peer", b64(spub), stdin=bad.hex())
            check(rc == 1, "open of a tampered message exits 1")

            # mt6d seals, Python opens.
            rc, out, _ = run("seal", "--key", sfile, "--peer", b64(cpub), "--time", str(t),
                             "--period", str(n), "--rot-ms", str(rot_ms), "--seed-address",
                             str(ipaddress.IPv6Address(seed_addr)), "--intro-key", K.hex())
            ok = rc == 0
            if ok:
                try:
                    ok = ref.open_sealed(cpriv, spub, bytes.fromhex(out.strip())) == pt
                except Exception:
                    ok = False
            check(ok, "seal opened by PyNaCl")

            # Version 2 (the server's underlay endpoint), both ways.
            if r % 2:
                ua = bytes(10) + b"\xff\xff" + secrets.token_bytes(4)
                utext = "%s:%%d" % ipaddress.IPv4Address(ua[12:])
            else:
                ua = b"\x20\x01\x0d\xb8" + secrets.token_bytes(12)
                utext = "[%s]:%%d" % ipaddress.IPv6Address(ua)
            up = rng.randrange(1, 65536)
            utext %= up
            pt2 = ref.config_plaintext_v2(T, rot_ms, seed_addr, K, ua, up)
            m = ref.seal(spriv, cpub, secrets.token_bytes(24), pt2)
            rc, out, err = run("open", "--key", cfile, "--peer", b64(spub), stdin=m.hex())
            check(rc == 0 and out == want.replace("version=1", "version=2") +
                  "underlay=%s\n" % utext, "open version 2: %r %r" % (out, err))
            rc, out, err = run("seal", "--key", sfile, "--peer", b64(cpub), "--time", str(t),
                               "--period", str(n), "--rot-ms", str(rot_ms), "--seed-address",
                               str(ipaddress.IPv6Address(seed_addr)), "--intro-key", K.hex(),
                               "--underlay", utext)
            ok = rc == 0 and len(out.strip()) == 2 * 103
            if ok:
                try:
                    ok = ref.open_sealed(cpriv, spub, bytes.fromhex(out.strip())) == pt2
                except Exception:
                    ok = False
            check(ok, "seal --underlay %s opened by PyNaCl: %r" % (utext, err))

            # Port stuffing both ways.
            msg = secrets.token_bytes(rng.randrange(1, 256))
            rc, out, _ = run("stuff", stdin=msg.hex())
            ports = [int(x) for x in out.split()]
            check(rc == 0 and len(ports) == len(msg) and bytes(p & 0xff for p in ports) == msg
                  and all(ports[i] >> 8 < ports[i + 1] >> 8 for i in range(len(ports) - 1))
                  and all(p >> 8 for p in ports), "stuff")
            highs = rng.sample(range(1, 256), len(msg))
            lines = ["192.0.2.7 %d" % p for p in ref.stuff(msg, highs)]
            junk = secrets.token_bytes(20)
            lines += ["[2001:db8::9]:%d" % p for p in ref.stuff(junk, rng.sample(range(1, 256), 20))]
            rng.shuffle(lines)
            rc, out, _ = run("unstuff", stdin="\n".join(lines) + "\n")
            check(rc == 0 and sorted(out.split("\n")[:-1]) ==
                  sorted(["192.0.2.7 " + msg.hex(), "2001:db8::9 " + junk.hex()]), "unstuff %r" % out)

        # Exit codes and messages on bad input.
        spriv, spub, sfile = keypair(tmp, "e.key")
        rc, _, err = run("derive", "descriptor", "--key", sfile, "--peer", "not-base64", "--time", "1")
        check(rc == 1 and "not-base64" in err, "bad --peer exits 1 quoting the value: %r" % err)
        rc, _, err = run("derive", "descriptor", "--key", sfile, "--time", "1")
        check(rc == 2, "missing --peer is a usage error")
        rc, _, err = run("derive", "descriptor", "--key", sfile, "--peer", b64(spub), "--time", "-5")
        check(rc == 1 and "-5" in err, "negative --time refused: %r" % err)
        rc, _, err = run("derive", "descriptor", "--key", sfile, "--peer", b64(bytes(32)), "--time", "1")
        check(rc == 1 and "all-zero" in err, "low-order peer refused: %r" % err)
        os.chmod(sfile, 0o644)
        rc, _, err = run("derive", "descriptor", "--key", sfile, "--peer", b64(spub), "--time", "1")
        check(rc == 1 and "chmod 600" in err, "loose key file refused: %r" % err)
        rc, _, _ = run("nonsense")
        check(rc == 2, "unknown subcommand is a usage error")
        rc, _, err = run("open", "--key", sfile, "--peer", b64(spub), stdin="abcd")
        check(rc == 1, "open of a loose key file or short message exits 1")
        os.chmod(sfile, 0o600)
        cpriv, cpub, cfile = keypair(tmp, "e2.key")
        rc, _, err = run("seal", "--key", sfile, "--peer", b64(cpub), "--time", "1",
                         "--seed-address", "2001:db8::1", "--intro-key", "00" * 16,
                         "--underlay", "192.0.2.1:0")
        check(rc == 1 and "192.0.2.1:0" in err, "seal --underlay with port 0 refused: %r" % err)
        pt0 = ref.config_plaintext(900, 3000, bytes(16), bytes(16))
        pt0 = bytes([2]) + pt0[1:] + bytes(10) + b"\xff\xff\xc0\x00\x02\x01" + bytes(2)
        m = ref.seal(spriv, cpub, bytes(24), pt0)
        rc, _, err = run("open", "--key", cfile, "--peer", b64(spub), stdin=m.hex())
        check(rc == 1 and "malformed" in err, "version 2 with port 0 refused: %r" % err)
        rc, _, err = run("open", "--key", cfile, "--peer", b64(spub), stdin=m[:-1].hex())
        check(rc == 1 and "170 or 206" in err, "a 102-byte message refused: %r" % err)
        rc, _, err = run("unstuff", stdin="70000\n")
        check(rc == 1 and "line 1" in err, "unstuff names the bad line: %r" % err)
        rc, out, _ = run("genkey")
        check(rc == 0 and len(base64.b64decode(out.strip())) == 32, "genkey")

    print("%d passed, %d failed" % (checks - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
