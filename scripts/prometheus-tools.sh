#!/usr/bin/env bash
# Finds a Prometheus tool (promtool by default, or prometheus itself) and prints its path on the last line: PROMTOOL /
# PROMETHEUS when set, else one on PATH, else the one in the cache, extracted the first time from Debian's
# `prometheus` package (only the binary: installing the package would also set up a service and a user).
# Usage: scripts/prometheus-tools.sh [promtool|prometheus]
set -euo pipefail

TOOL="${1:-promtool}"
case "$TOOL" in
  promtool) override="${PROMTOOL:-}" ;;
  prometheus) override="${PROMETHEUS:-}" ;;
  *) echo "usage: $0 [promtool|prometheus]" >&2; exit 2 ;;
esac
CACHE_ROOT="${BIRD_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bird-operator}"
OUT="$CACHE_ROOT/prometheus"

log() { echo "[prometheus-tools] $*" >&2; }

if [ -n "$override" ]; then echo "$override"; exit 0; fi
if command -v "$TOOL" >/dev/null; then command -v "$TOOL"; exit 0; fi
if [ -x "$OUT/$TOOL" ]; then echo "$OUT/$TOOL"; exit 0; fi

command -v apt-get >/dev/null || { log "$TOOL is not installed and apt-get is missing: install Prometheus' $TOOL and put it on PATH (or set ${TOOL^^})"; exit 1; }
mkdir -p "$OUT"
# Two test runs may start at once: one downloads, the other waits.
exec 9>"$OUT/.lock"
flock 9
if [ -x "$OUT/$TOOL" ]; then echo "$OUT/$TOOL"; exit 0; fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log "extracting $TOOL from Debian's prometheus package"
if ! (cd "$work" && apt-get download prometheus >/dev/null 2>&1); then
  log "apt-get download failed; updating the package lists once"
  apt-get update >/dev/null
  (cd "$work" && apt-get download prometheus >/dev/null)
fi
dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work" ./usr/bin/promtool ./usr/bin/prometheus
mv "$work/usr/bin/promtool" "$work/usr/bin/prometheus" "$OUT/"
log "$("$OUT/promtool" --version 2>&1 | head -1)"
echo "$OUT/$TOOL"
