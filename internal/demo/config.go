package demo

import (
	"time"

	"github.com/gatewatch/gatewatch/internal/demo/fixtures"
	"github.com/gatewatch/gatewatch/internal/explain/gwconfig"
)

// GatewayConfig is the demo gateway's configuration
// (fixtures.DemoGatewayConfigYAML), loaded for explain.
func GatewayConfig(now time.Time) (*gwconfig.Config, error) {
	b, err := fixtures.DemoGatewayConfigYAML(now)
	if err != nil {
		return nil, err
	}
	return gwconfig.Load(gwconfig.Document{Name: "demo-gateway-config.yaml", Data: b}), nil
}
