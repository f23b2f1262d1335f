#!/usr/bin/env bash
# Import benchmark: generates the demo population of SIZE people (default 1000000) and measures
# `ecluse import` of citizens.jsonl and benefits.jsonl into a fresh data directory: wall-clock
# seconds, records per second, peak RSS (/usr/bin/time -v: heap plus the pages of the mapped
# store that were touched) and peak anonymous RSS (heap only, sampled from /proc every 0.1 s).
# usage: bench/import.sh [SIZE]      (ECLUSE_BIN overrides build/normal/gateway/ecluse)
# KEEP_DIR=DIR (absent before the run) keeps the generated files and the imported data directory
# as DIR/gen and DIR/data (bench/run caches them for the end-to-end and query benchmarks).
# Prints numbers only; never asserts timings.  Needs /usr/bin/time (Debian package "time").
set -euo pipefail
size=${1:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${ECLUSE_BIN:-$root/build/normal/gateway/ecluse}
if [ ! -x /usr/bin/time ]; then
  echo "bench/import.sh: /usr/bin/time is missing (apt-get install time)" >&2
  exit 69
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/ecl-bench-import.XXXXXX")
trap 'rm -rf "$work"' EXIT

t0=$(date +%s.%N)
"$bin" demo-data --seed 1 --size "$size" --out "$work/gen" >/dev/null
t1=$(date +%s.%N)
printf 'generate %d people: %.1f s\n' "$size" "$(awk "BEGIN {print $t1 - $t0}")"
"$bin" --data "$work/data" init >/dev/null
for d in citizens benefits; do
  "$bin" --data "$work/data" dataset create "$root/demo/$d.schema.json" >/dev/null
done

for d in citizens benefits; do
  file="$work/gen/$d.jsonl"
  mb=$(awk "BEGIN {printf \"%.1f\", $(stat -c %s "$file") / 1000000}")
  /usr/bin/time -v -o "$work/time.$d" "$bin" --data "$work/data" import --dataset "$d" "$file" \
    >"$work/out.$d" &
  tpid=$!
  anon=0
  while kill -0 "$tpid" 2>/dev/null; do
    for pid in $(pgrep -P "$tpid" || true); do
      kb=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      if [ -n "$kb" ] && [ "$kb" -gt "$anon" ]; then anon=$kb; fi
    done
    sleep 0.1
  done
  wait "$tpid"
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.$d" |
         awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.$d")
  rate=$(awk "BEGIN {printf \"%d\", $size / $secs}")
  printf '%-8s %d records, %s MB in %.1f s: %d records/s, peak RSS %d MB, peak anonymous RSS %d MB\n' \
    "$d" "$size" "$mb" "$secs" "$rate" $((rss / 1024)) $((anon / 1024))
done
printf 'store size on disk: %s\n' "$(du -sh "$work/data/records" | cut -f1)"
if [ -n "${KEEP_DIR:-}" ]; then
  mkdir "$KEEP_DIR"
  mv "$work/gen" "$work/data" "$KEEP_DIR/"
fi
