#!/usr/bin/env bash
# Builds the real Prometheus and Alertmanager tools the integration tests run,
# from the module versions pinned in ../shared/DESIGN.md, into .cache/bin.
# Idempotent: a tool is rebuilt only when its pinned version changes.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="${GATEWATCH_TOOLS_DIR:-$root/.cache/bin}"
mkdir -p "$bin"

PROMETHEUS_VERSION=v0.316.0   # Prometheus 3.16: promtool
AMTOOL_VERSION=v0.35.0        # amtool
AM_SERVER_VERSION=v0.31.1     # the Alertmanager server version DESIGN.md pins: its
                              # config loader checks rendered mattermost_configs
HELM_VERSION=v3.22.0          # helm: lint and template the chart (charts/gatewatch)

build() { # name module version [version variable for -X]
  local name=$1 mod=$2 ver=$3 vvar=${4:-github.com/prometheus/common/version.Version=${3#v}}
  if [ -x "$bin/$name" ] && [ "$(cat "$bin/$name.version" 2>/dev/null)" = "$mod@$ver" ]; then
    return 0
  fi
  echo "tools: building $name from $mod@$ver (first run takes a few minutes)" >&2
  local start=$SECONDS tmp
  tmp=$(mktemp -d)
  GOBIN="$tmp" GOFLAGS=-buildvcs=false go install \
    -ldflags "-X $vvar" "$mod@$ver"
  mv "$tmp/$(basename "$mod")" "$bin/$name"
  rm -rf "$tmp"
  echo "$mod@$ver" > "$bin/$name.version"
  echo "tools: $name built in $((SECONDS - start))s" >&2
}

build promtool github.com/prometheus/prometheus/cmd/promtool "$PROMETHEUS_VERSION"
build amtool github.com/prometheus/alertmanager/cmd/amtool "$AMTOOL_VERSION"
build amtool-0.31 github.com/prometheus/alertmanager/cmd/amtool "$AM_SERVER_VERSION"
# The servers: doctor's integration test and `make bench` run them.
build prometheus github.com/prometheus/prometheus/cmd/prometheus "$PROMETHEUS_VERSION"
build alertmanager github.com/prometheus/alertmanager/cmd/alertmanager "$AM_SERVER_VERSION"
build helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" "helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
