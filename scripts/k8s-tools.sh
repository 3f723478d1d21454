#!/usr/bin/env bash
# Builds kube-apiserver and etcd for the envtest-based tests from the module
# versions pinned in ../shared/DESIGN.md, into the tools folder (.cache/bin).
# `go install` refuses both modules (their go.mod files replace sibling
# modules with local paths), so each is built from a throwaway wrapper
# module that requires the published module and replaces those paths with
# the published versions. Idempotent: rebuilt only when a version changes.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="${GATEWATCH_TOOLS_DIR:-$root/.cache/bin}"
mkdir -p "$bin"

KUBERNETES_VERSION=v1.37.2   # kube-apiserver; staging modules at v0.37.2
ETCD_VERSION=v3.6.16         # etcd server (etcdmain)

stamp_ok() { [ -x "$bin/$1" ] && [ "$(cat "$bin/$1.version" 2>/dev/null)" = "$2" ]; }

if ! stamp_ok kube-apiserver "k8s.io/kubernetes@$KUBERNETES_VERSION"; then
  echo "tools: building kube-apiserver from k8s.io/kubernetes@$KUBERNETES_VERSION (first run takes several minutes)" >&2
  start=$SECONDS
  w=$(mktemp -d)
  trap 'rm -rf "$w"' EXIT
  staging=${KUBERNETES_VERSION/v1./v0.}
  modfile=$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "module gatewatch.local/kube-apiserver"
    echo "go 1.26"
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    # every k8s.io/* module the kubernetes go.mod points at ./staging/...
    sed -n 's#^\s*\(k8s.io/[^ ]*\) => ./staging/.*#replace \1 => \1 '"$staging"'#p' "$modfile"
  } > "$w/go.mod"
  (cd "$w" && GOFLAGS=-mod=mod go build -o "$bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
  echo "k8s.io/kubernetes@$KUBERNETES_VERSION" > "$bin/kube-apiserver.version"
  rm -rf "$w"
  trap - EXIT
  echo "tools: kube-apiserver built in $((SECONDS - start))s" >&2
fi

if ! stamp_ok etcd "go.etcd.io/etcd/server/v3@$ETCD_VERSION"; then
  echo "tools: building etcd from go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
  start=$SECONDS
  w=$(mktemp -d)
  trap 'rm -rf "$w"' EXIT
  cat > "$w/go.mod" <<MOD
module gatewatch.local/etcd
go 1.26
require go.etcd.io/etcd/server/v3 $ETCD_VERSION
replace (
	go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 => go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/v3 => go.etcd.io/etcd/client/v3 $ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 => go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
)
MOD
  cat > "$w/main.go" <<'GO'
// Command etcd runs the etcd server (etcdmain), for the tests' envtest.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$w" && GOFLAGS=-mod=mod go build -o "$bin/etcd" .)
  echo "go.etcd.io/etcd/server/v3@$ETCD_VERSION" > "$bin/etcd.version"
  rm -rf "$w"
  trap - EXIT
  echo "tools: etcd built in $((SECONDS - start))s" >&2
fi

# CRDs for the envtest API server, from pinned modules:
# - prometheus-operator (PodMonitor, PrometheusRule, AlertmanagerConfig,
#   ScrapeConfig, …) for server-side dry-runs of render's output;
# - Istio (Gateway, VirtualService, EnvoyFilter, …; istio.io/api, the
#   version of the istio/proxyv2 image the tests name) and the Gateway API
#   standard channel, for explain --kube.
OPERATOR_CRD_VERSION=v0.85.0
ISTIO_API_VERSION=v1.28.0
GATEWAY_API_VERSION=v1.4.0
crds="${GATEWATCH_CRDS_DIR:-$root/.cache/crds}"
stamp="$OPERATOR_CRD_VERSION istio.io/api@$ISTIO_API_VERSION gateway-api@$GATEWAY_API_VERSION"
if [ "$(cat "$crds/.version" 2>/dev/null)" != "$stamp" ]; then
  moddir() { GOFLAGS=-mod=mod go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'; }
  op=$(moddir "github.com/prometheus-operator/prometheus-operator@$OPERATOR_CRD_VERSION")
  istio=$(moddir "istio.io/api@$ISTIO_API_VERSION")
  gwapi=$(moddir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")
  rm -rf "$crds" && mkdir -p "$crds"
  cp "$op"/example/prometheus-operator-crd/*.yaml "$crds/"
  cp "$istio"/kubernetes/customresourcedefinitions.gen.yaml "$crds/istio-crds.yaml"
  cp "$gwapi"/config/crd/standard/gateway.networking.k8s.io_*.yaml "$crds/"
  chmod u+w "$crds"/*.yaml
  echo "$stamp" > "$crds/.version"
  echo "tools: CRDs ($stamp) in $crds" >&2
fi
