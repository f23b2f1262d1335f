#!/usr/bin/env python3
"""`ecluse policy`: validate, set, show, versions, activate, explain, against a real store."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ecltest import SOURCE_DIR, TempDirTest, run  # noqa: E402

EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_NOPERM = 64, 65, 66, 77
DEMO = os.path.join(SOURCE_DIR, "demo")
POLICY = os.path.join(DEMO, "policy.json")
SCHEMAS = [os.path.join(DEMO, n) for n in ("citizens.schema.json", "benefits.schema.json")]


class PolicyTest(TempDirTest):
    def setUp(self):
        super().setUp()
        self.init()

    def load_datasets(self):
        """Stores the demo schemas in the `datasets` database the way the record store does
        (name -> schema JSON), with mdb_load from lmdb-utils."""
        mdb_load = shutil.which("mdb_load")
        self.assertIsNotNone(mdb_load, "mdb_load (lmdb-utils) is needed")
        lines = []
        for path in SCHEMAS:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            value = json.dumps(doc, separators=(",", ":"), ensure_ascii=True)
            # mdb_load text mode: each line starts with a space, backslashes are doubled
            lines += [" " + doc["name"], " " + value.replace("\\", "\\\\")]
        r = subprocess.run([mdb_load, "-T", "-s", "datasets", os.path.join(self.data, "records")],
                           input="\n".join(lines) + "\n", capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def write(self, name, doc):
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))
        return path

    def test_help(self):
        r = run("policy", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("policy validate", r.stdout)
        self.assertEqual(run("policy", data=self.data).returncode, EX_USAGE)
        self.assertEqual(run("policy", "frobnicate", data=self.data).returncode, EX_USAGE)
        self.assertEqual(run("policy", "activate", "abc", data=self.data).returncode, EX_USAGE)
        self.assertEqual(run("policy", "activate", "0", data=self.data).returncode, EX_USAGE)
        self.assertEqual(run("policy", "show", "--version", "-1", data=self.data).returncode,
                         EX_USAGE)

    def test_validate_with_schema_files(self):
        args = ["policy", "validate"] + sum([["--schema", s] for s in SCHEMAS], []) + [POLICY]
        r = run(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("valid: 8 rules", r.stdout)

    def test_validate_errors_are_pointer_lines_without_values(self):
        with open(POLICY, encoding="utf-8") as f:
            doc = json.load(f)
        doc["rules"][0]["fields"]["shoe_size"] = "allow"
        doc["rules"][1]["conditions"] = [{"field": "sex", "eq": "SECRET-VALUE"}]
        doc["rules"][3]["fields"]["birth_date"] = {"action": "generalize", "to": "bucket",
                                                   "width": 5}
        path = self.write("bad.json", doc)
        args = ["policy", "validate"] + sum([["--schema", s] for s in SCHEMAS], []) + [path]
        r = run(*args)
        self.assertEqual(r.returncode, EX_DATAERR)
        lines = r.stderr.splitlines()
        self.assertIn("/rules/0/fields/shoe_size: names no field of dataset citizens", lines)
        self.assertIn("/rules/3/fields/birth_date/to: generalize to bucket does not fit a field "
                      "of type date", lines)
        self.assertTrue(any(line.startswith("/rules/1/conditions/0/eq: ") for line in lines))
        self.assertNotIn("SECRET-VALUE", r.stderr + r.stdout)
        r = run("policy", "validate", "--schema", SCHEMAS[0],
                self.write("dup.json", '{"format": 1, "format": 1}'))
        self.assertEqual(r.returncode, EX_DATAERR)
        self.assertIn("<document>: line 1: a key appears twice", r.stderr)
        r = run("policy", "validate", os.path.join(self.tmp, "missing.json"), data=self.data)
        self.assertEqual(r.returncode, EX_NOINPUT)

    def test_set_requires_the_datasets(self):
        r = run("policy", "set", POLICY, data=self.data)
        self.assertEqual(r.returncode, EX_DATAERR)
        self.assertIn("/rules/0/dataset: names no known dataset", r.stderr)
        r = run("policy", "versions", data=self.data)
        self.assertEqual(r.returncode, 0)
        self.assertIn("no policy has been set", r.stdout)
        self.assertEqual(run("policy", "show", data=self.data).returncode, EX_NOINPUT)

    def test_versions_lifecycle(self):
        self.load_datasets()
        r = run("policy", "validate", POLICY, data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run("policy", "set", "--author", "dpo-alice", POLICY, data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("policy version 1 is active", r.stdout)

        with open(POLICY, encoding="utf-8") as f:
            doc = json.load(f)
        doc["rules"][0]["limits"]["records_per_request"] = 5
        # the active version asks for four-eyes on policy changes: the command line refuses
        # unless the operator overrides it, and nothing is stored when it refuses
        self.assertTrue(doc["four_eyes"]["policy_changes"])
        r = run("policy", "set", "--author", "dpo-bob", self.write("v2.json", doc), data=self.data)
        self.assertEqual(r.returncode, EX_NOPERM, r.stderr)
        self.assertIn("requires a second DPO's approval", r.stderr)
        self.assertIn("--without-approval", r.stderr)
        self.assertEqual(len(run("policy", "versions", data=self.data).stdout.splitlines()), 2)
        r = run("policy", "set", "--author", "dpo-bob", "--without-approval",
                self.write("v2.json", doc), data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("policy version 2 is active", r.stdout)

        # a refused document stores nothing
        doc["rules"][0]["dataset"] = "taxes"
        r = run("policy", "set", "--without-approval", self.write("bad.json", doc),
                data=self.data)
        self.assertEqual(r.returncode, EX_DATAERR)

        r = run("policy", "versions", data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [line.split() for line in r.stdout.splitlines()[1:]]
        self.assertEqual([row[0] for row in rows], ["1", "2"])
        self.assertEqual([row[2] for row in rows], ["dpo-alice", "dpo-bob"])
        self.assertEqual(rows[1][-1], "active")
        self.assertNotEqual(rows[0][-1], "active")

        # the hash is BLAKE2b-256 of the canonical bytes, recomputable by anyone
        for row in rows:
            r = subprocess.run([os.environ.get("ECLUSE_BIN", "ecluse"), "--data", self.data,
                                "policy", "show", "--canonical", "--version", row[0]],
                               capture_output=True)
            self.assertEqual(r.returncode, 0)
            self.assertEqual(hashlib.blake2b(r.stdout, digest_size=32).hexdigest(), row[3])
            canon = json.loads(r.stdout)
            self.assertEqual(r.stdout, json.dumps(canon, sort_keys=True, separators=(",", ":"),
                                                  ensure_ascii=False).encode())
        r = run("policy", "show", data=self.data)
        self.assertEqual(json.loads(r.stdout)["rules"][0]["limits"]["records_per_request"], 5)

        # roll back, then forward (the flag on either side of the version)
        r = run("policy", "activate", "1", data=self.data)
        self.assertEqual(r.returncode, EX_NOPERM, r.stderr)
        r = run("policy", "activate", "1", "--without-approval", data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run("policy", "show", data=self.data)
        self.assertEqual(json.loads(r.stdout)["rules"][0]["limits"]["records_per_request"], 10)
        self.assertTrue(run("policy", "versions", data=self.data).stdout.splitlines()[1]
                        .endswith("active"))
        self.assertEqual(run("policy", "activate", "--without-approval", "3",
                             data=self.data).returncode, EX_NOINPUT)
        self.assertEqual(run("policy", "activate", "--without-approval", "2",
                             data=self.data).returncode, 0)
        r = run("policy", "show", "--version", "1", data=self.data)
        self.assertEqual(json.loads(r.stdout)["rules"][0]["limits"]["records_per_request"], 10)
        self.assertEqual(run("policy", "show", "--version", "9", data=self.data).returncode,
                         EX_NOINPUT)

        r = run("policy", "explain", "eligibility-assistant", data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        ex = json.loads(r.stdout)
        self.assertEqual(ex["purposes"][0]["purpose"], "benefit_eligibility")
        self.assertTrue(ex["purposes"][0]["require_case_id"])
        self.assertEqual(len(ex["purposes"][0]["grants"]), 2)
        r = run("policy", "explain", "eligibility-assistant", "fraud_detection", data=self.data)
        self.assertEqual(r.returncode, EX_NOINPUT)
        self.assertEqual(run("policy", "explain", "nobody", data=self.data).returncode,
                         EX_NOINPUT)


if __name__ == "__main__":
    unittest.main()
