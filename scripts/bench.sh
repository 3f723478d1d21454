#!/usr/bin/env bash
# make bench: builds the comparison servers (Prometheus, Alertmanager) from
# the pinned versions, runs the end-to-end measurements (test/bench) and the
# Go micro-benchmarks, and writes BENCHMARKS.md from that run. Takes about
# 15 minutes.
# `scripts/bench.sh --micro-only` re-runs only the Go micro-benchmarks and
# replaces their section.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--micro-only" ]; then
  python3 - <<'PY'
import re
p = "BENCHMARKS.md"
s = open(p).read()
i = s.find("\n### Go micro-benchmarks")
open(p, "w").write(s if i < 0 else s[:i] + "\n")
PY
else
  ./scripts/tools.sh
  go build -o bin/gatewatch ./cmd/gatewatch
  go run ./test/bench -tools "${GATEWATCH_TOOLS_DIR:-.cache/bin}" -gatewatch bin/gatewatch -out BENCHMARKS.md "$@"
fi

count=${BENCH_COUNT:-5}
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
go test -run '^$' -bench . -benchmem -count "$count" ./internal/... | tee "$raw" >&2
{
  echo
  echo "### Go micro-benchmarks (median of $count runs, commit $(git rev-parse --short HEAD))"
  echo
  echo "\`BenchmarkRuleEval\`: one instant evaluation of the generated 421 rule and, side by side, of the"
  echo "runbook's rule, on a TSDB holding 20 minutes of 15 s scrapes of a gateway fleet (both reporters,"
  echo "three codes per route) in which one 421 series appeared a minute ago. \`alerts\` is what each"
  echo "returned: the runbook's rule misses the new series."
  echo
  echo "\`BenchmarkExplainRun\`: \`gatewatch explain\`'s whole analysis (parse, group, resolve against the"
  echo "demo configuration, verdict) of one gateway's access log of 50 000 requests, 2% of them coalesced 421s,"
  echo "in Istio's text and JSON formats — what a 421 message's enrichment does within \`explain.timeout\` (2 s)."
  echo "\`BenchmarkStateSave\`: what saving the state on every change costs (issue 12): \`notification\` is one notification-log entry written and the whole log (100 groups) saved and fsynced before the pipeline counts the post as sent; \`silence\` one silence created and the silences (100 and more) saved before the API answers."
  echo "\`BenchmarkRuleParts\`: the generated rule's selections at 300 pods, one by one: the terms over the 421 series alone, and the per-target guards (every target's \`up\` history and uptime) that make it first-421-safe — the part of its cost the runbook's rule does not pay."
  echo "\`BenchmarkFilter\`: one 10 MB Envoy page (80 % \`envoy_cluster_*\`) through the stats-page filter in front of Prometheus's parser (MB/s of page read)."
  echo "\`BenchmarkParseText\`: the access-log parser alone (\`format\`, \`json\`: one line per op; \`reader\`: a batch through the streaming reader with per-line format detection)."
  echo
  echo "| benchmark | ns/op | B/op | allocs/op | alerts | lines/s | MB/s |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  awk '/^Benchmark/ {
      name=$1; sub(/-[0-9]+$/, "", name)
      for (i=3; i<=NF; i++) { if ($(i+1)=="ns/op") ns[name]=ns[name] " " $i; if ($(i+1)=="B/op") bo[name]=$i; if ($(i+1)=="allocs/op") al[name]=$i; if ($(i+1)=="alerts") at[name]=$i; if ($(i+1)=="lines/s") ls[name]=$i; if ($(i+1)=="MB/s") mb[name]=$i }
      if (!(name in seen)) { seen[name]=1; order[++n]=name }
    }
    END {
      for (k=1; k<=n; k++) {
        name=order[k]; m=split(substr(ns[name],2), v, " ")
        for (i=1;i<=m;i++) for (j=i+1;j<=m;j++) if (v[j]+0 < v[i]+0) { t=v[i]; v[i]=v[j]; v[j]=t }
        med = (m%2) ? v[(m+1)/2] : (v[m/2]+v[m/2+1])/2
        printf "| %s | %.0f | %s | %s | %s | %s | %s |\n", name, med, bo[name], al[name], (name in at) ? at[name] : "-", (name in ls) ? ls[name] : "-", (name in mb) ? mb[name] : "-"
      }
    }' "$raw"
} >> BENCHMARKS.md
echo "wrote BENCHMARKS.md" >&2
