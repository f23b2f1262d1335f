#!/usr/bin/env python3
"""The auditor API over the real `ecluse serve` (demo data, real record.read entries): roles,
filters and pagination, the signed checkpoint verified in pure Python, leaves recomputed into
the checkpoint's root, RFC 9162 inclusion and consistency proofs verified (and refused when
tampered), the GDPR Art. 15 report (JSON and escaped HTML), the streamed export, and the audit
entries of the administrative CLI commands, written while the server runs."""
import base64
import json
import os
import pwd
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ecltest import SOURCE_DIR, demo_server, run  # noqa: E402
import independent_verifier as iv  # noqa: E402

EVIL = "<script>alert(1)</script> & \"Co\""
CLI_PRINCIPAL = "cli:" + pwd.getpwuid(os.geteuid()).pw_name


# ---- RFC 9162 verification, written from the RFC (sections 2.1.3.2 and 2.1.4.2) -------------

def verify_inclusion(index, size, leaf_h, proof, root):
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_h
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = iv.node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = iv.node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(m, n, proof, r1, r2):
    if m == 0 or m > n:
        return False
    if m == n:
        return not proof and r1 == r2
    if m & (m - 1) == 0:
        proof = [r1] + list(proof)
    if not proof:
        return False
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = iv.node_hash(c, fr)
            sr = iv.node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = iv.node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == r1 and sr == r2


def flip(h):
    return bytes([h[0] ^ 1]) + h[1:]


class AuditorApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(SOURCE_DIR, "demo", "policy.json")) as f:
            policy = json.load(f)
        for a in policy["agents"]:
            if a["id"] == "service-desk-assistant":
                a["organisation"] = EVIL
        cls.s = demo_server(size=40, policy=policy,
                            extra_principals={"aud": "auditor", "dpo1": "dpo", "root": "admin"})
        cls.aud = cls.s.keys["aud"]
        nirs = sorted(cls.s.raw["citizens"])
        cls.subject, cls.other = nirs[0], nirs[1]
        # real accesses: two reads of the subject, one of another citizen, one query
        for nir in (cls.subject, cls.subject, cls.other):
            st, _, body = cls.s.request(
                "GET", "/v1/datasets/citizens/records/%s?purpose=citizen_services" % nir,
                agent="service-desk-assistant")
            assert st == 200, body
        # a refusal concerning the subject: a purpose this agent may not invoke
        cls.s.request("GET", "/v1/datasets/citizens/records/%s?purpose=fraud_detection"
                      % cls.subject, agent="service-desk-assistant")
        # administrative commands while the server runs (their own audit writer)
        cls.cli = {}
        for name, args in [
                ("objection", ("objection", "add", "--dataset", "citizens", cls.spaced(),
                               "winter_outreach")),
                ("objection_remove", ("objection", "remove", "--dataset", "citizens",
                                      cls.subject, "winter_outreach")),
                ("principal_add", ("principal", "add", "late-bot", "--role", "agent")),
                ("principal_revoke", ("principal", "revoke", "late-bot")),
                ("policy_activate", ("policy", "activate", "--without-approval", "1")),
                ("erase", ("erase", "--dataset", "benefits", cls.other))]:
            r = run(*args, data=cls.s.data)
            assert r.returncode == 0, (name, r.stderr)
        # the server's writer must go on after the CLI's entries
        st, _, _ = cls.s.request("GET", "/v1/datasets/citizens/records/%s?purpose="
                                 "citizen_services" % nirs[2], agent="service-desk-assistant")
        assert st == 200

    @classmethod
    def spaced(cls):
        return " ".join(cls.subject[i:i + 3] for i in range(0, len(cls.subject), 3))

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def get(self, path, key="aud", headers=None):
        k = self.s.keys.get(key, key) if key else None
        return self.s.request("GET", path, key=k, headers=headers)

    def ok_json(self, path):
        st, h, body = self.get(path)
        self.assertEqual(st, 200, body)
        return json.loads(body)

    def all_entries(self, query=""):
        out, cursor = [], None
        while True:
            q = query + ("&cursor=" + cursor if cursor else "")
            j = self.ok_json("/v1/audit/entries?limit=7" + q)
            out += j["data"]
            cursor = j["meta"]["next_cursor"]
            if cursor is None:
                return out

    # ---- roles ---------------------------------------------------------------------------

    def test_roles(self):
        paths = ["/v1/audit/entries", "/v1/audit/entries/0", "/v1/audit/checkpoint",
                 "/v1/audit/leaves?start=0&end=1", "/v1/audit/proof/inclusion?index=0&size=1",
                 "/v1/audit/proof/consistency?from=1&to=1",
                 "/v1/audit/subjects/%s/report" % self.subject, "/v1/audit/export"]
        for p in paths:
            for who in ("service-desk-assistant", "dpo1", "root"):
                self.assertEqual(self.get(p, key=who)[0], 403, (p, who))
            self.assertEqual(self.get(p, key=None)[0], 401, p)
            self.assertEqual(self.get(p, key="ek_0000000000000000.x")[0], 401, p)
            st, h, _ = self.get(p)
            self.assertEqual(st, 200, p)
        # an agent cannot read the log, an auditor cannot read records
        st, _, _ = self.get("/v1/datasets/citizens/records/%s?purpose=citizen_services"
                            % self.subject)
        self.assertEqual(st, 403)

    # ---- entries, filters, pagination ----------------------------------------------------

    def test_pagination_covers_the_log(self):
        size = self.ok_json("/v1/audit/leaves?start=0&end=1")["meta"]["tree_size"]
        seqs = [e["seq"] for e in self.all_entries()]
        self.assertEqual(seqs, sorted(set(seqs)))
        self.assertTrue(set(range(size)) <= set(seqs))
        e = self.ok_json("/v1/audit/entries/3")["data"]
        self.assertEqual(e["seq"], 3)

    def test_filters(self):
        reads = self.all_entries("&kind=record.read&decision=allow")
        self.assertTrue(len(reads) >= 4)
        self.assertTrue(all(e["kind"] == "record.read" for e in reads))
        mine = self.all_entries("&subject=" + self.spaced().replace(" ", "%20"))
        kinds = [e["kind"] for e in mine]
        self.assertEqual(kinds.count("record.read"), 3)  # two allowed, one refused
        self.assertIn("objection", kinds)
        self.assertTrue(all(self.subject in e.get("subjects", [self.subject]) for e in mine))
        by_name = self.all_entries("&principal=service-desk-assistant&decision=deny")
        self.assertEqual(len(by_name), 1)
        by_id = self.all_entries("&principal=" + self.s.ids["service-desk-assistant"] +
                                 "&decision=deny")
        self.assertEqual(by_name, by_id)
        self.assertEqual(self.all_entries("&purpose=fraud_detection&kind=record.read"), by_name)
        cli = self.all_entries("&principal=" + CLI_PRINCIPAL)
        self.assertTrue({"objection", "principal.change", "policy.change", "erasure"} <=
                        {e["kind"] for e in cli})
        self.assertEqual(self.all_entries("&dataset=benefits&kind=erasure")[0]["subjects"],
                         [self.other])
        t = reads[1]["time_ms"]
        since = self.all_entries("&kind=record.read&since=%d" % t)
        self.assertTrue(all(e["time_ms"] >= t for e in since))
        self.assertEqual(self.all_entries("&until=2000-01-01T00:00:00Z"), [])
        self.assertEqual(self.all_entries("&since=2999-01-01T00:00:00Z"), [])
        for bad in ("since=yesterday", "until=0", "limit=0", "limit=1001", "cursor=x",
                    "decision=maybe", "kind=nope", "principal=nobody", "subject=%20",
                    "dataset=nope&subject=1"):
            st, h, body = self.get("/v1/audit/entries?" + bad)
            self.assertEqual(st, 400, bad)
            self.assertNotIn("nobody", body.decode())
        self.assertEqual(self.get("/v1/audit/entries/99999999")[0], 404)
        self.assertEqual(self.get("/v1/audit/entries/-1")[0], 400)

    def test_reads_are_audited_without_the_subject_in_clear(self):
        st, h, _ = self.get("/v1/audit/subjects/%s/report" % self.subject)
        seq = json.loads(_)["meta"]["audit_seq"]
        e = self.ok_json("/v1/audit/entries/%d" % seq)["data"]
        self.assertEqual(e["kind"], "audit.read")
        self.assertEqual(e["principal"], self.s.ids["aud"])
        self.assertEqual(e["subjects"], [self.subject])
        self.assertNotIn(self.subject, e["detail"])
        with open(self.s.log_path, "rb") as f:
            self.assertNotIn(self.subject.encode(), f.read())

    # ---- verification --------------------------------------------------------------------

    def checkpoint(self):
        st, h, body = self.get("/v1/audit/checkpoint")
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/plain"))
        self.assertIn("x-audit-seq", h)
        keys = dict(line.split(": ", 1) for line in
                    run("keys", "show", data=self.s.data).stdout.splitlines())
        name, pub = iv.parse_verifier_key(keys["audit-verifier-key"])
        text = iv.open_note(body.decode(), name, pub)
        origin, size, root = text.splitlines()[:3]
        tampered = body.decode().replace(root, base64.b64encode(flip(base64.b64decode(root)))
                                         .decode())
        with self.assertRaises(ValueError):
            iv.open_note(tampered, name, pub)
        return int(size), base64.b64decode(root)

    def leaves(self, end):
        out = []
        for start in range(0, end, 1000):
            j = self.ok_json("/v1/audit/leaves?start=%d&end=%d" % (start, min(end, start + 1000)))
            out += [base64.b64decode(x) for x in j["data"]["leaves"]]
        return out

    def test_checkpoint_leaves_and_proofs(self):
        size, root = self.checkpoint()
        leaves = self.leaves(size)
        self.assertEqual(len(leaves), size)
        hashes = [iv.leaf_hash(x) for x in leaves]
        self.assertEqual(iv.mth(hashes), root)
        for i, leaf in enumerate(leaves):
            self.assertEqual(iv.parse_header(leaf)["seq"], i)
        for i in sorted({0, 1, size // 2, size - 1}):
            p = self.ok_json("/v1/audit/proof/inclusion?index=%d&size=%d" % (i, size))["data"]
            self.assertEqual((p["leaf_index"], p["tree_size"]), (i, size))
            self.assertEqual(base64.b64decode(p["root"]), root)
            proof = [base64.b64decode(x) for x in p["hashes"]]
            self.assertTrue(verify_inclusion(i, size, hashes[i], proof, root))
            self.assertFalse(verify_inclusion(i, size, flip(hashes[i]), proof, root))
            if proof:
                self.assertFalse(verify_inclusion(i, size, hashes[i],
                                                  [flip(proof[0])] + proof[1:], root))
            self.assertFalse(verify_inclusion(i ^ 1, size, hashes[i], proof, root))
        for m in sorted({1, 2, 3, size // 2, size - 1, size}):
            p = self.ok_json("/v1/audit/proof/consistency?from=%d&to=%d" % (m, size))["data"]
            proof = [base64.b64decode(x) for x in p["hashes"]]
            r1 = iv.mth(hashes[:m])
            self.assertEqual(base64.b64decode(p["first_root"]), r1)
            self.assertTrue(verify_consistency(m, size, proof, r1, root))
            self.assertFalse(verify_consistency(m, size, proof, flip(r1), root))
            if proof:
                self.assertFalse(verify_consistency(m, size, proof[:-1] + [flip(proof[-1])],
                                                    r1, root))
        for bad in ("inclusion?index=%d&size=%d" % (size, size),
                    "inclusion?index=0&size=%d" % (size + 10 ** 6), "inclusion?index=0",
                    "consistency?from=0&to=%d" % size, "consistency?from=5&to=4",
                    "consistency?from=1&to=%d" % (size + 10 ** 6)):
            self.assertEqual(self.get("/v1/audit/proof/" + bad)[0], 400, bad)
        for bad in ("start=0&end=1001", "start=3&end=3", "start=0&end=%d" % (size + 10 ** 6),
                    "start=x&end=1"):
            self.assertEqual(self.get("/v1/audit/leaves?" + bad)[0], 400, bad)

    # ---- Art. 15 report ------------------------------------------------------------------

    def test_report_json(self):
        rep = self.ok_json("/v1/audit/subjects/%s/report" % self.spaced().replace(" ", "%20"))
        d = rep["data"]
        self.assertEqual(d["subject"], self.subject)
        self.assertEqual(d["accesses_total"], 2)
        self.assertEqual(len(d["recipients"]), 1)
        g = d["recipients"][0]
        self.assertEqual(g["agent"], "service-desk-assistant")
        self.assertEqual(g["organisation"], EVIL)
        a = g["accesses"][0]
        self.assertEqual((a["purpose"], a["legal_basis"], a["dataset"]),
                         ("citizen_services", "art6_1_e", "citizens"))
        self.assertIn({"field": "nir", "action": "pseudonymize"}, a["fields"])
        self.assertIs(a["case_reference"], False)
        self.assertEqual(len(d["refusals"]), 1)
        self.assertEqual(d["refusals"][0]["purpose"], "fraud_detection")
        self.assertIn("objection", [e["kind"] for e in d["other_events"]])
        text = json.dumps(rep)
        self.assertNotIn(self.other, text)  # no other citizen
        self.assertEqual(self.get("/v1/audit/subjects/%s/report?format=pdf" % self.subject)[0],
                         400)
        self.assertEqual(self.get("/v1/audit/subjects/%s/report?kind=erasure" % self.subject)[0],
                         400)

    def test_report_html_is_escaped(self):
        for path, headers in (("/v1/audit/subjects/%s/report?format=html" % self.subject, {}),
                              ("/v1/audit/subjects/%s/report" % self.subject,
                               {"Accept": "text/html"})):
            st, h, body = self.get(path, headers=headers)
            self.assertEqual(st, 200)
            self.assertTrue(h["content-type"].startswith("text/html"))
            self.assertIn("default-src 'none'", h["content-security-policy"])
            html = body.decode()
            self.assertNotIn("<script", html.lower())
            self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;", html)
            self.assertIn("citizen_services", html)
            self.assertNotIn(self.other, html)
            self.assertNotIn("http", html.replace("charset", ""))  # self-contained

    # ---- export ---------------------------------------------------------------------------

    def test_export_streams_the_log(self):
        # grow the log beyond one streaming block (32 KiB) of JSON lines
        for _ in range(150):
            self.get("/v1/audit/entries/0")
        size = self.ok_json("/v1/audit/leaves?start=0&end=1")["meta"]["tree_size"]
        st, h, body = self.get("/v1/audit/export")
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], "application/x-ndjson")
        self.assertEqual(h.get("transfer-encoding"), "chunked")
        self.assertGreater(len(body), 64 * 1024)
        lines = [json.loads(x) for x in body.decode().splitlines()]
        self.assertEqual([e["seq"] for e in lines][:size], list(range(size)))
        only = self.get("/v1/audit/export?kind=erasure")[2].decode().splitlines()
        self.assertTrue(only and all(json.loads(x)["kind"] == "erasure" for x in only))
        self.assertEqual(self.get("/v1/audit/export?since=bad")[0], 400)


class CliEntriesTest(unittest.TestCase):
    """Each administrative command leaves its entry; then the whole log verifies."""

    def test_each_command_and_verify(self):
        s = demo_server(size=10, extra_principals={"aud": "auditor"})
        try:
            nir = sorted(s.raw["citizens"])[0]
            gen = os.path.join(s.tmp, "one.jsonl")
            with open(gen, "w") as f:
                f.write(json.dumps(s.raw["citizens"][nir]) + "\n")
            steps = [
                (("import", "--dataset", "citizens", gen), "records.import", "1 records"),
                (("policy", "set", "--without-approval",
                  os.path.join(SOURCE_DIR, "demo", "policy.json")),
                 "policy.change", "version 2 set and activated without four-eyes approval"),
                (("policy", "activate", "--without-approval", "1"), "policy.change",
                 "version 1 activated without four-eyes approval"),
                (("principal", "add", "x-bot", "--role", "agent"), "principal.change", "added"),
                (("principal", "revoke", "x-bot"), "principal.change", "revoked"),
                (("objection", "add", "--dataset", "citizens", nir, "winter_outreach"),
                 "objection", "recorded"),
                (("objection", "remove", "--dataset", "citizens", nir, "winter_outreach"),
                 "objection", "removed"),
                (("erase", "--dataset", "citizens", nir), "erasure", "data key destroyed"),
            ]
            for args, kind, detail in steps:
                r = run(*args, data=s.data)
                self.assertEqual(r.returncode, 0, r.stderr)
                st, _, body = s.request("GET", "/v1/audit/entries?kind=%s&principal=%s"
                                        % (kind, CLI_PRINCIPAL), key=s.keys["aud"])
                last = json.loads(body)["data"][-1]
                self.assertIn(detail, last["detail"], args)
                self.assertEqual(last["channel"], "cli")
                if kind in ("objection", "erasure"):
                    self.assertEqual(last["subjects"], [nir])
                    self.assertNotIn(nir, last["detail"])
                if kind == "policy.change":
                    self.assertEqual(len(last["policy"]["hash"]), 64)
                if kind == "objection":
                    self.assertEqual(last["purpose"], "winter_outreach")
            # the log written by two processes verifies, decrypting every entry
            r = run("audit", "verify", data=s.data)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        finally:
            s.stop()


if __name__ == "__main__":
    unittest.main()
