"""The cached meta of record answers (gateway/api/disclose.c, meta_record_json): a policy
change (SIGHUP reload) must change the meta at once, never serve the old policy's rule, fields
or version; the answer's digest in the audit entry matches the body either way."""
import copy
import json
import os
import signal
import time
import unittest

import ecltest

AGENT = "service-desk-assistant"


class MetaCache(unittest.TestCase):
    def setUp(self):
        self.srv = ecltest.demo_server(size=10)

    def tearDown(self):
        self.assertEqual(self.srv.stop(), 0)

    def get(self, nir):
        st, _, body = self.srv.request(
            "GET", "/v1/datasets/citizens/records/%s?purpose=citizen_services" % nir, agent=AGENT)
        self.assertEqual(st, 200, body)
        doc = json.loads(body)
        e = self.srv.audit_entry(doc["meta"]["audit_seq"])
        self.assertEqual(e["response_blake2b"], ecltest.response_digest(body))
        self.assertEqual(e["policy"]["version"], doc["meta"]["policy_version"])
        self.assertEqual({f["field"]: f["action"] for f in e["fields"]}, doc["meta"]["fields"])
        return doc

    def test_policy_change_changes_meta(self):
        nirs = list(self.srv.raw["citizens"])[:3]
        first = [self.get(n)["meta"] for n in nirs]  # the second and third come from the cache
        for m in first[1:]:
            m = dict(m)
            m.pop("audit_seq")
            ref = dict(first[0])
            ref.pop("audit_seq")
            self.assertEqual(m, ref)
        self.assertEqual(first[0]["fields"]["phone"], "mask")
        # same rule id, different fields: the phone is now redacted, the first name left out
        p = copy.deepcopy(self.srv.policy)
        rule = next(r for r in p["rules"] if r["id"] == "service-desk-citizens")
        rule["fields"]["phone"] = "redact"
        rule["fields"].pop("first_name")
        path = os.path.join(self.srv.tmp, "policy2.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(p, f)
        r = ecltest.run("policy", "set", "--without-approval", path, data=self.srv.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.srv.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        doc = self.get(nirs[0])
        while doc["meta"]["policy_version"] == first[0]["policy_version"] and \
                time.time() < deadline:
            time.sleep(0.05)
            doc = self.get(nirs[0])
        meta = doc["meta"]
        self.assertNotEqual(meta["policy_version"], first[0]["policy_version"])
        self.assertNotEqual(meta["policy_hash"], first[0]["policy_hash"])
        self.assertEqual(meta["rule_id"], "service-desk-citizens")
        self.assertEqual(meta["fields"]["phone"], "redact")
        self.assertNotIn("first_name", meta["fields"])
        self.assertNotIn("first_name", meta["field_actions"])
        self.assertNotIn("first_name", doc["data"])
        self.assertEqual(meta, dict(self.get(nirs[1])["meta"], audit_seq=meta["audit_seq"]))

    def test_cli_change_on_a_served_directory(self):
        """A version activated with the command line while the gateway serves is in force
        within about a second, without SIGHUP: what GET /v1/policy shows and what the agents
        are answered with never disagree for long.  Four-eyes is not bypassed silently."""
        nir = list(self.srv.raw["citizens"])[0]
        v1 = self.get(nir)["meta"]["policy_version"]
        r = ecltest.run("policy", "versions", data=self.srv.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        p = copy.deepcopy(self.srv.policy)
        rule = next(r for r in p["rules"] if r["id"] == "service-desk-citizens")
        rule["fields"]["phone"] = "redact"
        path = os.path.join(self.srv.tmp, "policy-cli.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(p, f)
        # the demo policy asks for four-eyes on policy changes: refused without the override
        r = ecltest.run("policy", "set", path, data=self.srv.data)
        self.assertEqual(r.returncode, 77, r.stderr)
        self.assertEqual(self.get(nir)["meta"]["policy_version"], v1)
        r = ecltest.run("policy", "set", "--without-approval", path, data=self.srv.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        deadline = time.time() + 10
        doc = self.get(nir)
        while doc["meta"]["policy_version"] == v1 and time.time() < deadline:
            time.sleep(0.1)
            doc = self.get(nir)
        self.assertEqual(doc["meta"]["policy_version"], v1 + 1)
        self.assertEqual(doc["meta"]["fields"]["phone"], "redact")
        # the override is in the audit log, the reload in the gateway's log
        r = ecltest.run("audit", "list", "--kind", "policy.change", data=self.srv.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("set and activated without four-eyes approval", r.stdout)
        with open(self.srv.log_path, encoding="utf-8") as f:
            reloads = [json.loads(line) for line in f if '"reload"' in line]
        self.assertTrue(any(e.get("policy_version") == v1 + 1 for e in reloads), reloads)
        # rolling back from the command line is picked up the same way
        r = ecltest.run("policy", "activate", "--without-approval", str(v1), data=self.srv.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        deadline = time.time() + 10
        doc = self.get(nir)
        while doc["meta"]["policy_version"] != v1 and time.time() < deadline:
            time.sleep(0.1)
            doc = self.get(nir)
        self.assertEqual(doc["meta"]["policy_version"], v1)
        self.assertEqual(doc["meta"]["fields"]["phone"], "mask")


if __name__ == "__main__":
    unittest.main()
