#!/usr/bin/env bash
# `npm run release`: the release bundle in dist/ for package.json's version:
#   dist/install.yaml         everything `kubectl apply -k deploy/` installs, with the image pinned by digest
#   dist/crds.yaml            the CRDs alone (for clusters where the platform team installs CRDs separately)
#   dist/bird-operator-<version>.tgz   the Helm chart, its image.digest set to the same digest
# and the image itself as an OCI layout (scripts/build-image.sh), whose digest is the one pinned: push it with the
# `skopeo copy --preserve-digests` line this prints, so the registry serves that same digest.
#
# Usage: release.sh [--dist DIR] [--image-dir DIR] [--digest sha256:...]
#   --digest skips the image build and pins the given digest (an image built and pushed elsewhere).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIST="$ROOT/dist"
IMAGE_DIR="$ROOT/.cache/image"
DIGEST=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dist) DIST="$2"; shift 2 ;;
    --image-dir) IMAGE_DIR="$2"; shift 2 ;;
    --digest) DIGEST="$2"; shift 2 ;;
    *) echo "usage: $0 [--dist DIR] [--image-dir DIR] [--digest sha256:...]" >&2; exit 2 ;;
  esac
done
log() { echo "[release] $*" >&2; }

VERSION="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$ROOT/package.json")"
REPOSITORY="${IMAGE_REPOSITORY:-ghcr.io/bird-operator/bird-operator}"
REVISION="$(git -C "$ROOT" rev-parse HEAD)"
[ -z "$(git -C "$ROOT" status --porcelain)" ] || { REVISION="$REVISION-dirty"; log "the checkout has uncommitted changes"; }

if [ -z "$DIGEST" ]; then
  DIGEST="$(bash "$ROOT/scripts/build-image.sh" --out "$IMAGE_DIR" | tail -1)"
fi
[[ "$DIGEST" =~ ^sha256:[0-9a-f]{64}$ ]] || { log "not an image digest: $DIGEST"; exit 1; }

mkdir -p "$DIST"
overlay="$(mktemp -d "$ROOT/.release-overlay-XXXXXX")"
trap 'rm -rf "$overlay"' EXIT
cat >"$overlay/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../deploy
images:
  - name: ghcr.io/bird-operator/bird-operator
    newName: $REPOSITORY
    digest: $DIGEST
YAML
header() {
  echo "# bird-operator $VERSION ($1), rendered by \`npm run release\` at $REVISION."
  echo "# Image: $REPOSITORY@$DIGEST"
}
{ header "kubectl apply --server-side -f install.yaml"; kubectl kustomize "$overlay"; } >"$DIST/install.yaml"
# The CRDs as install.yaml has them (with deploy/'s labels), so applying one file after the other changes nothing.
{
  header "the CRDs alone"
  awk 'function flush() { if (doc ~ /(^|\n)kind: CustomResourceDefinition\n/) { if (n++) print "---"; printf "%s", doc } doc = "" }
    /^---$/ { flush(); next } /^#/ { next } { doc = doc $0 "\n" } END { flush() }' "$DIST/install.yaml"
} >"$DIST/crds.yaml"

helm="$(bash "$ROOT/scripts/build-helm.sh" | tail -1)"
cp -R "$ROOT/deploy/helm/bird-operator" "$overlay/chart"
sed -i "s|^  repository: .*|  repository: $REPOSITORY|; s|^  digest: \"\"|  digest: \"$DIGEST\"|" "$overlay/chart/values.yaml"
grep -q "digest: \"$DIGEST\"" "$overlay/chart/values.yaml" || { log "could not pin the digest in the chart's values.yaml"; exit 1; }
"$helm" package "$overlay/chart" --destination "$DIST" >&2

log "dist/: install.yaml, crds.yaml, bird-operator-$VERSION.tgz; image $REPOSITORY@$DIGEST"
log "push the image first: skopeo copy --preserve-digests oci:$IMAGE_DIR/oci:$VERSION docker://$REPOSITORY:$VERSION"
echo "$DIGEST"
