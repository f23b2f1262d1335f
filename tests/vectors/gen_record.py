#!/usr/bin/env python3
"""Independent computation of Écluse's subject keys and blind indexes with Python's hashlib.

subject key  = BLAKE2b-256 keyed with the subject-index key over the normalised identifier
blind index  = BLAKE2b-128 keyed with the field-index key over
               dataset || 0x00 || field || 0x00 || normalised value
Writes tests/vectors/record.txt: "subject KEYHEX INPUTHEX OUTHEX" and
"index KEYHEX DATASET FIELD INPUTHEX OUTHEX" per line (keys: bytes 0..31 and 32..63)."""
import hashlib

K1 = bytes(range(32))
K2 = bytes(range(32, 64))
SUBJECTS = [b"185017512345678", b"1", b"", "Zoë".encode(), b"x" * 256]
INDEXES = [("citizens", "last_name", "Lefèvre".encode()), ("citizens", "postcode", b"75015"),
           ("benefits", "household_id", b"HH-0000000001"), ("d", "f", b""),
           ("citizens", "email", b"marie.dupont@example.fr")]

if __name__ == "__main__":
    for key in (K1, K2):
        for s in SUBJECTS:
            out = hashlib.blake2b(s, digest_size=32, key=key).hexdigest()
            print("subject", key.hex(), s.hex() or "-", out)
        for ds, field, v in INDEXES:
            msg = ds.encode() + b"\0" + field.encode() + b"\0" + v
            out = hashlib.blake2b(msg, digest_size=16, key=key).hexdigest()
            print("index", key.hex(), ds, field, v.hex() or "-", out)
