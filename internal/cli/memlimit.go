package cli

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/KimMachineGun/automemlimit/memlimit"

	"github.com/gatewatch/gatewatch/internal/render"
)

// setMemoryLimit sets the Go runtime's soft memory limit (GOMEMLIMIT) to
// ratio of the container's memory limit, as Prometheus's
// --auto-gomemlimit.ratio does: the limit comes from the downward API
// (render.MemoryLimitEnv, which render's StatefulSet sets from
// limits.memory), else from the cgroup. An explicit GOMEMLIMIT wins; ratio
// 0 turns it off; no limit anywhere leaves the runtime's default.
func setMemoryLimit(ratio float64, logger *slog.Logger) error {
	if ratio == 0 {
		return nil
	}
	if ratio < 0 || ratio > 1 {
		return fmt.Errorf("--auto-gomemlimit.ratio %v: give a fraction in (0, 1], or 0 to turn it off", ratio)
	}
	provider := memlimit.FromCgroup
	source := "cgroup"
	if v := strings.TrimSpace(os.Getenv(render.MemoryLimitEnv)); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			return fmt.Errorf("%s=%q: want the memory limit in bytes (the downward API's limits.memory)", render.MemoryLimitEnv, v)
		}
		provider, source = memlimit.Limit(n), render.MemoryLimitEnv
	}
	limit, err := memlimit.Set(memlimit.WithRatio(ratio), memlimit.WithProvider(provider))
	if err != nil {
		// No cgroup (a workstation, macOS): nothing to follow.
		logger.Debug("GOMEMLIMIT not set from a container limit", "err", err)
		return nil
	}
	if _, explicit := os.LookupEnv("GOMEMLIMIT"); explicit {
		logger.Info("GOMEMLIMIT set in the environment; --auto-gomemlimit.ratio not applied", "limit_bytes", limit)
		return nil
	}
	if limit > 0 && limit < 1<<62 {
		logger.Info("Go memory limit set from the container's", "source", source, "ratio", ratio, "limit_bytes", limit)
	}
	return nil
}
