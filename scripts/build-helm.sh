#!/usr/bin/env bash
# Builds helm from Go modules (helm.sh/helm/v3/cmd/helm) and caches it outside the repository, keyed by version, like
# the control plane. Prints the path of the helm binary on its last line. HELM, when it names an executable, wins.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE_ROOT="${BIRD_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bird-operator}"
OUT="$CACHE_ROOT/helm/$HELM_VERSION"

log() { echo "[helm] $*" >&2; }

if [ -n "${HELM:-}" ] && [ -x "$HELM" ]; then
  log "using HELM=$HELM"
  echo "$HELM"
  exit 0
fi
if [ -x "$OUT/helm" ]; then
  log "cached: $OUT/helm"
  echo "$OUT/helm"
  exit 0
fi

command -v go >/dev/null || { log "Go is required to build helm (https://go.dev/dl/)"; exit 1; }
mkdir -p "$OUT"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export GOFLAGS="${GOFLAGS:-} -mod=mod" CGO_ENABLED=0 GOTOOLCHAIN=local
log "building helm $HELM_VERSION (first time: a few minutes)"
# helm reports the Kubernetes version it was built against (`.Capabilities.KubeVersion` in `helm template`): the
# client-go its go.mod requires, as helm's Makefile stamps it.
gomod="$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
[ -f "$gomod" ] || { log "could not download helm.sh/helm/v3@$HELM_VERSION"; exit 1; }
client_go="$(awk '$1 == "k8s.io/client-go" {print $2}' "$gomod")"
k8s_minor="$(echo "$client_go" | cut -d. -f2)"
GOBIN="$work/bin" go install -trimpath -ldflags "-s -w \
  -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
  -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor \
  -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
# Another process may have built it meanwhile; both binaries are the same.
mv "$work/bin/helm" "$OUT/helm"
log "built $OUT/helm ($("$OUT/helm" version --short))"
echo "$OUT/helm"
