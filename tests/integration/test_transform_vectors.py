#!/usr/bin/env python3
"""The published transform vectors agree with their independent generator and with the table
of docs/transforms.md (so that neither can drift from what the C code is tested against)."""
import json
import os
import subprocess
import sys
import unittest

SRC = os.environ.get("ECL_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
GEN = os.path.join(SRC, "tests", "vectors", "gen_transforms.py")


class TransformVectors(unittest.TestCase):
    def run_gen(self, *args):
        r = subprocess.run([sys.executable, GEN, *args], capture_output=True, text=True,
                           check=True)
        return r.stdout

    def test_json_is_generated(self):
        with open(os.path.join(SRC, "tests", "vectors", "transforms.json")) as f:
            committed = json.load(f)
        self.assertEqual(json.loads(self.run_gen()), committed)

    def test_doc_table_is_generated(self):
        with open(os.path.join(SRC, "docs", "transforms.md"), encoding="utf-8") as f:
            doc = f.read()
        table = self.run_gen("--markdown")
        self.assertGreater(table.count("\n"), 100)
        self.assertIn(table, doc)


if __name__ == "__main__":
    unittest.main()
