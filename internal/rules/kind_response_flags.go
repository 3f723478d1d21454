package rules

import (
	"fmt"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// KindResponseFlags counts responses whose Envoy response_flags match a
// regex (NR no route, UH no healthy upstream, UF upstream connect failure).
const KindResponseFlags = "response-flags"

func responseFlags() Kind {
	return countKind(Kind{
		Kind: spec.Kind{
			Name:      KindResponseFlags,
			AlertName: "GatewayResponseFlags",
			Keys:      []string{"response_flags"},
			Validate: func(a spec.Alert, report spec.Report) {
				requireKey(report, KindResponseFlags, "response_flags", a.ResponseFlags, "NR or UH|UF")
			},
		},
		Doc:      "responses whose Envoy response_flags match a regex (NR, UH, UF, …)",
		Matchers: func(a spec.Alert) []string { return []string{matcher("response_flags", a.ResponseFlags)} },
		Annotations: func(g spec.Gateway, a spec.Alert, t Text) map[string]string {
			return map[string]string{
				"summary":     fmt.Sprintf("Gateway %s served responses with Envoy flags %s", g.Name, a.ResponseFlags),
				"description": fmt.Sprintf("%s response(s) with response_flags %s served by %s%s in the last %s.", t.Count, a.ResponseFlags, t.Where, t.Pod, a.Window),
				"count":       t.Count,
				"count_name":  "Responses",
			}
		},
	}, func(a spec.Alert) (string, string) {
		// Envoy's response flags (access log short names).
		f, _ := firstMatch(a.ResponseFlags, []string{"NR", "UH", "UF", "UO", "URX", "UC", "UT", "UR", "LH", "LR", "DC", "DI", "FI", "RL", "UAEX", "RLSE", "IH", "SI", "DPE", "UPE", "UMSDR", "OM", "DF"})
		switch f {
		case "":
			return "", ""
		case "NR":
			return "404", f
		}
		return "503", f
	})
}
