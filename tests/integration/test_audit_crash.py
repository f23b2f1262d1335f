#!/usr/bin/env python3
"""Crash test: a driver writes audit entries from several threads and prints each sequence
number as soon as its entry is acknowledged durable; it is killed with SIGKILL at random
moments, 20 times.  After every kill the log must verify and hold every acknowledged entry.
(SIGKILL keeps the page cache: this tests our commit protocol, not power loss.)"""
import os
import random
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ecltest import TempDirTest, run  # noqa: E402

DRIVER = os.environ.get("ECL_AUDIT_DRIVER", "audit_driver")
ROUNDS = 20


class CrashTest(TempDirTest):
    def test_kill_9_loses_nothing_acknowledged(self):
        self.init()
        rng = random.Random(int.from_bytes(os.urandom(4), "big"))
        acked = set()
        for i in range(ROUNDS):
            p = subprocess.Popen([DRIVER, self.data, "crash", "8"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            time.sleep(rng.uniform(0.05, 0.4))
            p.send_signal(signal.SIGKILL)
            out, err = p.communicate()
            new = {int(m) for m in re.findall(rb"^ack (\d+)$", out, re.M)}
            acked |= new
            r = run("audit", "verify", data=self.data)
            self.assertEqual(r.returncode, 0, f"round {i}: {r.stdout}{r.stderr}{err!r}")
            size = int(re.search(r"OK: tree size (\d+)", r.stdout).group(1))
            missing = [s for s in acked if s >= size]
            self.assertEqual(missing, [], f"round {i}: acknowledged but lost")
        self.assertGreater(len(acked), ROUNDS)  # the driver did write between kills


if __name__ == "__main__":
    unittest.main()
