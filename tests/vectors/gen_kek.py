#!/usr/bin/env python3
"""Independent computation of the record-KEK derivation (crypto/keys.c, ecl_record_kek_derive)
with Python's hashlib.

KEK_v = BLAKE2b-256(key = crypto_kdf_derive_from_key(32, v, "ecl-rkek", master), msg = material)
where crypto_kdf_derive_from_key is BLAKE2b-256 keyed with the master key, salt = v (8 bytes
little-endian) || 8 zero bytes, personal = "ecl-rkek" || 8 zero bytes, over the empty message.
Writes tests/vectors/kek.txt: "version material-hex kek-hex" per line, master = 00 01 .. 1f."""
import hashlib
import struct

MASTER = bytes(range(32))

if __name__ == "__main__":
    for version, material in ((1, bytes(32)), (2, bytes(range(32, 64))),
                              (4294967295, b"\xff" * 32)):
        base = hashlib.blake2b(b"", digest_size=32, key=MASTER,
                               salt=struct.pack("<Q", version) + bytes(8),
                               person=b"ecl-rkek" + bytes(8)).digest()
        kek = hashlib.blake2b(material, digest_size=32, key=base).hexdigest()
        print(version, material.hex(), kek)
