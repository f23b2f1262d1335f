#!/bin/sh
# bench/callgrind.sh OUT NREQ (OUT an absolute path): callgrind of `ecluse serve` under NREQ single-record reads (8
# keep-alive clients) over the cached bench population (run `bench/run --only e2e --size N`
# first); repeatable instruction counts for docs/performance.md.
# DOOR=mcp: the same reads as MCP tools/call get_record on POST /mcp, in one session opened
# before them (initialize + notifications/initialized), as bench/wrk/mcp.lua sends them.
set -e
cd "$(dirname "$0")/.."
C=$(ls -d bench/results/cache/*/ | head -1)
KEY=$(python3 -c "import json;print(json.load(open('$C/keys.json'))['agent'])")
rm -rf "${TMPDIR:-/tmp}/ecl-cg-data" && cp -r "$C/data" "${TMPDIR:-/tmp}/ecl-cg-data"
ECLUSE_RECORDS_MAP_MB=1024 ECLUSE_AUDIT_MAP_MB=1024 valgrind --tool=callgrind --callgrind-out-file=$1 build/normal/gateway/ecluse --data "${TMPDIR:-/tmp}/ecl-cg-data" serve --listen 127.0.0.1:0 --threads 2 2>"${TMPDIR:-/tmp}/ecl-cg-serve.log" &
VP=$!
for i in $(seq 100); do P=$(grep -o '"port":[0-9]*' "${TMPDIR:-/tmp}/ecl-cg-serve.log" | head -1 | cut -d: -f2); [ -n "$P" ] && break; sleep 0.3; done
python3 - "$P" "$KEY" "$2" "$C/ids.txt" "${DOOR:-rest}" <<'PY'
import sys, http.client, threading, json
port, key, n, idf, door = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
ids = [x for x in open(idf).read().split() if x][:n]
H = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
def post(c, h, msg):
    c.request("POST", "/mcp", body=json.dumps(msg), headers=h)
    r = c.getresponse(); b = r.read(); return r, b
if door == "mcp":
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    r, b = post(c, H, {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "callgrind", "version": "1"}}})
    H["Mcp-Session-Id"] = r.getheader("Mcp-Session-Id"); H["MCP-Protocol-Version"] = "2025-11-25"
    r, b = post(c, H, {"jsonrpc": "2.0", "method": "notifications/initialized"}); assert r.status == 202, r.status
def w(part):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for k, i in enumerate(part):
        if door == "mcp":
            r, b = post(c, H, {"jsonrpc": "2.0", "id": "%s-%d" % (i, k), "method": "tools/call", "params": {"name": "get_record", "arguments": {"dataset": "citizens", "purpose": "citizen_services", "id": i}}})
            assert r.status == 200 and b'"isError":false' in b, (r.status, b[:200])
            continue
        c.request("GET", "/v1/datasets/citizens/records/%s?purpose=citizen_services" % i, headers={"Authorization": "Bearer " + key})
        r = c.getresponse(); r.read(); assert r.status == 200, r.status
ts = [threading.Thread(target=w, args=(ids[k::8],)) for k in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
PY
kill -TERM $VP; wait $VP
