#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Helpers for the rebinding netns tests (standard library only).

  stream-server PORT SECONDS LOG
      As tunhelper's stream-server (one TCP connection, the pattern
      checked), and every 0.25 s appends "UNIXTIME BYTES" to LOG.
  progress LOG SECONDS
      Bytes the stream-server counted in the last SECONDS (by its log);
      exit 0 if more than none.
  stall LOG FROM TO MAX
      The longest time without a new byte between unix times FROM and TO;
      prints it, exit 1 if it is longer than MAX seconds.
  capture IFNAME SRCNET DSTNET LEN COUNT SECONDS OUT
      Capture (AF_PACKET) up to COUNT IPv6 UDP datagrams with a payload of
      exactly LEN bytes (0: any) from SRCNET to DSTNET, for at most SECONDS; each
      is written to OUT at once as "UNIXTIME SRC SPORT DST DPORT HEX".
      SIGTERM ends it early.
      Exit 0 if at least one was seen.
  send SRC DST DPORT HEX
      One UDP datagram from SRC (any port) to [DST]:DPORT.
  spoof SRC SPORT DST DPORT HEX
      One UDP datagram with a source address and port this host does not
      have, from an IPPROTO_RAW socket (IPv6 header and checksum ours).
  flood ADDR PORT COUNT SECONDS RATE BURST CLAIMLEN
      To ADDR:PORT (IPv4), from one socket: 33 datagrams of 1..33 bytes
      (no reply expected, and they must cost no token), BURST long ones
      (BURST replies expected), then COUNT junk datagrams of random lengths
      1..1400 paced over SECONDS. Collects the replies until 2 s after the
      last datagram and checks each is an unrecognized-connection
      reply (docs/rebind.md) of exactly 34 bytes to a trigger of 34 bytes
      or more, echoing its first 16 bytes and our address and port, and
      that there are at most BURST + RATE * (last reply - first send) + 1.
      Prints "flood: key=value ..." (claim_len: how many had the claim
      length, which the server tries as claims); exit 1 on any violation.
  observe PCAP CHANGE NEWNET OLDNET SERVERNET QUIET
      The observer's view of a prefix change at unix time CHANGE: datagrams
      between NEWNET and SERVERNET after CHANGE (both directions), and none
      to or from OLDNET later than CHANGE + QUIET s; some with OLDNET
      before CHANGE (the capture works).
"""
import ipaddress
import os
import random
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tunhelper import pattern, read_pcap  # noqa: E402


def stream_server(port, seconds, log):
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("::", port))
    ls.listen(1)
    ls.settimeout(seconds)
    c, peer = ls.accept()
    c.settimeout(0.25)
    total = 0
    idle = 0.0
    with open(log, "a") as f:
        next_log = 0.0
        while True:
            now = time.time()
            if now >= next_log:
                f.write(f"{now:.3f} {total}\n")
                f.flush()
                next_log = now + 0.25
            try:
                b = c.recv(65536)
            except socket.timeout:
                idle += 0.25
                if idle > 30:
                    print(f"stream-server: nothing for 30 s after {total} bytes")
                    return 1
                continue
            idle = 0.0
            if not b:
                break
            if b != pattern(total, len(b)):
                print(f"stream-server: corrupted data at offset {total}")
                return 1
            total += len(b)
        f.write(f"{time.time():.3f} {total}\n")
    c.settimeout(30)
    c.sendall(struct.pack(">Q", total))
    c.close()
    print(f"stream-server: received {total} bytes from {peer[0]}")
    return 0


def read_log(log):
    rows = []
    with open(log) as f:
        for line in f:
            p = line.split()
            if len(p) == 2:
                rows.append((float(p[0]), int(p[1])))
    return rows


def progress(log, seconds):
    rows = read_log(log)
    if not rows:
        print("progress: no log yet")
        return 1
    t_end, n_end = rows[-1]
    base = n_end
    for t, n in rows:
        if t >= t_end - seconds:
            base = n
            break
    print(f"progress: {n_end - base} bytes in the last {seconds} s ({n_end} in all)")
    return 0 if n_end > base else 1


def stall(log, t0, t1, limit):
    rows = [r for r in read_log(log) if t0 <= r[0] <= t1]
    worst, last_t, last_n = 0.0, None, None
    for t, n in rows:
        if last_n is None or n > last_n:
            if last_t is not None:
                worst = max(worst, t - last_t)
            last_t, last_n = t, n
    if last_t is not None and rows:
        worst = max(worst, rows[-1][0] - last_t)
    print(f"stall: longest time without a new byte: {worst:.2f} s "
          f"({len(rows)} samples, {rows[-1][1] - rows[0][1] if rows else 0} bytes)")
    return 0 if rows and worst <= limit else 1


def parse6(frame):
    """(src, sport, dst, dport, payload) of an Ethernet IPv6/UDP frame, or None."""
    if len(frame) < 62 or frame[12:14] != b"\x86\xdd" or frame[20] != 17:
        return None
    ip = frame[14:]
    plen = struct.unpack(">H", ip[4:6])[0]
    sport, dport = struct.unpack(">HH", ip[40:44])
    return (ipaddress.IPv6Address(ip[8:24]), sport, ipaddress.IPv6Address(ip[24:40]), dport,
            ip[48:40 + plen])


def capture(ifname, srcnet, dstnet, length, count, seconds, out):
    snet, dnet = ipaddress.IPv6Network(srcnet), ipaddress.IPv6Network(dstnet)
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    raw.bind((ifname, 3))
    raw.settimeout(0.2)
    end = time.monotonic() + seconds
    n = 0

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with open(out, "w") as f:
        try:
            while n < count and time.monotonic() < end:
                try:
                    frame = raw.recv(65535)
                except socket.timeout:
                    continue
                p = parse6(frame)
                if (not p or p[0] not in snet or p[2] not in dnet
                        or (length and len(p[4]) != length)):
                    continue
                f.write(f"{time.time():.3f} {p[0]} {p[1]} {p[2]} {p[3]} {p[4].hex()}\n")
                f.flush()
                n += 1
        except KeyboardInterrupt:
            pass
    print(f"capture: {n} datagram(s) of {length} bytes from {srcnet} to {dstnet}")
    return 0 if n else 1


def send(src, dst, dport, hexdata):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.sendto(bytes.fromhex(hexdata), (dst, dport))
    print(f"send: {len(hexdata) // 2} bytes from [{src}]:{s.getsockname()[1]} to [{dst}]:{dport}")
    return 0


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f">{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def spoof(src, sport, dst, dport, hexdata):
    payload = bytes.fromhex(hexdata)
    s6, d6 = ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed
    ulen = 8 + len(payload)
    pseudo = s6 + d6 + struct.pack(">IxxxB", ulen, 17)
    udp = struct.pack(">HHHH", sport, dport, ulen, 0) + payload
    ck = checksum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack(">H", ck) + udp[8:]
    ip = struct.pack(">IHBB", 6 << 28, ulen, 17, 64) + s6 + d6
    raw = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
    raw.sendto(ip + udp, (dst, 0))
    print(f"spoof: {len(payload)} bytes from [{src}]:{sport} to [{dst}]:{dport}")
    return 0


def flood(addr, port, count, seconds, rate, burst, claim_len):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind(("0.0.0.0", 0))
    s.connect((addr, port))  # for getsockname; replies come from there too
    me = s.getsockname()
    me_v6 = b"\0" * 10 + b"\xff\xff" + socket.inet_aton(me[0])
    s.setblocking(False)
    sent = {}  # first 16 bytes -> lengths of the triggers that began so
    n_sent = n_long = n_short = n_claim = 0
    replies = []
    problems = []

    def drain():
        while True:
            try:
                b = s.recv(2048)
            except (BlockingIOError, ConnectionRefusedError):
                return
            replies.append((time.monotonic(), b))

    def send1(n):
        nonlocal n_sent, n_long, n_short, n_claim
        d = os.urandom(n)
        try:
            s.send(d)
        except (BlockingIOError, ConnectionRefusedError):
            return
        n_sent += 1
        n_claim += n == claim_len
        n_long += n >= 34
        n_short += n < 34
        sent.setdefault(d[:16], []).append(n)

    t0 = time.monotonic()
    # First, with the bucket still full: triggers of 1..33 bytes get no
    # reply and cost no token, so BURST long ones then all get one.
    for n in range(1, 34):
        send1(n)
        time.sleep(0.01)
    time.sleep(0.3)
    drain()
    short_replies = len(replies)
    for _ in range(burst):
        send1(random.randint(34, 1400))
    time.sleep(0.3)
    drain()
    burst_replies = len(replies) - short_replies
    if short_replies:
        problems.append(f"{short_replies} replies to the {n_short} short triggers sent first")
    if burst_replies < burst:
        problems.append(f"{burst_replies} replies to the {burst} long triggers sent next, "
                        f"with a full bucket")
    # Then the flood.
    t1 = time.monotonic()
    batch = max(1, count // max(1, int(seconds * 100)))
    flood_sent = 0
    while flood_sent < count:
        for _ in range(min(batch, count - flood_sent)):
            send1(random.randint(1, 1400))
            flood_sent += 1
        drain()
        delay = t1 + seconds * flood_sent / count - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    t_sent = time.monotonic()
    while time.monotonic() < t_sent + 2:
        drain()
        time.sleep(0.01)
    for t, b in replies:
        if len(b) != 34:
            problems.append(f"a reply of {len(b)} bytes")
            continue
        lens = sent.get(b[:16])
        if not lens:
            problems.append(f"a reply echoing {b[:16].hex()}, which we never sent")
        elif max(lens) < 34:
            problems.append(f"a reply to a trigger of {max(lens)} bytes (< 34)")
        if b[16:32] != me_v6 or struct.unpack(">H", b[32:34])[0] != me[1]:
            problems.append(f"a reply reporting {b[16:32].hex()} port "
                            f"{struct.unpack('>H', b[32:34])[0]}, not {me[0]}:{me[1]}")
    span = (replies[-1][0] - t0) if replies else 0.0
    bound = burst + rate * span + 1
    if len(replies) > bound:
        problems.append(f"{len(replies)} replies > {burst} + {rate} x {span:.2f} s + 1")
    print(f"flood: sent={n_sent} long={n_long} short={n_short} replies={len(replies)} "
          f"claim_len={n_claim} span_s={span:.2f} bound={bound:.1f} send_s={t_sent - t0:.2f} "
          f"source={me[0]}:{me[1]}")
    for p in sorted(set(problems)):
        print(f"flood: FAIL: {p}")
    return 1 if problems else 0


def observe(pcap, change, newnet, oldnet, servernet, quiet):
    new, old, srv = (ipaddress.IPv6Network(x) for x in (newnet, oldnet, servernet))
    up = down = old_before = old_late = 0
    last_old = None
    for t, frame in read_pcap(pcap):
        p = parse6(frame)
        if not p:
            continue
        src, dst = p[0], p[2]
        if src in old or dst in old:
            if t < change:
                old_before += 1
            else:
                last_old = t
                if t > change + quiet:
                    old_late += 1
        if t >= change:
            if src in new and dst in srv:
                up += 1
            elif src in srv and dst in new:
                down += 1
    lo = f"{last_old - change:.2f} s after the change" if last_old else "none after the change"
    print(f"observe: before the change {old_before} datagrams with {oldnet}; after it "
          f"{up} from {newnet} to {servernet}, {down} back; {old_late} with {oldnet} later "
          f"than {quiet} s after the change (last: {lo})")
    return 0 if old_before > 0 and up >= 20 and down >= 20 and old_late == 0 else 1


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "stream-server":
        return stream_server(int(argv[2]), float(argv[3]), argv[4])
    if cmd == "progress":
        return progress(argv[2], float(argv[3]))
    if cmd == "stall":
        return stall(argv[2], float(argv[3]), float(argv[4]), float(argv[5]))
    if cmd == "capture":
        return capture(argv[2], argv[3], argv[4], int(argv[5]), int(argv[6]), float(argv[7]),
                       argv[8])
    if cmd == "send":
        return send(argv[2], argv[3], int(argv[4]), argv[5])
    if cmd == "spoof":
        return spoof(argv[2], int(argv[3]), argv[4], int(argv[5]), argv[6])
    if cmd == "flood":
        return flood(argv[2], int(argv[3]), int(argv[4]), float(argv[5]), float(argv[6]),
                     int(argv[7]), int(argv[8]))
    if cmd == "observe":
        return observe(argv[2], float(argv[3]), argv[4], argv[5], argv[6], float(argv[7]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
