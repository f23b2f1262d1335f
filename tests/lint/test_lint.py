#!/usr/bin/env python3
"""The lint checks pass on the repository and fail on planted bad files."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
LINT = os.path.join(HERE, "lint.py")
ROOT = os.environ.get("ECL_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))


def run(root, *checks):
    return subprocess.run([sys.executable, LINT, root, *checks], capture_output=True, text=True)


class LintTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        shutil.copy(os.path.join(ROOT, ".clang-format"), self.tmp)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def plant(self, rel, text):
        path = os.path.join(self.tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def test_repository_is_clean(self):
        r = run(ROOT)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_sodium_outside_crypto(self):
        self.plant("gateway/store/bad.c", "#include <sodium.h>\n")
        r = run(self.tmp, "boundaries")
        self.assertEqual(r.returncode, 1)
        self.assertIn("gateway/store/bad.c:1: <sodium.h>", r.stdout)

    def test_lmdb_outside_store(self):
        self.plant("gateway/http/bad.c", "#include <lmdb.h>\n")
        self.plant("gateway/store/good.c", "#include <lmdb.h>\n")
        r = run(self.tmp, "boundaries")
        self.assertEqual(r.returncode, 1)
        self.assertIn("gateway/http/bad.c", r.stdout)
        self.assertNotIn("good.c", r.stdout)

    def test_microhttpd_outside_http(self):
        self.plant("gateway/handlers/bad.c", '#include "microhttpd.h"\n')
        r = run(self.tmp, "boundaries")
        self.assertEqual(r.returncode, 1)
        self.assertIn("microhttpd.h", r.stdout)

    def test_policy_impure(self):
        self.plant("policy/bad.c", "#include <time.h>\nlong f(void) { return time(0); }\n"
                   "int g(void) { return rand(); }\n")
        r = run(self.tmp, "purity")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no #include <time.h>", r.stdout)
        self.assertIn("calls time()", r.stdout)
        self.assertIn("calls rand()", r.stdout)

    def test_policy_member_named_time_is_fine(self):
        self.plant("policy/ok.c", "long f(struct x *p) { return p->time(1); }\n"
                   "/* time() in a comment */\n")
        self.assertEqual(run(self.tmp, "purity").returncode, 0)

    def test_banned(self):
        self.plant("gateway/bad.c", "void f(char *a) { strcpy(a, \"x\"); sprintf(a, \"y\"); }\n")
        self.plant("crypto/cmp.c", "int f(const void *a, const void *b) { return memcmp(a, b, 4); }\n")
        r = run(self.tmp, "banned")
        self.assertEqual(r.returncode, 1)
        self.assertIn("strcpy", r.stdout)
        self.assertIn("sprintf", r.stdout)
        self.assertIn("crypto/cmp.c:1: memcmp", r.stdout)

    def test_format(self):
        self.plant("gateway/ugly.c", "int   f( void ){return 1;}\n")
        r = run(self.tmp, "format")
        self.assertEqual(r.returncode, 1)
        self.assertIn("gateway/ugly.c", r.stdout)


if __name__ == "__main__":
    unittest.main()
