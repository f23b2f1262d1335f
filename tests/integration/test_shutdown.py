#!/usr/bin/env python3
"""Stopping the gateway under load, and the smallest thread pool (docs/operations.md).

- SIGTERM while requests are suspended waiting for their audit entry (the writer is slowed by
  the test hook ECLUSE_AUDIT_TEST_COMMIT_DELAY_MS) and keep-alive clients keep sending: the
  server must exit 0, every answer must be 200, 429 (the rule's rate limit) or 503, never an abort ("MHD_stop_daemon() called
  while we have suspended connections").
- `--threads 1` is raised to 2: more than 64 concurrent connections all get their answers."""
import http.client
import json
import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ecltest  # noqa: E402

AGENT = "service-desk-assistant"
PURPOSE = "citizen_services"


def record_path(nir):
    return "/v1/datasets/citizens/records/%s?purpose=%s" % (nir, PURPOSE)


class Clients:
    """n threads, each with one keep-alive connection sending record reads until told to stop
    or the connection ends; statuses and errors are collected."""

    def __init__(self, srv, n, ids, rounds=None):
        self.srv = srv
        self.ids = ids
        self.rounds = rounds
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.statuses = {}
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(n)]

    def run(self, i):
        h = {"Authorization": "Bearer " + self.srv.keys[AGENT]}
        c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=30)
        done = 0
        try:
            while not self.stop.is_set() and (self.rounds is None or done < self.rounds):
                c.request("GET", record_path(self.ids[(i + done) % len(self.ids)]), headers=h)
                r = c.getresponse()
                r.read()
                with self.lock:
                    self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
                done += 1
                if r.getheader("Connection", "").lower() == "close":
                    break  # a 503 does not stop a client: keep sending, as wrk does
        except (OSError, http.client.HTTPException) as e:
            with self.lock:
                self.errors.append(repr(e))
        finally:
            c.close()

    def start(self):
        for t in self.threads:
            t.start()

    def join(self, timeout):
        deadline = time.time() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.time()))
        return [t for t in self.threads if t.is_alive()]


class ShutdownTest(unittest.TestCase):
    def test_sigterm_with_suspended_requests(self):
        old = os.environ.get("ECLUSE_AUDIT_TEST_COMMIT_DELAY_MS")
        os.environ["ECLUSE_AUDIT_TEST_COMMIT_DELAY_MS"] = "150"
        try:
            srv = ecltest.DemoServer(size=40)
        finally:
            if old is None:
                os.environ.pop("ECLUSE_AUDIT_TEST_COMMIT_DELAY_MS", None)
            else:
                os.environ["ECLUSE_AUDIT_TEST_COMMIT_DELAY_MS"] = old
        try:
            ids = list(srv.raw["citizens"])
            cl = Clients(srv, 48, ids)
            cl.start()
            time.sleep(0.6)  # several slowed commits: requests are suspended at every moment
            with cl.lock:
                answered = sum(cl.statuses.values())
            self.assertGreater(answered, 0, "no request completed before the stop")
            srv.proc.send_signal(signal.SIGTERM)
            rc = srv.proc.wait(timeout=30)
            cl.stop.set()
            alive = cl.join(30)
            with open(srv.log_path, "rb") as f:
                log = f.read().decode(errors="replace")
            self.assertEqual(rc, 0, log[-2000:])
            self.assertNotIn("suspended connections", log)
            self.assertEqual(alive, [], "clients still waiting after the server exited")
            self.assertLessEqual(set(cl.statuses), {200, 429, 503}, cl.statuses)
        finally:
            srv.stop()

    def test_sigterm_idle_after_load(self):
        """The benchmark's case: SIGTERM right after a burst, without the slowed writer."""
        with ecltest.DemoServer(size=40) as srv:
            ids = list(srv.raw["citizens"])
            cl = Clients(srv, 64, ids, rounds=20)
            cl.start()
            time.sleep(0.3)
            srv.proc.send_signal(signal.SIGTERM)
            rc = srv.proc.wait(timeout=30)
            cl.join(30)
            with open(srv.log_path, "rb") as f:
                log = f.read().decode(errors="replace")
            self.assertEqual(rc, 0, log[-2000:])
            self.assertNotIn("suspended connections", log)
            self.assertLessEqual(set(cl.statuses), {200, 429, 503}, cl.statuses)

    def test_one_thread_serves_more_than_64_connections(self):
        with ecltest.DemoServer(size=40, serve_args=("--threads", "1")) as srv:
            with open(srv.log_path, "rb") as f:
                listening = [json.loads(x) for x in f.read().decode().splitlines()
                             if '"listening"' in x]
            self.assertEqual(listening[0]["threads"], 2)  # raised to the minimum
            ids = list(srv.raw["citizens"])
            cl = Clients(srv, 80, ids, rounds=3)
            cl.start()
            alive = cl.join(60)
            self.assertEqual(alive, [], "requests stalled with --threads 1")
            self.assertEqual(cl.errors, [])
            self.assertEqual(cl.statuses, {200: 80 * 3})


if __name__ == "__main__":
    unittest.main()
