#!/usr/bin/env bash
# Builds scripts/argocd-lua (Argo CD's Lua VM, gopher-lua, running health scripts as Argo CD does) from Go modules and
# caches it outside the repository, keyed by a hash of its sources. Prints the binary's path on its last line.
set -euo pipefail

SRC="$(cd "$(dirname "$0")/argocd-lua" && pwd)"
CACHE_ROOT="${BIRD_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bird-operator}"
KEY="$(cat "$SRC/go.mod" "$SRC/go.sum" "$SRC/main.go" | cksum | cut -d' ' -f1)"
OUT="$CACHE_ROOT/argocd-lua/$KEY"

log() { echo "[argocd-lua] $*" >&2; }

if [ -x "$OUT/argocd-lua" ]; then echo "$OUT/argocd-lua"; exit 0; fi
command -v go >/dev/null || { log "Go is required to build the gopher-lua health check runner (https://go.dev/dl/)"; exit 1; }
mkdir -p "$OUT"
# Concurrent test runs: one builds, the others wait for it.
exec 9>"$OUT/.lock"
flock 9
if [ ! -x "$OUT/argocd-lua" ]; then
  log "building with gopher-lua from Go modules"
  (cd "$SRC" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -mod=readonly" go build -trimpath -ldflags "-s -w" -o "$OUT/argocd-lua.tmp" .)
  mv "$OUT/argocd-lua.tmp" "$OUT/argocd-lua"
  log "built $OUT/argocd-lua"
fi
echo "$OUT/argocd-lua"
