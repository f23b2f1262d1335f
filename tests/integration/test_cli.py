#!/usr/bin/env python3
"""The `ecluse` command: global options, init, keys show, exit codes."""
import base64
import hashlib
import os
import stat
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ecltest import TempDirTest, run, tree_snapshot  # noqa: E402

EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_CANTCREAT, EX_NOPERM = 64, 65, 66, 73, 77


class CliTest(TempDirTest):
    def test_help_and_version(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: ecluse", r.stdout)
        self.assertIn("init", r.stdout)
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^ecluse \d+\.\d+\.\d+")
        for cmd in ("init", "keys"):
            r = run(cmd, "--help")
            self.assertEqual(r.returncode, 0, cmd)
            self.assertIn("usage:", r.stdout)

    def test_usage_errors(self):
        self.assertEqual(run().returncode, EX_USAGE)
        self.assertEqual(run("no-such-command").returncode, EX_USAGE)
        self.assertEqual(run("--no-such-option").returncode, EX_USAGE)
        self.assertEqual(run("--master-key-fd", "x", "keys", "show").returncode, EX_USAGE)
        self.assertEqual(run("init", "extra", data=self.data).returncode, EX_USAGE)
        self.assertEqual(run("keys", data=self.data).returncode, EX_USAGE)
        self.assertEqual(run("keys", "rotate", data=self.data).returncode, EX_USAGE)
        self.assertFalse(os.path.exists(self.data))

    def test_init_layout_and_modes(self):
        r = self.init()
        self.assertIn("initialised", r.stdout)
        self.assertEqual(stat.S_IMODE(os.stat(self.data).st_mode), 0o700)
        for name in ("master.key", "keyring"):
            st = os.stat(os.path.join(self.data, name))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, name)
        self.assertEqual(os.path.getsize(os.path.join(self.data, "master.key")), 32)
        for sub in ("records", "audit"):
            self.assertTrue(os.path.exists(os.path.join(self.data, sub, "data.mdb")))
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.data, sub)).st_mode), 0o700)

    def test_init_refuses_existing_and_changes_nothing(self):
        self.init()
        before = tree_snapshot(self.data)
        r = run("init", data=self.data)
        self.assertEqual(r.returncode, EX_CANTCREAT)
        self.assertIn("already exists", r.stderr)
        self.assertEqual(tree_snapshot(self.data), before)
        os.mkdir(os.path.join(self.tmp, "empty"))  # even an empty directory is refused
        self.assertEqual(run("init", data=os.path.join(self.tmp, "empty")).returncode,
                         EX_CANTCREAT)

    def test_keys_show_is_public_only(self):
        self.init("--origin", "test.example/audit")
        r = run("keys", "show", data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = dict(line.split(": ", 1) for line in r.stdout.strip().splitlines())
        self.assertEqual(lines["origin"], "test.example/audit")
        pk = bytes.fromhex(lines["audit-public-key"])
        # C2SP verifier key: name+hexid+base64(0x01 || pk), id = SHA-256(name\n\x01 pk)[:4]
        name, hexid, b64 = lines["audit-verifier-key"].split("+", 2)
        self.assertEqual(name, "test.example/audit")
        self.assertEqual(base64.b64decode(b64), b"\x01" + pk)
        want = hashlib.sha256(name.encode() + b"\n\x01" + pk).digest()[:4].hex()
        self.assertEqual(hexid, want)
        self.assertEqual(lines["key-version record-kek"], "1")
        with open(os.path.join(self.data, "master.key"), "rb") as f:
            master = f.read()
        self.assertNotIn(master.hex(), r.stdout)

    def test_loose_master_key_refused(self):
        self.init()
        mk = os.path.join(self.data, "master.key")
        self.assertEqual(run("keys", "check", data=self.data).returncode, 0)
        for mode in (0o640, 0o604, 0o660):
            os.chmod(mk, mode)
            r = run("keys", "check", data=self.data)
            self.assertEqual(r.returncode, EX_NOPERM, oct(mode))
            self.assertIn("readable or writable by group or others", r.stderr)
        os.chmod(mk, 0o600)
        with open(mk, "ab") as f:
            f.write(b"x")
        r = run("keys", "check", data=self.data)
        self.assertEqual(r.returncode, EX_DATAERR)
        self.assertIn("wrong size", r.stderr)

    def test_wrong_master_key_refused(self):
        self.init()
        other = os.path.join(self.tmp, "other.key")
        fd = os.open(other, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, bytes(32))
        os.close(fd)
        r = run("--master-key-file", other, "keys", "check", data=self.data)
        self.assertEqual(r.returncode, EX_DATAERR)
        self.assertIn("wrong master key", r.stderr)

    def test_init_with_loose_key_file_leaves_nothing(self):
        key = os.path.join(self.tmp, "cred.key")
        fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, bytes(32))
        os.close(fd)
        os.chmod(key, 0o644)
        r = run("--master-key-file", key, "init", data=self.data)
        self.assertEqual(r.returncode, EX_NOPERM)
        self.assertFalse(os.path.exists(self.data))
        self.assertEqual(sorted(os.listdir(self.tmp)), ["cred.key"])
        os.chmod(key, 0o600)
        r = run("--master-key-file", key, "init", data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.data, "master.key")))
        r = run("--master-key-file", key, "keys", "check", data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_missing_data_dir(self):
        r = run("keys", "show", data=os.path.join(self.tmp, "nope"))
        self.assertEqual(r.returncode, EX_NOINPUT)
        self.assertIn("ecluse init", r.stderr)

    def test_master_key_from_fd(self):
        rfd, wfd = os.pipe()
        os.write(wfd, bytes(range(32)))
        os.close(wfd)
        r = run("--master-key-fd", str(rfd), "init", data=self.data, pass_fds=(rfd,))
        os.close(rfd)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.data, "master.key")))


if __name__ == "__main__":
    unittest.main()
