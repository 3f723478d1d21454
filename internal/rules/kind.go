package rules

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// Kind is one alert kind, declared whole in one file (kind_*.go): what the
// spec takes for it (spec.Kind: keys, defaults, validation), the requests
// it counts, its expression, the annotations its message shows, and the
// scenarios that prove it. Adding a kind is one new file, an entry in
// Kinds, and its sections in docs/rules.md and docs/spec.md (a test fails
// without them).
type Kind struct {
	spec.Kind
	// Doc is one line on what the kind alerts on (docs and `gatewatch test`).
	Doc string
	// Matchers are the kind's own matchers on istio_requests_total, after
	// the gateway's (nil: none).
	Matchers func(a spec.Alert) []string
	// Expr is the alert expression at a gateway.
	Expr func(g spec.Gateway, a spec.Alert) string
	// Annotations are the kind's annotations: summary, description and
	// the message fields (count and count_name, or ratio). The shared ones
	// (window, runbook_url, the spec's own) are added by ForAlert. They
	// are Prometheus templates; g and a arrive with their strings already
	// escaped as literal template text (spec.Literal), so a kind pastes
	// them with %s and a brace in a spec value is printed, never run.
	Annotations func(g spec.Gateway, a spec.Alert, t Text) map[string]string
	// Scenarios is the kind's suite for alert a at gateway g, run by
	// `gatewatch test` and written for `promtool test rules`.
	Scenarios func(g spec.Gateway, a spec.Alert) []Scenario
	// Runbook is true when the runbook's original 421 rule is run on the
	// same scenarios for comparison.
	Runbook bool
}

// Text holds the template fragments every kind's annotations share.
type Text struct {
	// Where names the gateway: "gateway G (workload W) in namespace N".
	Where string
	// Pod is ", pod P" when the alert has a pod label (per: pod).
	Pod string
	// Count is the alert's value formatted as a whole number.
	Count string
}

// Kinds returns every alert kind, the default kind first.
func Kinds() []Kind {
	return []Kind{misdirectedRequest(), statsDown(), responseCode(), responseFlags(), errorRatio()}
}

// SpecKinds returns what the spec loader needs of every kind:
// spec.Load(path, rules.SpecKinds()).
func SpecKinds() spec.Kinds {
	ks := Kinds()
	out := make(spec.Kinds, len(ks))
	for i, k := range ks {
		out[i] = k.Kind
	}
	return out
}

// KindOf returns the kind of alert a.
func KindOf(a spec.Alert) (Kind, bool) {
	for _, k := range Kinds() {
		if k.Name == a.Kind {
			return k, true
		}
	}
	return Kind{}, false
}

// mustKind returns the kind of a validated alert; an alert that did not
// come through spec.Load with these kinds is a programming error.
func mustKind(a spec.Alert) Kind {
	k, ok := KindOf(a)
	if !ok {
		panic(fmt.Sprintf("rules: alert %q has unknown kind %q", a.Name, a.Kind))
	}
	return k
}

// countKind fills what the kinds that count requests share: a threshold
// that is a count, `for` shorter than the window, the first-421-safe
// expression over the kind's matchers, and the count scenario suite with
// sample(a) as the counted response's code and flags.
func countKind(k Kind, sample func(a spec.Alert) (code, flags string)) Kind {
	k.Keys = append(k.Keys, "threshold")
	validate := k.Validate
	k.Validate = func(a spec.Alert, report spec.Report) {
		if a.Threshold < 0 {
			report("threshold", "threshold must not be negative")
		}
		if validate != nil {
			validate(a, report)
		}
	}
	k.Expr = countExpr
	k.Scenarios = func(g spec.Gateway, a spec.Alert) []Scenario {
		code, flags := sample(a)
		return countScenarios(g, a, code, flags)
	}
	return k
}

// requireKey reports key as missing when val is empty.
func requireKey(report spec.Report, kind, key, val, example string) {
	if val == "" {
		report(key, "kind %s needs %s (a regex such as %s)", kind, key, example)
	}
}

var plainValue = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// matcher is name="re" for a plain value and name=~"re" for a regex.
func matcher(name, re string) string {
	if plainValue.MatchString(re) {
		return fmt.Sprintf("%s=%q", name, re)
	}
	return fmt.Sprintf("%s=~%q", name, re)
}

// firstMatch returns the first candidate the anchored regex re matches.
func firstMatch(re string, candidates []string) (string, bool) {
	r := regexp.MustCompile("^(?:" + re + ")$")
	for _, c := range candidates {
		if r.MatchString(c) {
			return c, true
		}
	}
	return "", false
}

func join(m []string) string { return strings.Join(m, ", ") }
