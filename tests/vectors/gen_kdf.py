#!/usr/bin/env python3
"""Independent computation of Écluse's key-derivation vectors with Python's hashlib.

crypto_kdf_derive_from_key(out, 32, id, ctx, master) is BLAKE2b-256 keyed with the master key,
with salt = id (8 bytes little-endian) || 8 zero bytes and personal = ctx (8 bytes) || 8 zero
bytes, over the empty message.  Writes tests/vectors/kdf.txt: "use version hexkey" per line."""
import hashlib
import struct

MASTER = bytes(range(32))
USES = [("record-kek", "ecl-rkek"), ("subject-index", "ecl-sidx"), ("field-index", "ecl-fidx"),
        ("pseudonym", "ecl-pseu"), ("token", "ecl-tokn"), ("audit-entry", "ecl-aent"),
        ("audit-index", "ecl-aidx"), ("api-key-pepper", "ecl-apik"),
        ("audit-sign-seal", "ecl-sign")]

if __name__ == "__main__":
    for name, ctx in USES:
        for version in (1, 2, 4294967295):
            key = hashlib.blake2b(b"", digest_size=32, key=MASTER,
                                  salt=struct.pack("<Q", version) + bytes(8),
                                  person=ctx.encode() + bytes(8)).hexdigest()
            print(name, version, key)
