#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Helpers for the tunnel netns tests (standard library only).

  stream-server PORT SECONDS           accept one TCP connection, check the
                                       pattern, print "received N bytes", exit 0
  stream-client ADDR PORT SECONDS RATE send the pattern for SECONDS at RATE
                                       bytes/s; exit 1 on any error (reset)
  inject IFNAME SRC DST COUNT          capture UDP datagrams from SRC/64 to DST/64 on
                                       IFNAME (AF_PACKET) and send each again:
                                       as is (replay), one bit flipped (forged),
                                       cut to 30 bytes (truncated)
  observe PCAP ROT_MS INNER_ADDR...    check a capture (datagrams from or to
                                       the routers' 2001:db8:{a,b}::1, i.e. the
                                       injected ones, left out): >= 20 distinct outer
                                       address pairs, no endpoint used longer
                                       than one slot, no inner address or
                                       payload marker in clear
"""
import ipaddress
import socket
import struct
import sys
import time

MARKER = b"MT6D-INNER-PAYLOAD-MARKER-0123456789abcdef\n"


def pattern(offset, n):
    m = len(MARKER)
    start = offset % m
    reps = (start + n) // m + 1
    return (MARKER * reps)[start:start + n]


def stream_server(port, seconds):
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("::", port))
    ls.listen(1)
    ls.settimeout(seconds)
    c, peer = ls.accept()
    c.settimeout(30)
    total = 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        if b != pattern(total, len(b)):
            print(f"stream-server: corrupted data at offset {total}")
            return 1
        total += len(b)
    c.sendall(struct.pack(">Q", total))
    c.close()
    print(f"stream-server: received {total} bytes from {peer[0]}")
    return 0


def stream_client(addr, port, seconds, rate):
    s = socket.create_connection((addr, port), timeout=30)
    start = time.monotonic()
    sent = 0
    chunk = 8192
    while True:
        now = time.monotonic() - start
        if now >= seconds:
            break
        if sent > rate * now:
            time.sleep(min(0.01, sent / rate - now))
            continue
        s.sendall(pattern(sent, chunk))
        sent += chunk
    s.shutdown(socket.SHUT_WR)
    got = b""
    while len(got) < 8:
        b = s.recv(8 - len(got))
        if not b:
            print("stream-client: connection closed before the byte count")
            return 1
        got += b
    n = struct.unpack(">Q", got)[0]
    print(f"stream-client: sent {sent} bytes in {seconds} s, server counted {n}")
    return 0 if n == sent else 1


def parse_ipv6_udp(frame):
    """(src, sport, dst, dport, payload) of an Ethernet IPv6/UDP frame, or None."""
    if len(frame) < 14 + 40 + 8 or frame[12:14] != b"\x86\xdd" or frame[14 + 6] != 17:
        return None
    ip = frame[14:]
    src, dst = ip[8:24], ip[24:40]
    sport, dport = struct.unpack(">HH", ip[40:44])
    return src, sport, dst, dport, ip[48:]


def inject(ifname, src_prefix, dst_prefix, count):
    snet, net = ipaddress.IPv6Network(src_prefix), ipaddress.IPv6Network(dst_prefix)
    # ETH_P_ALL: frames a device sends reach only "all protocols" taps.
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    raw.bind((ifname, 3))  # Python applies htons here itself
    raw.settimeout(5)
    tx = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    done = 0
    deadline = time.monotonic() + 60
    while done < count and time.monotonic() < deadline:
        # Drop what queued up while we slept: an old frame's slot may have
        # left the receiver's window, and its copies would not be counted.
        raw.setblocking(False)
        while True:
            try:
                raw.recv(65535)
            except BlockingIOError:
                break
        raw.settimeout(5)
        frame = raw.recv(65535)
        p = parse_ipv6_udp(frame)
        if (not p or ipaddress.IPv6Address(p[0]) not in snet
                or ipaddress.IPv6Address(p[2]) not in net or len(p[4]) < 60):
            continue
        dst = str(ipaddress.IPv6Address(p[2]))
        payload = p[4]
        forged = bytearray(payload)
        forged[len(forged) // 2] ^= 0x01
        for d in (payload, bytes(forged), payload[:30]):
            tx.sendto(d, (dst, p[3]))
        done += 1
        time.sleep(0.05)
    print(f"inject: sent {done} replayed, {done} forged, {done} truncated datagrams")
    return 0 if done == count else 1


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        yield sec + frac / (1e9 if nano else 1e6), data[off:off + incl]
        off += incl


ROUTER = {ipaddress.IPv6Address("2001:db8:a::1").packed,
          ipaddress.IPv6Address("2001:db8:b::1").packed}


def observe(path, rot_ms, inner):
    inner_bytes = [ipaddress.IPv6Address(a).packed for a in inner]
    pairs = set()
    spans = {}
    heads = set()
    n = 0
    bad = 0
    replies = 0
    for t, frame in read_pcap(path):
        p = parse_ipv6_udp(frame)
        if not p:
            continue
        src, sport, dst, dport, payload = p
        if src in ROUTER or dst in ROUTER:
            continue
        if len(payload) == 34:
            # An unrecognized-connection reply (docs/rebind.md): it echoes
            # the first 16 bytes of the datagram that triggered it, by
            # design; it is not tunnel traffic.
            replies += 1
            continue
        n += 1
        pairs.add((src, dst))
        for ep in ((src, sport), (dst, dport)):
            lo, hi = spans.get(ep, (t, t))
            spans[ep] = (min(lo, t), max(hi, t))
        if MARKER[:16] in frame or any(a in frame for a in inner_bytes):
            bad += 1
        heads.add(payload[:16])
    longest = max((hi - lo for lo, hi in spans.values()), default=0)
    print(f"observe: {n} outer datagrams, {len(pairs)} distinct address pairs, "
          f"{len(spans)} endpoints, longest endpoint lifetime {longest * 1000:.0f} ms "
          f"(rotation {rot_ms} ms), {len(heads)} distinct first-16-byte heads, "
          f"{bad} datagrams with an inner address or payload in clear, "
          f"{replies} unrecognized-connection replies")
    ok = True
    if n < 100 or len(pairs) < 20:
        print("observe: FAIL: too few datagrams or address pairs")
        ok = False
    if longest * 1000 > rot_ms + 250:
        print("observe: FAIL: an outer (address, port) was used across slots")
        ok = False
    if bad:
        print("observe: FAIL: cleartext inner bytes seen")
        ok = False
    # veth forwards a UDP GSO train as one frame: its first datagram's head.
    if len(heads) != n:
        print("observe: FAIL: two datagrams share their first 16 bytes")
        ok = False
    return 0 if ok else 1


def main(argv):
    cmd = argv[1]
    if cmd == "stream-server":
        return stream_server(int(argv[2]), float(argv[3]))
    if cmd == "stream-client":
        return stream_client(argv[2], int(argv[3]), float(argv[4]), float(argv[5]))
    if cmd == "inject":
        return inject(argv[2], argv[3], argv[4], int(argv[5]))
    if cmd == "observe":
        return observe(argv[2], int(argv[3]), argv[4:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
