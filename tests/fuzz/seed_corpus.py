#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets added for the reliability battery (schema, import,
audit_entry, merkle, note, http_path, tokens) under tests/fuzz/corpus/<name>/.  Deterministic:
re-running it rewrites the same files.  The signed note and the stored leaf come from a real data
directory (ecluse init) and are kept as committed files in corpus/note and corpus/audit_entry;
this script only writes the synthetic seeds.
    tests/fuzz/seed_corpus.py [ROOT]"""
import base64
import hashlib
import json
import os
import struct
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(ROOT))


def put(target, name, data):
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- schema: the demo schemas and a few refusals
for n in ("citizens", "benefits"):
    with open(os.path.join(SRC, "demo", n + ".schema.json"), "rb") as f:
        put("schema", n + ".json", f.read())
put("schema", "dup_key.json", '{"name":"a","name":"b","fields":[]}')
put("schema", "no_subject.json",
    '{"name":"x","fields":[{"name":"a","type":"string","class":"identifier"}]}')
put("schema", "enum.json", '{"name":"x","fields":[{"name":"id","type":"string","class":'
    '"identifier","subject":true,"required":true},{"name":"e","type":"enum","values":["a","b"],'
    '"class":"quasi_identifier"}]}')
put("schema", "deep.json", "[" * 40 + "]" * 40)

# ---- import: byte 0 even = JSON Lines, odd = CSV; citizens records
people = [
    {"nir": "197121038749190", "first_name": "Guillaume", "last_name": "Le Gall", "sex": "M",
     "birth_date": "1997-12-30", "birth_place": "Troyes", "household_id": "HH-0000000001",
     "address": "157 place Jean Jaur\u00e8s", "postcode": "89000", "commune": "Auxerre",
     "insee_code": "89024", "phone": "06 04 49 08 89", "email": "g.legall@example.net",
     "iban": "FR76 4147 8404 4421 1943 8749 420", "income_bracket": "B", "disability": False},
    {"nir": "298088902474192", "first_name": "Aur\u00e9lie", "last_name": "Le Gall", "sex": "F",
     "birth_date": "1998-08-08", "birth_place": "Auxerre", "household_id": "HH-0000000001",
     "address": "157 place Jean Jaur\u00e8s", "postcode": "89000", "commune": "Auxerre",
     "insee_code": "89024", "phone": "06 11 22 33 44", "email": "a.legall@example.net",
     "iban": "FR76 3000 6000 0112 3456 7890 189", "income_bracket": "C", "disability": True},
]
jl = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in people)
put("import", "jsonl_two", b"\x00" + jl.encode())
put("import", "jsonl_dup", b"\x00" + (jl + json.dumps(people[0]) + "\n").encode())
put("import", "jsonl_bad_date", b"\x00" + jl.replace("1997-12-30", "1997-02-30").encode())
put("import", "jsonl_nested", b"\x00" + b'{"nir":{"a":[1]}}\n')
cols = list(people[0].keys())


def csv_field(v):
    s = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n') else s


csv = ",".join(cols) + "\r\n" + "".join(
    ",".join(csv_field(p[c]) for c in cols) + "\r\n" for p in people)
put("import", "csv_two", b"\x01" + csv.encode())
put("import", "csv_quoted", b"\x01" + csv.replace("Troyes", '"Troyes, ""Aube"""').encode())
put("import", "csv_short_row", b"\x01" + (",".join(cols) + "\n197121038749190,a\n").encode())
# regressions found by the fuzzer: an empty header line, and a row whose values are all empty
# (both leave the row buffer unallocated; the cells must not be taken from a NULL pointer)
put("import", "csv_empty_header", b"\x01\n" + csv.encode())
put("import", "csv_empty_row", b"\x01" + (",".join(cols) + "\n" + "," * (len(cols) - 1) + "\n").encode())

# ---- audit_entry: odd first byte = payload sealed with the real key (0..4 tokens in bits 1-3)
payloads = [
    {"v": 1, "kind": "log.created", "channel": "cli", "decision": "none", "detail": "x"},
    {"v": 1, "kind": "record.read", "channel": "rest", "decision": "allow", "principal": "a",
     "purpose": "benefits", "dataset": "citizens", "rule_id": "r1", "fields": ["nir"],
     "subjects": 1, "digest": "00" * 32},
    {"v": 1, "kind": "access.refused", "decision": "deny", "reason": "purpose_not_allowed"},
]
for i, p in enumerate(payloads):
    put("audit_entry", "payload_%d" % i, b"\x01" + json.dumps(p).encode())
put("audit_entry", "payload_tokens", b"\x05" + bytes(range(16)) + json.dumps(payloads[1]).encode())
put("audit_entry", "payload_not_json", b"\x01" + b"[1,2")
hdr = (b"ECLA" + b"\x01" + bytes(16) + struct.pack(">QQI", 3, 1700000000000, 1) + bytes(8) +
       struct.pack(">H", 2) + bytes(8) + b"\x01" * 8 + bytes(40))
put("audit_entry", "leaf_synthetic", b"\x00" + hdr)
put("audit_entry", "leaf_unsorted_tokens", b"\x00" + hdr.replace(bytes(8) + b"\x01" * 8,
                                                                 b"\x01" * 8 + bytes(8)))


# ---- merkle: genuine RFC 9162 proofs over leaves 0..n-1 (leaf i = the byte i)
def lh(b):
    return hashlib.sha256(b"\x00" + b).digest()


def nh(a, b):
    return hashlib.sha256(b"\x01" + a + b).digest()


def mth(leaves):
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return lh(leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return nh(mth(leaves[:k]), mth(leaves[k:]))


def path(m, leaves):
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m, leaves, b):
    n = len(leaves)
    if m == n:
        return [] if b else [mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, leaves[:k], b) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


for n, idx in ((1, 0), (7, 3), (13, 12), (64, 33)):
    leaves = [bytes([i]) for i in range(n)]
    put("merkle", "incl_%d_%d" % (n, idx),
        bytes([0, n - 1, idx, idx]) + b"".join(path(idx, leaves)))
for n, m in ((7, 3), (13, 8), (64, 1), (20, 20)):
    leaves = [bytes([i]) for i in range(n)]
    put("merkle", "cons_%d_%d" % (m, n),
        bytes([1, n - 1, m, n]) + b"".join(subproof(m, leaves, True)))

# ---- http_path: even = path, odd = query component
for i, p in enumerate(["/", "/v1/datasets/citizens/records/ps_1_abc", "/a%20b/c%C3%A9",
                       "/a/../b", "/a/%2e%2e/b", "/a//b", "/a%2Fb", "/%00", "/%c0%af",
                       "/" + "x/" * 20]):
    put("http_path", "path_%d" % i, b"\x00" + p.encode())
for i, q in enumerate(["a+b", "%41%42", "%zz", "caf%C3%A9", "../x", "%ED%A0%80"]):
    put("http_path", "query_%d" % i, b"\x01" + q.encode())


# ---- tokens: 0 pseudonym, 1 token to open, 2 value to seal, 3 base64
def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


put("tokens", "pseudonym", b"\x00ps_1_" + b64u(bytes(range(16))))
put("tokens", "pseudonym_zero_epoch", b"\x00ps_01_" + b64u(bytes(range(16))))
put("tokens", "pseudonym_pad", b"\x00ps_1_" + base64.urlsafe_b64encode(bytes(range(16))))
put("tokens", "token_forged", b"\x01tk_" + b64u(struct.pack(">I", 1) + bytes(24 + 5 + 16)))
put("tokens", "seal_string", b"\x02s197121038749190")
put("tokens", "seal_date", b"\x02d1997-12-30")
put("tokens", "b64", b"\x03" + base64.b64encode(b"hello world"))
