#!/usr/bin/env bash
# Builds kube-apiserver and etcd from Go modules (the binaries envtest uses) and caches them outside the
# repository, keyed by version. Prints the directory that holds both binaries on its last line.
# KUBEBUILDER_ASSETS, when it holds both binaries, wins and nothing is built.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.33.13}"
ETCD_VERSION="${ETCD_VERSION:-v3.5.35}"
CACHE_ROOT="${BIRD_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bird-operator}"
OUT="$CACHE_ROOT/k8s/kube-apiserver-$K8S_VERSION-etcd-$ETCD_VERSION"

log() { echo "[control-plane] $*" >&2; }

if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  if [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ]; then
    log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
    echo "$KUBEBUILDER_ASSETS"
    exit 0
  fi
  log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks etcd or kube-apiserver; building instead"
fi

if [ -x "$OUT/kube-apiserver" ] && [ -x "$OUT/etcd" ]; then
  log "cached: $OUT"
  echo "$OUT"
  exit 0
fi

command -v go >/dev/null || { log "Go is required to build the control plane (https://go.dev/dl/)"; exit 1; }
mkdir -p "$OUT"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export GOFLAGS="${GOFLAGS:-} -mod=mod" CGO_ENABLED=0 GOTOOLCHAIN=local

if [ ! -x "$OUT/etcd" ]; then
  log "building etcd $ETCD_VERSION"
  mkdir -p "$work/etcd"
  cat >"$work/etcd/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$work/etcd" && go mod init bird-operator/etcd >/dev/null 2>&1 \
    && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" \
    && go mod tidy \
    && go build -trimpath -ldflags "-s -w" -o "$OUT/etcd.tmp" . \
    && mv "$OUT/etcd.tmp" "$OUT/etcd")
  log "etcd built"
fi

if [ ! -x "$OUT/kube-apiserver" ]; then
  log "building kube-apiserver $K8S_VERSION (first time: several minutes, about 2 GiB of memory)"
  minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
  staging="v0.${K8S_VERSION#v1.}"
  gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  [ -f "$gomod" ] || { log "could not download k8s.io/kubernetes@$K8S_VERSION"; exit 1; }
  mkdir -p "$work/apiserver"
  {
    echo "module bird-operator/kube-apiserver"
    echo
    echo "go $(sed -n 's/^go \([0-9.]*\).*/\1/p' "$gomod" | head -1)"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$gomod" | sort -u \
      | while read -r m; do echo "	$m => $m $staging"; done
    echo ")"
  } >"$work/apiserver/go.mod"
  (cd "$work/apiserver" \
    && go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" \
    && go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
         -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
       -o "$OUT/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver \
    && mv "$OUT/kube-apiserver.tmp" "$OUT/kube-apiserver")
  log "kube-apiserver built"
fi

echo "$OUT"
