#!/usr/bin/env python3
"""MCP end to end: the real `ecluse serve` with the demo population and policy, driven by the
official TypeScript SDK client (tests/mcp-client) and by raw HTTP for the protocol rules.

Checks: the SDK's own run (every tool allowed and refused, outputSchema validation by the SDK),
every audit_seq it saw is an entry with channel "mcp"; protocol negative tests against the real
server; REST and MCP give the same decision and the same transformed values for the same agent,
purpose and record; no raw value of a field the policy does not release appears in any MCP
response.  Skipped only when node is absent (CI installs it with scripts/bootstrap)."""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ecltest import SOURCE_DIR, demo_server, run  # noqa: E402

CLIENT_DIR = os.path.join(SOURCE_DIR, "tests", "mcp-client")
NODE = shutil.which("node")
AGENT = "eligibility-assistant"  # benefit_eligibility on citizens and benefits, needs OBO + case
DESK = "service-desk-assistant"  # citizen_services on citizens: every kind of transform
OTHER = "ecluse-test-other"  # holds benefit_eligibility but no rule: no record access
OBO, CASE = "official-1", "CASE-1"
# fields of citizens that eligibility-citizens does not release as stored
# (birth_place is left out: its values are town names, which commune releases)
HIDDEN = ("nir", "household_id", "address", "phone", "email", "iban")
VERSION = "2025-11-25"


def demo_policy():
    """The demo policy plus OTHER, an agent that holds a purpose but no rule."""
    with open(os.path.join(SOURCE_DIR, "demo", "policy.json"), encoding="utf-8") as f:
        policy = json.load(f)
    policy["agents"].append({"id": OTHER, "description": "Test agent without any rule.",
                             "organisation": "tests", "purposes": ["benefit_eligibility"]})
    return policy


@unittest.skipIf(NODE is None, "node is not installed (scripts/bootstrap installs it): the MCP "
                 "SDK end-to-end test cannot run")
class McpEndToEnd(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = demo_server(size=60, seed=7, policy=demo_policy(),
                              extra_principals={"auditor-1": "auditor"})
        cls.port = cls.srv.port
        cls.data = cls.srv.data
        cls.keys = cls.srv.keys
        cls.citizens = list(cls.srv.raw["citizens"].values())
        cls.bodies = []  # every MCP response body, for the leak check

    @classmethod
    def tearDownClass(cls):
        with open(cls.srv.log_path, "rb") as f:
            cls.log = f.read()
        rc = cls.srv.stop()
        assert rc == 0, rc

    # ---- helpers ----

    def mcp(self, body, key=None, session=None, version=VERSION, extra=None, method="POST"):
        h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if key is not None:
            h["Authorization"] = "Bearer " + key
        if session is not None:
            h["Mcp-Session-Id"] = session
        if version is not None:
            h["MCP-Protocol-Version"] = version
        h.update(extra or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        status, headers, data = self.srv.request(method, "/mcp", body=body, headers=h)
        self.bodies.append(data)
        return status, headers, json.loads(data) if data else None

    def session(self, name=AGENT):
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": VERSION, "capabilities": {},
                           "clientInfo": {"name": "it", "version": "1"}}}
        status, headers, msg = self.mcp(init, key=self.keys[name], version=None)
        self.assertEqual(status, 200, msg)
        self.assertEqual(msg["result"]["protocolVersion"], VERSION)
        sid = headers["mcp-session-id"]
        status, _, _ = self.mcp({"jsonrpc": "2.0", "method": "notifications/initialized"},
                                key=self.keys[name], session=sid)
        self.assertEqual(status, 202)
        return sid

    def tool(self, name, args, agent=AGENT, sid=None):
        sid = sid or self.session(agent)
        status, _, msg = self.mcp({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                                   "params": {"name": name, "arguments": args}},
                                  key=self.keys[agent], session=sid)
        self.assertEqual(status, 200, msg)
        return msg["result"]

    # ---- the official SDK client ----

    def test_sdk_client(self):
        r = subprocess.run([os.path.join(CLIENT_DIR, "install.sh")], capture_output=True,
                           text=True, timeout=300)
        self.assertEqual(r.returncode, 0, "tests/mcp-client/install.sh failed: " + r.stderr)
        env = dict(os.environ, ECLUSE_URL="http://127.0.0.1:%d" % self.port,
                   AGENT_KEY=self.keys[AGENT], OTHER_KEY=self.keys[OTHER],
                   RECORD_ID=self.citizens[0]["nir"], ON_BEHALF_OF=OBO, CASE_REF=CASE,
                   QUERY_WHERE="{}")
        r = subprocess.run([NODE, os.path.join(CLIENT_DIR, "client_test.mjs")], env=env,
                           capture_output=True, text=True, timeout=120)
        events = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        failures = [e for e in events if e["event"] == "failure"]
        self.assertEqual(failures, [], r.stderr)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        summary = events[-1]
        self.assertEqual(summary["event"], "summary")
        self.assertEqual(summary["failures"], 0)
        calls = [e for e in events if e["event"] == "call"]
        self.assertEqual({c["tool"] for c in calls if c["expect"] == "allowed"},
                         {"list_datasets", "describe_dataset", "get_record", "query_records",
                          "explain_access"})
        self.assertTrue(any(c["expect"] == "refused" and c["audit_seq"] is not None
                            for c in calls))
        self.assertGreaterEqual(len([e for e in events if e["event"] == "negative"]), 13)
        # every audit_seq the client saw is an MCP entry of the right agent
        self.assertGreater(len(summary["audit_seqs"]), 10)
        for seq in summary["audit_seqs"]:
            e = self.srv.audit_entry(seq)
            self.assertEqual(e["channel"], "mcp", e)
        for c in calls:
            if c["audit_seq"] is not None:
                e = self.srv.audit_entry(c["audit_seq"])
                self.assertEqual(e["decision"], "deny" if c["expect"] == "refused" else "allow",
                                 (c, e))
        # the leak check covers what the SDK received too
        self.bodies.append(r.stdout.encode())
        self.check_no_leak(r.stdout.encode())

    # ---- protocol rules on the real server ----

    def test_protocol_negative(self):
        key = self.keys[AGENT]
        sid = self.session()
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        self.assertEqual(self.mcp(ping, key=key, session=sid)[0], 200)

        # unsupported version at initialize: -32602 with the supported list
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2024-01-01", "capabilities": {},
                           "clientInfo": {"name": "it", "version": "1"}}}
        status, headers, msg = self.mcp(init, key=key, version=None)
        self.assertEqual((status, msg["error"]["code"]), (200, -32602))
        self.assertIn(VERSION, msg["error"]["data"]["supported"])
        self.assertNotIn("mcp-session-id", headers)
        # unknown MCP-Protocol-Version header
        self.assertEqual(self.mcp(ping, key=key, session=sid, version="1999-01-01")[0], 400)
        # missing, unknown and another agent's session
        self.assertEqual(self.mcp(ping, key=key)[0], 400)
        status, _, msg = self.mcp(ping, key=key, session="0" * 40)
        self.assertEqual((status, msg["error"]["code"]), (404, -32001))
        status, _, msg = self.mcp(ping, key=self.keys[OTHER], session=sid)
        self.assertEqual((status, msg["error"]["code"]), (404, -32001))
        # malformed JSON, invalid request, batch
        status, _, msg = self.mcp('{"jsonrpc":', key=key, session=sid)
        self.assertEqual((status, msg["error"]["code"]), (400, -32700))
        status, _, msg = self.mcp({"jsonrpc": "1.0", "id": 1, "method": "ping"}, key=key,
                                  session=sid)
        self.assertEqual((status, msg["error"]["code"]), (400, -32600))
        status, _, msg = self.mcp([ping, ping], key=key, session=sid)
        self.assertEqual((status, msg["error"]["code"]), (400, -32600))
        # unknown tool, unknown method
        status, _, msg = self.mcp({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                                   "params": {"name": "drop_tables", "arguments": {}}},
                                  key=key, session=sid)
        self.assertEqual((status, msg["error"]["code"]), (200, -32602))
        status, _, msg = self.mcp({"jsonrpc": "2.0", "id": 4, "method": "resources/list"},
                                  key=key, session=sid)
        self.assertEqual((status, msg["error"]["code"]), (200, -32601))
        # bad Origin: 403 (and a loopback Origin is fine)
        status, _, msg = self.mcp(ping, key=key, session=sid,
                                  extra={"Origin": "http://evil.example"})
        self.assertEqual((status, msg["error"]["code"]), (403, -32002))
        self.assertEqual(self.mcp(ping, key=key, session=sid,
                                  extra={"Origin": "http://localhost:3000"})[0], 200)
        # missing and bad key: the HTTP layer's 401, byte for byte the REST one (but the
        # request id)
        for hdr in ({}, {"Authorization": "Bearer ek_0000000000000000.bad"}):
            h = dict(hdr, **{"Content-Type": "application/json", "Mcp-Session-Id": sid})
            s1, h1, b1 = self.srv.request("POST", "/mcp", body=json.dumps(ping), headers=h)
            s2, h2, b2 = self.srv.request("GET", "/v1/datasets", headers=hdr)
            self.assertEqual((s1, s2), (401, 401))
            self.assertEqual(h1["www-authenticate"], h2["www-authenticate"])
            p1, p2 = json.loads(b1), json.loads(b2)
            p1.pop("instance"), p2.pop("instance")
            self.assertEqual(p1, p2)
        # a key of another role: 403 from the HTTP layer's role check
        status, _, body = self.srv.request("POST", "/mcp", body=json.dumps(ping),
                                  headers={"Authorization": "Bearer " + self.keys["auditor-1"],
                                           "Content-Type": "application/json"})
        self.assertEqual(status, 403)
        self.assertEqual(json.loads(body)["status"], 403)
        # GET: 405 with Allow
        status, headers, _ = self.srv.request("GET", "/mcp",
                                     headers={"Authorization": "Bearer " + key,
                                              "Mcp-Session-Id": sid})
        self.assertEqual(status, 405)
        self.assertEqual(sorted(x.strip() for x in headers["allow"].split(",")),
                         ["DELETE", "POST"])
        # DELETE ends the session; another agent cannot end it; then it is gone
        self.assertEqual(self.mcp(None, key=self.keys[OTHER], session=sid, method="DELETE")[0],
                         404)
        self.assertEqual(self.mcp(None, key=key, session=sid, method="DELETE")[0], 204)
        status, _, msg = self.mcp(ping, key=key, session=sid)
        self.assertEqual((status, msg["error"]["code"]), (404, -32001))
        self.assertEqual(self.mcp(None, key=key, session=sid, method="DELETE")[0], 404)
        # a body over the cap never reaches MCP
        status, _, _ = self.srv.request("POST", "/mcp", body=b"{" + b" " * (64 << 10) + b"}",
                               headers={"Authorization": "Bearer " + key,
                                        "Content-Type": "application/json"})
        self.assertEqual(status, 413)

    def test_tools_list_follows_the_policy(self):
        names = {}
        for agent in (AGENT, DESK, OTHER):
            sid = self.session(agent)
            status, _, msg = self.mcp({"jsonrpc": "2.0", "id": 5, "method": "tools/list"},
                                      key=self.keys[agent], session=sid)
            self.assertEqual(status, 200, msg)
            names[agent] = {t["name"]: t for t in msg["result"]["tools"]}
        self.assertEqual(set(names[AGENT]), {"list_datasets", "describe_dataset", "get_record",
                                             "query_records", "explain_access"})
        self.assertEqual(set(names[OTHER]), {"list_datasets", "explain_access"})
        # the agent's own access, from the rule in force: datasets, requirements, transforms
        d = names[AGENT]["get_record"]["description"]
        self.assertIn("dataset citizens, purpose benefit_eligibility (get, query; requires "
                      "on_behalf_of and case; pseudonyms (ps_...):", d)
        self.assertIn("dataset benefits", d)
        self.assertIn("retain_max_hours=24", d)
        d = names[DESK]["get_record"]["description"]
        self.assertIn("masked", d)
        self.assertNotIn("benefits", d.split("Your access:")[1])
        self.assertIn("Your policy grants you no dataset",
                      names[OTHER]["list_datasets"]["description"])
        # tools/list and the list_datasets tool describe the same access
        for agent in (AGENT, DESK, OTHER):
            listed = self.tool("list_datasets", {}, agent=agent)["structuredContent"]["data"]
            d = names[agent]["list_datasets"]["description"]
            self.assertEqual(d.count("\n- dataset "), len(listed), agent)
            for ds in listed:
                self.assertIn("- dataset %s, purpose %s" % (ds["name"], ", purpose ".join(
                    p["purpose"] for p in ds["purposes"])), d)

    def test_origin_refusal_is_audited(self):
        sid = self.session()
        status, headers, _ = self.mcp({"jsonrpc": "2.0", "id": 2, "method": "ping"},
                                      key=self.keys[AGENT], session=sid,
                                      extra={"Origin": "https://evil.example"})
        self.assertEqual(status, 403)
        rid = headers["x-request-id"]
        deadline = time.time() + 5
        while time.time() < deadline:
            r = run("audit", "list", "--kind", "access.refused", data=self.data)
            self.assertEqual(r.returncode, 0, r.stderr)
            found = [e for e in map(json.loads, r.stdout.splitlines())
                     if e.get("request_id") == rid]
            if found:
                break
            time.sleep(0.05)  # the refusal entry is committed without holding the answer
        self.assertEqual(len(found), 1)
        self.assertEqual(found[0]["reason"], "origin_not_allowed")
        self.assertEqual(found[0]["decision"], "deny")
        self.assertEqual(found[0]["channel"], "mcp")

    # ---- same decision and transforms as REST ----

    def rest_get(self, agent, purpose, rid, obo=None, case=None):
        h = {"Authorization": "Bearer " + self.keys[agent]}
        if obo:
            h["On-Behalf-Of"] = obo
        if case:
            h["X-Case-Id"] = case
        status, _, body = self.srv.request("GET", "/v1/datasets/citizens/records/%s?purpose=%s"
                                  % (rid, purpose), headers=h)
        return status, json.loads(body)

    def test_rest_and_mcp_agree(self):
        for c in self.citizens[:3]:
            for agent, purpose, obo, case in ((AGENT, "benefit_eligibility", OBO, CASE),
                                              (DESK, "citizen_services", None, None)):
                args = {"dataset": "citizens", "purpose": purpose, "id": c["nir"]}
                if obo:
                    args["on_behalf_of"] = obo
                if case:
                    args["case"] = case
                status, rest = self.rest_get(agent, purpose, c["nir"], obo, case)
                self.assertEqual(status, 200, rest)
                res = self.tool("get_record", args, agent=agent)
                self.assertFalse(res["isError"], res)
                mcp = res["structuredContent"]
                self.assertEqual(mcp["data"], rest["data"])
                # the same meta (rule, transforms, obligations, policy version) but the entry
                mseq, rseq = mcp["meta"].pop("audit_seq"), rest["meta"].pop("audit_seq")
                self.assertNotEqual(mseq, rseq)
                self.assertEqual(mcp["meta"], rest["meta"])
                self.assertEqual(mcp["meta"]["rule_id"], "eligibility-citizens" if agent == AGENT
                                 else "service-desk-citizens")
                self.assertEqual(self.srv.audit_entry(mseq)["channel"], "mcp")
                self.assertEqual(self.srv.audit_entry(rseq)["channel"], "rest")
        # the same refusal: a purpose the agent does not hold; a missing case reference
        c = self.citizens[0]
        status, rest = self.rest_get(DESK, "benefit_eligibility", c["nir"])
        res = self.tool("get_record", {"dataset": "citizens", "purpose": "benefit_eligibility",
                                       "id": c["nir"]}, agent=DESK)
        self.assertTrue(res["isError"])
        self.assertEqual(res["structuredContent"]["error"]["code"], rest["code"])
        self.assertEqual(self.srv.audit_entry(res["structuredContent"]["error"]["audit_seq"])
                         ["channel"], "mcp")
        status, rest = self.rest_get(AGENT, "benefit_eligibility", c["nir"], OBO)
        res = self.tool("get_record", {"dataset": "citizens", "purpose": "benefit_eligibility",
                                       "id": c["nir"], "on_behalf_of": OBO})
        self.assertTrue(res["isError"])
        self.assertEqual(res["structuredContent"]["error"]["code"], rest["code"])
        # unknown subject: not_found, like REST
        status, rest = self.rest_get(AGENT, "benefit_eligibility", "199999999999999", OBO, CASE)
        res = self.tool("get_record", {"dataset": "citizens", "purpose": "benefit_eligibility",
                                       "id": "199999999999999", "on_behalf_of": OBO,
                                       "case": CASE})
        self.assertTrue(res["isError"])
        self.assertEqual(res["structuredContent"]["error"]["code"], rest["code"])

    # ---- no raw value of a non-granted field ----

    def check_no_leak(self, blob):
        for c in self.citizens:
            for f in HIDDEN:
                v = c.get(f)
                if isinstance(v, str) and len(v) >= 6:
                    self.assertNotIn(v.encode(), blob, "raw %s leaked" % f)

    def test_z_no_leak(self):
        """Named to run last (unittest sorts by name): it also checks every MCP response the
        other tests received."""
        sid = self.session()
        for c in self.citizens[:5]:
            self.tool("get_record", {"dataset": "citizens", "purpose": "benefit_eligibility",
                                     "id": c["nir"], "on_behalf_of": OBO, "case": CASE}, sid=sid)
        res = self.tool("query_records", {"dataset": "citizens", "purpose": "benefit_eligibility",
                                          "where": {}, "limit": 20, "on_behalf_of": OBO,
                                          "case": CASE}, sid=sid)
        self.assertFalse(res["isError"], res)
        self.assertEqual(len(res["structuredContent"]["data"]), 20)
        self.tool("list_datasets", {}, sid=sid)
        self.tool("describe_dataset", {"dataset": "citizens"}, sid=sid)
        self.tool("explain_access", {"purpose": "benefit_eligibility"}, sid=sid)
        for b in self.bodies:
            self.check_no_leak(b)
        with open(self.srv.log_path, "rb") as f:
            self.check_no_leak(f.read())  # nor in the gateway's log


if __name__ == "__main__":
    unittest.main()
