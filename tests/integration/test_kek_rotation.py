"""Destroyable record-KEK versions (docs/erasure.md): erasure holds against a copy of the store
taken before it once the record KEK has been rotated and the old version destroyed, as long as
the copy's own keyring is gone too; rotation resumes after a kill; the audit log stays valid."""
import fcntl
import json
import os
import shutil
import subprocess
import unittest

from ecltest import ECLUSE, SOURCE_DIR, TempDirTest, run

EX_DATAERR = 65
EX_TEMPFAIL = 75


class KekRotationTest(TempDirTest):

    def ok(self, *args, data=None):
        r = run(*args, data=self.data if data is None else data)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def get(self, nir, dataset="citizens", data=None):
        r = run("record", "get", "--dataset", dataset, nir,
                data=self.data if data is None else data)
        return r.returncode, (json.loads(r.stdout) if r.returncode == 0 else None)

    def show(self, data=None):
        r = self.ok("keys", "show", data=data)
        return {k: v for k, v in (line.split(": ", 1) for line in r.stdout.splitlines())
                if k.startswith("record-kek ") or k == "key-version record-kek"}

    def setUp(self):
        super().setUp()
        self.init()
        for ds in ("citizens", "benefits"):
            self.ok("dataset", "create", os.path.join(SOURCE_DIR, "demo", ds + ".schema.json"))
        gen = os.path.join(self.tmp, "gen")
        self.ok("demo-data", "--size", "40", "--seed", "3", "--out", gen)
        self.raw = {}
        for ds in ("citizens", "benefits"):
            path = os.path.join(gen, ds + ".jsonl")
            self.ok("import", "--dataset", ds, path)
            with open(path, encoding="utf-8") as f:
                self.raw[ds] = [json.loads(line) for line in f if line.strip()]

    def test_erasure_survives_backups_after_rotation(self):
        citizens = self.raw["citizens"]
        target = citizens[0]["nir"]
        backup = os.path.join(self.tmp, "backup")
        shutil.copytree(self.data, backup)  # a backup of the whole directory, keyring included
        old_keyring = os.path.join(self.tmp, "old-keyring")
        shutil.copy2(os.path.join(backup, "keyring"), old_keyring)
        self.assertEqual(self.show(), {"key-version record-kek": "1", "record-kek 1": "present"})

        self.ok("erase", "--dataset", "citizens", target)
        self.assertNotEqual(self.get(target)[0], 0)
        # erasure alone does not reach the backup: its wrapped key opens with the live keyring
        self.assertEqual(self.get(target, data=backup)[1], citizens[0])

        r = self.ok("keys", "rotate", "record-kek")
        self.assertIn("record-kek version 2 is current", r.stdout)
        self.assertIn("rewrapped %d data keys" % (2 * len(citizens) - 1), r.stdout)
        self.assertIn("record-kek version 1 destroyed", r.stdout)
        self.assertEqual(self.show(), {"key-version record-kek": "2",
                                       "record-kek 1": "destroyed", "record-kek 2": "present"})
        # live: every other record still reads
        for c in citizens[1:]:
            self.assertEqual(self.get(c["nir"])[1], c)
        for b in self.raw["benefits"]:
            self.assertEqual(self.get(b["nir"], "benefits")[1], b)
        self.assertNotEqual(self.get(target)[0], 0)

        # the backup with the current master key and the current keyring: nothing decrypts
        shutil.copy2(os.path.join(self.data, "keyring"), os.path.join(backup, "keyring"))
        for c in citizens[:5]:
            code, rec = self.get(c["nir"], data=backup)
            self.assertNotEqual(code, 0)
            self.assertIsNone(rec)
        r = run("record", "get", "--dataset", "citizens", target, data=backup)
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn(target, r.stdout + r.stderr)
        # ... but the backup with its own old keyring copy still could: old keyring copies
        # must be destroyed as well (docs/erasure.md)
        shutil.copy2(old_keyring, os.path.join(backup, "keyring"))
        self.assertEqual(self.get(target, data=backup)[1], citizens[0])

        # a second rotation destroys version 2 in turn
        r = self.ok("keys", "rotate", "record-kek", "--keep-old")
        self.assertIn("record-kek version 3 is current", r.stdout)
        self.assertEqual(self.show()["record-kek 2"], "present")
        r = self.ok("keys", "destroy", "record-kek", "2")
        self.assertEqual(self.show(), {"key-version record-kek": "3", "record-kek 1": "destroyed",
                                       "record-kek 2": "destroyed", "record-kek 3": "present"})
        self.assertEqual(run("keys", "destroy", "record-kek", "2", data=self.data).returncode,
                         EX_DATAERR)
        self.assertEqual(run("keys", "destroy", "record-kek", "3", data=self.data).returncode,
                         EX_DATAERR)
        self.assertEqual(self.get(citizens[1]["nir"])[1], citizens[1])
        self.ok("audit", "verify")

    def test_interrupted_rotation_resumes(self):
        env = dict(os.environ)
        env.pop("ECLUSE_DATA", None)
        p = subprocess.Popen([ECLUSE, "--data", self.data, "keys", "rotate", "record-kek",
                              "--batch", "1"], stdout=subprocess.PIPE, text=True, env=env)
        for line in p.stdout:
            if line.startswith("rewrapped "):
                p.kill()
                break
        p.wait()
        p.stdout.close()
        self.assertEqual(p.returncode, -9)
        # keys remain under version 1: it cannot be destroyed yet
        r = run("keys", "destroy", "record-kek", "1", data=self.data)
        self.assertEqual(r.returncode, EX_DATAERR, r.stderr)
        self.assertIn("still wrapped under record-kek version 1", r.stderr)
        self.assertEqual(self.show()["record-kek 1"], "present")
        # meanwhile every record reads (old and new wraps side by side)
        for c in self.raw["citizens"][:10]:
            self.assertEqual(self.get(c["nir"])[1], c)
        r = self.ok("keys", "rotate", "record-kek")
        self.assertIn("resuming:", r.stdout)
        self.assertNotIn("is current", r.stdout)
        self.assertIn("record-kek version 1 destroyed", r.stdout)
        self.assertEqual(self.show(), {"key-version record-kek": "2",
                                       "record-kek 1": "destroyed", "record-kek 2": "present"})
        for ds in ("citizens", "benefits"):
            for rec in self.raw[ds]:
                self.assertEqual(self.get(rec["nir"], ds)[1], rec)
        self.ok("audit", "verify")

    def test_refusals(self):
        # a gateway holds DATA/gateway.lock: no rotation under it
        with open(os.path.join(self.data, "gateway.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            r = run("keys", "rotate", "record-kek", data=self.data)
            self.assertEqual(r.returncode, EX_TEMPFAIL, r.stderr)
            self.assertIn("gateway", r.stderr)
        self.assertEqual(self.show(), {"key-version record-kek": "1", "record-kek 1": "present"})
        # a command writing records holds DATA/keyring.lock shared: no rotation meanwhile, so no
        # data key can be wrapped under a version the rotation destroys
        with open(os.path.join(self.data, "keyring.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
            r = run("keys", "rotate", "record-kek", data=self.data)
            self.assertEqual(r.returncode, EX_TEMPFAIL, r.stderr)
            self.assertIn("writing records", r.stderr)
        # and the other way round: while a rotation holds it, writing commands wait their turn
        gen = os.path.join(self.tmp, "gen")
        with open(os.path.join(self.data, "keyring.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            r = run("import", "--dataset", "citizens", os.path.join(gen, "citizens.jsonl"),
                    data=self.data)
            self.assertEqual(r.returncode, EX_TEMPFAIL, r.stderr)
            self.assertIn("key rotation is running", r.stderr)
            # reading needs no lock
            self.assertEqual(self.get(self.raw["citizens"][1]["nir"])[0], 0)
        self.assertEqual(self.show(), {"key-version record-kek": "1", "record-kek 1": "present"})
        for args in (("keys", "rotate"), ("keys", "rotate", "token"),
                     ("keys", "rotate", "record-kek", "--batch", "0"),
                     ("keys", "destroy", "record-kek", "x"), ("keys", "destroy", "token", "1")):
            self.assertEqual(run(*args, data=self.data).returncode, 64, args)
        self.assertEqual(run("keys", "destroy", "record-kek", "1", data=self.data).returncode,
                         EX_DATAERR)
        # a wrong master key does not rotate anything
        bad = os.path.join(self.tmp, "bad.key")
        with open(bad, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(bad, 0o600)
        r = run("--master-key-file", bad, "keys", "rotate", "record-kek", data=self.data)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.show(), {"key-version record-kek": "1", "record-kek 1": "present"})
        self.assertEqual(oct(os.stat(os.path.join(self.data, "keyring")).st_mode & 0o777),
                         "0o600")


if __name__ == "__main__":
    unittest.main()
