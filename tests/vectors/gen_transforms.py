#!/usr/bin/env python3
"""Independent computation of Écluse's field-transform vectors (docs/transforms.md) with
Python's standard library only: hashlib.blake2b for keys, pseudonyms, synthetic IVs and index
keys, a from-the-RFC XChaCha20-Poly1305 for tokens (RFC 8439 + draft-irtf-cfrg-xchacha), and
plain Python for masking and generalization.  Nothing here calls Écluse's C code.

usage: gen_transforms.py > tests/vectors/transforms.json
       gen_transforms.py --markdown     (the table of docs/transforms.md, "Test vectors")

Every case: action, field (type, normalize), input, and the expected output or status.  Long
inputs and outputs are written as {"$repeat": [[text, count], ...]} (concatenation)."""
import base64
import datetime
import hashlib
import json
import math
import struct
import sys

MASTER = bytes(range(32))
AGENT = "agent-a"
PURPOSE = "benefits-check"
SHARED = "case-team"
NOW = 1718409600  # 2024-06-15T00:00:00Z
KDF_CTX = {"pseudonym": "ecl-pseu", "token": "ecl-tokn"}
DOMAIN_CODE = {"agent": 1, "purpose": 2, "agent_purpose": 3, "shared": 4}
FIELD_MAX = 16 << 10
AGE_TOP = 90


def kdf(use, version):
    """crypto_kdf_derive_from_key (see gen_kdf.py)."""
    return hashlib.blake2b(b"", digest_size=32, key=MASTER,
                           salt=struct.pack("<Q", version) + bytes(8),
                           person=KDF_CTX[use].encode() + bytes(8)).digest()


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def domain_enc(kind, agent=AGENT, purpose=PURPOSE, shared=SHARED):
    names = {"agent": [agent], "purpose": [purpose], "agent_purpose": [agent, purpose],
             "shared": [shared]}[kind]
    out = bytes([DOMAIN_CODE[kind]])
    for n in names:
        nb = n.encode()
        out += bytes([len(nb)]) + nb
    return out


def subkey(root, label, ext=b""):
    lb = label.encode()
    return hashlib.blake2b(bytes([len(lb)]) + lb + ext, digest_size=32, key=root).digest()


# ---- canonical values ----------------------------------------------------------------------

SPACE = " \t\n\r\f\v"


def normalize(how, s):
    b = s.encode()
    if how != "exact":
        b = b.strip(SPACE.encode())
    if how == "email":
        return bytes(c + 32 if 65 <= c <= 90 else c for c in b)
    if how == "digits":
        return bytes(c for c in b if 48 <= c <= 57)
    if how == "alnum_upper":
        return bytes(c - 32 if 97 <= c <= 122 else c for c in b if chr(c) not in SPACE + "-.")
    return b


def num_render(v):
    if v == 0:
        return "0"
    if v == math.floor(v) and abs(v) < 2 ** 53:
        return str(int(v))
    for p in range(1, 18):
        s = "%.*g" % (p, v)
        if float(s) == v:
            return s
    raise AssertionError


def valid_date(s):
    if not isinstance(s, str) or len(s) != 10 or s[4] != "-" or s[7] != "-":
        return None
    try:
        y, m, d = int(s[0:4]), int(s[5:7]), int(s[8:10])
        if not (s[0:4] + s[5:7] + s[8:10]).isdigit():
            return None
        return datetime.date(y, m, d)
    except ValueError:
        return None


class Refused(Exception):
    def __init__(self, status):
        super().__init__(status)
        self.status = status


def canon(field, v):
    t = field["type"]
    if t in ("string", "enum"):
        if not isinstance(v, str):
            raise Refused("invalid")
        if len(v.encode()) > FIELD_MAX:
            raise Refused("limit")
        return b"s" + normalize(field.get("normalize", "exact"), v)
    if t == "date":
        if valid_date(v) is None:
            raise Refused("invalid")
        return b"d" + v.encode()
    if t == "integer":
        if isinstance(v, bool) or not isinstance(v, int):
            raise Refused("invalid")
        return b"i" + str(v).encode()
    if t == "number":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise Refused("invalid")
        return b"n" + (str(v) if isinstance(v, int) else num_render(v)).encode()
    if t == "boolean":
        if not isinstance(v, bool):
            raise Refused("invalid")
        return b"b" + (b"true" if v else b"false")
    raise AssertionError(t)


# ---- XChaCha20-Poly1305 (RFC 8439, draft-irtf-cfrg-xchacha-03) -----------------------------

M32 = 0xFFFFFFFF
SIGMA = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]


def _rotl(v, c):
    return ((v << c) & M32) | (v >> (32 - c))


def _qr(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & M32; s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & M32; s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & M32; s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & M32; s[b] = _rotl(s[b] ^ s[c], 7)


def _rounds(s):
    for _ in range(10):
        _qr(s, 0, 4, 8, 12); _qr(s, 1, 5, 9, 13); _qr(s, 2, 6, 10, 14); _qr(s, 3, 7, 11, 15)
        _qr(s, 0, 5, 10, 15); _qr(s, 1, 6, 11, 12); _qr(s, 2, 7, 8, 13); _qr(s, 3, 4, 9, 14)


def chacha_block(key, counter, nonce12):
    s = SIGMA + list(struct.unpack("<8I", key)) + [counter] + list(struct.unpack("<3I", nonce12))
    w = s[:]
    _rounds(w)
    return struct.pack("<16I", *[(w[i] + s[i]) & M32 for i in range(16)])


def hchacha(key, nonce16):
    s = SIGMA + list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))
    _rounds(s)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def poly1305(key, msg):
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    p = (1 << 130) - 5
    acc = 0
    for i in range(0, len(msg), 16):
        acc = (acc + int.from_bytes(msg[i:i + 16] + b"\x01", "little")) * r % p
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def xchacha_poly_seal(key, nonce24, pt, ad):
    sub = hchacha(key, nonce24[:16])
    n12 = bytes(4) + nonce24[16:]
    otk = chacha_block(sub, 0, n12)[:32]
    ct = bytearray()
    for i in range(0, len(pt), 64):
        ks = chacha_block(sub, 1 + i // 64, n12)
        ct += bytes(a ^ b for a, b in zip(pt[i:i + 64], ks))
    pad = lambda b: bytes((16 - len(b) % 16) % 16)
    mac = ad + pad(ad) + bytes(ct) + pad(ct) + struct.pack("<QQ", len(ad), len(ct))
    return bytes(ct) + poly1305(otk, mac)


# ---- the constructions ---------------------------------------------------------------------

def pseudonym(kind, c, epoch=1, **names):
    key = subkey(kdf("pseudonym", epoch), "pseudonym", domain_enc(kind, **names))
    tag = hashlib.blake2b(c, digest_size=16, key=key).digest()
    return "ps_%d_%s" % (epoch, b64url(tag)), tag


def token(kind, c, version=1):
    enc = domain_enc(kind)
    root = kdf("token", version)
    mac, ek = subkey(root, "token-siv", enc), subkey(root, "token-enc", enc)
    ad = struct.pack(">I", version) + enc
    siv = hashlib.blake2b(ad + c, digest_size=24, key=mac).digest()
    return "tk_" + b64url(struct.pack(">I", version) + siv + xchacha_poly_seal(ek, siv, c, ad))


def index_key(kind, ps):
    epoch, tag = int(ps.split("_")[1]), base64.urlsafe_b64decode(ps.split("_", 2)[2] + "==")
    ik = subkey(kdf("pseudonym", epoch), "pseudo-index")
    return hashlib.blake2b(domain_enc(kind) + struct.pack(">I", epoch) + tag, digest_size=32,
                           key=ik).hexdigest()


def mask(v, first, last):
    if not isinstance(v, str):
        raise Refused("invalid")
    if len(v.encode()) > FIELD_MAX:
        raise Refused("limit")
    n = len(v)  # Python str length counts code points
    if first + last >= n:
        first, last = 0, 0
    return v[:first] + "*" * (n - first - last) + v[n - last:]


def age_band(v, width, now):
    b = valid_date(v)
    if b is None or width == 0 or width > AGE_TOP or not -62135596800 <= now <= 253402300799:
        raise Refused("invalid")  # the request time must fall in years 1..9999
    t = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).date()
    age = t.year - b.year - (1 if (t.month, t.day) < (b.month, b.day) else 0)
    if age < 0:
        return None
    if age >= AGE_TOP:
        return "%d+" % AGE_TOP
    lo = age // width * width
    return "%d-%d" % (lo, min(lo + width - 1, AGE_TOP - 1))


def bucket(v, w):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(w) or w <= 0:
        raise Refused("invalid")
    x = float(v)
    if abs(v) >= 2 ** 53 or not math.isfinite(x / w) or abs(x / w) >= 2 ** 52:
        raise Refused("invalid")
    k = float(math.floor(x / w))
    if k * w > x:
        k -= 1
    elif (k + 1) * w <= x:
        k += 1
    lo, hi = k * w, (k + 1) * w
    assert lo <= x < hi
    return "[%s,%s)" % (num_render(lo), num_render(hi))


def generalize(action, v, now):
    g = action["gen"]
    if g == "number_bucket":
        return bucket(v, action["bucket_width"])
    if not isinstance(v, str):
        raise Refused("invalid")
    if len(v.encode()) > FIELD_MAX:
        raise Refused("limit")
    if g == "string_prefix":
        if action["prefix_len"] == 0:
            raise Refused("invalid")
        return v[:action["prefix_len"]]
    if valid_date(v) is None:
        raise Refused("invalid")
    if g == "date_year":
        return v[:4]
    if g == "date_month":
        return v[:7]
    return age_band(v, action["band_years"], now)


def expand(v):
    if isinstance(v, dict) and "$repeat" in v:
        return "".join(t * n for t, n in v["$repeat"])
    return v


def apply(case):
    a, f, v, now = case["action"], case["field"], expand(case["in"]), case.get("now", NOW)
    if v is None:
        return None
    k = a["kind"]
    if k == "allow":
        return v
    if k == "redact":
        return None
    if k == "pseudonymize":
        return pseudonym(a["domain"], canon(f, v))[0]
    if k == "tokenize":
        return token(a["domain"], canon(f, v))
    if k == "mask":
        return mask(v, a["keep_first"], a["keep_last"])
    return generalize(a, v, now)


def rep(*parts):
    return {"$repeat": [list(p) for p in parts]}


def cases():
    S = {"type": "string", "normalize": "exact"}
    out = []

    def add(name, action, field, v, now=None):
        c = {"name": name, "action": action, "field": field, "in": v}
        if now is not None:
            c["now"] = now
        out.append(c)

    for kind in ("agent", "purpose", "agent_purpose", "shared"):
        act = {"kind": "pseudonymize", "domain": kind}
        if kind == "shared":
            act["shared_domain"] = SHARED
        add("pseudonym NIR, domain " + kind, act, {"type": "string", "normalize": "digits"},
            "1 85 05 78 006 084 36")
    P = {"kind": "pseudonymize", "domain": "agent_purpose"}
    add("pseudonym NIR written without spaces: same as with", P,
        {"type": "string", "normalize": "digits"}, "1850578006084 36")
    add("pseudonym email, trimmed and case-folded", P, {"type": "string", "normalize": "email"},
        "  Alice.Martin@Example.FR ")
    add("pseudonym email lower case: same", P, {"type": "string", "normalize": "email"},
        "alice.martin@example.fr")
    add("pseudonym IBAN alnum_upper", P, {"type": "string", "normalize": "alnum_upper"},
        "fr76 3000-6000 0112.3456 7890 189")
    add("pseudonym trim", P, {"type": "string", "normalize": "trim"}, "\t Martin \n")
    add("pseudonym exact keeps spaces", P, S, " Martin ")
    add("pseudonym empty string", P, S, "")
    add("pseudonym non-ASCII precomposed", P, S, "Jos\u00e9")
    add("pseudonym non-ASCII combining (differs from precomposed)", P, S, "Jose\u0301")
    add("pseudonym 4-byte UTF-8", P, S, "\U0001F600 Zo\u00eb")
    add("pseudonym enum", P, {"type": "enum", "normalize": "exact"}, "married")
    add("pseudonym date", P, {"type": "date"}, "1985-02-28")
    add("pseudonym invalid date", P, {"type": "date"}, "1985-02-30")
    add("pseudonym integer", P, {"type": "integer"}, 42)
    add("pseudonym negative integer", P, {"type": "integer"}, -7)
    add("pseudonym number integral real", P, {"type": "number"}, 1500.0)
    add("pseudonym number integer (same as 1500.0)", P, {"type": "number"}, 1500)
    add("pseudonym number fraction", P, {"type": "number"}, 0.1)
    add("pseudonym number large", P, {"type": "number"}, 1e300)
    add("pseudonym boolean", P, {"type": "boolean"}, True)
    add("pseudonym wrong type", P, S, 42)
    add("pseudonym wrong type for integer", P, {"type": "integer"}, "42")
    add("pseudonym null", P, S, None)
    add("pseudonym 16 KiB string", P, S, rep(("\u00e9", 8192)))
    add("pseudonym 16 KiB + 1 byte string", P, S, rep(("\u00e9", 8192), ("x", 1)))

    T = {"kind": "tokenize", "domain": "agent_purpose"}
    add("token NIR", T, {"type": "string", "normalize": "digits"}, "1 85 05 78 006 084 36")
    add("token NIR other domain", {"kind": "tokenize", "domain": "purpose"},
        {"type": "string", "normalize": "digits"}, "1 85 05 78 006 084 36")
    add("token empty string", T, S, "")
    add("token 4-byte UTF-8", T, S, "\U0001F600")
    add("token integer", T, {"type": "integer"}, -123456789)
    add("token number", T, {"type": "number"}, 2.5)
    add("token boolean", T, {"type": "boolean"}, False)
    add("token date", T, {"type": "date"}, "2000-02-29")
    add("token 16 KiB string", T, S, rep(("a", 16384)))
    add("token null", T, S, None)
    add("token wrong type", T, {"type": "boolean"}, "false")

    def M(f, l):
        return {"kind": "mask", "keep_first": f, "keep_last": l}
    add("mask phone 2/2", M(2, 2), S, "0612345678")
    add("mask all", M(0, 0), S, "Martin")
    add("mask keep last 4", M(0, 4), S, "FR7630006000011234567890189")
    add("mask nothing left to mask: all masked", M(1, 1), S, "Jo")
    add("mask keep exceeds length: all masked", M(10, 10), S, "Martin")
    add("mask empty", M(1, 1), S, "")
    add("mask non-ASCII by code point", M(1, 0), S, "Zo\u00eb")
    add("mask combining characters count as code points", M(1, 0), S, "e\u0301")
    add("mask 4-byte UTF-8", M(1, 1), S, "\U0001F600ab\U0001F600")
    add("mask integer: wrong type", M(1, 1), {"type": "integer"}, 1234)
    add("mask null", M(1, 1), S, None)
    add("mask 16 KiB string", M(1, 1), S, rep(("a", 16384)))
    add("mask 16 KiB + 1 byte string", M(1, 1), S, rep(("a", 16385)))

    def G(g, **kw):
        return dict({"kind": "generalize", "gen": g}, **kw)
    D = {"type": "date"}
    add("year", G("date_year"), D, "1985-07-14")
    add("month", G("date_month"), D, "1985-07-14")
    add("year of 29 February in a leap year", G("date_year"), D, "2024-02-29")
    add("year of 29 February in a common year: invalid", G("date_year"), D, "2023-02-29")
    add("year of a non-date", G("date_year"), D, "14/07/1985")
    add("year of an integer", G("date_year"), D, 1985)
    add("year of year 1", G("date_year"), D, "0001-01-01")
    band = G("age_band", band_years=10)
    year = G("age_band", band_years=1)
    add("age band 33 (day before 34th birthday)", band, D, "1990-06-16")
    add("age band 29 on the day before 30th birthday", band, D, "1994-06-16")
    add("age band 30 on 30th birthday", band, D, "1994-06-15")
    add("age 33 exactly (width 1)", year, D, "1990-06-16")
    add("age 34 exactly on birthday (width 1)", year, D, "1990-06-15")
    add("age 29 Feb birth, 28 Feb 2023 (common year): 22", year, D, "2000-02-29", 1677542400)
    add("age 29 Feb birth, 1 Mar 2023 (common year): 23", year, D, "2000-02-29", 1677628800)
    add("age 29 Feb birth, 28 Feb 2024 (leap year): 23", year, D, "2000-02-29", 1709078400)
    add("age 29 Feb birth, 29 Feb 2024 (leap year): 24", year, D, "2000-02-29", 1709164800)
    add("age 28 Feb birth, 28 Feb 2023: birthday", year, D, "2000-02-28", 1677542400)
    add("age band request time 23:59:59 UTC is still the same day", year, D, "2000-03-01",
        1677628799)
    add("age band 89: last range", band, D, "1935-01-01")
    add("age band 90: top", band, D, "1934-06-15")
    add("age band 120: top", band, D, "1904-01-01")
    add("age band born today", band, D, "2024-06-15")
    add("age band future birth date: null", band, D, "2024-06-16")
    add("age band width 25, top range cut at 89", G("age_band", band_years=25), D, "1944-01-01")
    add("age band width 91: invalid", G("age_band", band_years=91), D, "1990-06-16")
    add("age band request time before year 1: invalid", band, D, "1990-06-16", -62135596801)
    add("age band width 0: invalid", G("age_band", band_years=0), D, "1990-06-16")
    add("age band invalid date", band, D, "1990-13-01")
    add("age band null", band, D, None)

    def B(w):
        return G("number_bucket", bucket_width=w)
    N = {"type": "number"}
    add("bucket 1234 width 500", B(500), N, 1234)
    add("bucket lower bound inclusive", B(500), N, 1000)
    add("bucket zero", B(500), N, 0)
    add("bucket -1", B(500), N, -1)
    add("bucket -500", B(500), N, -500)
    add("bucket -501", B(500), N, -501)
    add("bucket real", B(100), N, 1234.5)
    add("bucket width 0.5", B(0.5), N, 2.5)
    add("bucket width 0.1 of 0.3", B(0.1), N, 0.3)
    add("bucket width 2.5 of -0.1", B(2.5), N, -0.1)
    add("bucket width 0: invalid", B(0), N, 10)
    add("bucket negative width: invalid", B(-5), N, 10)
    add("bucket string: invalid", B(500), N, "1234")
    add("bucket too large for width", B(1e-300), N, 1e10)
    add("bucket null", B(500), N, None)
    add("prefix 2", G("string_prefix", prefix_len=2), S, "75011")
    add("prefix longer than value", G("string_prefix", prefix_len=5), S, "Zo\u00eb")
    add("prefix by code point", G("string_prefix", prefix_len=2), S, "\U0001F600\U0001F600x")
    add("prefix combining", G("string_prefix", prefix_len=1), S, "e\u0301t\u00e9")
    add("prefix empty", G("string_prefix", prefix_len=2), S, "")
    add("prefix 0: invalid", G("string_prefix", prefix_len=0), S, "75011")
    add("prefix of integer: invalid", G("string_prefix", prefix_len=2), {"type": "integer"}, 7)
    add("redact string", {"kind": "redact"}, S, "Martin")
    add("redact integer", {"kind": "redact"}, {"type": "integer"}, 3)
    add("redact null", {"kind": "redact"}, S, None)
    add("allow string", {"kind": "allow"}, S, "Martin")
    add("allow real", {"kind": "allow"}, N, 2.5)
    add("allow null", {"kind": "allow"}, S, None)

    for c in out:
        try:
            r = apply(c)
            c["status"] = "ok"
            c["out"] = r
            if isinstance(r, str) and len(r.encode()) > 256:
                c["out_sha256"] = hashlib.sha256(r.encode()).hexdigest()
                del c["out"]
        except Refused as e:
            c["status"] = e.status
    return out


def epoch_cases():
    """Pseudonyms of other epochs and domains with the root-level API."""
    out = []
    for epoch in (1, 2, 4294967295):
        for kind in ("agent", "shared"):
            c = canon({"type": "string", "normalize": "digits"}, "1 85 05 78 006 084 36")
            ps, _ = pseudonym(kind, c, epoch)
            out.append({"epoch": epoch, "domain": kind, "canon_hex": c.hex(), "out": ps})
    return out


def index_cases():
    out = []
    for kind in ("agent", "agent_purpose"):
        ps, _ = pseudonym(kind, b"s185057800608436")
        out.append({"domain": kind, "pseudonym": ps, "index_key": index_key(kind, ps)})
    return out


def action_text(a):
    k = a["kind"]
    if k in ("pseudonymize", "tokenize"):
        return "%s %s" % (k, a["domain"] + (":" + a["shared_domain"] if "shared_domain" in a else ""))
    if k == "mask":
        return "mask %d/%d" % (a["keep_first"], a["keep_last"])
    if k == "generalize":
        arg = {"age_band": "band_years", "number_bucket": "bucket_width",
               "string_prefix": "prefix_len"}.get(a["gen"])
        return a["gen"] + (" %s" % a[arg] if arg else "")
    return k


def cell(v):
    if isinstance(v, dict):
        return " + ".join("%s x %d" % (json.dumps(t, ensure_ascii=False), n)
                          for t, n in v["$repeat"])
    return json.dumps(v, ensure_ascii=False).replace("|", "\\|")


def markdown(doc):
    """The table of docs/transforms.md, "Test vectors"."""
    rows = ["| case | action | field | input | output |", "| --- | --- | --- | --- | --- |"]
    for c in doc["cases"]:
        f = c["field"]["type"] + ("/" + c["field"]["normalize"]
                                  if c["field"].get("normalize", "exact") != "exact" else "")
        if c["status"] != "ok":
            out = "*%s*" % c["status"]
        elif "out_sha256" in c:
            out = "SHA-256 of the string: `%s`" % c["out_sha256"]
        else:
            out = cell(c["out"])
        now = "" if "now" not in c else " (now %d)" % c["now"]
        rows.append("| %s%s | %s | %s | %s | %s |" % (c["name"], now, action_text(c["action"]), f,
                                                     cell(c["in"]), out))
    return "\n".join(rows) + "\n"


def document():
    return {
        "comment": "Generated by tests/vectors/gen_transforms.py; see docs/transforms.md",
        "master_key": MASTER.hex(), "agent": AGENT, "purpose": PURPOSE, "shared": SHARED,
        "now": NOW,
        "keys": {"pseudonym-1": kdf("pseudonym", 1).hex(), "token-1": kdf("token", 1).hex()},
        "cases": cases(), "epochs": epoch_cases(), "index": index_cases(),
    }


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        sys.stdout.write(markdown(document()))
    else:
        json.dump(document(), sys.stdout, indent=1, ensure_ascii=True)
        sys.stdout.write("\n")
