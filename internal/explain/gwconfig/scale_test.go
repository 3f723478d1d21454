package gwconfig

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConflictGroups: servers claiming one name are one conflict however
// many they are; a wildcard and the names within it are one conflict with
// the servers listing those names.
func TestConflictGroups(t *testing.T) {
	const n = 300
	docs := []string{ingressService, tlsSecret(t, "istio-system", "wildcard", "*.example.com")}
	for i := range n {
		docs = append(docs, istioGW("v1", "apps", fmt.Sprintf("catchall-%d", i), "istio=ingressgateway", "wildcard", "*"))
	}
	docs = append(docs, istioGW("v1", "apps", "wild", "istio=ingressgateway", "wildcard", "*.example.com"))
	for i := range n {
		docs = append(docs, istioGW("v1", "apps", fmt.Sprintf("team-%d", i), "istio=ingressgateway", "wildcard", fmt.Sprintf("team-%d.example.com", i)))
	}
	a := analyze(t, docs...)
	cs := conflicts(t, a)
	require.Len(t, cs, 2)

	star := cs[0]
	require.Equal(t, []string{"*"}, star.Hosts)
	require.True(t, star.Identical)
	require.Len(t, star.Servers, n)
	require.Len(t, star.Within, n+1, "the wildcard server and every team's server list names within *")
	require.Equal(t, "the same gateway pods (selector istio=ingressgateway)", star.Pods)
	require.Contains(t, star.Reason, fmt.Sprintf("%d servers across %d Gateways (Gateway apps/catchall-0 servers[0] port 443, ", n, n))

	wild := cs[1]
	require.Equal(t, []string{"*.example.com"}, wild.Hosts)
	require.False(t, wild.Identical)
	require.Equal(t, []string{"apps/wild"}, []string{wild.Servers[0].Gateway})
	require.Len(t, wild.Within, n)
	require.Equal(t, []string{"team-0.example.com"}, wild.Within[0].Hosts)
	require.Contains(t, wild.Reason, fmt.Sprintf("the wildcard *.example.com of Gateway apps/wild servers[0] port 443 covers names that %d other servers list on port 443", n))
}

// TestCoalescingGroupAcrossAddresses: Gateway API Gateways get a deployment
// each, so one wildcard certificate on many of them is one harmless group
// with an address per server.
func TestCoalescingGroupAcrossAddresses(t *testing.T) {
	const n = 200
	docs := []string{tlsSecret(t, "web", "wildcard", "*.example.com")}
	for i := range n {
		docs = append(docs, fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw-%d, namespace: web}
spec:
  gatewayClassName: istio
  listeners:
  - {name: https, hostname: team-%d.example.com, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: wildcard}]}}
`, i, i))
	}
	gs := coalescingGroups(t, analyze(t, docs...))
	require.Len(t, gs, 1)
	g := gs[0]
	require.False(t, g.Coalescing, "every Gateway has its own address")
	require.Len(t, g.Servers, n)
	require.Len(t, g.Listeners, n)
	require.Equal(t, n, g.Covered)
	require.NotNil(t, g.Example)
	require.False(t, g.Example.SharesAddress)
	require.Contains(t, g.Reason, fmt.Sprintf("on %d addresses and ports (browsers coalesce on 0 of them)", n))
}
