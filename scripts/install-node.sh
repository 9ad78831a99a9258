#!/usr/bin/env bash
# Installs the Node.js the image ships (the version in .node-version) from the npm package node-linux-<arch> into a
# cache outside the repository, keyed by version and architecture, and prints the directory holding `node` on its
# last line. Tests run on it (scripts/with-node.sh) and the image copies its binary (scripts/build-image.sh).
# Usage: install-node.sh [x64|arm64]   (default: this machine's architecture)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VERSION="${NODE_VERSION:-$(tr -d ' \n' <"$ROOT/.node-version")}"
case "${1:-$(uname -m)}" in
  x64 | x86_64 | amd64) ARCH=x64 ;;
  arm64 | aarch64) ARCH=arm64 ;;
  *) echo "[node] unsupported architecture: ${1:-$(uname -m)}" >&2; exit 1 ;;
esac
CACHE_ROOT="${BIRD_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bird-operator}"
OUT="$CACHE_ROOT/node/v$VERSION-linux-$ARCH"

log() { echo "[node] $*" >&2; }

if [ -x "$OUT/bin/node" ]; then
  log "cached: $OUT/bin/node"
  echo "$OUT/bin"
  exit 0
fi

command -v npm >/dev/null || { log "npm is required to download node-linux-$ARCH@$VERSION"; exit 1; }
mkdir -p "$CACHE_ROOT/node"
work="$(mktemp -d "$CACHE_ROOT/node/.install-XXXXXX")"
trap 'rm -rf "$work"' EXIT
log "downloading node-linux-$ARCH@$VERSION from the npm registry"
HOST_ARCH="$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')"
# The package declares its cpu: fetching the arm64 binary on an x64 machine (for the arm64 image) needs --force.
force=()
[ "$ARCH" = "$HOST_ARCH" ] || force=(--force)
npm install --prefix "$work/npm" --no-save --no-package-lock --ignore-scripts --no-audit --no-fund "${force[@]}" \
  "node-linux-$ARCH@$VERSION" >&2
pkg="$work/npm/node_modules/node-linux-$ARCH"
mkdir -p "$work/out/bin" "$work/out/share"
mv "$pkg/bin/node" "$work/out/bin/node"
cp "$pkg/LICENSE" "$work/out/share/LICENSE"
if [ "$ARCH" = "$HOST_ARCH" ]; then
  got="$("$work/out/bin/node" --version)"
  [ "$got" = "v$VERSION" ] || { log "node-linux-$ARCH@$VERSION reports $got"; exit 1; }
fi
# Another process may have installed it meanwhile: the first rename wins, and both then use the same binary.
mv -T "$work/out" "$OUT" 2>/dev/null || log "installed concurrently by another process"
log "installed: $OUT/bin/node"
echo "$OUT/bin"
