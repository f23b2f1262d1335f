#!/usr/bin/env python3
"""`ecluse demo`: the README's first command ends here.  It prepares a data directory, stores the
demo policy, prints fresh demo keys with example requests, and serves; the printed keys and
examples work; a restart rotates the keys (the old ones stop working); SIGTERM stops it cleanly
and the audit log verifies."""
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ecltest import ECLUSE, TempDirTest, run  # noqa: E402


class Demo:
    """A running `ecluse demo`, its banner parsed."""

    def __init__(self, data):
        env = dict(os.environ)
        env.pop("ECLUSE_DATA", None)
        self.proc = subprocess.Popen(
            [ECLUSE, "--data", data, "demo", "--size", "60", "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        out = b""
        deadline = time.time() + 120
        # raw reads: a buffered readline would hide data from select()
        while b"Stop with Ctrl-C" not in out:
            if time.time() > deadline or self.proc.poll() is not None:
                self.proc.kill()
                raise AssertionError("demo did not start: " + out.decode(errors="replace"))
            ready, _, _ = select.select([self.proc.stdout], [], [], 1)
            if ready:
                out += os.read(self.proc.stdout.fileno(), 65536)
        self.out = out.decode()
        self.base = re.search(r"gateway on (http://127\.0\.0\.1:\d+)", self.out).group(1)
        self.keys = dict(re.findall(r"^  (\S+)\s+(?:agent|dpo|auditor|admin)\s+(ek_\S+)$",
                                    self.out, re.M))
        self.curls = re.findall(r"curl -s (.*?)(?:\n\n)", self.out, re.S)

    def get(self, path, key, body=None):
        req = urllib.request.Request(self.base + path, data=body,
                                     headers={"Authorization": "Bearer " + key,
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        self.proc.stdout.close()
        err = self.proc.stderr.read().decode(errors="replace")
        self.proc.stderr.close()
        return rc, err


class DemoTest(TempDirTest):
    def test_demo_serves_prints_working_keys_and_rotates_them(self):
        demo = Demo(self.data)
        try:
            self.assertIn("demo policy stored and activated as version 1", demo.out)
            self.assertEqual(set(demo.keys), {
                "service-desk-assistant", "eligibility-assistant", "statistics-bot",
                "fraud-detector", "winter-outreach-bot", "dpo-alice", "dpo-bob",
                "auditor-carol", "admin"})
            agent = demo.keys["service-desk-assistant"]
            st, body = demo.get("/v1/datasets", agent)
            self.assertEqual(st, 200, body)
            # the printed example record request works as printed
            m = re.search(r"'(http://[^']*/records/(\d+)\?purpose=citizen_services)'", demo.out)
            self.assertIsNotNone(m, demo.out)
            st, body = demo.get(m.group(1)[len(demo.base):], agent)
            self.assertEqual(st, 200, body)
            doc = json.loads(body)
            self.assertTrue(doc["data"]["nir"].startswith("ps_"))
            self.assertNotIn(m.group(2), body.decode())
            # the printed query example works as printed
            q = re.search(r"-d '(\{.*?\})' \\\n\s+(http://\S+)", demo.out)
            self.assertIsNotNone(q, demo.out)
            st, body = demo.get(q.group(2)[len(demo.base):], demo.keys["statistics-bot"],
                                q.group(1).encode())
            self.assertEqual(st, 200, body)
            self.assertGreater(len(json.loads(body)["data"]), 0)
            st, body = demo.get("/v1/audit/checkpoint", demo.keys["auditor-carol"])
            self.assertEqual(st, 200, body)
            st, body = demo.get("/v1/policy", demo.keys["dpo-alice"])
            self.assertEqual(st, 200, body)
            # roles are separate even in the demo
            self.assertEqual(demo.get("/v1/policy", agent)[0], 403)
        finally:
            rc, err = demo.stop()
        self.assertEqual(rc, 0, err)
        self.assertIn("graceful shutdown complete", err)

        # a second start: data and policy kept, keys rotated, the old keys refused
        demo2 = Demo(self.data)
        try:
            self.assertIn("already prepared", demo2.out)
            self.assertNotIn("demo policy stored", demo2.out)
            self.assertNotEqual(demo2.keys["service-desk-assistant"], agent)
            self.assertEqual(demo2.get("/v1/datasets", agent)[0], 401)
            self.assertEqual(demo2.get("/v1/datasets", demo2.keys["service-desk-assistant"])[0],
                             200)
            # one gateway per data directory
            r = run("serve", "--listen", "127.0.0.1:0", data=self.data, timeout=30)
            self.assertEqual(r.returncode, 75)
            self.assertIn("another gateway is serving", r.stderr)
        finally:
            rc, err = demo2.stop()
        self.assertEqual(rc, 0, err)
        r = run("audit", "verify", data=self.data)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = run("audit", "list", "--kind", "principal.change", "--limit", "100", data=self.data)
        self.assertEqual(len(r.stdout.strip().splitlines()), 18)  # 9 keys, twice
        # the policy the demo started with is on record, once (the restart found it active)
        r = run("audit", "list", "--kind", "policy.change", data=self.data)
        changes = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual([(e["detail"], e["policy"]["version"]) for e in changes],
                         [("policy version 1 set and activated", 1)])

    def test_prepare_only_does_not_serve(self):
        r = run("demo", "--prepare-only", "--size", "30", data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("demo data ready", r.stdout)
        self.assertNotIn("ek_", r.stdout)
        # every step is on record, like `ecluse import`; the policy is left to the caller
        self.assertNotIn("demo policy", r.stdout)
        r = run("audit", "list", "--kind", "records.import", data=self.data)
        imports = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(sorted(e["dataset"] for e in imports), ["benefits", "citizens"])
        self.assertIn("imported 30 records (30 new, 0 updated)", imports[0]["detail"])
        r = run("audit", "list", "--kind", "policy.change", data=self.data)
        self.assertEqual(r.stdout, "")
        # a prepared directory is left as it is: nothing more to record
        r = run("demo", "--prepare-only", "--size", "30", data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run("audit", "list", "--kind", "records.import", data=self.data)
        self.assertEqual(len(r.stdout.splitlines()), 2)

    def test_usage_errors(self):
        self.assertEqual(run("demo", "--size", "0", data=self.data).returncode, 64)
        self.assertEqual(run("demo", "--threads", "x", data=self.data).returncode, 64)
        self.assertEqual(run("demo", "extra", data=self.data).returncode, 64)
        self.assertFalse(os.path.exists(self.data))
        r = run("demo", "--prepare-only", "--size", "10", "--listen", "999.1.1.1:1",
                data=self.data)
        self.assertEqual(r.returncode, 0)  # --listen is not used when only preparing


if __name__ == "__main__":
    unittest.main()
