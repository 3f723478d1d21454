package rules

import (
	"fmt"
	"strconv"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// KindResponseCode counts responses whose response_code matches a regex.
const KindResponseCode = "response-code"

func responseCode() Kind {
	return countKind(Kind{
		Kind: spec.Kind{
			Name:      KindResponseCode,
			AlertName: "GatewayResponseCode",
			Keys:      []string{"response_code"},
			Validate: func(a spec.Alert, report spec.Report) {
				requireKey(report, KindResponseCode, "response_code", a.ResponseCode, "5.. or 404")
			},
		},
		Doc:      "responses whose response_code matches a regex",
		Matchers: func(a spec.Alert) []string { return []string{matcher("response_code", a.ResponseCode)} },
		Annotations: func(g spec.Gateway, a spec.Alert, t Text) map[string]string {
			return map[string]string{
				"summary":     fmt.Sprintf("Gateway %s returned HTTP %s", g.Name, a.ResponseCode),
				"description": fmt.Sprintf("%s response(s) with code %s served by %s%s in the last %s.", t.Count, a.ResponseCode, t.Where, t.Pod, a.Window),
				"count":       t.Count,
				"count_name":  "Responses",
			}
		},
	}, func(a spec.Alert) (string, string) {
		code, _ := firstMatch(a.ResponseCode, httpCodes())
		return code, "-"
	})
}

// httpCodes are the candidate response codes a scenario may use.
func httpCodes() []string {
	out := make([]string, 0, 500)
	for c := 100; c < 600; c++ {
		out = append(out, strconv.Itoa(c))
	}
	return out
}
