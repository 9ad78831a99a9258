#!/bin/sh
# Stages the operator as it runs in the image into OUT: package.json, the lock file, the compiled dist/ (from DIST),
# crds/, openapi/ and the production dependencies only, without TypeScript sources, type declarations and source maps
# (half their size; nothing loads them at run time). scripts/build-image.sh and the Dockerfile both run it.
# Usage: stage-app.sh SRC DIST OUT    (SRC: a checkout with package.json, package-lock.json, crds/ and openapi/)
set -eu

SRC="$1"
DIST="$2"
OUT="$3"

mkdir -p "$OUT"
cp "$SRC/package.json" "$SRC/package-lock.json" "$OUT/"
cp -R "$DIST" "$OUT/dist"
cp -R "$SRC/crds" "$SRC/openapi" "$OUT/"
(cd "$OUT" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
find "$OUT" \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' \) -type f -exec rm -f {} +
rm -rf "$OUT/node_modules/.bin" "$OUT/node_modules/@types"
# npm 10 (the Dockerfile's build image) leaves empty scope directories of omitted dev dependencies; npm 11 does not.
find "$OUT/node_modules" -type d -empty -delete
