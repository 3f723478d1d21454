package spec

import (
	"fmt"
	"slices"
	"strings"
)

// Kind is what the spec needs to know of one alert kind: its name, the
// alertname it gets by default, whether it is on when the file does not
// mention it, which kind-specific keys it takes, and how to default and
// validate them. The kinds themselves — with their expressions, message
// fields and scenarios — are declared in package rules, one file each, and
// reach the loader as a parameter (rules.SpecKinds()) because rules builds
// on spec.
type Kind struct {
	// Name is the value of an alert's kind key, e.g. "misdirected-request".
	Name string
	// AlertName is the alertname an alert of this kind gets by default.
	AlertName string
	// Implicit kinds are added, with their defaults, to every spec whose
	// alerts list has no entry of that kind (an entry can turn one off).
	Implicit bool
	// RoutedWith names the kind whose routing this one follows: when
	// routing.alerts names an alert of that kind, the alerts of this kind
	// are delivered too ("" for none).
	RoutedWith string
	// Keys are the kind-specific keys (KindKeys) an alert of this kind
	// takes; writing any other is an error.
	Keys []string
	// ForMayExceedWindow is true for kinds whose condition holds while
	// traffic continues (ratios); counts of single requests last one
	// window only, so a `for` as long as the window would never fire.
	ForMayExceedWindow bool
	// DefaultFor is the alert's `for` when the file does not set it.
	DefaultFor Duration
	// DefaultWindow is the alert's window when the file does not set it
	// (0: DefaultWindow).
	DefaultWindow Duration
	// Defaults fills the kind's keys left empty (nil: none).
	Defaults func(a *Alert)
	// Validate checks the kind's keys (nil: nothing beyond the shared checks).
	Validate func(a Alert, report Report)
}

// Report records a problem with one key of an alert ("" for the alert
// itself), at that key's line.
type Report func(key, format string, args ...any)

// KindKeys are the alert keys that only some kinds take.
func KindKeys() []string {
	return []string{"response_code", "response_flags", "threshold", "min_request_rate"}
}

// Kinds is the catalogue of alert kinds the loader accepts. The first kind
// is the default for an alert without a kind key.
type Kinds []Kind

// Lookup returns the kind named name.
func (ks Kinds) Lookup(name string) (Kind, bool) {
	i := slices.IndexFunc(ks, func(k Kind) bool { return k.Name == name })
	if i < 0 {
		return Kind{}, false
	}
	return ks[i], true
}

// Names returns the kind names in catalogue order.
func (ks Kinds) Names() []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.Name
	}
	return out
}

// takers returns the kinds that take key, for an error's hint.
func (ks Kinds) takers(key string) []string {
	var out []string
	for _, k := range ks {
		if slices.Contains(k.Keys, key) {
			out = append(out, k.Name)
		}
	}
	return out
}

// validateKind runs the kind's own checks: that it exists, that only keys
// it takes are written, and its Validate.
func (a Alert) validateKind(v *validator, kinds Kinds) (Kind, bool) {
	k, ok := kinds.Lookup(a.Kind)
	if !ok {
		v.errorf(a.path+".kind", "unknown kind %q: use one of %s", a.Kind, strings.Join(kinds.Names(), ", "))
		return Kind{}, false
	}
	for _, key := range KindKeys() {
		if !v.lines.has(a.path+"."+key) || slices.Contains(k.Keys, key) {
			continue
		}
		msg := fmt.Sprintf("kind %s does not take %s", k.Name, key)
		if t := kinds.takers(key); len(t) > 0 {
			msg += " (kinds that do: " + strings.Join(t, ", ") + ")"
		}
		v.errorf(a.path+"."+key, "%s", msg)
	}
	if k.Validate != nil {
		k.Validate(a, func(key, format string, args ...any) {
			p := a.path
			if key != "" {
				p += "." + key
			}
			v.errorf(p, format, args...)
		})
	}
	return k, true
}
