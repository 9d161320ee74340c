# SPDX-License-Identifier: MIT
# Reads a pcap (Ethernet, as tcpdump writes it on a veth) of the server's
# link and checks what test_dht_auto.sh asks (one concept: that check).
# Usage: dhtauto_check.py PCAP PERIOD STATIC_ADDR PREFIX64 SWARM_ADDR
# Prints figures; exit 1 with FAIL lines when a check fails.
import ipaddress
import struct
import sys
from collections import defaultdict

pcap, period = sys.argv[1], int(sys.argv[2])
static = ipaddress.IPv6Address(sys.argv[3])
prefix = ipaddress.IPv6Network(sys.argv[4])
swarm = ipaddress.IPv6Address(sys.argv[5])

with open(pcap, "rb") as f:
    data = f.read()
magic = struct.unpack("<I", data[:4])[0]
endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
off = 24
fails = []
static_udp = 0
windows = defaultdict(set)   # DHT endpoint of the server -> windows it sent in
keys = defaultdict(set)      # DHT endpoint -> BEP 44 public keys it put
dht_pkts = 0
while off + 16 <= len(data):
    sec, frac, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
    pkt = data[off + 16:off + 16 + incl]
    off += 16 + incl
    t = sec + frac / (1e9 if nano else 1e6)
    if len(pkt) < 14 + 40 + 8 or pkt[12:14] != b"\x86\xdd" or pkt[14 + 6] != 17:
        continue
    src = ipaddress.IPv6Address(pkt[22:38])
    dst = ipaddress.IPv6Address(pkt[38:54])
    sport, dport = struct.unpack(">HH", pkt[54:58])
    payload = pkt[62:]
    if src == static or dst == static:
        static_udp += 1
    if dst == swarm and src in prefix:
        dht_pkts += 1
        ep = (str(src), sport)
        windows[ep].add(int(t) // period)
        i = payload.find(b"1:k32:")
        if b"3:put" in payload and i >= 0:
            keys[ep].add(payload[i + 6:i + 38])

print(f"server DHT datagrams to the swarm: {dht_pkts}, endpoints: {len(windows)}")
print(f"UDP from or to the static address {static}: {static_udp}")
multi = {ep: w for ep, w in windows.items() if len(w) > 1}
print(f"endpoints seen in more than one window: {len(multi)}")
allw = sorted(set().union(*windows.values())) if windows else []
print(f"windows with server DHT traffic: {len(allw)}")
most = max((len(k) for k in keys.values()), default=0)
print(f"BEP 44 keys put per endpoint: at most {most} "
      f"({sum(len(k) for k in keys.values())} puts' keys over {len(keys)} endpoints)")
if static_udp:
    fails.append("the static address sent or received UDP")
if multi:
    fails.append(f"endpoints used in two windows: {sorted(multi.items())[:3]}")
if len(allw) < 2:
    fails.append("server DHT traffic in fewer than two windows (nothing checked)")
if len(windows) < 4:
    fails.append("fewer than 4 DHT endpoints of the server (nothing moved)")
if most > 4:
    fails.append(f"an endpoint put {most} clients' items")
if not keys:
    fails.append("no BEP 44 put seen")
for m in fails:
    print("FAIL:", m)
sys.exit(1 if fails else 0)
