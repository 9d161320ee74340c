#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Attacks of a registered client on another client's session, for the
session netns tests. An independent implementation of the formulas of
docs/protocol.md and docs/sessions.md (hashlib, PyNaCl), so the daemon's
C code is checked against it too.

  decrypt PCAP K SERVERPUB VICTIMKEY ATTACKERKEY VICTIM/64 SERVER/64
      From a capture (Ethernet), the datagrams between the victim's and the
      server's prefixes. The attacker knows K (it is registered) and its
      own secret: every key it can make (K itself as the patent would use
      it, its own K_pair) must open none of them. The victim's K_pair must
      open the introduction request and response (so the capture holds
      them and this code agrees with the daemon), and the session key
      inside the response the session's datagrams.
  forge-intro SEED K ROT_MS COUNT
      Send COUNT configuration requests to the server's current
      introduction endpoint, sealed with keys from K, from our own address.
  forge-session ADDR PORT K COUNT
      Send COUNT datagrams sealed with keys from K to a session endpoint of
      the server (as an observer sees it), carrying an inner packet.
  echo PORT
      A UDP echo server on [::]:PORT (runs until killed).
  firstbyte MT6D CONF ADDR PORT COUNT
      COUNT times: start `MT6D client -c CONF`, send a UDP probe to
      [ADDR]:PORT every 2 ms until the first echo comes back through the
      session, stop the client (SIGINT). Prints the times from start to
      first byte and their median and 99th percentile.
  watch IFNAME SECONDS NET
      The observer's view (demo): every second, each pair of outer
      endpoints seen on IFNAME with one end in NET, and its datagrams.
"""
import base64
import hashlib
import ipaddress
import os
import signal
import socket
import struct
import sys
import time

from nacl import bindings as nb


def kdir(ks, d):
    return hashlib.blake2b(b"mt6d data v1" + d, key=ks, digest_size=32).digest()


def kpair(s, k):
    return hashlib.sha256(b"mt6d intro v1" + s + k).digest()[:16]


def seal(ks, d, inner):
    nonce = os.urandom(24)
    ctr = struct.pack(">Q", time.time_ns())
    return nonce + nb.crypto_aead_xchacha20poly1305_ietf_encrypt(ctr + inner, b"", nonce,
                                                                  kdir(ks, d))


def opens(ks, d, payload):
    if len(payload) < 48:
        return None
    try:
        pt = nb.crypto_aead_xchacha20poly1305_ietf_decrypt(payload[24:], b"", payload[:24],
                                                           kdir(ks, d))
    except Exception:
        return None
    return pt[8:]


def slot_addr(prefix8, iid, ks, slot):
    h = hashlib.sha256(iid + ks + struct.pack(">Q", slot)).digest()
    return prefix8 + h[:8], 1024 + (struct.unpack(">H", h[8:10])[0] % 64512)


def read_key(path):
    return base64.b64decode(open(path).read().strip())


def read_pcap(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        yield data[off:off + incl]
        off += incl


def udp6(frame):
    if len(frame) < 62 or frame[12:14] != b"\x86\xdd" or frame[20] != 17:
        return None
    ip = frame[14:]
    return ip[8:24], ip[24:40], ip[48:], struct.unpack(">HH", ip[40:44])


def decrypt(pcap, k_hex, server_pub, victim_key, attacker_key, victim_net, server_net):
    k = bytes.fromhex(k_hex)
    spub = base64.b64decode(server_pub)
    s_v = nb.crypto_scalarmult(read_key(victim_key), spub)
    s_a = nb.crypto_scalarmult(read_key(attacker_key), spub)
    vnet, snet = ipaddress.IPv6Network(victim_net), ipaddress.IPv6Network(server_net)
    attacker_keys = [k, kpair(s_a, k)]
    n = opened_by_attacker = intro_opened = 0
    session_key = None
    dgrams = []
    for frame in read_pcap(pcap):
        p = udp6(frame)
        if not p:
            continue
        src, dst, payload = (ipaddress.IPv6Address(p[0]), ipaddress.IPv6Address(p[1]), p[2])
        up = src in vnet and dst in snet
        if not (up or (src in snet and dst in vnet)):
            continue
        n += 1
        dgrams.append((up, payload))
        for ks in attacker_keys:
            for d in (b"C", b"S"):
                if opens(ks, d, payload) is not None:
                    opened_by_attacker += 1
        inner = opens(kpair(s_v, k), b"C" if up else b"S", payload)
        if inner is not None and inner[6] == 254:
            intro_opened += 1
            msg = inner[40:]
            # version 1: 84 bytes; version 2: then the rebinding grant
            if msg[0] == 1 and ((msg[1] == 1 and len(msg) == 84) or
                                (msg[1] == 2 and len(msg) > 84 + 2 and
                                 len(msg) == 84 + 48 + 32 * msg[85])):
                session_key = msg[20:36]
    session_opened = 0
    if session_key:
        for up, payload in dgrams:
            if opens(session_key, b"C" if up else b"S", payload) is not None:
                session_opened += 1
    print(f"decrypt: {n} datagrams between victim and server; opened with the attacker's "
          f"keys (K, its K_pair): {opened_by_attacker}; introduction messages opened with "
          f"the victim's K_pair: {intro_opened}; response found: {session_key is not None}; "
          f"datagrams opened with the session key from it: {session_opened}")
    ok = n >= 20 and opened_by_attacker == 0 and intro_opened >= 2 and session_key and \
        session_opened >= 10
    return 0 if ok else 1


def forge_intro(seed, k_hex, rot_ms, count):
    k = bytes.fromhex(k_hex)
    seed_b = ipaddress.IPv6Address(seed).packed
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    for _ in range(count):
        slot = int(time.time() * 1000) // rot_ms
        addr, port = slot_addr(seed_b[:8], seed_b[8:], k, slot)
        req = bytes([0, 1, 0, 0]) + os.urandom(8) + seed_b[:8] + struct.pack(
            ">Q", int(time.time() * 1000))
        inner = struct.pack(">IHBB", 6 << 28, len(req), 254, 64) + os.urandom(16) + seed_b + req
        s.sendto(seal(k, b"C", inner), (str(ipaddress.IPv6Address(addr)), port))
        time.sleep(0.02)
    print(f"forge-intro: sent {count} requests sealed with K")
    return 0


def forge_session(addr, port, k_hex, count):
    k = bytes.fromhex(k_hex)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    inner = struct.pack(">IHBB", 6 << 28, 8, 17, 64) + os.urandom(32) + os.urandom(8)
    for _ in range(count):
        s.sendto(seal(k, b"C", inner), (addr, port))
    print(f"forge-session: sent {count} datagrams sealed with K to [{addr}]:{port}")
    return 0


def watch(ifname, seconds, net):
    net = ipaddress.IPv6Network(net)
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    raw.bind((ifname, 3))
    raw.settimeout(0.1)
    start = time.monotonic()
    tick = start + 1
    flows = {}
    total = 0
    while time.monotonic() < start + seconds:
        try:
            p = udp6(raw.recv(65535))
        except socket.timeout:
            p = None
        if p:
            frame_src, frame_dst = ipaddress.IPv6Address(p[0]), ipaddress.IPv6Address(p[1])
            if frame_src in net or frame_dst in net:
                sport, dport = p[3]
                key = (f"[{frame_src}]:{sport}", f"[{frame_dst}]:{dport}")
                flows[key] = flows.get(key, 0) + 1
                total += 1
        if time.monotonic() >= tick:
            t = int(tick - start)
            print(f"-- observer, second {t}: {len(flows)} address pairs, {total} datagrams")
            for (a, b), n in sorted(flows.items()):
                print(f"   {a:>46} -> {b:<46} {n:6d}")
            sys.stdout.flush()
            flows = {}
            total = 0
            tick += 1
    return 0


def echo(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::", port))
    while True:
        b, a = s.recvfrom(2048)
        s.sendto(b, a)


def firstbyte(mt6d, conf, addr, port, count):
    import signal
    import subprocess
    times = []
    for k in range(count):
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.settimeout(0.002)
        t0 = time.monotonic()
        p = subprocess.Popen([mt6d, "client", "-c", conf], stderr=subprocess.DEVNULL)
        got = None
        while time.monotonic() - t0 < 60:
            try:
                s.sendto(b"first-byte-probe", (addr, port))
            except OSError:
                time.sleep(0.002)  # no route or address yet: no session
                continue
            try:
                if s.recv(64) == b"first-byte-probe":
                    got = time.monotonic() - t0
                    break
            except (socket.timeout, OSError):
                pass
        p.send_signal(signal.SIGINT)
        p.wait()
        s.close()
        if got is None:
            print(f"firstbyte: run {k}: no echo within 60 s")
            return 1
        times.append(got * 1000)
        print(f"firstbyte: run {k}: {got * 1000:.1f} ms", flush=True)
        time.sleep(0.2)
    times.sort()
    p50 = times[len(times) // 2]
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"firstbyte: {count} starts, median {p50:.1f} ms, p99 {p99:.1f} ms, "
          f"min {times[0]:.1f} ms, max {times[-1]:.1f} ms")
    return 0


def main(argv):
    cmd = argv[1]
    if cmd == "decrypt":
        return decrypt(*argv[2:9])
    if cmd == "forge-intro":
        return forge_intro(argv[2], argv[3], int(argv[4]), int(argv[5]))
    if cmd == "echo":
        return echo(int(argv[2]))
    if cmd == "firstbyte":
        return firstbyte(argv[2], argv[3], argv[4], int(argv[5]), int(argv[6]))
    if cmd == "watch":
        return watch(argv[2], float(argv[3]), argv[4])
    if cmd == "forge-session":
        return forge_session(argv[2], int(argv[3]), argv[4], int(argv[5]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    # Ctrl-C ends any command at once and quietly, even when this process
    # was started with SIGINT ignored (a shell's background job): the demo
    # runs `watch` in the foreground and must stop with it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt:
        sys.exit(130)
