package rules

import (
	"fmt"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// KindMisdirectedRequest counts HTTP 421 responses: what gatewatch is for,
// on by default.
const KindMisdirectedRequest = "misdirected-request"

func misdirectedRequest() Kind {
	return countKind(Kind{
		Kind: spec.Kind{
			Name:      KindMisdirectedRequest,
			AlertName: "GatewayMisdirectedRequest421",
			Implicit:  true,
		},
		Doc:      "HTTP 421 Misdirected Request responses served by the gateway",
		Matchers: func(spec.Alert) []string { return []string{`response_code="421"`} },
		Annotations: func(g spec.Gateway, a spec.Alert, t Text) map[string]string {
			return map[string]string{
				"summary": fmt.Sprintf("Gateway %s returned HTTP 421 Misdirected Request", g.Name),
				"description": fmt.Sprintf("%s misdirected request(s) (HTTP 421) served by %s%s in the last %s. "+
					"Usually a client reused an HTTP/2 connection opened for another host whose certificate also covers this one; "+
					"`gatewatch explain` shows the hosts involved and the fix.", t.Count, t.Where, t.Pod, a.Window),
				"count":      t.Count,
				"count_name": "421s",
			}
		},
		Runbook: true,
	}, func(spec.Alert) (string, string) { return "421", "-" })
}
