# SPDX-License-Identifier: MIT
"""A stand-in server daemon for mt6d web with many sessions (tests/web/test_web_many.sh,
bench/web/page10k.py): a Unix socket that answers `status` with SESSIONS sessions and
streams, on `events`, one rotation event per session at every slot edge.

Rules this file keeps:
 - Only the parts of the control protocol mt6d web uses (`status`, `events`), in the
   daemon's formats (the status document's field names, the `hello` line, one JSON
   object a line).
 - Addresses from 2001:db8::/32 only; deterministic (seeded) endpoints.
 - Everything runs in daemon threads: it ends with the process that started it.
"""
import json
import random
import socket
import threading
import time


class StandIn:
    def __init__(self, path, sessions, rot_ms=1000):
        self.path, self.n, self.rot_ms = path, sessions, rot_ms
        self.rnd = random.Random(1)
        self.lock = threading.Lock()
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def slot(self, now_ms=None):
        return (int(time.time() * 1000) if now_ms is None else now_ms) // self.rot_ms

    def _ep(self, prefix):
        with self.lock:
            r = self.rnd
            return "[%s:%x:%x:%x:%x]:%d" % (prefix, *(r.getrandbits(16) for _ in range(4)),
                                            r.randint(1024, 65535))

    def status(self, now_ms):
        slot = self.slot(now_ms)
        ss = [{"name": "sim%d" % i, "tunnel": "2001:db8:100::%x" % (i + 2), "slot": slot,
               "local": self._ep("2001:db8:5:0"), "remote": self._ep("2001:db8:c8:0"),
               "established_ms": now_ms - 60000, "last_rx_ms": now_ms - 500, "rx_spoofed": 0,
               "underlay": False, "rebinds": 0, "rebind_ms": 0, "rx_packets": 10,
               "rx_bytes": 1000, "tx_packets": 10, "tx_bytes": 1000, "rotations": 60}
              for i in range(self.n)]
        return {"role": "server", "interface": "mt6d0", "prefix": "2001:db8:5::/64",
                "now_ms": now_ms, "clients": self.n, "session_count": self.n,
                "publisher": {"window": 1, "period": 900, "rotation_ms": self.rot_ms,
                              "round_window": 1, "done": self.n, "total": self.n, "failed": 0},
                "stats": {"unrecognized": 0}, "sessions": ss}

    def _events(self, c):
        c.sendall(b'{"event":"hello","queue_max":1048576}\n')
        while True:
            slot = self.slot()
            lines = "".join(json.dumps(
                {"event": "rotation", "session": "sim%d" % i, "slot": slot,
                 "local": self._ep("2001:db8:5:0"), "remote": self._ep("2001:db8:c8:0"),
                 "rotation_ms": self.rot_ms}, separators=(",", ":")) + "\n"
                for i in range(self.n))
            c.sendall(lines.encode())
            time.sleep(max(0.0, (slot + 1) * self.rot_ms / 1000.0 - time.time()))

    def _one(self, c):
        try:
            req = c.recv(600).split(b"\n")[0]
            if req == b"events":
                self._events(c)
            else:
                c.sendall(json.dumps(self.status(int(time.time() * 1000))).encode() + b"\n")
        except OSError:
            pass
        c.close()

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._one, args=(c,), daemon=True).start()
