package spec

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// typeError reports a bad scalar without stopping the decoder, so every
// problem in the file is reported at once (yaml.v3 collects *yaml.TypeError).
func typeError(node *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", node.Line, fmt.Sprintf(format, args...))}}
}

// Duration is a Prometheus-style duration ("30s", "5m", "1h30m").
type Duration time.Duration

// UnmarshalYAML parses a Prometheus duration.
func (d *Duration) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode {
		return typeError(node, "expected a duration such as 30s or 5m")
	}
	v, err := model.ParseDuration(node.Value)
	if err != nil {
		return typeError(node, "bad duration %q: use a number and a unit (ms, s, m, h, d, w, y) such as 30s or 5m", node.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration in Prometheus form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// String formats the duration as Prometheus does ("5m", "1h30m").
func (d Duration) String() string { return model.Duration(d).String() }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Port is a container port given by name or number.
type Port struct {
	Name   string
	Number int
}

// UnmarshalYAML accepts a port name or number.
func (p *Port) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode || node.Value == "" {
		return typeError(node, "expected a port name or number")
	}
	if n, err := strconv.Atoi(node.Value); err == nil {
		if n < 1 || n > 65535 {
			return typeError(node, "port %d is out of range 1-65535", n)
		}
		*p = Port{Number: n}
		return nil
	}
	*p = Port{Name: node.Value}
	return nil
}

// MarshalYAML writes the name or the number.
func (p Port) MarshalYAML() (any, error) {
	if p.Name != "" {
		return p.Name, nil
	}
	return p.Number, nil
}

// IsZero reports whether no port was given.
func (p Port) IsZero() bool { return p.Name == "" && p.Number == 0 }

// String returns the name or the number.
func (p Port) String() string {
	if p.Name != "" {
		return p.Name
	}
	return strconv.Itoa(p.Number)
}

// Secret holds a value that must never be printed: the Mattermost webhook
// URL carries the key that lets anyone post. Like Alertmanager's SecretURL it
// prints and marshals as "<secret>"; Reveal returns the value for the one
// place that needs it (the HTTP request).
type Secret string

const secretMask = "<secret>"

// String masks the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return secretMask
}

// GoString masks the value for %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalYAML masks the value.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON masks the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText masks the value (log/slog and encoding use it).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// MarshalJSON writes the duration in Prometheus form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }
