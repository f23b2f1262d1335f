#!/usr/bin/env bash
# Audit log benchmarks: durable entries/s by producer count, then `ecluse audit verify` speed
# (public-key and full tiers) on a log of N entries.
#   bench/audit.sh [N]          N defaults to 1000000; BUILD=build/normal; SECONDS_PER_ROW=3
# CI runs a small smoke (N=2000, short rows).  Results go to stdout; record them, with the
# command, in docs/performance.md ("## Audit log").
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
BUILD=${BUILD:-build/normal}
ROW=${SECONDS_PER_ROW:-3}
ECLUSE=$BUILD/gateway/ecluse
BENCH=$BUILD/bench/bench_audit
work=$(mktemp -d "${TMPDIR:-/tmp}/ecl-audit-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== durable audited entries/s (each producer waits for its entry to be durable)"
TMPDIR=$work "$BENCH" --seconds "$ROW"

echo "== filling a log with $N entries"
"$ECLUSE" --data "$work/data" init >/dev/null
"$BENCH" fill "$work/data" "$N"
size=$(du -sh "$work/data/audit" | cut -f1)
echo "audit environment: $size on disk"

for tier in --public-only full; do
  args=()
  [ "$tier" = --public-only ] && args=(--public-only)
  start=$(date +%s.%N)
  "$ECLUSE" --data "$work/data" audit verify "${args[@]}" >"$work/report" 2>/dev/null || {
    cat "$work/report"; echo "audit verify failed" >&2; exit 1; }
  end=$(date +%s.%N)
  awk -v n="$((N + 1))" -v s="$start" -v e="$end" -v t="$tier" \
    'BEGIN { printf "verify %-13s %8d entries in %6.2f s: %9.0f entries/s\n", t, n, e - s, n / (e - s) }'
done
