#!/usr/bin/env python3
# bench/mcp_answers.py CACHE BINARY OUT: records every byte of 405 MCP tools/call answers of
# BINARY (`ecluse`) over a fresh copy of a cached bench population (CACHE, a directory under
# bench/results/cache/ made by `bench/run --only e2e --size N`): list_datasets,
# describe_dataset, explain_access, 400 get_record, a refused purpose and a query_records page,
# sent one after the other on one connection (so audit_seq is the same from run to run), with
# integer and non-ASCII string JSON-RPC ids.  Run it with two binaries and `cmp` the two OUT
# files to check that a change to the MCP door leaves the answers byte-identical
# (docs/performance.md, "MCP door").
import sys, os, json, subprocess, shutil, time, re, http.client
C = sys.argv[1]; binary = sys.argv[2]; out = sys.argv[3]
key = json.load(open(C + "/keys.json"))["agent"]
ids = [x for x in open(C + "/ids.txt").read().split() if x][:400]
d = os.environ.get("TMPDIR", "/tmp") + "/ecl-mcp-answers-" + os.path.basename(out)
shutil.rmtree(d, ignore_errors=True); shutil.copytree(C + "/data", d)
log = open(d + ".log", "w")
env = dict(os.environ, ECLUSE_RECORDS_MAP_MB="1024", ECLUSE_AUDIT_MAP_MB="1024")
p = subprocess.Popen([binary, "--data", d, "serve", "--listen", "127.0.0.1:0", "--threads", "2"], stderr=log, env=env)
port = None
for _ in range(100):
    m = re.search(r'"port":(\d+)', open(d + ".log").read())
    if m: port = int(m.group(1)); break
    time.sleep(0.2)
if port is None:
    sys.exit("the server did not start: see " + d + ".log")
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
H = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
def post(msg):
    c.request("POST", "/mcp", body=json.dumps(msg), headers=H); r = c.getresponse(); return r, r.read()
r, b = post({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "cmp", "version": "1"}}})
H["Mcp-Session-Id"] = r.getheader("Mcp-Session-Id"); H["MCP-Protocol-Version"] = "2025-11-25"
post({"jsonrpc": "2.0", "method": "notifications/initialized"})
calls = [("list_datasets", {}), ("describe_dataset", {"dataset": "citizens"}), ("explain_access", {"purpose": "citizen_services"})]
for i in ids:
    calls.append(("get_record", {"dataset": "citizens", "purpose": "citizen_services", "id": i}))
calls.append(("get_record", {"dataset": "citizens", "purpose": "nope", "id": ids[0]}))
calls.append(("query_records", {"dataset": "citizens", "purpose": "citizen_services", "limit": 5}))
res = []
for k, (name, args) in enumerate(calls):
    r, b = post({"jsonrpc": "2.0", "id": (k if k % 2 else "s\u00e9-\"%d\"" % k), "method": "tools/call", "params": {"name": name, "arguments": args}})
    res.append({"status": r.status, "ctype": r.getheader("Content-Type"), "body": b.decode("utf-8")})
p.terminate(); p.wait()
shutil.rmtree(d, ignore_errors=True)
json.dump(res, open(out, "w"))
ok = sum(1 for x in res if '"isError":false' in x["body"])
print(len(res), "answers,", ok, "successful tool results")
