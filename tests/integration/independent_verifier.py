#!/usr/bin/env python3
"""An audit-log verifier written only from docs/audit-format.md, with Python's standard library.

It shares no code with Écluse: it reads the raw stored entries through `ecluse audit leaves`,
the latest checkpoint through `ecluse audit checkpoint` and the verifier key through
`ecluse keys show`, then checks
  - the verifier key (C2SP signed-note: name+hexid+base64(0x01 || Ed25519 public key)),
  - the checkpoint's signed note (RFC 8032 Ed25519, implemented below in pure Python),
  - every leaf's clear header (magic, version, log id, seq = position, non-decreasing time),
  - the RFC 6962 / RFC 9162 root of all leaves against the checkpoint's root.

usage: independent_verifier.py ECLUSE_BINARY DATA_DIR      exit 0 when everything verifies
"""
import base64
import hashlib
import struct
import subprocess
import sys

# ---- Ed25519 verification, RFC 8032 section 5.1.7 (and signing, for test vectors) ----------

P = 2 ** 255 - 19
Q = 2 ** 252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % P
    bb = (y1 + x1) * (y2 + x2) % P
    cc = 2 * t1 * t2 * D % P
    dd = 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, pt):
    acc = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            acc = _add(acc, pt)
        pt = _add(pt, pt)
        s >>= 1
    return acc


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


_GY = 4 * pow(5, P - 2, P) % P
_GX = _recover_x(_GY, 0)
G = (_GX, _GY, 1, _GX * _GY % P)


def _compress(pt):
    zinv = pow(pt[2], P - 2, P)
    x, y = pt[0] * zinv % P, pt[1] * zinv % P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def _decompress(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


def _hq(data):
    return int.from_bytes(hashlib.sha512(data).digest(), "little") % Q


def ed25519_verify(public, msg, sig):
    if len(public) != 32 or len(sig) != 64:
        return False
    a = _decompress(public)
    r = _decompress(sig[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(sig[32:], "little")
    if s >= Q:
        return False
    h = _hq(sig[:32] + public + msg)
    return _equal(_mul(s, G), _add(r, _mul(h, a)))


def ed25519_sign(seed, msg):
    """Deterministic RFC 8032 signing (used only to generate test vectors)."""
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little") & ((1 << 254) - 8) | (1 << 254)
    pub = _compress(_mul(a, G))
    r = _hq(h[32:] + msg)
    rs = _compress(_mul(r, G))
    s = (r + _hq(rs + pub + msg) * a) % Q
    return pub, rs + int.to_bytes(s, 32, "little")


# ---- C2SP signed notes and checkpoints -------------------------------------------------------

def key_id(name, pub):
    return hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]


def parse_verifier_key(vkey):
    name, hexid, b64 = vkey.split("+", 2)
    raw = base64.b64decode(b64, validate=True)
    if len(raw) != 33 or raw[0] != 1:
        raise ValueError("not an Ed25519 verifier key")
    if bytes.fromhex(hexid) != key_id(name, raw[1:]):
        raise ValueError("verifier key id does not match")
    return name, raw[1:]


def open_note(note, name, pub):
    """Returns the signed text when a signature line by (name, pub) verifies."""
    data = note.encode()
    split = data.rfind(b"\n\n")
    if split < 0 or not data.endswith(b"\n"):
        raise ValueError("not a signed note")
    text, sigs = data[:split + 1], data[split + 2:]
    for line in sigs.decode().splitlines():
        if not line.startswith("\u2014 "):
            raise ValueError("malformed signature line")
        who, b64 = line[2:].split(" ", 1)
        blob = base64.b64decode(b64, validate=True)
        if who == name and blob[:4] == key_id(name, pub):
            if not ed25519_verify(pub, text, blob[4:]):
                raise ValueError("checkpoint signature does not verify")
            return text.decode()
    raise ValueError("no signature by the audit key")


# ---- RFC 6962 tree ---------------------------------------------------------------------------

def leaf_hash(leaf):
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(hashes):
    """RFC 6962 2.1 Merkle Tree Hash of a list of leaf hashes."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def root_streaming(hashes):
    """Same root, computed left to right with a stack of perfect subtrees."""
    stack = []  # (level, hash)
    for h in hashes:
        level = 0
        while stack and stack[-1][0] == level:
            h = node_hash(stack.pop()[1], h)
            level += 1
        stack.append((level, h))
    if not stack:
        return hashlib.sha256(b"").digest()
    r = stack.pop()[1]
    while stack:
        r = node_hash(stack.pop()[1], r)
    return r


# ---- the entry header (docs/audit-format.md, "Entry layout") ---------------------------------

HEADER_FIXED = 4 + 1 + 16 + 8 + 8 + 4 + 8 + 2


def parse_header(leaf):
    if len(leaf) < HEADER_FIXED or leaf[:4] != b"ECLA" or leaf[4] != 1:
        raise ValueError("bad magic or version")
    log_id = leaf[5:21]
    seq, time_ms, key_version = struct.unpack(">QQI", leaf[21:41])
    (ntok,) = struct.unpack(">H", leaf[49:51])
    hlen = HEADER_FIXED + 8 * ntok
    if len(leaf) < hlen + 24 + 16:
        raise ValueError("entry too short")
    return {"log_id": log_id, "seq": seq, "time_ms": time_ms, "key_version": key_version,
            "ntokens": ntok, "header_len": hlen}


def ecluse(binary, data, *args):
    r = subprocess.run([binary, "--data", data] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ecluse {' '.join(args)} failed: {r.stderr.strip()}")
    return r.stdout


def verify(binary, data):
    """Returns (tree size, root hex); raises ValueError naming the first problem."""
    keys = dict(line.split(": ", 1) for line in ecluse(binary, data, "keys", "show").splitlines())
    name, pub = parse_verifier_key(keys["audit-verifier-key"])
    log_id = bytes.fromhex(keys["log-id"])
    text = open_note(ecluse(binary, data, "audit", "checkpoint"), name, pub)
    origin, size_line, root_b64 = text.splitlines()[:3]
    if origin != name:
        raise ValueError("checkpoint origin differs from the key name")
    size = int(size_line)
    root = base64.b64decode(root_b64, validate=True)
    hashes = []
    last_time = 0
    for start in range(0, size, 1000):
        end = min(size, start + 1000)
        lines = ecluse(binary, data, "audit", "leaves", "--start", str(start), "--end",
                       str(end)).split()
        if len(lines) != end - start:
            raise ValueError(f"expected {end - start} leaves from {start}")
        for i, b64 in enumerate(lines):
            leaf = base64.b64decode(b64, validate=True)
            h = parse_header(leaf)
            if h["seq"] != start + i:
                raise ValueError(f"seq={start + i}: header says seq={h['seq']}")
            if h["log_id"] != log_id:
                raise ValueError(f"seq={start + i}: another log's entry")
            if h["time_ms"] < last_time:
                raise ValueError(f"seq={start + i}: time goes back")
            last_time = h["time_ms"]
            hashes.append(leaf_hash(leaf))
    computed = root_streaming(hashes)
    if computed != root:
        raise ValueError(f"root of {size} leaves differs from the signed checkpoint")
    return size, computed.hex()


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 64
    try:
        size, root = verify(argv[1], argv[2])
    except (ValueError, RuntimeError) as e:
        print(f"independent verifier: FAIL: {e}")
        return 1
    print(f"independent verifier: OK: {size} entries, root {root}, checkpoint signature valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
