#!/usr/bin/env python3
"""`ecluse audit`: an untouched log verifies (ours and an independent verifier); every kind of
tampering an attacker with root and the disk could do makes `ecluse audit verify` fail and name
the problem; roll-back and truncation are caught with --trusted-checkpoint."""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ecltest import ECLUSE, TempDirTest, run  # noqa: E402
import independent_verifier  # noqa: E402

TAMPER = os.environ.get("ECL_AUDIT_TAMPER", "audit_tamper")
DRIVER = os.environ.get("ECL_AUDIT_DRIVER", "audit_driver")
EX_USAGE, EX_DATAERR = 64, 65
N = 40  # entries written by the driver (plus the log.created entry of init)


def tamper(data, *args):
    r = subprocess.run([TAMPER, data] + [str(a) for a in args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def fill(data, n):
    r = subprocess.run([DRIVER, data, "fill", str(n)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


class AuditTest(TempDirTest):
    template = None

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tdir = tempfile.mkdtemp(prefix="ecl-audit-")
        cls.template = os.path.join(cls.tdir, "data")
        r = run("init", "--origin", "test.example/audit", data=cls.template)
        assert r.returncode == 0, r.stderr
        fill(cls.template, N)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tdir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        shutil.copytree(self.template, self.data)

    def verify(self, *extra, want_ok=True):
        r = run("audit", "verify", *extra, data=self.data)
        if want_ok:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        else:
            self.assertEqual(r.returncode, EX_DATAERR, r.stdout + r.stderr)
        return r.stdout

    def assert_detected(self, check, public_too=True):
        out = self.verify(want_ok=False)
        self.assertIn(f"FAIL {check} ", out)
        if public_too:
            out = self.verify("--public-only", want_ok=False)
            self.assertIn(f"FAIL {check} ", out)
        return out

    # ---- the untouched log ---------------------------------------------------------------

    def test_untouched_log_verifies(self):
        out = self.verify()
        self.assertIn("full (master key)", out)
        self.assertIn(f"OK: tree size {N + 1}", out)
        self.assertIn(f"{N + 1} entries decrypted", out)
        out = self.verify("--public-only")
        self.assertIn("public-key verification", out)
        self.assertIn("0 entries decrypted", out)

    def test_public_tier_without_master_key(self):
        os.rename(os.path.join(self.data, "master.key"), os.path.join(self.tmp, "away.key"))
        r = run("audit", "verify", data=self.data)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("public-key verification", r.stdout)
        self.assertIn("no master key", r.stderr)
        r = run("audit", "show", "1", data=self.data)
        self.assertNotEqual(r.returncode, 0)

    def test_independent_verifier_agrees(self):
        size, root = independent_verifier.verify(ECLUSE, self.data)
        self.assertEqual(size, N + 1)
        self.assertIn(f"root {root}", self.verify())
        tamper(self.data, "flip", 7, 100, 3)
        with self.assertRaises(ValueError):
            independent_verifier.verify(ECLUSE, self.data)

    def test_show_list_checkpoint_leaves(self):
        r = run("audit", "show", "0", data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["kind"], "log.created")
        r = run("audit", "list", "--subject", "SUBJ-3", "--limit", "1000", data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [json.loads(x) for x in r.stdout.splitlines()]
        self.assertTrue(rows)
        for row in rows:
            self.assertIn("SUBJ-3", row["subjects"])
        r = run("audit", "list", "--principal", "agent-1", "--decision", "deny", data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        for row in (json.loads(x) for x in r.stdout.splitlines()):
            self.assertEqual((row["principal"], row["decision"]), ("agent-1", "deny"))
        r = run("audit", "checkpoint", data=self.data)
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith(f"test.example/audit\n{N + 1}\n"))
        self.assertIn("\n\n\u2014 test.example/audit ", r.stdout)
        r = run("audit", "leaves", "--start", "0", "--end", str(N + 1), data=self.data)
        self.assertEqual(len(r.stdout.split()), N + 1)
        self.assertEqual(run("audit", "leaves", "--start", "0", "--end", "1001",
                             data=self.data).returncode, EX_USAGE)
        self.assertNotEqual(run("audit", "leaves", "--start", "0", "--end", str(N + 2),
                                data=self.data).returncode, 0)
        for sub in ("verify", "checkpoint", "leaves", "show", "list"):
            r = run("audit", sub, "--help")
            self.assertEqual(r.returncode, 0, sub)
            self.assertIn("usage:", r.stdout)
        self.assertEqual(run("audit", data=self.data).returncode, EX_USAGE)
        self.assertEqual(run("audit", "rewrite", data=self.data).returncode, EX_USAGE)

    # ---- tampering -----------------------------------------------------------------------

    def test_flipped_bit_anywhere(self):
        # header, nonce, ciphertext, tag: every region of a stored entry
        for offset in (0, 6, 30, 60, 80, 120, 10_000_000):
            with self.subTest(offset=offset):
                shutil.rmtree(self.data)
                shutil.copytree(self.template, self.data)
                tamper(self.data, "flip", 9, offset, 5)
                out = self.assert_detected("leaf-hash")
                self.assertIn("seq=9", out)

    def test_edited_header_field(self):
        tamper(self.data, "flip", 12, 36, 0)  # the low bit of the time field
        self.assert_detected("leaf-hash")
        out = self.verify(want_ok=False)  # full tier: the header is the AEAD's associated data
        self.assertIn("FAIL decrypt seq=12", out)

    def test_deleted_entry(self):
        tamper(self.data, "delete", 20)
        out = self.assert_detected("sequence")
        self.assertIn("seq=21: expected entry seq=20", out)

    def test_swapped_entries(self):
        tamper(self.data, "swap", 3, 4)
        out = self.assert_detected("header-seq")
        self.assertIn("seq=3", out)
        self.assertIn("FAIL leaf-hash seq=3", out)

    def test_truncated_tail(self):
        tamper(self.data, "truncate", 30)
        out = self.assert_detected("checkpoint-beyond-log")
        self.assertIn("meta-size", out)

    def test_index_row_removed(self):
        tamper(self.data, "idx-del", "subject", 5)
        self.assert_detected("index-subject-missing")
        shutil.rmtree(self.data)
        shutil.copytree(self.template, self.data)
        tamper(self.data, "idx-del", "principal", 3)
        self.assert_detected("index-principal-missing")

    def test_index_row_injected(self):
        tamper(self.data, "idx-add", "subject", 2)
        out = self.assert_detected("index-subject-extra")
        self.assertIn("seq=2", out)
        shutil.rmtree(self.data)
        shutil.copytree(self.template, self.data)
        tamper(self.data, "idx-add", "principal", 4)
        self.assert_detected("index-principal-extra")

    def test_bad_checkpoint_signature(self):
        r = run("audit", "checkpoint", data=self.data)
        size = int(r.stdout.splitlines()[1])
        tamper(self.data, "cp-flip", size)
        out = self.assert_detected("checkpoint-signature")
        self.assertIn(f"size={size}", out)

    def test_rollback_to_older_copy_needs_trusted_checkpoint(self):
        old = os.path.join(self.tmp, "old-copy")
        shutil.copytree(self.data, old)
        fill(self.data, 10)
        trusted = os.path.join(self.tmp, "trusted.checkpoint")
        with open(trusted, "w") as f:
            f.write(run("audit", "checkpoint", data=self.data).stdout)
        out = self.verify("--trusted-checkpoint", trusted)
        self.assertIn("ok   trusted-consistency", out)
        # the attacker puts the older copy back: alone, it is a valid shorter log
        shutil.rmtree(os.path.join(self.data, "audit"))
        shutil.copytree(os.path.join(old, "audit"), os.path.join(self.data, "audit"))
        self.verify()
        out = self.verify("--trusted-checkpoint", trusted, want_ok=False)
        self.assertIn("FAIL trusted-checkpoint size=", out)
        self.assertIn("older copy", out)

    def test_consistent_truncation_needs_trusted_checkpoint(self):
        trusted = os.path.join(self.tmp, "trusted.checkpoint")
        with open(trusted, "w") as f:
            f.write(run("audit", "checkpoint", data=self.data).stdout)
        # back to the size of init's checkpoint: every remaining row is genuine
        tamper(self.data, "truncate-all", 1)
        self.verify("--public-only")
        out = self.verify("--trusted-checkpoint", trusted, want_ok=False)
        self.assertIn("FAIL trusted-checkpoint", out)

    def test_trusted_checkpoint_of_another_history(self):
        # an older checkpoint whose entries were then rewritten: consistency fails
        trusted = os.path.join(self.tmp, "trusted.checkpoint")
        with open(trusted, "w") as f:
            f.write(run("audit", "checkpoint", data=self.data).stdout)
        fill(self.data, 3)
        self.verify("--trusted-checkpoint", trusted)
        tamper(self.data, "flip", 2, 200, 1)
        out = self.verify("--trusted-checkpoint", trusted, want_ok=False)
        self.assertIn("FAIL trusted-checkpoint", out)
        # a forged trusted checkpoint is refused
        with open(trusted) as f:
            text = f.read()
        with open(trusted, "w") as f:
            f.write(text.replace(f"\n{N + 1}\n", f"\n{N}\n"))
        out = self.verify("--trusted-checkpoint", trusted, want_ok=False)
        self.assertIn("FAIL trusted-checkpoint file", out)


if __name__ == "__main__":
    unittest.main()
