#!/usr/bin/env python3
"""The encrypted record store through the `ecluse` command: datasets, import (JSON Lines and
CSV), round trip, all-or-nothing errors, erasure, upsert, objections, blind-index look-ups, the
demo population, and the absence of every personal value from the data directory's bytes."""
import collections
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ecltest import ECLUSE, SOURCE_DIR, TempDirTest, run  # noqa: E402

EX_USAGE, EX_DATAERR, EX_NOINPUT = 64, 65, 66
CITIZENS = os.path.join(SOURCE_DIR, "demo", "citizens.schema.json")
BENEFITS = os.path.join(SOURCE_DIR, "demo", "benefits.schema.json")
IDENTIFYING = ("nir", "first_name", "last_name", "email", "phone", "iban", "address")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def json_escaped(value):
    """The value as JSON would write it with every non-ASCII character escaped (\\uXXXX)."""
    return json.dumps(value, ensure_ascii=True)[1:-1]


def digits(s):
    return "".join(c for c in s if c.isdigit())


class StoreTest(TempDirTest):
    def setUp(self):
        super().setUp()
        self.init()
        for schema in (CITIZENS, BENEFITS):
            r = run("dataset", "create", schema, data=self.data)
            self.assertEqual(r.returncode, 0, r.stderr)

    def ok(self, *args, **kw):
        r = run(*args, data=self.data, **kw)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def gen(self, size, seed=1):
        out = os.path.join(self.tmp, f"gen-{seed}-{size}")
        self.ok("demo-data", "--seed", str(seed), "--size", str(size), "--out", out)
        return (read_jsonl(os.path.join(out, "citizens.jsonl")),
                read_jsonl(os.path.join(out, "benefits.jsonl")), out)

    def write(self, name, content):
        path = os.path.join(self.tmp, name)
        mode = "wb" if isinstance(content, bytes) else "w"
        with open(path, mode) as f:
            f.write(content)
        return path

    def write_jsonl(self, name, records):
        return self.write(name, "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                        for r in records))

    def get(self, nir, dataset="citizens"):
        r = run("record", "get", "--dataset", dataset, nir, data=self.data)
        return r.returncode, (json.loads(r.stdout) if r.returncode == 0 else None)

    def find(self, field, value, dataset="citizens", *extra):
        r = self.ok("record", "find", "--dataset", dataset, *extra, field, value)
        return [json.loads(line) for line in r.stdout.splitlines()]

    def counts(self):
        r = self.ok("dataset", "list")
        return dict((name, int(n)) for name, n in (l.split() for l in r.stdout.splitlines()))

    # ---- acceptance: nothing identifying in the data directory ----

    def test_no_personal_value_in_any_file(self):
        citizens, benefits, out = self.gen(300, seed=11)
        self.ok("import", "--dataset", "citizens", os.path.join(out, "citizens.jsonl"))
        self.ok("import", "--dataset", "benefits", os.path.join(out, "benefits.jsonl"))
        self.assertEqual(self.counts(), {"citizens": 300, "benefits": 300})
        blobs = []
        for dirpath, _, files in os.walk(self.data):
            for name in files:
                with open(os.path.join(dirpath, name), "rb") as f:
                    blobs.append(f.read())
        self.assertTrue(any(len(b) > 100000 for b in blobs))  # the stores are really there
        needles = set()
        for rec in citizens:
            for field in IDENTIFYING:
                v = rec.get(field)
                if v is None:
                    continue
                variants = {v, json_escaped(v)}
                if field in ("nir", "phone"):
                    variants.add(digits(v))  # the normalised forms too
                if field == "iban":
                    variants.add(v.replace(" ", ""))
                for s in variants:
                    # A value shorter than 5 bytes could occur by chance in 1 MB of
                    # ciphertext; look for it as a JSON string, as a plaintext record holds it.
                    needles.add(s.encode() if len(s.encode()) >= 5 else f'"{s}"'.encode())
        self.assertGreater(len(needles), 1500)
        found = [n for n in needles if any(n in b for b in blobs)]
        self.assertEqual(found, [], "personal values found in the data directory")

    # ---- round trip, CSV, normalisation ----

    def test_roundtrip_jsonl(self):
        citizens, benefits, out = self.gen(60, seed=3)
        r = self.ok("import", "--dataset", "citizens", os.path.join(out, "citizens.jsonl"))
        self.assertIn("imported 60 records into citizens (60 new, 0 updated)", r.stdout)
        self.ok("import", "--dataset", "benefits", os.path.join(out, "benefits.jsonl"))
        for rec in citizens[::7]:
            self.assertEqual(self.get(rec["nir"]), (0, rec))
        for rec in benefits[::11]:
            self.assertEqual(self.get(rec["nir"], "benefits"), (0, rec))
        # the subject identifier is normalised (digits): spaces do not matter
        nir = citizens[0]["nir"]
        spaced = " ".join([nir[0], nir[1:3], nir[3:5], nir[5:7], nir[7:10], nir[10:13], nir[13:]])
        self.assertEqual(self.get(spaced)[1], citizens[0])
        # the identifier can come from standard input (kept out of the process list)
        r = run("record", "get", "--dataset", "citizens", "-", input=nir + "\n", data=self.data)
        self.assertEqual(json.loads(r.stdout), citizens[0])
        self.assertEqual(self.get("100000000000000")[0], EX_NOINPUT)

    def test_csv_import_converts_types(self):
        path = self.write("b.csv",
                          "nir,household_id,status,rsa_monthly,apl_monthly,aah,dependants,"
                          "caf_office,last_review\r\n"
                          '1850175000000,H1,active,512,,true,2,"CAF ""Paris"", 11e",2024-02-29\r\n'
                          '2990175000001,H2,closed,-3,0,false,,"multi\nline",\n')
        r = self.ok("import", "--dataset", "benefits", path)
        self.assertIn("imported 2 records", r.stdout)
        self.assertEqual(self.get("1850175000000", "benefits")[1], {
            "nir": "1850175000000", "household_id": "H1", "status": "active",
            "rsa_monthly": 512, "apl_monthly": None, "aah": True, "dependants": 2,
            "caf_office": 'CAF "Paris", 11e', "last_review": "2024-02-29"})
        rec = self.get("2990175000001", "benefits")[1]
        self.assertEqual(rec["caf_office"], "multi\nline")
        self.assertEqual(rec["rsa_monthly"], -3)
        self.assertIsNone(rec["last_review"])

    # ---- all or nothing ----

    def snapshot(self):
        out = [self.counts()]
        for nir in self.known:
            out.append(self.get(nir))
        out.append(self.find("last_name", self.known_name))
        return out

    def test_bad_inputs_change_nothing(self):
        citizens, _, out = self.gen(20, seed=5)
        self.ok("import", "--dataset", "citizens", os.path.join(out, "citizens.jsonl"))
        self.known = [c["nir"] for c in citizens[:3]]
        self.known_name = citizens[0]["last_name"]
        before = self.snapshot()
        good = dict(citizens[0], nir="1850175123456", last_name="Zéphyrine-Quoqueville")
        other = dict(good, nir="2850175123456")
        secret = "Zyxwvutsrq"
        cases = [
            ("malformed.jsonl", json.dumps(good) + "\n" + '{"nir": "1850175", \n', "jsonl",
             "line 2", None),
            ("type.jsonl", json.dumps(good) + "\n" + json.dumps(dict(other, disability=secret)),
             "jsonl", "line 2, field disability", None),
            ("missing.jsonl", json.dumps({k: v for k, v in good.items() if k != "nir"}),
             "jsonl", "line 1, field nir", None),
            ("twice.jsonl", "\n".join(json.dumps(x) for x in (good, other, good)), "jsonl",
             "line 3, field nir: the same subject appears twice", "first on line 1"),
            ("twice-normalised.jsonl",
             json.dumps(good) + "\n" + json.dumps(dict(good, nir="185 0175123456")),
             "jsonl", "line 2, field nir: the same subject", None),
            ("unknown.jsonl", json.dumps(good) + "\n" + json.dumps(dict(other, favourite=secret)),
             "jsonl", "line 2, field favourite: unknown field", None),
            ("enum.jsonl", json.dumps(dict(good, sex=secret)), "jsonl", "field sex", None),
            ("date.jsonl", json.dumps(dict(good, birth_date="2023-02-29")), "jsonl",
             "field birth_date", None),
            ("ragged.csv", "nir,last_name\n1850175123456,A\n2850175123456\n", "csv",
             "line 3: the row has fewer values", None),
            ("ragged-more.csv", "nir,last_name\n1850175123456,A,B\n", "csv",
             "line 2: the row has more values", None),
            ("quotes.csv", 'nir,last_name\n1850175123456,"Unclosed\n2850175123456,B\n', "csv",
             "line 2: unbalanced quotes", None),
            ("bare-quote.csv", 'nir,last_name\n1850175123456,Ab"c\n', "csv", "line 2", None),
            ("unknown.csv", "nir,favourite\n1850175123456,x\n", "csv",
             "line 1, field favourite: unknown field", None),
            ("int.csv", "nir,household_id,dependants\n1850175123456,H,2.5\n", "csv", None, None),
            ("empty.jsonl", "", "jsonl", "no records", None),
            ("blank.jsonl", "\n\n  \n", "jsonl", "no records", None),
            ("empty.csv", "nir,last_name\n", "csv", "no records", None),
            ("empty-header.csv", "\nnir,last_name\n1850175123456,A\n", "csv",
             "line 1: the header row has an empty column name", None),
            ("header-gap.csv", "nir,,last_name\n1850175123456,,A\n", "csv",
             "line 1: the header row has an empty column name", None),
            ("empty-row.csv", "nir,last_name\n1850175123456,A\n,\n", "csv",
             "line 3, field nir", None),
            ("array.jsonl", "[1, 2]\n", "jsonl", "line 1: a record must be a JSON object", None),
            ("dup-key.jsonl", '{"nir": "1850175123456", "nir": "1850175123457"}\n', "jsonl",
             "line 1: a key appears twice", None),
        ]
        for name, content, fmt, want, also in cases:
            with self.subTest(name):
                path = self.write(name, content)
                r = run("import", "--dataset", "citizens" if "int" not in name else "benefits",
                        "--format", fmt, path, data=self.data)
                self.assertEqual(r.returncode, EX_DATAERR, r.stderr)
                self.assertIn("nothing was imported", r.stderr)
                if want:
                    self.assertIn(want, r.stderr)
                if also:
                    self.assertIn(also, r.stderr)
                self.assertNotIn(secret, r.stderr)
                self.assertNotIn("Zéphyrine", r.stderr)
                self.assertEqual(self.snapshot(), before)
        # invalid UTF-8, in JSON and in CSV
        for name, content, fmt in (
                ("utf8.jsonl", json.dumps(good).encode() + b'\n{"nir": "2850175123456", '
                 b'"last_name": "\xff\xfe"}\n', "jsonl"),
                ("utf8.csv", b"nir,last_name\n1850175123456,ok\n2850175123456,\xc3\x28\n",
                 "csv")):
            with self.subTest(name):
                r = run("import", "--dataset", "citizens", "--format", fmt,
                        self.write(name, content), data=self.data)
                self.assertEqual(r.returncode, EX_DATAERR, r.stderr)
                self.assertIn("line 2" if fmt == "jsonl" else "line 3, field last_name", r.stderr)
                self.assertIn("UTF-8", r.stderr)
                self.assertEqual(self.snapshot(), before)

    def test_huge_line_is_refused_quickly(self):
        path = os.path.join(self.tmp, "huge.jsonl")
        with open(path, "wb") as f:
            f.write(b'{"nir": "1850175123456"}\n{"last_name": "')
            chunk = b"A" * (1 << 20)
            for _ in range(100):
                f.write(chunk)
            f.write(b'"}\n')
        t0 = time.monotonic()
        p = subprocess.Popen([ECLUSE, "--data", self.data, "import", "--dataset", "citizens",
                              path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.monotonic() - t0
        stderr = p.stderr.read().decode()
        p.stdout.close()
        p.stderr.close()
        os.unlink(path)
        self.assertEqual(p.returncode, EX_DATAERR, stderr)
        self.assertIn("line 2: the line is longer than the record limit (65536 bytes)", stderr)
        self.assertLess(elapsed, 20)
        # the child never held the line: its peak RSS (this child only) stays far below 100 MB
        self.assertLess(usage.ru_maxrss, 60 << 10)
        self.assertEqual(self.counts(), {"citizens": 0, "benefits": 0})

    def test_import_errors_on_arguments(self):
        self.assertEqual(run("import", "--dataset", "citizens", data=self.data).returncode,
                         EX_USAGE)
        self.assertEqual(run("import", "--dataset", "citizens", "--format", "xml", "x.jsonl",
                             data=self.data).returncode, EX_USAGE)
        r = run("import", "--dataset", "citizens", os.path.join(self.tmp, "absent.jsonl"),
                data=self.data)
        self.assertEqual(r.returncode, EX_NOINPUT)
        r = run("import", "--dataset", "nosuch", self.write("x.jsonl", "{}\n"), data=self.data)
        self.assertEqual(r.returncode, EX_NOINPUT)

    # ---- upsert ----

    def test_upsert_updates_values_and_indexes(self):
        citizens, _, out = self.gen(30, seed=9)
        self.ok("import", "--dataset", "citizens", os.path.join(out, "citizens.jsonl"))
        target = citizens[4]
        changed = dict(target, last_name="Quéméneur-Upsert", email="NEW.Address@Example.COM",
                       postcode="29000", commune="Quimper", insee_code="29232")
        r = self.ok("import", "--dataset", "citizens", self.write_jsonl("u.jsonl", [changed]))
        self.assertIn("(0 new, 1 updated)", r.stdout)
        self.assertEqual(self.counts()["citizens"], 30)
        self.assertEqual(self.get(target["nir"])[1], changed)
        old = [c["nir"] for c in self.find("last_name", target["last_name"])]
        self.assertNotIn(target["nir"], old)
        self.assertEqual([c["nir"] for c in self.find("last_name", "Quéméneur-Upsert")],
                         [target["nir"]])
        self.assertEqual([c["nir"] for c in self.find("email", "new.address@example.com")],
                         [target["nir"]])
        if target["email"] is not None:
            self.assertEqual(self.find("email", target["email"]), [])

    # ---- look-ups ----

    def test_blind_index_lookups(self):
        citizens, benefits, out = self.gen(120, seed=4)
        self.ok("import", "--dataset", "citizens", os.path.join(out, "citizens.jsonl"))
        self.ok("import", "--dataset", "benefits", os.path.join(out, "benefits.jsonl"))
        by_postcode = collections.defaultdict(set)
        for c in citizens:
            by_postcode[c["postcode"]].add(c["nir"])
        postcode, nirs = max(by_postcode.items(), key=lambda kv: len(kv[1]))
        self.assertGreater(len(nirs), 1)
        got = self.find("postcode", postcode)
        self.assertEqual({c["nir"] for c in got}, nirs)
        self.assertEqual({c["nir"] for c in self.find("postcode", " " + postcode + " ")}, nirs)
        # pagination: --limit returns a prefix of the same stable order
        first = self.find("postcode", postcode, "citizens", "--limit", "1")
        self.assertEqual(first, got[:1])
        household = citizens[0]["household_id"]
        want = {c["nir"] for c in benefits if c["household_id"] == household}
        self.assertEqual({c["nir"] for c in self.find("household_id", household, "benefits")},
                         want)
        self.assertEqual(self.find("postcode", "00000"), [])
        r = run("record", "find", "--dataset", "citizens", "first_name", "Marie", data=self.data)
        self.assertEqual(r.returncode, EX_USAGE)
        self.assertIn("not indexed", r.stderr)
        r = run("record", "find", "--dataset", "citizens", "nosuch", "x", data=self.data)
        self.assertEqual(r.returncode, EX_NOINPUT)

    # ---- erasure ----

    def test_erase(self):
        citizens, benefits, out = self.gen(40, seed=6)
        self.ok("import", "--dataset", "citizens", os.path.join(out, "citizens.jsonl"))
        self.ok("import", "--dataset", "benefits", os.path.join(out, "benefits.jsonl"))
        target = next(c for c in citizens if c["email"] is not None)
        self.ok("objection", "add", "--dataset", "citizens", target["nir"], "research")
        r = self.ok("erase", "--dataset", "citizens", target["nir"])
        self.assertIn("data key destroyed, record deleted, 5 index entries deleted, "
                      "objections deleted", r.stdout)
        self.assertEqual(self.get(target["nir"])[0], EX_NOINPUT)
        for field in ("last_name", "email", "postcode", "household_id", "insee_code"):
            self.assertNotIn(target["nir"], [c["nir"] for c in self.find(field, target[field])],
                             field)
        r = self.ok("objection", "list", "--dataset", "citizens", target["nir"])
        self.assertEqual(r.stdout, "")
        self.assertEqual(self.counts(), {"citizens": 39, "benefits": 40})
        # erasure is per dataset: the benefits record of the same subject is still there
        self.assertEqual(self.get(target["nir"], "benefits")[0], 0)
        # idempotent
        r = self.ok("erase", "--dataset", "citizens", target["nir"])
        self.assertIn("nothing to erase", r.stdout)
        self.assertEqual(self.counts()["citizens"], 39)
        # the others are untouched
        for c in citizens[:10]:
            if c["nir"] != target["nir"]:
                self.assertEqual(self.get(c["nir"])[1], c)
        # re-importing the subject creates a fresh record (a new data key)
        r = self.ok("import", "--dataset", "citizens", self.write_jsonl("again.jsonl", [target]))
        self.assertIn("(1 new, 0 updated)", r.stdout)
        self.assertEqual(self.get(target["nir"])[1], target)
        self.assertEqual(run("erase", "--dataset", "nosuch", "1", data=self.data).returncode,
                         EX_NOINPUT)
        self.assertEqual(run("erase", "--dataset", "citizens", data=self.data).returncode,
                         EX_USAGE)

    # ---- objections ----

    def test_objections(self):
        citizens, _, out = self.gen(5, seed=2)
        self.ok("import", "--dataset", "citizens", os.path.join(out, "citizens.jsonl"))
        nir = citizens[1]["nir"]

        def listed(who=nir):
            return self.ok("objection", "list", "--dataset", "citizens", who).stdout.split()

        self.assertEqual(listed(), [])
        r = self.ok("objection", "add", "--dataset", "citizens", nir, "profiling")
        self.assertIn("recorded", r.stdout)
        r = self.ok("objection", "add", "--dataset", "citizens", nir, "profiling")
        self.assertIn("already recorded", r.stdout)
        self.ok("objection", "add", "--dataset", "citizens", nir, "direct-marketing")
        self.assertEqual(listed(), ["direct-marketing", "profiling"])
        self.assertEqual(listed(citizens[2]["nir"]), [])
        self.ok("objection", "remove", "--dataset", "citizens", nir, "profiling")
        self.assertEqual(listed(), ["direct-marketing"])
        r = self.ok("objection", "remove", "--dataset", "citizens", nir, "profiling")
        self.assertIn("was not recorded", r.stdout)
        # an upsert keeps the objections (same data key)
        self.ok("import", "--dataset", "citizens",
                self.write_jsonl("u.jsonl", [dict(citizens[1], last_name="Autre")]))
        self.assertEqual(listed(), ["direct-marketing"])
        r = run("objection", "add", "--dataset", "citizens", nir, "not a purpose!",
                data=self.data)
        self.assertEqual(r.returncode, EX_DATAERR)
        r = run("objection", "add", "--dataset", "citizens", "100000000000000", "research",
                data=self.data)
        self.assertEqual(r.returncode, EX_NOINPUT)
        self.assertEqual(run("objection", "add", "--dataset", "citizens", nir,
                             data=self.data).returncode, EX_USAGE)

    # ---- datasets ----

    def test_datasets(self):
        self.assertEqual(self.counts(), {"benefits": 0, "citizens": 0})
        r = run("dataset", "create", CITIZENS, data=self.data)
        self.assertEqual(r.returncode, 73)
        shown = json.loads(self.ok("dataset", "show", "citizens").stdout)
        self.assertEqual(shown["subject_id"], "nir")
        self.assertEqual(shown["fields"][0]["normalize"], "digits")
        bad = self.write("bad.json", json.dumps({"name": "x", "subject_id": "id", "fields": [
            {"name": "id", "type": "integer", "classification": "identifier"},
            {"name": "n", "type": "strin", "classification": "public", "color": 1}]}))
        r = run("dataset", "create", bad, data=self.data)
        self.assertEqual(r.returncode, EX_DATAERR)
        self.assertIn("/fields/1/type", r.stderr)
        self.assertIn("/fields/1/color: unknown key", r.stderr)
        self.assertIn("/subject_id: the subject identifier must be a string field", r.stderr)
        self.assertEqual(run("dataset", "show", "nosuch", data=self.data).returncode,
                         EX_NOINPUT)
        for cmd in ("dataset", "import", "record", "erase", "objection", "demo-data", "demo"):
            r = run(cmd, "--help")
            self.assertEqual(r.returncode, 0, cmd)
            self.assertIn("usage:", r.stdout)


class DemoTest(TempDirTest):
    def test_generator_is_deterministic_and_well_formed(self):
        a, b, c = (os.path.join(self.tmp, n) for n in "abc")
        for out, seed in ((a, "42"), (b, "42"), (c, "43")):
            r = run("demo-data", "--seed", seed, "--size", "400", "--out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
        files = ("citizens.jsonl", "benefits.jsonl")
        for name in files:
            with open(os.path.join(a, name), "rb") as fa, open(os.path.join(b, name), "rb") as fb:
                self.assertEqual(fa.read(), fb.read())
            with open(os.path.join(a, name), "rb") as fa, open(os.path.join(c, name), "rb") as fc:
                self.assertNotEqual(fa.read(), fc.read())
        citizens = read_jsonl(os.path.join(a, files[0]))
        benefits = read_jsonl(os.path.join(a, files[1]))
        self.assertEqual(len(citizens), 400)
        with open(CITIZENS) as f:
            cfields = [x["name"] for x in json.load(f)["fields"]]
        with open(BENEFITS) as f:
            bfields = [x["name"] for x in json.load(f)["fields"]]
        self.assertTrue(all(list(x) == cfields for x in citizens))
        self.assertTrue(all(list(x) == bfields for x in benefits))
        self.assertEqual(len({x["nir"] for x in citizens}), 400)
        self.assertEqual([x["nir"] for x in citizens], [x["nir"] for x in benefits])
        places = {}
        households = collections.defaultdict(list)
        accents = 0
        for x in citizens:
            nir = x["nir"]
            self.assertRegex(nir, r"^[12]\d{4}(\d\d|2A|2B)\d{8}$")
            body = int(nir[:13].replace("2A", "19").replace("2B", "18"))
            self.assertEqual(int(nir[13:]), 97 - body % 97)
            self.assertEqual(nir[0], "1" if x["sex"] == "M" else "2")
            self.assertEqual(nir[1:3], x["birth_date"][2:4])
            self.assertEqual(nir[3:5], x["birth_date"][5:7])
            age = 2024 - int(x["birth_date"][:4])
            self.assertTrue(0 <= age <= 100)
            key = (x["commune"], x["postcode"])
            self.assertEqual(places.setdefault(key, x["insee_code"]), x["insee_code"])
            households[x["household_id"]].append(x)
            accents += any(ord(ch) > 127 for ch in x["first_name"] + x["last_name"])
            if x["iban"] is not None:
                iban = x["iban"].replace(" ", "")
                self.assertRegex(iban, r"^FR\d{25}$")
                n = int(iban[4:] + "1527" + iban[2:4])
                self.assertEqual(n % 97, 1)
                self.assertRegex(x["phone"], r"^0[67]( \d\d){4}$")
                self.assertRegex(x["email"], r"^[a-z-]+\.[a-z-]+\d*@example\.(com|net|org)$")
        self.assertGreater(accents, 20)
        self.assertGreater(len(places), 50)
        for members in households.values():
            self.assertTrue(1 <= len(members) <= 6)
            self.assertEqual(len({(m["address"], m["postcode"], m["commune"], m["insee_code"])
                                  for m in members}), 1)
        self.assertGreater(max(len(m) for m in households.values()), 3)
        self.assertEqual(run("demo-data", "--size", "0", "--out", a).returncode, EX_USAGE)
        self.assertEqual(run("demo-data", "--size", "10").returncode, EX_USAGE)

    def test_demo_prepares_once(self):
        r = run("demo", "--prepare-only", "--size", "50", "--seed", "3", data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("demo data ready", r.stdout)
        r = run("dataset", "list", data=self.data)
        self.assertEqual(r.stdout.split(), ["benefits", "50", "citizens", "50"])
        r = run("demo", "--prepare-only", "--size", "50", data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("already prepared", r.stdout)
        self.assertEqual(run("dataset", "list", data=self.data).stdout.split(),
                         ["benefits", "50", "citizens", "50"])
        # no plaintext file was ever written into the data directory
        names = [n for _, _, files in os.walk(self.data) for n in files]
        self.assertEqual(sorted(names), ["data.mdb", "data.mdb", "keyring", "keyring.lock",
                                         "lock.mdb", "lock.mdb", "master.key"])
        self.assertEqual(os.path.getsize(os.path.join(self.data, "keyring.lock")), 0)


if __name__ == "__main__":
    unittest.main()
