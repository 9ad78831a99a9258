#!/usr/bin/env bash
# Runs a command on the Node.js the image ships (.node-version), installing it into the cache first if needed, so
# tests run on the runtime that ships whatever Node.js the machine has. `npm test` runs vitest through this.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
want="v$(tr -d ' \n' <"$ROOT/.node-version")"
if [ "$(node --version 2>/dev/null)" != "$want" ]; then
  bin="$(bash "$ROOT/scripts/install-node.sh" | tail -1)"
  export PATH="$bin:$PATH"
fi
exec "$@"
