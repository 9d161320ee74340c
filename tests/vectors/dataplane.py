#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Independent implementation of the MT6D data-plane encapsulation
(docs/protocol.md, "Data plane") with hashlib and PyNaCl, to make its test
vectors. Written from the document, not from the C code.

  k_dir    = BLAKE2b-256(key = K_S, msg = "mt6d data v1" || dir), dir 'C' or 'S'
  datagram = nonce(24) || XChaCha20-Poly1305(k_dir, nonce, ad = "",
                                             counter(8, big-endian) || inner)

Run: /usr/bin/python3 tests/vectors/dataplane.py   (prints the vectors)
"""
import hashlib
import struct

from nacl.bindings import (crypto_aead_xchacha20poly1305_ietf_decrypt,
                           crypto_aead_xchacha20poly1305_ietf_encrypt)

LABEL = b"mt6d data v1"


def dir_key(ks: bytes, d: bytes) -> bytes:
    return hashlib.blake2b(LABEL + d, key=ks, digest_size=32).digest()


def seal(key: bytes, nonce: bytes, counter: int, inner: bytes) -> bytes:
    pt = struct.pack(">Q", counter) + inner
    return nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(pt, None, nonce, key)


def open_(key: bytes, dgram: bytes):
    pt = crypto_aead_xchacha20poly1305_ietf_decrypt(dgram[24:], None, dgram[:24], key)
    return struct.unpack(">Q", pt[:8])[0], pt[8:]


VECTORS = [
    # (K_S hex, dir, nonce hex, counter, inner hex)
    ("000102030405060708090a0b0c0d0e0f", b"C",
     "404142434445464748494a4b4c4d4e4f5051525354555657", 0, ""),
    ("000102030405060708090a0b0c0d0e0f", b"S",
     "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7", 1,
     # an IPv6 header (no payload) 2001:db8:100::1 -> 2001:db8:100::2, hop limit 64
     "60000000000011402001" "0db8010000000000000000000001"
     "20010db8010000000000000000000002"),
    ("f0e1d2c3b4a5968778695a4b3c2d1e0f", b"C",
     "000000000000000000000000000000000000000000000001", 0x0123456789abcdef,
     "6d743664"),
]


def main():
    for i, (ks, d, nonce, ctr, inner) in enumerate(VECTORS, 1):
        ks_b, nonce_b, inner_b = bytes.fromhex(ks), bytes.fromhex(nonce), bytes.fromhex(inner)
        key = dir_key(ks_b, d)
        dg = seal(key, nonce_b, ctr, inner_b)
        assert open_(key, dg) == (ctr, inner_b)
        print(f"vector {i}")
        print(f"  K_S      {ks}")
        print(f"  dir      {d.decode()}")
        print(f"  k_dir    {key.hex()}")
        print(f"  nonce    {nonce}")
        print(f"  counter  {ctr:016x}")
        print(f"  inner    {inner or '(empty)'}")
        print(f"  datagram {dg.hex()}")


if __name__ == "__main__":
    main()
