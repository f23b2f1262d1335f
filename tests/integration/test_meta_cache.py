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
        r = ecltest.run("policy", "set", path, data=self.srv.data)
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


if __name__ == "__main__":
    unittest.main()
