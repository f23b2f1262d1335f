#!/usr/bin/env python3
"""Independent computation of the API-key hash vectors with Python's hashlib.

hash = BLAKE2b-256(key = api-key pepper, "ecluse api key v1" || 0x00 || id (8) || secret (32)).
The pepper is the api-key-pepper key, version 1, derived from the master key bytes(range(32))
(see gen_kdf.py).  Writes tests/vectors/apikey.txt: "key-text hash-hex" per line, where
key-text = "ek_" || hex(id) || "." || base64url(secret) without padding."""
import base64
import hashlib
import struct

MASTER = bytes(range(32))
PEPPER = hashlib.blake2b(b"", digest_size=32, key=MASTER, salt=struct.pack("<Q", 1) + bytes(8),
                         person=b"ecl-apik" + bytes(8)).digest()


def row(ident, secret):
    text = "ek_" + ident.hex() + "." + base64.urlsafe_b64encode(secret).decode().rstrip("=")
    h = hashlib.blake2b(b"ecluse api key v1\x00" + ident + secret, digest_size=32, key=PEPPER)
    return text + " " + h.hexdigest()


if __name__ == "__main__":
    print(row(bytes(8), bytes(32)))
    print(row(bytes(range(8)), bytes(range(32))))
    print(row(b"\xff" * 8, b"\xff" * 32))
    print(row(bytes.fromhex("0123456789abcdef"), bytes(range(100, 132))))
