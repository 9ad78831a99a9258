#!/usr/bin/env bash
# Builds the operator's OCI image without a Docker daemon or registry pulls, reproducibly (the same checkout, Debian
# packages and Node.js give the same digest): the root filesystem from scripts/image/ (what the Dockerfile builds
# too), one layer and the config written with umoci. Needs umoci, dpkg-deb and apt-get (Debian's; `bash
# scripts/install-image-tools.sh` installs umoci and crun), and npm.
#
# Usage: build-image.sh [--arch amd64|arm64] [--out DIR]
# Writes an OCI image layout to DIR/oci (default .cache/image/oci) tagged with package.json's version, and
# DIR/digest (the manifest digest: what a registry shows after `skopeo copy --preserve-digests`). The last line
# printed is the digest.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ARCH="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
OUT="$ROOT/.cache/image"
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) ARCH="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "usage: $0 [--arch amd64|arm64] [--out DIR]" >&2; exit 2 ;;
  esac
done
case "$ARCH" in
  amd64) NODE_ARCH=x64 ;;
  arm64) NODE_ARCH=arm64 ;;
  *) echo "[image] unsupported architecture $ARCH" >&2; exit 2 ;;
esac

log() { echo "[image] $*" >&2; }
for tool in umoci dpkg-deb apt-get npm git; do
  command -v "$tool" >/dev/null || { log "$tool is missing: run \`bash scripts/install-image-tools.sh\` (Debian)"; exit 1; }
done

# shellcheck source=image/image.env
. "$ROOT/scripts/image/image.env"
VERSION="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$ROOT/package.json")"
REVISION="$(git -C "$ROOT" rev-parse HEAD)"
[ -z "$(git -C "$ROOT" status --porcelain)" ] || REVISION="$REVISION-dirty"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct)}"
CREATED="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
started=$(date +%s)

mkdir -p "$OUT"
exec 9>"$OUT/.lock"
flock 9
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

NODE_BIN="$(bash "$ROOT/scripts/install-node.sh" "$NODE_ARCH" | tail -1)/node"

log "Debian packages ($ARCH): $DEBIAN_PACKAGES"
mkdir -p "$work/debs"
# shellcheck disable=SC2086 # a list of names
(cd "$work/debs" && apt-get download -q -o APT::Sandbox::User=root $(printf "%s:$ARCH " $DEBIAN_PACKAGES) >&2)

log "compiling and staging the app (production dependencies only)"
(cd "$ROOT" && npx tsc -p tsconfig.build.json --outDir "$work/dist")
sh "$ROOT/scripts/image/stage-app.sh" "$ROOT" "$work/dist" "$work/app" >&2

log "assembling the root filesystem"
layout="$work/oci"
umoci init --layout "$layout"
umoci new --image "$layout:$VERSION"
# `umoci insert` (0.4.7) leaves its layer's tar stream unterminated; unpacking the empty image and repacking does not.
umoci unpack --image "$layout:$VERSION" "$work/bundle" >/dev/null
rootfs="$work/bundle/rootfs"
sh "$ROOT/scripts/image/assemble-rootfs.sh" "$rootfs" "$work/debs" "$NODE_BIN" "$work/app"
# Reproducible: fixed owners (nonroot's home aside), modes without the builder's umask, one timestamp.
chown -R 0:0 "$rootfs"
chown 65532:65532 "$rootfs/home/nonroot"
chmod -R u+rwX,go+rX,go-w "$rootfs"
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root" "$rootfs/home/nonroot"
find "$rootfs" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

log "writing the OCI image"
umoci repack --history.created "$CREATED" --history.created_by "scripts/build-image.sh" --history.author "$IMAGE_AUTHOR" \
  --image "$layout:$VERSION" "$work/bundle"
config=(--no-history --created "$CREATED" --architecture "$ARCH" --os linux --author "$IMAGE_AUTHOR"
  --config.user "$IMAGE_USER" --config.workingdir "$IMAGE_WORKDIR" --config.cmd "$IMAGE_CMD")
for word in $IMAGE_ENTRYPOINT; do config+=(--config.entrypoint "$word"); done
for pair in $IMAGE_ENV; do config+=(--config.env "$pair"); done
for port in $IMAGE_PORTS; do config+=(--config.exposedports "$port"); done
config+=(--config.label "org.opencontainers.image.version=$VERSION" --config.label "org.opencontainers.image.revision=$REVISION")
while IFS= read -r label; do [ -n "$label" ] && config+=(--config.label "$label"); done <<<"$IMAGE_LABELS"
umoci config --image "$layout:$VERSION" "${config[@]}"
umoci gc --layout "$layout"

rm -rf "$OUT/oci"
mv "$layout" "$OUT/oci"
digest="$(sed -n 's/.*"digest":"\(sha256:[0-9a-f]*\)".*/\1/p' "$OUT/oci/index.json")"
echo "$digest" >"$OUT/digest"
compressed=$(du -cb "$OUT/oci/blobs/sha256/"* | tail -1 | cut -f1)
uncompressed=$(du -sb "$rootfs" | cut -f1)
log "built bird-operator:$VERSION ($ARCH) in $(($(date +%s) - started)) s: $((compressed / 1000000)) MB compressed, $((uncompressed / 1000000)) MB uncompressed"
log "OCI layout $OUT/oci, tag $VERSION; push with: skopeo copy --preserve-digests oci:$OUT/oci:$VERSION docker://<registry>/bird-operator:$VERSION"
echo "$digest"
