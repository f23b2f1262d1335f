#!/usr/bin/env python3
"""Independent computation of the RFC 6962 / RFC 9162 vectors used by tests/unit/test_merkle.c,
straight from the RFC's recursive definitions (MTH, PATH, PROOF), with Python's hashlib.

Leaves are the 8 of the Certificate Transparency reference test data; the roots of the first
1..8 leaves are checked against the published values before anything is written.

Writes tests/vectors/merkle.txt:
  leaf <i> <hex of the leaf bytes>            ("-" for the empty leaf)
  root <size> <hex>
  inclusion <index> <size> <hex,hex,...|->
  consistency <size1> <size2> <hex,hex,...|->
and tests/vectors/note.txt (a C2SP checkpoint signed with RFC 8032 Ed25519 in pure Python):
  name <key name>  /  seed <hex>  /  pk <hex>  /  vkey <verifier key>  /  note <base64 of the note>
"""
import base64
import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import independent_verifier as iv  # noqa: E402

LEAVES = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
          bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70))]
PUBLISHED_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def k_of(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def path(m, d):
    """RFC 6962 2.1.1 PATH(m, D[n]) over leaf hashes d."""
    n = len(d)
    if n <= 1:
        return []
    k = k_of(n)
    if m < k:
        return path(m, d[:k]) + [iv.mth(d[k:])]
    return path(m - k, d[k:]) + [iv.mth(d[:k])]


def subproof(m, d, b):
    """RFC 6962 2.1.2 SUBPROOF(m, D[n], b)."""
    n = len(d)
    if m == n:
        return [] if b else [iv.mth(d)]
    k = k_of(n)
    if m <= k:
        return subproof(m, d[:k], b) + [iv.mth(d[k:])]
    return subproof(m - k, d[k:], False) + [iv.mth(d[:k])]


def hexlist(hs):
    return ",".join(h.hex() for h in hs) if hs else "-"


def merkle_lines(nleaves):
    # beyond the 8 CT leaves, more leaves (i as 4 bytes) exercise deeper trees
    leaves = LEAVES + [i.to_bytes(4, "big") for i in range(len(LEAVES), nleaves)]
    hashes = [iv.leaf_hash(x) for x in leaves]
    for i, want in enumerate(PUBLISHED_ROOTS):
        assert iv.mth(hashes[:i + 1]).hex() == want, f"published root of {i + 1} leaves"
    out = [f"leaf {i} {x.hex() or '-'}" for i, x in enumerate(leaves)]
    for n in range(0, nleaves + 1):
        out.append(f"root {n} {iv.mth(hashes[:n]).hex()}")
        assert iv.root_streaming(hashes[:n]) == iv.mth(hashes[:n])
    for n in range(1, nleaves + 1):
        for m in range(n):
            out.append(f"inclusion {m} {n} {hexlist(path(m, hashes[:n]))}")
    for n in range(1, nleaves + 1):
        for m in range(1, n + 1):
            out.append(f"consistency {m} {n} {hexlist(subproof(m, hashes[:n], True))}")
    return out


def note_lines():
    # RFC 8032 7.1 TEST 1 first: the pure-Python Ed25519 must reproduce it
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    pub, sig = iv.ed25519_sign(seed, b"")
    assert pub.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    assert sig.hex() == ("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb88215"
                         "90a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    assert iv.ed25519_verify(pub, b"", sig)
    name = "example.test/audit"
    seed = bytes(range(32))
    text = f"{name}\n8\n{base64.b64encode(bytes.fromhex(PUBLISHED_ROOTS[7])).decode()}\n"
    pub, sig = iv.ed25519_sign(seed, text.encode())
    kid = iv.key_id(name, pub)
    material = base64.b64encode(bytes([1]) + pub).decode()
    vkey = f"{name}+{kid.hex()}+{material}"
    note = text + "\n\u2014 " + name + " " + base64.b64encode(kid + sig).decode() + "\n"
    assert iv.open_note(note, name, pub) == text
    return [f"name {name}", f"seed {seed.hex()}", f"pk {pub.hex()}", f"vkey {vkey}",
            f"note {base64.b64encode(note.encode()).decode()}"]


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "merkle.txt"), "w") as f:
        f.write("\n".join(merkle_lines(33)) + "\n")
    with open(os.path.join(here, "note.txt"), "w") as f:
        f.write("\n".join(note_lines()) + "\n")
