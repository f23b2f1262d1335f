#!/usr/bin/env bash
# Lints docs/openapi.yaml with the Redocly CLI pinned in package-lock.json (ctest openapi_lint).
# Installs it with `npm ci` into tests/openapi/node_modules first, quietly and only when
# node_modules does not match the lock file.  Exit 77 (ctest: skipped) when node is absent.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "openapi lint skipped: node/npm are missing (scripts/bootstrap installs them)" >&2
  exit 77
fi
stamp=node_modules/.ecluse-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
  echo "$want" > "$stamp"
fi
# No telemetry, no update check: CI output stays deterministic.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
# Negative check: the pinned linter must reject a copy of the spec with a dangling $ref, so
# this test cannot pass with a linter that accepts anything.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's|"#/components/schemas/Problem"|"#/components/schemas/NoSuchSchema"|' ../../docs/openapi.yaml \
  > "$tmp/broken.yaml"
if node_modules/.bin/redocly lint "$tmp/broken.yaml" --config redocly.yaml \
  --skip-rule operation-2xx-response > "$tmp/out" 2>&1; then
  echo "lint.sh: the linter accepted a spec with a dangling \$ref" >&2
  exit 1
fi
grep -q no-unresolved-refs "$tmp/out" || { cat "$tmp/out" >&2; exit 1; }
# redocly.yaml is found in this folder.
node_modules/.bin/redocly lint ../../docs/openapi.yaml --config redocly.yaml
