"""Shared helpers for the integration tests (Python standard library only)."""
import os
import shutil
import subprocess
import tempfile
import unittest

ECLUSE = os.environ.get("ECLUSE_BIN", os.path.join(os.getcwd(), "ecluse"))
SOURCE_DIR = os.environ.get("ECL_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(
                                os.path.abspath(__file__)))))


def run(*args, data=None, input=None, env=None, pass_fds=(), timeout=120):
    """Runs `ecluse [--data DATA] ARGS...`; returns the CompletedProcess (text mode)."""
    cmd = [ECLUSE]
    if data is not None:
        cmd += ["--data", data]
    cmd += list(args)
    full_env = dict(os.environ)
    full_env.pop("ECLUSE_DATA", None)
    if env:
        full_env.update(env)
    return subprocess.run(cmd, input=input, capture_output=True, text=True, env=full_env,
                          pass_fds=pass_fds, timeout=timeout)


class TempDirTest(unittest.TestCase):
    """Gives each test a fresh temporary directory, self.tmp, removed afterwards."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ecl-it-")
        self.data = os.path.join(self.tmp, "data")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def init(self, *extra):
        r = run("init", *extra, data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r


def tree_snapshot(root):
    """(relative path, mode, size, content) for every file below root."""
    out = []
    for dirpath, _, files in os.walk(root):
        for name in sorted(files):
            p = os.path.join(dirpath, name)
            st = os.stat(p)
            with open(p, "rb") as f:
                out.append((os.path.relpath(p, root), st.st_mode, st.st_size, f.read()))
    return sorted(out)
