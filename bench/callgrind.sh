#!/bin/sh
# bench/callgrind.sh OUT NREQ (OUT an absolute path): callgrind of `ecluse serve` under NREQ single-record reads (8
# keep-alive clients) over the cached bench population (run `bench/run --only e2e --size N`
# first); repeatable instruction counts for docs/performance.md.
set -e
cd "$(dirname "$0")/.."
C=$(ls -d bench/results/cache/*/ | head -1)
KEY=$(python3 -c "import json;print(json.load(open('$C/keys.json'))['agent'])")
rm -rf "${TMPDIR:-/tmp}/ecl-cg-data" && cp -r "$C/data" "${TMPDIR:-/tmp}/ecl-cg-data"
ECLUSE_RECORDS_MAP_MB=1024 ECLUSE_AUDIT_MAP_MB=1024 valgrind --tool=callgrind --callgrind-out-file=$1 build/normal/gateway/ecluse --data "${TMPDIR:-/tmp}/ecl-cg-data" serve --listen 127.0.0.1:0 --threads 2 2>"${TMPDIR:-/tmp}/ecl-cg-serve.log" &
VP=$!
for i in $(seq 100); do P=$(grep -o '"port":[0-9]*' "${TMPDIR:-/tmp}/ecl-cg-serve.log" | head -1 | cut -d: -f2); [ -n "$P" ] && break; sleep 0.3; done
python3 - "$P" "$KEY" "$2" "$C/ids.txt" <<'PY'
import sys, http.client, threading
port, key, n, idf = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
ids = [x for x in open(idf).read().split() if x][:n]
def w(part):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in part:
        c.request("GET", "/v1/datasets/citizens/records/%s?purpose=citizen_services" % i, headers={"Authorization": "Bearer " + key})
        r = c.getresponse(); r.read(); assert r.status == 200, r.status
ts = [threading.Thread(target=w, args=(ids[k::8],)) for k in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
PY
kill -TERM $VP; wait $VP
