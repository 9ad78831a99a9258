#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kube-controller-manager from Go modules (envtest's binaries plus the controllers
# that delete namespaces and aggregate ClusterRoles) and caches them outside the repository, keyed by version.
# Prints the directory that holds all three on its last line.
# KUBEBUILDER_ASSETS, when it holds all three, wins and nothing is built. envtest's assets hold no
# kube-controller-manager: then only that one is built, at the version their kube-apiserver reports, and the
# printed directory links the three together.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.33.13}"
ETCD_VERSION="${ETCD_VERSION:-v3.5.35}"
CACHE_ROOT="${BIRD_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bird-operator}"
OUT="$CACHE_ROOT/k8s/kube-apiserver-$K8S_VERSION-etcd-$ETCD_VERSION"
K8S_BINARIES=(kube-apiserver kube-controller-manager)

log() { echo "[control-plane] $*" >&2; }
complete() { [ -x "$1/etcd" ] && [ -x "$1/kube-apiserver" ] && [ -x "$1/kube-controller-manager" ]; }

# Another test run or CI step may be building into the same directory: wait for it instead of building twice.
lock() {
  mkdir -p "$1"
  exec 9>"$1/.lock"
  if ! flock -n 9; then
    log "another build is writing $1; waiting for it"
    flock 9
  fi
}

setup_go() {
  command -v go >/dev/null || { log "Go is required to build the control plane (https://go.dev/dl/)"; exit 1; }
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  export GOFLAGS="${GOFLAGS:-} -mod=mod" CGO_ENABLED=0 GOTOOLCHAIN=local
}

build_etcd() {
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
    && go build -trimpath -ldflags "-s -w" -o "$1/etcd.tmp" . \
    && mv "$1/etcd.tmp" "$1/etcd")
  log "etcd built"
}

# k8s.io/kubernetes requires its staging modules at v0.0.0: a wrapper module replaces each with its release.
kubernetes_module() {
  local version="$1" dir="$work/kubernetes-$1" gomod
  [ -f "$dir/go.mod" ] && return 0
  gomod="$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  [ -f "$gomod" ] || { log "could not download k8s.io/kubernetes@$version"; exit 1; }
  mkdir -p "$dir"
  {
    echo "module bird-operator/kubernetes"
    echo
    echo "go $(sed -n 's/^go \([0-9.]*\).*/\1/p' "$gomod" | head -1)"
    echo
    echo "require k8s.io/kubernetes $version"
    echo
    echo "replace ("
    awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$gomod" | sort -u \
      | while read -r m; do echo "	$m => $m v0.${version#v1.}"; done
    echo ")"
  } >"$dir/go.mod"
}

# build_kubernetes NAME VERSION OUT_DIR: the ldflags make /version report VERSION (kubectl warns about skew otherwise).
build_kubernetes() {
  local name="$1" version="$2" out="$3" minor
  minor="$(echo "$version" | cut -d. -f2)"
  log "building $name $version (first time: several minutes, about 2 GiB of memory)"
  kubernetes_module "$version"
  (cd "$work/kubernetes-$version" \
    && go get "k8s.io/kubernetes/cmd/$name@$version" \
    && go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$version \
         -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
       -o "$out/$name.tmp" "k8s.io/kubernetes/cmd/$name" \
    && mv "$out/$name.tmp" "$out/$name")
  log "$name built"
}

# envtest's assets: the missing kube-controller-manager at their kube-apiserver's version (a newer one than the API
# server is unsupported skew), from the cache or built, linked with the other two into one directory of the cache.
complete_assets() {
  local assets="$1" version dir built
  version="$("$assets/kube-apiserver" --version | awk '{print $2}')"
  if ! [[ "$version" =~ ^v1\.[0-9]+\.[0-9]+$ ]]; then
    log "KUBEBUILDER_ASSETS=$assets has no kube-controller-manager, and its kube-apiserver reports version '$version'," \
      "so none can be built to match: put a kube-controller-manager of that version there, or unset KUBEBUILDER_ASSETS"
    exit 1
  fi
  dir="$CACHE_ROOT/k8s/assets-$version-$(echo "$assets" | cksum | cut -d' ' -f1)"
  lock "$dir"
  if [ ! -x "$dir/kube-controller-manager" ]; then
    built="$(ls "$CACHE_ROOT"/k8s/kube-apiserver-"$version"-etcd-*/kube-controller-manager 2>/dev/null | head -1)"
    if [ -n "$built" ]; then
      log "KUBEBUILDER_ASSETS=$assets has no kube-controller-manager; using $built"
      ln -sfn "$built" "$dir/kube-controller-manager"
    else
      log "KUBEBUILDER_ASSETS=$assets has no kube-controller-manager; building only that one"
      setup_go
      build_kubernetes kube-controller-manager "$version" "$dir"
    fi
  fi
  ln -sfn "$assets/etcd" "$dir/etcd"
  ln -sfn "$assets/kube-apiserver" "$dir/kube-apiserver"
  echo "$dir"
}

if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  if complete "$KUBEBUILDER_ASSETS"; then
    log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
    echo "$KUBEBUILDER_ASSETS"
    exit 0
  fi
  if [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ]; then
    complete_assets "$KUBEBUILDER_ASSETS"
    exit 0
  fi
  log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks etcd or kube-apiserver; building instead"
fi

if complete "$OUT"; then
  log "cached: $OUT"
  echo "$OUT"
  exit 0
fi

lock "$OUT"
setup_go
[ -x "$OUT/etcd" ] || build_etcd "$OUT"
for name in "${K8S_BINARIES[@]}"; do
  [ -x "$OUT/$name" ] || build_kubernetes "$name" "$K8S_VERSION" "$OUT"
done
echo "$OUT"
