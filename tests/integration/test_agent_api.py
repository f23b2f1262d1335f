#!/usr/bin/env python3
"""The agent REST API on demo data: every field action as the agent sees it, look-up by
pseudonym, limits, validity windows, objections, On-Behalf-Of and case requirements, queries
(indexed and filtered where, fields, cursors), audit entries and their digests, and the leak
test over every answer."""
import copy
import datetime
import json
import os
import re
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ecltest  # noqa: E402
from ecltest import run  # noqa: E402

PS = re.compile(r"^ps_[1-9][0-9]*_[A-Za-z0-9_-]{22}$")
TK = re.compile(r"^tk_[A-Za-z0-9_-]+$")
ELIG = {"On-Behalf-Of": "agent-314", "X-Case-Id": "CASE-2026-001"}


def norm(nir):
    """A NIR as the schema normalises it (digits): what audit entries name."""
    return re.sub(r"[^0-9]", "", nir)


RANDOM_KEYS = {"instance", "policy_hash", "next_cursor"}


def leaves(v, key=None):
    """The scalar values (as text) and keys of a JSON document, without random values."""
    if isinstance(v, dict):
        out = []
        for k, x in v.items():
            out.append(k)
            out += leaves(x, k)
        return out
    if isinstance(v, list):
        return [y for x in v for y in leaves(x, key)]
    if key in RANDOM_KEYS or (isinstance(v, str) and (PS.match(v) or TK.match(v))):
        return []
    return [str(v)]


def test_policy():
    with open(os.path.join(ecltest.SOURCE_DIR, "demo", "policy.json"), encoding="utf-8") as f:
        p = json.load(f)
    p = copy.deepcopy(p)
    p["agents"].append({"id": "limited-bot", "description": "Rate-limited test agent.",
                        "organisation": "Tests", "purposes": ["official_statistics"]})
    p["rules"].append({
        "id": "limited-citizens", "agents": ["limited-bot"], "purpose": "official_statistics",
        "dataset": "citizens", "fields": {"sex": "allow"},
        "limits": {"records_per_request": 5, "requests_per_minute": 3, "records_per_day": 1000}})
    return p


class AgentApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = ecltest.demo_server(size=60, policy=test_policy())
        cls.answers = []  # (agent, rule or None, status, headers, body) for the leak test
        cls.cit = cls.srv.raw["citizens"]
        cls.ben = cls.srv.raw["benefits"]

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        assert rc == 0, rc  # a clean shutdown (under ASan: no leak, no error)

    # ---- helpers ---------------------------------------------------------------------------

    def call(self, agent, method, path, body=None, headers=None):
        st, h, b = self.srv.request(method, path, body=body, agent=agent, headers=headers)
        doc = json.loads(b) if b else None
        rule = doc["meta"].get("rule_id") if st == 200 and isinstance(doc, dict) else None
        self.answers.append((agent, rule, st, h, b))
        return st, h, doc, b

    def get(self, agent, ds, ident, purpose, headers=None):
        return self.call(agent, "GET", "/v1/datasets/%s/records/%s?purpose=%s" % (
            ds, urllib.parse.quote(ident, safe=""), purpose), headers=headers)

    def query(self, agent, ds, body, headers=None):
        return self.call(agent, "POST", "/v1/datasets/%s/query" % ds, body=body, headers=headers)

    def check_entry(self, doc, raw_body, kind, decision="allow"):
        seq = doc["meta"]["audit_seq"] if "meta" in doc else doc["audit_seq"]
        e = self.srv.audit_entry(seq)
        self.assertEqual(e["kind"], kind)
        self.assertEqual(e["decision"], decision)
        self.assertEqual(e["channel"], "rest")
        self.assertEqual(e["role"], "agent")
        if decision == "allow":
            self.assertEqual(e["response_blake2b"], ecltest.response_digest(raw_body))
            self.assertEqual(e["policy"]["version"], doc["meta"]["policy_version"])
            self.assertEqual(e["policy"]["hash"], doc["meta"]["policy_hash"])
            if "fields" in doc["meta"]:
                self.assertEqual({f["field"]: f["action"] for f in e["fields"]},
                                 doc["meta"]["fields"])
        return e

    def same_refusal(self, a, b):
        """Two problem bodies identical but for the request id and the audit entry."""
        da, db = dict(a), dict(b)
        for d in (da, db):
            d.pop("instance")
            d.pop("audit_seq")
        self.assertEqual(da, db)

    # ---- field actions ---------------------------------------------------------------------

    def test_service_desk_actions(self):
        nir, raw = next(iter(self.cit.items()))
        st, _, doc, body = self.get("service-desk-assistant", "citizens", nir, "citizen_services")
        self.assertEqual(st, 200, body)
        d = doc["data"]
        self.assertEqual(set(d), {"nir", "household_id", "birth_date", "postcode", "phone", "sex",
                                  "commune", "insee_code", "income_bracket", "first_name"})
        self.assertRegex(d["nir"], PS)
        self.assertRegex(d["household_id"], PS)
        born = datetime.date.fromisoformat(raw["birth_date"])
        today = datetime.datetime.now(datetime.timezone.utc).date()
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        low = age // 10 * 10
        self.assertEqual(d["birth_date"], "90+" if low >= 90 else "%d-%d" % (low, low + 9))
        self.assertEqual(d["postcode"], raw["postcode"][:2])
        self.assertEqual(d["phone"], "*" * (len(raw["phone"]) - 2) + raw["phone"][-2:])
        for f in ("sex", "commune", "insee_code", "income_bracket", "first_name"):
            self.assertEqual(d[f], raw[f])
        self.assertEqual(doc["meta"]["rule_id"], "service-desk-citizens")
        self.assertEqual(doc["meta"]["fields"]["phone"], "mask")
        self.assertEqual(doc["meta"]["field_actions"]["nir"],
                         {"action": "pseudonymize", "domain": "agent_purpose"})
        self.assertIn("no_training", doc["meta"]["obligations"])
        e = self.check_entry(doc, body, "record.read")
        self.assertEqual(e["subjects"], [norm(nir)])
        self.assertEqual(e["rule"], "service-desk-citizens")
        # the same person gives the same pseudonym; the shared household domain links people
        st2, _, doc2, _ = self.get("service-desk-assistant", "citizens", nir, "citizen_services")
        self.assertEqual(doc2["data"]["nir"], d["nir"])

    def test_fraud_tokens_redaction_and_row_condition(self):
        nir = next(n for n, r in self.ben.items() if r["status"] == "active")
        st, _, doc, body = self.get("fraud-detector", "citizens", nir, "fraud_detection",
                                    headers={"X-Case-Id": "FR-1"})
        self.assertEqual(st, 200, body)
        raw = self.cit[nir]
        self.assertRegex(doc["data"]["nir"], TK)
        self.assertRegex(doc["data"]["iban"], TK)
        self.assertEqual(doc["data"]["birth_date"], raw["birth_date"][:4])
        self.assertEqual(self.srv.audit_entry(doc["meta"]["audit_seq"])["case"], "FR-1")
        st, _, doc, body = self.get("fraud-detector", "benefits", nir, "fraud_detection",
                                    headers={"X-Case-Id": "FR-1"})
        self.assertEqual(st, 200, body)
        self.assertIsNone(doc["data"]["aah"])
        self.assertEqual(doc["meta"]["fields"]["aah"], "redact")
        # a closed file fails the rule's row condition: the same 404 as a record that is not there
        closed = next(n for n, r in self.ben.items() if r["status"] == "closed")
        st1, _, p1, _ = self.get("fraud-detector", "benefits", closed, "fraud_detection",
                                 headers={"X-Case-Id": "FR-1"})
        st2, _, p2, _ = self.get("fraud-detector", "benefits", "100000000000000",
                                 "fraud_detection", headers={"X-Case-Id": "FR-1"})
        self.assertEqual((st1, st2), (404, 404))
        self.same_refusal(p1, p2)
        self.assertEqual(self.srv.audit_entry(p1["audit_seq"])["reason"], "row_condition")
        self.assertEqual(self.srv.audit_entry(p2["audit_seq"])["reason"], "not_found")

    # ---- requirements, windows, objections, purposes ----------------------------------------

    def test_on_behalf_of_and_case(self):
        nir = next(iter(self.cit))
        st, _, p, _ = self.get("fraud-detector", "citizens", nir, "fraud_detection")
        self.assertEqual((st, p["code"]), (428, "case_id_required"))
        st, _, p, _ = self.get("eligibility-assistant", "citizens", nir, "benefit_eligibility",
                               headers={"X-Case-Id": "C-1"})
        self.assertEqual((st, p["code"]), (428, "on_behalf_of_required"))
        self.check_entry(p, None, "record.read", "deny")
        st, h, p, b = self.get("eligibility-assistant", "citizens", nir, "benefit_eligibility",
                               headers={"On-Behalf-Of": "bad\x7fvalue", "X-Case-Id": "C-1"})
        self.assertEqual((st, p["code"]), (400, "invalid_header"))
        st, _, doc, body = self.get("eligibility-assistant", "citizens", nir,
                                    "benefit_eligibility", headers=ELIG)
        self.assertEqual(st, 200, body)
        self.assertEqual(doc["data"]["last_name"], self.cit[nir]["last_name"])
        e = self.check_entry(doc, body, "record.read")
        self.assertEqual((e["official"], e["case"]), ("agent-314", "CASE-2026-001"))
        self.assertNotIn(b"agent-314", body)

    def test_validity_window(self):
        # winter-outreach-citizens is valid 2025-11-01 .. 2026-03-31 only
        nir = next(iter(self.cit))
        hdr = {"On-Behalf-Of": "agent-7"}
        now = datetime.datetime.now(datetime.timezone.utc)
        inside = datetime.datetime(2025, 11, 1, tzinfo=datetime.timezone.utc) <= now <= \
            datetime.datetime(2026, 3, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)
        if inside:
            self.skipTest("the demo rule's window is open today")
        st, _, p, _ = self.get("winter-outreach-bot", "citizens", nir, "winter_outreach",
                               headers=hdr)
        self.assertEqual((st, p["code"]), (404, "not_found"))
        self.assertEqual(self.srv.audit_entry(p["audit_seq"])["reason"],
                         "outside_validity_window")
        st, _, p, _ = self.query("winter-outreach-bot", "citizens",
                                 {"purpose": "winter_outreach"}, headers=hdr)
        self.assertEqual((st, p["code"]), (403, "outside_validity_window"))
        # the dataset list shows only rules in force now (the same view as MCP tools/list)
        st, _, doc, _ = self.call("winter-outreach-bot", "GET", "/v1/datasets")
        self.assertEqual(st, 200)
        listed = [p["purpose"] for d in doc["data"] for p in d["purposes"]]
        self.assertNotIn("winter_outreach", listed)

    def test_objection(self):
        nir = list(self.cit)[5]
        st, _, _, _ = self.get("service-desk-assistant", "citizens", nir, "citizen_services")
        self.assertEqual(st, 200)
        r = run("objection", "add", "--dataset", "citizens", nir, "citizen_services",
                data=self.srv.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        st, _, p, _ = self.get("service-desk-assistant", "citizens", nir, "citizen_services")
        self.assertEqual((st, p["code"]), (404, "not_found"))
        self.assertEqual(self.srv.audit_entry(p["audit_seq"])["reason"], "objection")
        # a query skips the record
        st, _, doc, _ = self.query("service-desk-assistant", "citizens",
                                   {"purpose": "citizen_services", "where": {"insee_code":
                                                                             self.cit[nir]["insee_code"]}})
        self.assertEqual(st, 200)
        e = self.srv.audit_entry(doc["meta"]["audit_seq"])
        self.assertNotIn(norm(nir), e.get("subjects", []))

    def test_unknown_purpose_and_not_found(self):
        nir = next(iter(self.cit))
        st, _, p1, _ = self.get("service-desk-assistant", "citizens", nir, "marketing")
        st2, _, p2, _ = self.get("service-desk-assistant", "citizens", "199999999999999",
                                 "citizen_services")
        self.assertEqual((st, st2), (404, 404))
        self.same_refusal(p1, p2)
        st, _, p, _ = self.query("service-desk-assistant", "citizens", {"purpose": "marketing"})
        self.assertEqual((st, p["code"]), (403, "unknown_purpose"))
        st, _, p, _ = self.query("statistics-bot", "citizens", {"purpose": "citizen_services"})
        self.assertEqual(st, 403)

    # ---- pseudonyms --------------------------------------------------------------------------

    def test_lookup_by_pseudonym(self):
        nir = list(self.cit)[3]
        st, _, doc, _ = self.get("service-desk-assistant", "citizens", nir, "citizen_services")
        ps = doc["data"]["nir"]
        deadline = time.time() + 10
        while True:
            st, _, doc2, b2 = self.get("service-desk-assistant", "citizens", ps,
                                       "citizen_services")
            if st == 200 or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(st, 200, b2)
        self.assertEqual(doc2["data"], doc["data"])
        self.assertEqual(self.srv.audit_entry(doc2["meta"]["audit_seq"])["subjects"], [norm(nir)])
        # another agent's pseudonym of the same person resolves to nothing
        st, _, other, _ = self.get("eligibility-assistant", "citizens", nir,
                                   "benefit_eligibility", headers=ELIG)
        self.assertEqual(st, 200)
        ops = other["data"]["nir"]
        self.assertNotEqual(ops, ps)
        time.sleep(0.3)
        st, _, p1, _ = self.get("service-desk-assistant", "citizens", ops, "citizen_services")
        st2, _, p2, _ = self.get("service-desk-assistant", "citizens",
                                 "ps_1_AAAAAAAAAAAAAAAAAAAAAA", "citizen_services")
        self.assertEqual((st, st2), (404, 404))
        self.same_refusal(p1, p2)
        # a rule that does not pseudonymize the subject has no look-up
        st, _, _, _ = self.get("statistics-bot", "citizens", ps, "official_statistics")
        self.assertEqual(st, 404)

    # ---- queries -----------------------------------------------------------------------------

    def released_nirs(self, doc):
        return set(self.srv.audit_entry(doc["meta"]["audit_seq"]).get("subjects", []))

    def test_query_indexed_and_filtered(self):
        some = list(self.cit.values())[7]
        # indexed eq (postcode) and a non-indexed condition (commune) give the raw matches
        for where, pred in (
                ({"postcode": some["postcode"]}, lambda r: r["postcode"] == some["postcode"]),
                ({"commune": {"eq": some["commune"]}}, lambda r: r["commune"] == some["commune"]),
                ({"postcode": {"prefix": "7"}}, lambda r: r["postcode"].startswith("7")),
                ({"birth_date": {"range": {"min": "1950-01-01", "max": "1979-12-31"}}},
                 lambda r: "1950-01-01" <= r["birth_date"] <= "1979-12-31"),
                ({"last_name": {"in": [some["last_name"], "Nobody"]}, "disability": False},
                 lambda r: r["last_name"] == some["last_name"] and r["disability"] is False)):
            want = {norm(n) for n, r in self.cit.items() if pred(r)}
            got = set()
            cursor = None
            while True:
                body = {"purpose": "benefit_eligibility", "where": where, "limit": 20}
                if cursor:
                    body["cursor"] = cursor
                st, _, doc, raw = self.query("eligibility-assistant", "citizens", body,
                                             headers=ELIG)
                self.assertEqual(st, 200, raw)
                self.check_entry(doc, raw, "record.query")
                got |= self.released_nirs(doc)
                for rec in doc["data"]:
                    self.assertRegex(rec["nir"], PS)
                cursor = doc["meta"]["next_cursor"]
                if cursor is None:
                    break
            self.assertEqual(got, want, where)

    def test_query_paging_fields_and_refusals(self):
        seen = set()
        cursor = None
        pages = 0
        while True:
            body = {"purpose": "official_statistics", "limit": 7, "fields": ["postcode"]}
            if cursor:
                body["cursor"] = cursor
            st, _, doc, raw = self.query("statistics-bot", "citizens", body)
            self.assertEqual(st, 200, raw)
            pages += 1
            for rec in doc["data"]:
                self.assertEqual(set(rec), {"postcode"})
            self.assertEqual(doc["meta"]["fields"], {"postcode": "generalize"})
            page = self.released_nirs(doc)
            self.assertFalse(page & seen)
            seen |= page
            cursor = doc["meta"]["next_cursor"]
            if cursor is None:
                break
            last = cursor
        self.assertEqual(seen, {norm(n) for n in self.cit})
        self.assertGreaterEqual(pages, 60 // 7)
        # a forged or altered cursor, or one of another query, is refused
        forged = last[:-2] + ("AA" if last[-2:] != "AA" else "BA")
        for bad, b in ((forged, {"fields": ["postcode"]}), (last, {"fields": ["birth_date"]}),
                       ("not-a-cursor", {})):
            body = {"purpose": "official_statistics", "limit": 7, "cursor": bad}
            body.update(b)
            st, _, p, _ = self.query("statistics-bot", "citizens", body)
            self.assertEqual((st, p["code"]), (400, "invalid_cursor"))
        # fields and where only on granted fields; limit within the rule; unknown members
        for body, code, status in (
                ({"fields": ["email"]}, "field_not_granted", 403),
                ({"fields": ["nosuchfield"]}, "field_not_granted", 403),
                ({"where": {"email": "x@example.net"}}, "field_not_granted", 403),
                ({"where": {"email": {"bogus": 1}}}, "field_not_granted", 403),
                ({"where": {"postcode": {"bogus": 1}}}, "invalid_query", 400),
                ({"limit": 1001}, "invalid_query", 400),
                ({"extra": 1}, "invalid_query", 400)):
            body = dict(body, purpose="official_statistics")
            st, _, p, _ = self.query("statistics-bot", "citizens", body)
            self.assertEqual((st, p["code"]), (status, code), body)
        st, _, p, _ = self.query("service-desk-assistant", "citizens",
                                 {"purpose": "citizen_services", "limit": 11})
        self.assertEqual((st, p["code"]), (422, "limit_exceeded"))

    def test_rate_limit(self):
        codes = []
        for _ in range(4):
            st, h, doc, _ = self.query("limited-bot", "citizens",
                                       {"purpose": "official_statistics", "limit": 5})
            codes.append(st)
        self.assertEqual(codes, [200, 200, 200, 429])
        self.assertEqual(doc["code"], "rate_limited")
        self.assertTrue(1 <= int(h["retry-after"]) <= 60)
        self.assertEqual(self.srv.audit_entry(doc["audit_seq"])["decision"], "deny")

    # ---- dataset information ---------------------------------------------------------------

    def test_datasets_and_describe(self):
        st, _, doc, raw = self.call("statistics-bot", "GET", "/v1/datasets")
        self.assertEqual(st, 200)
        self.assertEqual([d["name"] for d in doc["data"]], ["benefits", "citizens"])
        self.check_entry(doc, raw, "dataset.info")
        st, _, doc, raw = self.call("statistics-bot", "GET", "/v1/datasets/citizens")
        self.assertEqual(st, 200)
        self.assertEqual({f["name"] for f in doc["data"]["fields"]},
                         {"birth_date", "postcode", "insee_code"})
        self.assertIsNone(doc["data"]["subject_field"])
        self.assertNotIn(b"iban", raw)
        self.check_entry(doc, raw, "dataset.info")
        st, _, doc, raw = self.call("statistics-bot", "GET",
                                    "/v1/explain?purpose=official_statistics")
        self.assertEqual(st, 200)
        self.assertEqual({d["dataset"] for d in doc["data"]["datasets"]}, {"citizens", "benefits"})
        st, _, p, _ = self.call("statistics-bot", "GET", "/v1/explain?purpose=fraud_detection")
        self.assertEqual(st, 403)
        st, _, p, _ = self.call("winter-outreach-bot", "GET", "/v1/datasets/benefits")
        self.assertEqual((st, p["code"]), (403, "no_rule"))

    # ---- the leak test: runs last ------------------------------------------------------------

    def test_zz_leak(self):
        """No raw value of a field that an answer's rule does not release as stored appears in
        any body or header of any answer."""
        self.assertGreater(len(self.answers), 20)
        rules = {r["id"]: r for r in self.srv.policy["rules"]}
        checked = 0
        for agent, rule, st, h, body in self.answers:
            # every string the answer carries, less the random ones (request id, hashes,
            # pseudonyms, tokens, cursor) where a short value could appear by chance; values of
            # 10 characters or more are also searched in the raw bytes
            text = "\n".join(leaves(json.loads(body)) + [v for k, v in h.items()
                                                         if k not in ("x-request-id", "date")])
            whole = body.decode("utf-8") + json.dumps(h, ensure_ascii=False)
            released = set()
            if st == 200:
                doc = json.loads(body)
                for rec in doc["data"] if isinstance(doc["data"], list) else [doc["data"]]:
                    if isinstance(rec, dict):
                        released |= {str(v) for v in rec.values()}
            allowed = set()
            if rule is not None:
                allowed = {f for f, a in rules[rule]["fields"].items()
                           if a == "allow" or (isinstance(a, dict) and a["action"] == "allow")}
            for ds in ("citizens", "benefits"):
                if rule is not None and rules[rule]["dataset"] != ds:
                    allow_here = set()
                else:
                    allow_here = allowed
                for rec in self.srv.raw[ds].values():
                    for f, v in rec.items():
                        if f in allow_here or isinstance(v, bool) or v is None:
                            continue
                        s = str(v)
                        # a value that is part of a released value (a commune inside an
                        # allowed office name) is not a leak of this field
                        if len(s) < 5 or any(s in r for r in released):
                            continue
                        checked += 1
                        self.assertNotIn(s, text, (agent, rule, st, f))
                        self.assertNotIn(json.dumps(s)[1:-1], text, (agent, rule, st, f))
                        if len(s) >= 10:
                            self.assertNotIn(s, whole, (agent, rule, st, f))
        self.assertGreater(checked, 1000)


if __name__ == "__main__":
    unittest.main()
