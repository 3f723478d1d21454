package render

// Label limits on every scrape gatewatch runs (the embedded engine loads
// render's scrape configuration) and renders (scrape_configs, PodMonitor,
// ScrapeConfig, helm values): Prometheus's label_limit,
// label_name_length_limit and label_value_length_limit, unset (no limit)
// by default. A sample over them fails the whole scrape with the reason,
// and the target is down: far better than a series whose labels are
// megabytes. istio_requests_total carries about 25 labels plus the target's,
// with values of at most a few hundred bytes (SPIFFE principals, FQDNs).
const (
	LabelLimit            = 64
	LabelNameLengthLimit  = 256
	LabelValueLengthLimit = 4096
)

// labelLimits is the same three limits as the operator's CRDs take them.
func labelLimits() (limit, nameLength, valueLength *int64) {
	return ptr(int64(LabelLimit)), ptr(int64(LabelNameLengthLimit)), ptr(int64(LabelValueLengthLimit))
}

// Resources of each replica of the standalone StatefulSet (every replica
// scrapes and evaluates on its own, so each needs the whole budget).
// `run` steadies at 60–70 MiB for 1 to 20 gateway pods with realistic
// (3 MB) pages; a 100 MB page costs a peak of about 164 MB, because the
// stats-page filter streams it and passes on only the kept lines (at most
// 32 MiB a page). The container's own memory limit reaches `run` through
// the downward API (MemoryLimitEnv), and `run` sets the Go runtime's soft
// limit to --auto-gomemlimit.ratio (80 %) of it, so the runtime collects
// harder before the kernel's OOM kill would (BENCHMARKS.md, issue 15: 702 →
// 471 MiB peak for +5 % CPU), and a changed limit needs no second edit.
const (
	StandaloneCPURequest    = "50m"
	StandaloneMemoryRequest = "128Mi"
	StandaloneMemoryLimit   = "512Mi"
	// MemoryLimitEnv carries the container's memory limit in bytes
	// (resourceFieldRef limits.memory) to `run`.
	MemoryLimitEnv = "GATEWATCH_MEMORY_LIMIT"
)
