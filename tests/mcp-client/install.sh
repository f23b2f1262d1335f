#!/usr/bin/env bash
# Installs the pinned MCP SDK client (package-lock.json) into tests/mcp-client/node_modules
# with `npm ci`.  Idempotent and quiet: does nothing when node_modules matches the lock file.
set -euo pipefail
cd "$(dirname "$0")"
stamp=node_modules/.ecluse-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "install.sh: npm is missing (scripts/bootstrap installs it)" >&2
  exit 69
fi
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
echo "$want" > "$stamp"
