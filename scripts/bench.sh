#!/usr/bin/env bash
# Runs the benchmarks and writes BENCHMARKS.md: the machine, then each
# benchmark's median over several runs, gatewatch's rule beside the runbook's.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${BENCH_COUNT:-5}
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
go test -run '^$' -bench . -benchmem -count "$count" ./... | tee "$raw"

{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` ($(date -u +%Y-%m-%dT%H:%MZ)); median of $count runs."
  echo
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB, $(go version | cut -d' ' -f3-4)"
  echo
  echo "## Rule evaluation: generated 421 rule vs the runbook's rule"
  echo
  echo "One instant evaluation on a TSDB holding 20 minutes of 15 s scrapes of a"
  echo "gateway fleet (both reporters, three codes per route) in which one 421"
  echo "series appeared a minute ago. \`alerts\` is how many alerts the rule"
  echo "returned: the runbook's rule misses the new 421 series."
  echo
  echo "| benchmark | ns/op (median) | B/op | allocs/op | alerts |"
  echo "|---|---:|---:|---:|---:|"
  awk '/^Benchmark/ {
      name=$1; sub(/-[0-9]+$/, "", name)
      for (i=3; i<=NF; i++) { if ($(i+1)=="ns/op") ns[name]=ns[name] " " $i; if ($(i+1)=="B/op") bo[name]=$i; if ($(i+1)=="allocs/op") al[name]=$i; if ($(i+1)=="alerts") at[name]=$i }
      if (!(name in seen)) { seen[name]=1; order[++n]=name }
    }
    END {
      for (k=1; k<=n; k++) {
        name=order[k]; m=split(substr(ns[name],2), v, " ")
        for (i=1;i<=m;i++) for (j=i+1;j<=m;j++) if (v[j]+0 < v[i]+0) { t=v[i]; v[i]=v[j]; v[j]=t }
        med = (m%2) ? v[(m+1)/2] : (v[m/2]+v[m/2+1])/2
        printf "| %s | %.0f | %s | %s | %s |\n", name, med, bo[name], al[name], (name in at) ? at[name] : "-"
      }
    }' "$raw"
  echo
  echo "<details><summary>raw output</summary>"
  echo
  echo '```'
  grep -E '^(Benchmark|goos|goarch|cpu|pkg)' "$raw"
  echo '```'
  echo "</details>"
} > BENCHMARKS.md
echo "wrote BENCHMARKS.md"
