#!/usr/bin/env bash
# Policy engine vs AWS Cedar (official WebAssembly build, pinned in bench/cedar/package-lock.json)
# on the same generated policy (50 agents, 20 purposes, 3 datasets) and the same requests, in
# the same run.  Prints both rates and the ratio.   bench/policy.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-3}
scripts/build normal >/dev/null
(cd bench/cedar && npm ci --no-audit --no-fund --silent >/dev/null)
out=$(mktemp -d "${TMPDIR:-/tmp}/ecl-bench-policy.XXXXXX")
trap 'rm -rf "$out"' EXIT
ours=$(build/normal/bench/bench_policy "$out" "$seconds")
echo "$ours"
theirs=$(node bench/cedar/bench.mjs "$out" "$seconds")
echo "$theirs"
a=$(echo "$ours" | sed -n 's/^ecluse decisions\/s: \([0-9]*\).*/\1/p')
b=$(echo "$theirs" | sed -n 's/^cedar decisions\/s: \([0-9]*\).*/\1/p')
awk -v a="$a" -v b="$b" 'BEGIN { printf "ratio ecluse/cedar: %.0fx (target: at least 20x)\n", a / b }'
