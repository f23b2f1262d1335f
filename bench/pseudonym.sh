#!/usr/bin/env bash
# Pseudonym throughput on one core and a collision check over 10,000,000 pseudonyms.
# usage: bench/pseudonym.sh [N_RATE] [N_COLLISIONS]   (builds build/normal first)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build normal >/dev/null
bin=build/normal/bench/bench_pseudonym
echo "== rate (pinned to one core)"
taskset -c 0 "$bin" rate "${1:-5000000}"
echo "== collisions"
"$bin" collisions "${2:-10000000}"
