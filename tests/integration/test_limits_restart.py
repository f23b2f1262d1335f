#!/usr/bin/env python3
"""The per-agent limits hold across a restart (docs/api.md "Limits"): the counters are rebuilt
from the audit log at start-up, after SIGTERM and after kill -9, for records_per_day and
requests_per_minute, counting only the records a query released, per (agent, rule), REST and
MCP alike; a tampered log tail stops the gateway from starting.  The audit writer checkpoints
the counters every 2 entries here (ECLUSE_AUDIT_TEST_LIMITS_EVERY), so restarts load a
checkpoint and replay the entries after it; a tampered checkpoint stops the gateway too."""
import calendar
import copy
import json
import os
import signal
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ["ECLUSE_AUDIT_TEST_LIMITS_EVERY"] = "2"
import ecltest  # noqa: E402
from ecltest import run  # noqa: E402

PURPOSE = "citizen_services"
FIELDS = {"nir": "allow", "household_id": "allow", "sex": "allow"}
MCP_VERSION = "2025-11-25"


def limits(per_request=10, per_minute=100, per_day=1000):
    return {"records_per_request": per_request, "requests_per_minute": per_minute,
            "records_per_day": per_day}


def policy():
    """The demo policy plus one agent per scenario, each with rules of small limits."""
    with open(os.path.join(ecltest.SOURCE_DIR, "demo", "policy.json"), encoding="utf-8") as f:
        p = copy.deepcopy(json.load(f))
    rules = {
        "day-term": ("citizens", ["day-term"], limits(per_day=3)),
        "day-kill": ("citizens", ["day-kill"], limits(per_day=3)),
        "minute": ("citizens", ["minute-bot"], limits(per_minute=2)),
        "query": ("citizens", ["query-bot"], limits(per_request=10, per_day=10)),
        "shared-citizens": ("citizens", ["shared-a", "shared-b"], limits(per_day=3)),
        "shared-benefits": ("benefits", ["shared-a"], limits(per_day=3)),
        "mcp": ("citizens", ["mcp-bot"], limits(per_day=3)),
        "ignore": ("citizens", ["ignore-bot"], limits(per_day=3)),
    }
    agents = sorted({a for _, ags, _ in rules.values() for a in ags})
    for a in agents:
        p["agents"].append({"id": a, "description": "Rate-limit test agent.",
                            "organisation": "Tests", "purposes": [PURPOSE]})
    for rid, (ds, ags, lim) in rules.items():
        fields = FIELDS if ds == "citizens" else {"nir": "allow", "status": "allow"}
        p["rules"].append({"id": rid, "agents": ags, "purpose": PURPOSE, "dataset": ds,
                           "fields": fields, "limits": lim})
    return p


def to_midnight():
    now = time.time()
    t = time.gmtime(now)
    midnight = calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0)) + 86400
    return midnight - now


class LimitsAcrossRestart(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = ecltest.demo_server(size=40, policy=policy())
        cls.nirs = sorted(cls.srv.raw["citizens"])
        cls.ben = sorted(cls.srv.raw["benefits"])

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        assert rc == 0, rc

    # ---- helpers ---------------------------------------------------------------------------

    def get(self, agent, i=0, ds="citizens"):
        ids = self.nirs if ds == "citizens" else self.ben
        st, h, b = self.srv.request("GET", "/v1/datasets/%s/records/%s?purpose=%s" % (
            ds, urllib.parse.quote(ids[i % len(ids)], safe=""), PURPOSE), agent=agent)
        return st, h, json.loads(b)

    def restart(self, sig=signal.SIGTERM):
        rc = self.srv.halt(sig)
        self.assertEqual(rc, 0 if sig == signal.SIGTERM else -signal.SIGKILL)
        self.srv.restart()

    def assert_day_refusal(self, st, h, doc):
        self.assertEqual((st, doc["code"]), (429, "rate_limited"), doc)
        self.assertAlmostEqual(int(h["retry-after"]), to_midnight(), delta=3)
        e = self.srv.audit_entry(doc["audit_seq"])
        self.assertEqual((e["decision"], e["reason"]), ("deny", "rate_limited"))
        self.assertNotIn("counted", e)  # a refusal by the limits is not admitted

    def day_scenario(self, agent, sig):
        for i in range(3):
            st, _, doc = self.get(agent, i)
            self.assertEqual(st, 200, doc)
            e = self.srv.audit_entry(doc["meta"]["audit_seq"])
            self.assertEqual(e["counted"]["records"], 1)
        self.restart(sig)
        self.assert_day_refusal(*self.get(agent, 3))

    # ---- scenarios -------------------------------------------------------------------------

    def test_day_after_sigterm(self):
        self.day_scenario("day-term", signal.SIGTERM)

    def test_day_after_kill(self):
        self.day_scenario("day-kill", signal.SIGKILL)

    def test_minute_window(self):
        for i in range(2):
            st, _, doc = self.get("minute-bot", i)
            self.assertEqual(st, 200, doc)
        st, h, doc = self.get("minute-bot", 2)
        t1, r1 = time.time(), int(h["retry-after"])
        self.assertEqual((st, doc["code"]), (429, "rate_limited"))
        self.restart(signal.SIGKILL)
        st, h, doc = self.get("minute-bot", 2)
        t2, r2 = time.time(), int(h["retry-after"])
        self.assertEqual((st, doc["code"]), (429, "rate_limited"), doc)
        # the same window as before the restart: it ends at the same time
        self.assertAlmostEqual(t1 + r1, t2 + r2, delta=2)
        self.assertLessEqual(r2, 60)

    def test_query_counts_only_released(self):
        households = {}
        for nir, r in self.srv.raw["citizens"].items():
            households.setdefault(r["household_id"], []).append(nir)
        hid, members = min(households.items(), key=lambda kv: (len(kv[1]), kv[0]))
        st, _, b = self.srv.request("POST", "/v1/datasets/citizens/query", agent="query-bot",
                                    body={"purpose": PURPOSE, "limit": 10,
                                          "where": {"household_id": hid}})
        doc = json.loads(b)
        self.assertEqual((st, len(doc["data"])), (200, len(members)), doc)
        self.assertEqual(self.srv.audit_entry(doc["meta"]["audit_seq"])["counted"]["records"],
                         len(members))
        self.restart()
        # what is left of the 10: exactly 10 - released
        left = 10 - len(members)
        st, _, b = self.srv.request("POST", "/v1/datasets/citizens/query", agent="query-bot",
                                    body={"purpose": PURPOSE, "limit": 10})
        doc = json.loads(b)
        self.assertEqual((st, len(doc["data"])), (200, left), doc)
        self.assert_day_refusal(*self.get("query-bot", 0))

    def test_other_agent_and_rule_unaffected(self):
        for i in range(3):
            self.assertEqual(self.get("shared-a", i)[0], 200)
        self.restart()
        self.assert_day_refusal(*self.get("shared-a", 3))
        # the same rule for another agent, another rule for the same agent
        for i in range(3):
            st, _, doc = self.get("shared-b", i)
            self.assertEqual(st, 200, doc)
            st, _, doc = self.get("shared-a", i, ds="benefits")
            self.assertEqual(st, 200, doc)

    def mcp(self, body, sid=None):
        h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
             "MCP-Protocol-Version": MCP_VERSION}
        if sid is not None:
            h["Mcp-Session-Id"] = sid
        st, rh, b = self.srv.request("POST", "/mcp", body=body, agent="mcp-bot", headers=h)
        return st, rh, json.loads(b) if b else None

    def mcp_get(self, i):
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": MCP_VERSION, "capabilities": {},
                           "clientInfo": {"name": "it", "version": "1"}}}
        st, rh, _ = self.mcp(init)
        self.assertEqual(st, 200)
        sid = rh["mcp-session-id"]
        self.assertEqual(self.mcp({"jsonrpc": "2.0", "method": "notifications/initialized"},
                                  sid)[0], 202)
        st, _, msg = self.mcp({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "get_record", "arguments": {"dataset": "citizens", "purpose": PURPOSE,
                                                "id": self.nirs[i]}}}, sid)
        self.assertEqual(st, 200, msg)
        return msg["result"]

    def test_mcp_counts(self):
        for i in range(2):
            res = self.mcp_get(i)
            self.assertFalse(res["isError"], res)
        self.assertEqual(self.get("mcp-bot", 2)[0], 200)
        self.restart(signal.SIGKILL)
        self.assert_day_refusal(*self.get("mcp-bot", 3))
        res = self.mcp_get(3)
        self.assertTrue(res["isError"])
        self.assertEqual(res["structuredContent"]["error"]["code"], "rate_limited")

    def test_start_up_log(self):
        self.restart()
        with open(self.srv.log_path, encoding="utf-8") as f:
            lines = [json.loads(x) for x in f if x.startswith("{")]
        rebuilt = [x for x in lines if x.get("event") == "limits_rebuilt"]
        self.assertTrue(rebuilt)
        last = rebuilt[-1]
        self.assertGreater(last["entries_read"], 0)
        self.assertGreaterEqual(last["ms"], 0)
        self.assertEqual(set(last), {"time", "level", "event", "entries_read", "entries_counted",
                                     "counters", "from_checkpoint", "checkpoint_counters",
                                     "since", "ms"})
        self.assertEqual(last["from_checkpoint"], 1)
        self.assertLess(last["entries_read"], 10)  # the entries after the checkpoint only

    def test_ignoring_the_checkpoint_counts_the_same(self):
        """The day's full walk (ECLUSE_LIMITS_IGNORE_CHECKPOINT=1, what an older data directory
        gets) refuses the same request as the start-up that loaded the checkpoint."""
        for i in range(3):
            self.assertEqual(self.get("ignore-bot", i)[0], 200)
        self.restart()
        self.assert_day_refusal(*self.get("ignore-bot", 3))
        os.environ["ECLUSE_LIMITS_IGNORE_CHECKPOINT"] = "1"
        try:
            self.restart()
        finally:
            del os.environ["ECLUSE_LIMITS_IGNORE_CHECKPOINT"]
        self.assert_day_refusal(*self.get("ignore-bot", 4))
        with open(self.srv.log_path, encoding="utf-8") as f:
            lines = [json.loads(x) for x in f if x.startswith("{")]
        last = [x for x in lines if x.get("event") == "limits_rebuilt"][-1]
        self.assertEqual(last["from_checkpoint"], 0)


class TamperedTail(unittest.TestCase):
    """A log whose newest entry does not decrypt: the gateway refuses to start (fail closed)
    and names the entry, instead of starting with counters it could not rebuild."""

    def test_refuses_to_start(self):
        srv = ecltest.demo_server(size=5)
        try:
            self.assertEqual(srv.request("GET", "/v1/datasets", agent="statistics-bot")[0], 200)
            self.assertEqual(srv.halt(signal.SIGTERM), 0)
            path = os.path.join(srv.data, "audit", "data.mdb")
            with open(path, "rb") as f:
                blob = bytearray(f.read())
            # every copy (LMDB pages) of the newest leaf: "ECLA" 0x01, log id, seq (big-endian)
            found, at = {}, blob.find(b"ECLA\x01")
            while at >= 0:
                found.setdefault(int.from_bytes(blob[at + 21:at + 29], "big"), []).append(at)
                at = blob.find(b"ECLA\x01", at + 1)
            newest = max(found)
            for at in found[newest]:
                blob[at + 80] ^= 0x01  # a ciphertext byte (the shutdown entry has no subject)
            with open(path, "wb") as f:
                f.write(blob)
            r = run("serve", "--listen", "127.0.0.1:0", data=srv.data, timeout=30)
            self.assertEqual(r.returncode, 65, r.stderr)  # EX_DATAERR
            self.assertIn("rate-limit counters cannot be rebuilt", r.stderr)
            self.assertIn("entry %d does not decrypt" % newest, r.stderr)
        finally:
            srv.stop()


class TamperedCheckpoint(unittest.TestCase):
    """A rate-limit checkpoint that does not authenticate: the gateway refuses to start and
    names the checkpoint (fail closed), rather than walking the day or trusting it."""

    def test_refuses_to_start(self):
        srv = ecltest.demo_server(size=5)
        try:
            self.assertEqual(srv.request("GET", "/v1/datasets", agent="statistics-bot")[0], 200)
            self.assertEqual(srv.halt(signal.SIGTERM), 0)
            path = os.path.join(srv.data, "audit", "data.mdb")
            with open(path, "rb") as f:
                blob = bytearray(f.read())
            # every copy (LMDB pages) of the checkpoint row: "ECLL", key version, next, nonce..
            at, n = blob.find(b"ECLL\x00\x00\x00"), 0
            while at >= 0:
                blob[at + 16 + 30] ^= 0x01  # a ciphertext byte
                n += 1
                at = blob.find(b"ECLL\x00\x00\x00", at + 1)
            self.assertGreater(n, 0)
            with open(path, "wb") as f:
                f.write(blob)
            r = run("serve", "--listen", "127.0.0.1:0", data=srv.data, timeout=30)
            self.assertEqual(r.returncode, 65, r.stderr)  # EX_DATAERR
            self.assertIn("rate-limit checkpoint in the audit log does not authenticate",
                          r.stderr)
            # the log itself is intact: the offline verifier does not look at the checkpoint
            v = run("audit", "verify", data=srv.data)
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
