#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The link's view of mode = ndp (standard library only; its own NS/NA
code, none shared with src/daemon/ndp_msg.c).

  scan IFNAME PREFIX/64 COUNT FILE [LIVE...]
      From IFNAME's link-local address and MAC, send a Neighbor
      Solicitation (to the solicited-node group, with a source link-layer
      option) for each LIVE address first, then for COUNT random addresses
      of PREFIX/64, and listen for advertisements until 2 s after the last.
      Each advertisement is checked as a router's kernel would (hop limit
      255, checksum, S and O set, R clear, target = IPv6 source, a target
      link-layer option equal to the frame's source MAC). Prints one line
      per answer and a summary; exit 1 if a random address got an answer,
      a LIVE one got none, or an answer was malformed. The random
      addresses are written to FILE, one a line, for another observer.
      A LIVE of the form @SOCKET stands for the current outer addresses
      of the daemon whose control socket that is (`$MT6D show --json`),
      read and solicited at once: with short slots an address leaves its
      window soon after it is read.
"""
import ipaddress
import json
import os
import random
import socket
import struct
import subprocess
import sys
import time

ETH_P_IPV6 = 0x86DD
PACKET_OUTGOING = 4


def csum(src, dst, payload):
    data = src + dst + struct.pack("!I", len(payload)) + b"\0\0\0\x3a" + payload
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def link_local(ifname):
    with open("/proc/net/if_inet6") as f:
        for line in f:
            a, _, _, scope, _, name = line.split()
            if name == ifname and scope == "20":
                return bytes.fromhex(a)
    raise SystemExit("no link-local address on " + ifname)


def ns_frame(src, mac, target):
    group = bytes.fromhex("ff0200000000000000000001ff") + target[13:]
    icmp = bytearray(struct.pack("!BBHI", 135, 0, 0, 0) + target + bytes([1, 1]) + mac)
    struct.pack_into("!H", icmp, 2, csum(src, group, bytes(icmp)))
    ip = struct.pack("!IHBB", 0x60000000, len(icmp), 58, 255) + src + group
    return b"\x33\x33" + group[12:] + mac + struct.pack("!H", ETH_P_IPV6) + ip + bytes(icmp)


def parse_na(frame):
    """(target, None) for a well-formed NA, (target, why) for a bad one,
    None for anything else."""
    if len(frame) < 14 + 40 + 24 or frame[12:14] != b"\x86\xdd" or frame[20] != 58:
        return None
    ip, icmp = frame[14:54], frame[54:]
    plen = struct.unpack("!H", ip[4:6])[0]
    icmp = icmp[:plen]
    if icmp[0] != 136:
        return None
    target = icmp[8:24]
    src, dst = ip[8:24], ip[24:40]
    if ip[7] != 255:
        return target, "hop limit %d" % ip[7]
    if csum(src, dst, icmp) != 0:
        return target, "bad checksum"
    if icmp[4] & 0xE0 != 0x60:
        return target, "flags %#x, want S and O" % icmp[4]
    if src != target:
        return target, "source is not the target"
    opts, tlla = icmp[24:], None
    while len(opts) >= 8 and opts[1]:
        if opts[0] == 2 and opts[1] == 1:
            tlla = opts[2:8]
        opts = opts[opts[1] * 8:]
    if tlla != frame[6:12]:
        return target, "target link-layer option %s, frame from %s" % (
            tlla.hex() if tlla else None, frame[6:12].hex())
    return target, None


def live_addresses(item):
    if not item.startswith("@"):
        return [ipaddress.IPv6Address(item).packed]
    out = subprocess.run([os.environ["MT6D"], "show", "--json", "--socket", item[1:]],
                         check=True, capture_output=True).stdout
    j = json.loads(out)
    eps = [x["local"] for x in j.get("sessions", [])] + [
        x["endpoint"] for x in j.get("introduction", [])]
    if "local" in j:
        eps.append(j["local"])
    return [ipaddress.IPv6Address(e.rsplit(":", 1)[0].strip("[]")).packed for e in eps]


def scan(ifname, prefix, count, path, live):
    net = ipaddress.IPv6Network(prefix)
    mac = bytes.fromhex(open("/sys/class/net/%s/address" % ifname).read().strip().replace(":", ""))
    src = link_local(ifname)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IPV6))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((ifname, ETH_P_IPV6))
    asked = []
    for item in live:
        for t in live_addresses(item):
            s.send(ns_frame(src, mac, t))
            asked.append(t)
    live = asked
    s.setblocking(False)
    rnd = random.Random(os.urandom(8))
    randoms = set()
    while len(randoms) < count:
        randoms.add(net.network_address.packed[:8] + rnd.getrandbits(64).to_bytes(8, "big"))
    with open(path, "w") as f:
        for t in sorted(randoms):
            print(ipaddress.IPv6Address(t), file=f)
    answers, bad = {}, []

    def drain():
        while True:
            try:
                frame, addr = s.recvfrom(2048)
            except BlockingIOError:
                return
            if addr[2] == PACKET_OUTGOING:
                continue
            r = parse_na(frame)
            if r is None:
                continue
            target, why = r
            if target not in randoms and target not in asked:
                continue  # the hosts' kernels answering the router's own NUD
            answers[target] = frame[6:12].hex()
            if why:
                bad.append((ipaddress.IPv6Address(target), why))

    drain()
    t0 = time.monotonic()
    for i, t in enumerate(sorted(randoms)):
        while True:
            try:
                s.send(ns_frame(src, mac, t))
                break
            except BlockingIOError:
                drain()
                time.sleep(0.001)
        if i % 256 == 0:
            drain()
    sent = time.monotonic() - t0
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        drain()
        time.sleep(0.05)
    rc = 0
    for t in live:
        a = ipaddress.IPv6Address(t)
        if t in answers:
            print("live %s: advertised by %s" % (a, answers[t]))
        else:
            print("FAIL: live %s: no advertisement" % a)
            rc = 1
    leaked = [t for t in answers if t in randoms]
    for t in leaked:
        print("FAIL: random %s: advertised by %s" % (ipaddress.IPv6Address(t), answers[t]))
        rc = 1
    for a, why in bad:
        print("FAIL: advertisement for %s: %s" % (a, why))
        rc = 1
    print("scan: %d solicitations for live addresses, %d for random addresses of %s in %.2f s;"
          " %d advertisements, %d for random addresses, %d malformed"
          % (len(live), len(randoms), net, sent, len(answers), len(leaked), len(bad)))
    return rc


def main(argv):
    if len(argv) >= 6 and argv[1] == "scan":
        return scan(argv[2], argv[3], int(argv[4]), argv[5], argv[6:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
