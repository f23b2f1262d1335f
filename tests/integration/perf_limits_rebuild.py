#!/usr/bin/env python3
"""Start-up cost of rebuilding the limit counters (docs/performance.md, "Rate-limit counters at
start-up").  Not part of ctest: fills today's audit log with N admitted record reads through the
real server (wrk, loopback), restarts the gateway a few times and prints the "limits_rebuilt"
log line of each start.

    cd build/normal/tests/integration && \
        ECLUSE_BIN=$PWD/../../gateway/ecluse python3 ../../../../tests/integration/perf_limits_rebuild.py 100000
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ecltest  # noqa: E402


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    if shutil.which("wrk") is None:
        print("wrk is not installed")
        return 77
    with open(os.path.join(ecltest.SOURCE_DIR, "demo", "policy.json"), encoding="utf-8") as f:
        policy = json.load(f)
    for r in policy["rules"]:
        r["limits"] = {"records_per_request": 10, "requests_per_minute": 10**6,
                       "records_per_day": 10**9}
    srv = ecltest.demo_server(size=100, policy=policy, serve_args=("--threads", "4"))
    try:
        nir = sorted(srv.raw["citizens"])[0]
        url = "http://127.0.0.1:%d/v1/datasets/citizens/records/%s?purpose=citizen_services" % (
            srv.port, nir)
        key = srv.keys["service-desk-assistant"]
        t0 = time.time()
        done = 0
        while done < n:
            out = subprocess.run(["wrk", "-t2", "-c32", "-d5s", "-H", "Authorization: Bearer " + key,
                                  url], capture_output=True, text=True).stdout
            for line in out.splitlines():
                if "requests in" in line:
                    done += int(line.split()[0])
        print("filled %d admitted reads in %.1f s" % (done, time.time() - t0))
        # with the checkpoint (the writer's, at most ECL_AUDIT_LIMITS_CHECKPOINT_S old), after
        # kill -9 and SIGTERM; then the same log ignoring it (what an older data directory gets)
        for sig, ignore in ((signal.SIGKILL, False), (signal.SIGTERM, False),
                            (signal.SIGTERM, False), (signal.SIGTERM, True),
                            (signal.SIGTERM, True)):
            srv.halt(sig)
            start = os.path.getsize(srv.log_path)
            if ignore:
                os.environ["ECLUSE_LIMITS_IGNORE_CHECKPOINT"] = "1"
            t1 = time.time()
            try:
                srv.restart()
            finally:
                os.environ.pop("ECLUSE_LIMITS_IGNORE_CHECKPOINT", None)
            took = time.time() - t1
            with open(srv.log_path, encoding="utf-8") as f:
                f.seek(start)
                for line in f:
                    if '"limits_rebuilt"' in line:
                        print("%s after %s: start-up %.2f s: %s" % (
                            "ignoring the checkpoint" if ignore else "with the checkpoint",
                            signal.Signals(sig).name, took, line.strip()))
        print("audit environment: %.0f MiB" % (
            os.path.getsize(os.path.join(srv.data, "audit", "data.mdb")) / 2**20))
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
