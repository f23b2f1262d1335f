#!/usr/bin/env python3
"""The DPO API on the real `ecluse serve`: policy read with ETag, changes with If-Match (428,
412, 422 with JSON pointers), versions, roll back and forward, simulation over given requests and
over the audit log, re-identification with four-eyes off and on, approvals, the role matrix and
the audit entries of every action.  Tokens and record.read entries are made with the real keys by
tests/tools/dpo_seed before the server starts (the agent API is not on this branch yet)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ecltest import SOURCE_DIR, principal_add, run  # noqa: E402
from test_http import Server, request  # noqa: E402

SEED = os.environ.get("ECL_DPO_SEED", os.path.join(os.getcwd(), "dpo_seed"))
PROBLEM_BASE = "https://ecluse.example/problems/"


def demo_policy(four_eyes):
    with open(os.path.join(SOURCE_DIR, "demo", "policy.json")) as f:
        p = json.load(f)
    p["four_eyes"] = {"policy_changes": four_eyes, "reidentification": four_eyes}
    return p


def rule(p, rid):
    return next(r for r in p["rules"] if r["id"] == rid)


class DpoApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ecl-dpo-")
        cls.data = os.path.join(cls.tmp, "data")
        r = run("demo", "--prepare-only", "--size", "20", data=cls.data)
        assert r.returncode == 0, r.stderr
        path = os.path.join(cls.tmp, "p1.json")
        with open(path, "w") as f:
            json.dump(demo_policy(False), f)
        r = run("policy", "set", "--author", "setup", path, data=cls.data)
        assert r.returncode == 0, r.stderr
        cls.keys = {}
        cls.ids = {}
        for name, role in [("dpo-anne", "dpo"), ("dpo-bruno", "dpo"), ("fraud-detector", "agent"),
                           ("aud", "auditor"), ("root", "admin"),
                           ("service-desk-assistant", "agent"), ("eligibility-assistant", "agent"),
                           ("statistics-bot", "agent")]:
            cls.ids[name], cls.keys[name] = principal_add(cls.data, name, role)
        # a real NIR of the demo population and its token as the fraud-detector receives it
        out = os.path.join(cls.tmp, "pop")
        r = run("demo-data", "--size", "20", "--out", out)
        assert r.returncode == 0, r.stderr
        with open(os.path.join(out, "citizens.jsonl")) as f:
            cls.nir = json.loads(f.readline())["nir"]
        cls.token = cls.seed("token", "fraud-detector", "fraud_detection", "citizens", "nir",
                             "purpose", json.dumps(cls.nir)).strip()
        assert cls.token.startswith("tk_"), cls.token
        # recorded decisions: three allowed reads of the fraud-detector, one denied read
        fraud_fields = [["nir", "tokenize"], ["iban", "tokenize"], ["household_id", "pseudonymize"],
                        ["birth_date", "generalize"], ["postcode", "allow"],
                        ["income_bracket", "allow"]]
        lines = [{"principal": cls.ids["fraud-detector"], "purpose": "fraud_detection",
                  "dataset": "citizens", "decision": "allow", "case": "C-1",
                  "fields": fraud_fields}] * 3
        lines.append({"principal": cls.ids["fraud-detector"], "purpose": "fraud_detection",
                      "dataset": "citizens", "decision": "deny", "reason": "case_id_required",
                      "fields": []})
        cls.seed("events", input="".join(json.dumps(x) + "\n" for x in lines))
        cls.srv = Server(cls.data)
        cls.port = cls.srv.port

    @classmethod
    def seed(cls, *args, input=None):
        r = subprocess.run([SEED, cls.data, *args], input=input, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, (args, r.stderr)
        return r.stdout

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        log = cls.srv.raw_log().decode(errors="replace")
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert rc == 0, (rc, log[-6000:])

    def call(self, method, path, who="dpo-anne", body=None, headers=None):
        h = dict(headers or {})
        if who is not None:
            h["Authorization"] = "Bearer " + self.keys[who]
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        st, hd, raw = request(self.port, method, path, body=body, headers=h)
        return st, hd, (json.loads(raw) if raw else None)

    def problem(self, resp, status, slug):
        st, hd, b = resp
        self.assertEqual(st, status, b)
        self.assertEqual(hd["content-type"], "application/problem+json")
        self.assertEqual(b["type"], PROBLEM_BASE + slug)
        return b

    def etag(self):
        st, hd, b = self.call("GET", "/v1/policy")
        self.assertEqual(st, 200, b)
        return hd["etag"], b["data"]

    def audit(self, kind):
        r = run("audit", "list", "--kind", kind, "--limit", "1000", data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]

    def put(self, doc, etag, who="dpo-anne"):
        return self.call("PUT", "/v1/policy", who, doc, {"If-Match": etag})

    # The tests run in name order and build on one another (one server, one history).

    def test_1_roles(self):
        for who in ("fraud-detector", "aud", "root"):
            for method, path in [("GET", "/v1/policy"), ("GET", "/v1/policy/versions"),
                                 ("GET", "/v1/approvals")]:
                self.problem(self.call(method, path, who), 403, "forbidden")
            self.problem(self.call("POST", "/v1/reidentify", who,
                                   {"token": self.token, "justification": "x" * 20}), 403,
                         "forbidden")
        self.problem(self.call("GET", "/v1/policy", None), 401, "unauthenticated")
        # refusals are audited without holding the answer back: wait for the entries
        for _ in range(100):
            refused = self.audit("access.refused")
            if any(e.get("principal") == self.ids["aud"] for e in refused):
                break
            time.sleep(0.05)
        self.assertTrue(any(e.get("principal") == self.ids["aud"] for e in refused), refused)

    def test_2_get_and_preconditions(self):
        etag, d = self.etag()
        self.assertEqual(etag, '"%s"' % d["hash"])
        self.assertEqual(d["version"], 1)
        self.assertEqual(d["author"], "setup")
        self.assertFalse(d["document"]["four_eyes"]["policy_changes"])
        doc = demo_policy(False)
        b = self.problem(self.call("PUT", "/v1/policy", body=doc), 428, "precondition-required")
        self.assertIn("audit_seq", b)
        b = self.problem(self.put(doc, '"%s"' % ("0" * 64)), 412, "precondition-failed")
        self.assertEqual(b["current_etag"], d["hash"])
        bad = demo_policy(False)
        rule(bad, "fraud-citizens")["fields"]["no_such_field"] = "allow"
        bad["agents"][0]["purposes"] = ["no_such_purpose"]
        b = self.problem(self.put(bad, etag), 422, "invalid-policy")
        pointers = [e["pointer"] for e in b["errors"]]
        self.assertIn("/rules/5/fields/no_such_field", pointers)
        self.assertTrue(any(p.startswith("/agents/0/purposes") for p in pointers), pointers)
        self.assertEqual(self.etag()[0], etag)  # nothing changed
        changes = self.audit("policy.change")
        reasons = [e.get("reason") for e in changes]
        for r in ("precondition_required", "precondition_failed", "invalid_policy"):
            self.assertIn(r, reasons)

    def proposed(self):
        p = demo_policy(False)
        fields = rule(p, "fraud-citizens")["fields"]
        del fields["iban"]
        fields["commune"] = "allow"
        return p

    def test_3_simulate_requests(self):
        body = {"policy": self.proposed(), "requests": [
            {"agent": "fraud-detector", "purpose": "fraud_detection", "dataset": "citizens",
             "case_id": "C-9"},
            {"agent": "fraud-detector", "purpose": "fraud_detection", "dataset": "citizens"},
            {"agent": "statistics-bot", "purpose": "official_statistics", "dataset": "citizens",
             "at": "2026-01-01T00:00:00Z"}]}
        st, _, b = self.call("POST", "/v1/policy/simulate", body=body)
        self.assertEqual(st, 200, b)
        res = b["data"]["results"]
        self.assertEqual(res[0]["gained"], {"commune": "allow"})
        self.assertEqual(res[0]["lost"], {"iban": "tokenize"})
        self.assertIsNone(res[0]["flip"])
        self.assertEqual(res[1]["current"]["reason"], "case_id_required")
        self.assertEqual(res[1]["gained"], {})
        self.assertEqual(res[2]["gained"], {})
        self.assertEqual(res[2]["lost"], {})
        # a flip: the proposed policy drops the fraud-citizens rule
        p = demo_policy(False)
        p["rules"] = [r for r in p["rules"] if r["id"] != "fraud-citizens"]
        body = {"policy": p, "requests": body["requests"][:1]}
        st, _, b = self.call("POST", "/v1/policy/simulate", body=body)
        self.assertEqual(b["data"]["results"][0]["flip"], "allow_to_deny")
        self.assertEqual(b["data"]["flips"], 1)
        # an invalid proposal comes back with pointers; nothing was stored
        bad = demo_policy(False)
        rule(bad, "fraud-citizens")["dataset"] = "nope"
        b = self.problem(self.call("POST", "/v1/policy/simulate",
                                   body={"policy": bad, "requests": body["requests"]}),
                         422, "invalid-policy")
        self.assertTrue(any(e["pointer"].startswith("/rules/5") for e in b["errors"]))
        self.assertEqual(self.etag()[1]["version"], 1)

    def test_4_simulate_window(self):
        body = {"policy": self.proposed(),
                "window": {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}}
        st, _, b = self.call("POST", "/v1/policy/simulate", body=body)
        self.assertEqual(st, 200, b)
        d = b["data"]
        self.assertEqual(d["entries"], 4)
        groups = {(g["agent"], g["case_id"]): g for g in d["groups"]}
        g = groups[("fraud-detector", True)]
        self.assertEqual(g["entries"], 3)
        self.assertEqual(g["recorded"], {"allow": 3, "deny": 0})
        self.assertEqual(g["gained"], {"commune": "allow"})
        self.assertEqual(g["lost"], {"iban": "tokenize"})
        g = groups[("fraud-detector", False)]
        self.assertEqual((g["recorded"]["deny"], g["proposed"]["deny"], g["deny_to_allow"]),
                         (1, 1, 0))
        self.assertEqual((g["not_compared"], d["not_compared"]), (0, 0))
        self.assertEqual(d["agents"]["fraud-detector"],
                         {"gained": {"citizens/commune": "allow"},
                          "lost": {"citizens/iban": "tokenize"}})
        # an empty window replays nothing
        body["window"] = {"since": "2000-01-01T00:00:00Z", "until": "2000-01-02T00:00:00Z"}
        st, _, b = self.call("POST", "/v1/policy/simulate", body=body)
        self.assertEqual((st, b["data"]["entries"], b["data"]["groups"]), (200, 0, []))
        self.assertTrue(any("simulation" in e.get("detail", "")
                            for e in self.audit("policy.read")))

    def agent_call(self, who, method, path, body=None, headers=None):
        h = dict(headers or {})
        h["Authorization"] = "Bearer " + self.keys[who]
        if body is not None:
            body = json.dumps(body)
            h["Content-Type"] = "application/json"
        st, _, raw = request(self.port, method, path, body=body, headers=h)
        return st, (json.loads(raw) if raw else None)

    def test_4a_simulate_window_refusals_are_not_policy_denies(self):
        # real agent requests: refusals that are not the policy's request-level decision (404
        # of an absent record, field_not_granted, limit_exceeded, rate_limited) next to real
        # policy denies (on_behalf_of_required, purpose_not_allowed_for_agent)
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
        rec = "/v1/datasets/citizens/records/"
        sd = "service-desk-assistant"
        calls = [
            (sd, "GET", rec + self.nir + "?purpose=citizen_services", None, {}, 200, None),
            (sd, "GET", rec + "199999999999999?purpose=citizen_services", None, {}, 404,
             "not_found"),
            (sd, "GET", rec + "299999999999999?purpose=citizen_services", None, {}, 404,
             "not_found"),
            (sd, "POST", "/v1/datasets/citizens/query",
             {"purpose": "citizen_services", "fields": ["iban"]}, {}, 403, "field_not_granted"),
            (sd, "POST", "/v1/datasets/citizens/query",
             {"purpose": "citizen_services", "limit": 11}, {}, 422, "limit_exceeded"),
            ("eligibility-assistant", "GET", rec + self.nir + "?purpose=benefit_eligibility",
             None, {"X-Case-Id": "C-7"}, 428, "on_behalf_of_required"),
            ("eligibility-assistant", "GET", rec + "199999999999999?purpose=benefit_eligibility",
             None, {"X-Case-Id": "C-7", "On-Behalf-Of": "agent-12"}, 404, "not_found"),
            ("statistics-bot", "POST", "/v1/datasets/citizens/query",
             {"purpose": "citizen_services", "limit": 1}, {}, 403,
             "purpose_not_allowed_for_agent"),
        ]
        for who, method, path, body, hd, status, code in calls:
            st, b = self.agent_call(who, method, path, body, hd)
            self.assertEqual(st, status, (path, b))
            if code is not None:
                self.assertEqual(b["code"], code, b)
        # fraud_detection allows 30 requests a minute: the 31st read is rate limited
        limited = 0
        for _ in range(31):
            st, b = self.agent_call("fraud-detector", "GET",
                                    rec + "199999999999999?purpose=fraud_detection", None,
                                    {"X-Case-Id": "C-8", "On-Behalf-Of": "inv-3"})
            self.assertIn(st, (404, 429), b)
            limited += st == 429
        self.assertEqual(limited, 1)
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
        window = {"since": since, "until": until}

        def simulate(policy):
            st, _, b = self.call("POST", "/v1/policy/simulate",
                                 body={"policy": policy, "window": window})
            self.assertEqual(st, 200, b)
            return b["data"], {(g["agent"], g["purpose"], g["on_behalf_of"], g["case_id"]): g
                               for g in b["data"]["groups"]}

        # a proposal that only changes the fraud-citizens rule: nothing flips elsewhere
        d, groups = simulate(self.proposed())
        g = groups[(sd, "citizen_services", False, False)]
        self.assertEqual((g["entries"], g["recorded"], g["proposed"], g["not_compared"]),
                         (5, {"allow": 1, "deny": 0}, {"allow": 1, "deny": 0}, 4), g)
        self.assertEqual((g["allow_to_deny"], g["deny_to_allow"]), (0, 0))
        self.assertEqual((g["gained"], g["lost"], g["changed"]), ({}, {}, {}))
        self.assertEqual(d["agents"][sd], {"gained": {}, "lost": {}})
        g = groups[("eligibility-assistant", "benefit_eligibility", False, True)]
        self.assertEqual((g["recorded"], g["proposed"], g["not_compared"], g["deny_to_allow"]),
                         ({"allow": 0, "deny": 1}, {"allow": 0, "deny": 1}, 0, 0), g)
        g = groups[("eligibility-assistant", "benefit_eligibility", True, True)]
        self.assertEqual((g["entries"], g["not_compared"], g["deny_to_allow"], g["gained"]),
                         (1, 1, 0, {}), g)
        self.assertEqual(d["agents"]["eligibility-assistant"], {"gained": {}, "lost": {}})
        g = groups[("fraud-detector", "fraud_detection", True, True)]
        self.assertEqual((g["entries"], g["not_compared"], g["recorded"], g["proposed"]),
                         (31, 31, {"allow": 0, "deny": 0}, {"allow": 0, "deny": 0}), g)
        self.assertEqual((g["gained"], g["lost"]), ({}, {}))
        g = groups[("statistics-bot", "citizen_services", False, False)]
        self.assertEqual((g["recorded"], g["proposed"], g["deny_to_allow"], g["not_compared"]),
                         ({"allow": 0, "deny": 1}, {"allow": 0, "deny": 1}, 0, 0), g)
        self.assertEqual(d["not_compared"], 4 + 1 + 31)
        self.assertEqual(d["entries"], sum(g["entries"] for g in d["groups"]))
        # a real policy deny still flips when the proposal allows it
        p = demo_policy(False)
        next(a for a in p["agents"] if a["id"] == "statistics-bot")["purposes"].append(
            "citizen_services")
        rule(p, "service-desk-citizens")["agents"].append("statistics-bot")
        d, groups = simulate(p)
        g = groups[("statistics-bot", "citizen_services", False, False)]
        self.assertEqual((g["recorded"], g["proposed"], g["deny_to_allow"]),
                         ({"allow": 0, "deny": 1}, {"allow": 1, "deny": 0}, 1), g)
        self.assertEqual(len(g["gained"]), 10, g)
        g = groups[(sd, "citizen_services", False, False)]
        self.assertEqual((g["deny_to_allow"], g["gained"]), (0, {}), g)

    def reid(self, **over):
        body = {"token": self.token, "agent": "fraud-detector", "purpose": "fraud_detection",
                "dataset": "citizens", "field": "nir",
                "justification": "Fraud case C-1: the investigator needs the NIR."}
        body.update(over)
        return self.call("POST", "/v1/reidentify", over.pop("who", "dpo-anne") if False else
                         "dpo-anne", body)

    def test_5_reidentify_without_four_eyes(self):
        st, _, b = self.reid()
        self.assertEqual(st, 200, b)
        self.assertEqual(b["data"]["value"], self.nir)
        altered = self.token[:-2] + ("A" if self.token[-2] != "A" else "B") + self.token[-1]
        for over in [{"token": altered}, {"agent": "statistics-bot",
                                          "purpose": "official_statistics"},
                     {"field": "household_id"}, {"token": "tk_AAAA"}]:
            b = self.problem(self.reid(**over), 404, "not-found")
            self.assertEqual(b["code"], "not_reidentifiable")
        self.problem(self.reid(justification="short"), 400, "invalid-json")
        entries = self.audit("reidentify")
        ok = [e for e in entries if e["decision"] == "allow"]
        self.assertEqual(len(ok), 1)
        self.assertIn("investigator needs the NIR", ok[0]["detail"])
        self.assertEqual(ok[0]["subjects"], [self.nir])
        self.assertEqual(len([e for e in entries if e["decision"] == "deny"]), 4)

    def test_6_put_versions_activate(self):
        etag, d = self.etag()
        st, hd, b = self.put(self.proposed(), etag)
        self.assertEqual(st, 200, b)
        self.assertEqual(b["data"]["version"], 2)
        self.assertEqual(b["data"]["author"], "dpo-anne")
        self.assertEqual(hd["etag"], '"%s"' % b["data"]["hash"])
        self.assertNotEqual(hd["etag"], etag)
        # the running gateway uses it at once: the holder's version is what simulate compares
        st, _, s = self.call("POST", "/v1/policy/simulate", body={
            "policy": self.proposed(), "requests": [
                {"agent": "fraud-detector", "purpose": "fraud_detection", "dataset": "citizens",
                 "case_id": True}]})
        self.assertEqual(s["data"]["active"]["version"], 2)
        self.assertEqual(s["data"]["results"][0]["lost"], {})
        self.problem(self.put(self.proposed(), etag), 412, "precondition-failed")
        st, _, b = self.call("GET", "/v1/policy/versions")
        self.assertEqual([v["version"] for v in b["data"]["versions"]], [1, 2])
        self.assertEqual(b["data"]["active"], 2)
        st, hd, b = self.call("GET", "/v1/policy/versions/1")
        self.assertIn("iban", rule(b["data"]["document"], "fraud-citizens")["fields"])
        self.assertNotIn("etag", hd)
        self.problem(self.call("GET", "/v1/policy/versions/9"), 404, "not-found")
        st, _, b = self.call("POST", "/v1/policy/activate", body={"version": 1})
        self.assertEqual((st, b["data"]["version"]), (200, 1), b)
        self.assertEqual(self.etag()[0], etag)
        st, _, b = self.call("POST", "/v1/policy/activate", body={"version": 2})
        self.assertEqual((st, b["data"]["version"]), (200, 2), b)
        self.problem(self.call("POST", "/v1/policy/activate", body={"version": 7}), 404,
                     "not-found")
        details = [e.get("detail", "") for e in self.audit("policy.change")]
        self.assertIn("policy version 1 activated (was 2)", details)
        self.assertIn("policy version 2 activated (was 1)", details)

    def test_7_four_eyes(self):
        etag, _ = self.etag()
        st, hd, b = self.put(demo_policy(True), etag)  # version 2 has no four-eyes: applies
        self.assertEqual((st, b["data"]["version"]), (200, 3), b)
        etag = hd["etag"]
        # re-identification: pending, not by the requester, approved by another DPO, once
        st, _, b = self.reid()
        self.assertEqual(st, 202, b)
        self.assertNotIn("value", json.dumps(b))
        aid = b["data"]["approval"]["id"]
        self.assertEqual(b["data"]["approval"]["state"], "pending")
        url = "/v1/approvals/" + aid
        b = self.problem(self.call("POST", url, "dpo-anne", {"decision": "approve"}), 403,
                         "forbidden")
        self.assertEqual(b["code"], "own_request")
        st, _, b = self.call("GET", url)
        self.assertEqual((st, b["data"]["state"]), (200, "pending"))
        self.assertNotIn("value", b["data"])
        st, _, b = self.call("POST", url, "dpo-bruno", {"decision": "approve"})
        self.assertEqual((st, b["data"]["approval"]["state"]), (200, "approved"), b)
        st, _, b = self.call("GET", url, "dpo-bruno")  # not the requester: no value
        self.assertNotIn("value", b["data"])
        self.assertNotIn("token", b["data"]["request"])
        st, _, b = self.call("GET", url, "dpo-anne")
        self.assertEqual((st, b["data"]["value"]), (200, self.nir), b)
        st, _, b = self.call("GET", url, "dpo-anne")
        self.assertEqual(b["data"]["state"], "done")
        self.assertNotIn("value", b["data"])
        self.problem(self.call("POST", url, "dpo-bruno", {"decision": "approve"}), 409,
                     "conflict")
        st, _, b = self.call("GET", "/v1/approvals", "dpo-bruno")
        self.assertIn(aid, [a["id"] for a in b["data"]["approvals"]])
        self.assertNotIn(self.nir, json.dumps(b))
        # a rejected re-identification never reveals
        st, _, b = self.reid()
        rid = b["data"]["approval"]["id"]
        st, _, b = self.call("POST", "/v1/approvals/" + rid, "dpo-bruno", {"decision": "reject"})
        self.assertEqual(b["data"]["approval"]["state"], "rejected")
        st, _, b = self.call("GET", "/v1/approvals/" + rid, "dpo-anne")
        self.assertNotIn("value", b["data"])
        # a policy change waits for the second DPO
        st, _, b = self.put(self.proposed() | {"four_eyes": demo_policy(True)["four_eyes"]}, etag)
        self.assertEqual(st, 202, b)
        pid = b["data"]["approval"]["id"]
        self.assertEqual(self.etag()[1]["version"], 3)
        self.problem(self.call("POST", "/v1/approvals/" + pid, "dpo-anne",
                               {"decision": "approve"}), 403, "forbidden")
        st, _, b = self.call("POST", "/v1/approvals/" + pid, "dpo-bruno", {"decision": "approve"})
        self.assertEqual((st, b["data"]["approval"]["state"]), (200, "done"), b)
        _, d = self.etag()
        self.assertEqual((d["version"], d["author"]), (4, "dpo-anne"))
        self.problem(self.call("POST", "/v1/approvals/" + pid, "dpo-bruno",
                               {"decision": "approve"}), 409, "conflict")
        self.problem(self.call("GET", "/v1/approvals/" + "0" * 32), 404, "not-found")
        reid = self.audit("reidentify")
        self.assertTrue(any("approved by dpo-bruno" in e.get("detail", "") and
                            e["decision"] == "allow" for e in reid))
        changes = self.audit("policy.change")
        self.assertTrue(any("approved by dpo-bruno: activated" in e.get("detail", "")
                            for e in changes))
        r = run("audit", "verify", data=self.data)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
