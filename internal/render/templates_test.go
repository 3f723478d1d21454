package render

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	amconfig "github.com/prometheus/alertmanager/config"
	amtemplate "github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// The property: for every spec that validation accepts, every target's
// rule output parses with Prometheus's rule parser, every Alertmanager
// configuration loads with Alertmanager's and its templates execute, and the
// spec's plain values come out of the templates exactly as written.

// tokens are what the generated strings are made of: template syntax,
// quoting, escapes, newlines, unicode.
var tokens = []string{
	"{{", "}}", "{", "}", `"`, "'", `\`, "\n", "`", " ", "|", "$", ".", "-", "end", `query "up"`,
	".Status", "ü", "🚀", "\t", "a", "7", "/*", "*/", ":", "#", "%s", "@", ",", "(", ")", "[", "]", "*", "&", "<b>",
}

type gen struct{ r *rand.Rand }

func (g gen) chance(p float64) bool { return g.r.Float64() < p }

func (g gen) str() string {
	var b strings.Builder
	for range g.r.IntN(9) {
		b.WriteString(tokens[g.r.IntN(len(tokens))])
	}
	return b.String()
}

// name is usually a valid DNS label, sometimes anything.
func (g gen) name(prefix string) string {
	if g.chance(0.03) {
		return g.str()
	}
	return fmt.Sprintf("%s%d", prefix, g.r.IntN(1000))
}

// url is a URL path, usually without the control characters a URL
// cannot hold.
func (g gen) url() string {
	s := g.str()
	if g.chance(0.9) {
		s = strings.NewReplacer("\n", "", "\t", "", "%s", "").Replace(s)
	}
	return s
}

// regexTokens make strings that are usually valid regexes.
var regexTokens = []string{"{{", "}}", "{", "}", `"`, "'", `\\`, `\n`, "\n", " ", "|", "$", ".", "-", "end", `query "up"`, "ü", "🚀", "a", "7", "(a)", "[x]", ":"}

// regex is usually a valid regex with template syntax in it.
func (g gen) regex() string {
	if g.chance(0.05) {
		return g.str() + "x"
	}
	var b strings.Builder
	for range 1 + g.r.IntN(8) {
		b.WriteString(regexTokens[g.r.IntN(len(regexTokens))])
	}
	return b.String()
}

// key is usually one of keys, sometimes an invalid name.
func (g gen) key(keys []string) string {
	if g.chance(0.015) {
		return []string{"bad-key", "9x", "", "ü"}[g.r.IntN(4)]
	}
	return keys[g.r.IntN(len(keys))]
}

// template is a label or annotation value: usually the generated text
// escaped by the user (it must expand to itself), else raw.
func (g gen) template() (value, literal string, isLiteral bool) {
	s := g.str()
	if g.chance(0.9) {
		return spec.Literal(s), s, true
	}
	return s, "", false
}

// generated is one generated spec and what its templates must expand to.
type generated struct {
	yaml []byte
	// literals maps "alertname/labels|annotations/key" to the text a
	// user-escaped value must expand to.
	literals map[string]string
}

func (g gen) spec() generated {
	out := generated{literals: map[string]string{}}
	userMap := func(alert, what string, keys []string) map[string]string {
		m := map[string]string{}
		for range g.r.IntN(3) {
			k := g.key(keys)
			v, lit, ok := g.template()
			m[k] = v
			if ok {
				out.literals[alert+"/"+what+"/"+k] = lit
			} else {
				delete(out.literals, alert+"/"+what+"/"+k)
			}
		}
		return m
	}
	severity := func() string {
		if g.chance(0.01) {
			return g.str()
		}
		return []string{"info", "warning", "critical"}[g.r.IntN(3)]
	}
	alertName := func(def string) string {
		if g.chance(0.01) {
			return g.str()
		}
		return def
	}
	labelKeys := []string{"team", "owner", "x_1"}
	annKeys := []string{"note", "dashboard", "x_1"}
	var alerts []map[string]any
	var names []string
	for _, k := range []struct{ kind, name, key string }{
		{rules.KindMisdirectedRequest, "GatewayMisdirectedRequest421", ""},
		{rules.KindResponseCode, "GatewayResponseCode", "response_code"},
		{rules.KindResponseFlags, "GatewayResponseFlags", "response_flags"},
		{rules.KindErrorRatio, "GatewayErrorRatio", "response_code"},
	} {
		name := alertName(k.name)
		a := map[string]any{
			"kind": k.kind, "name": name, "severity": severity(),
			"labels": userMap(name, "labels", labelKeys), "annotations": userMap(name, "annotations", annKeys),
		}
		if k.key != "" {
			a[k.key] = g.regex()
		}
		if k.kind == rules.KindErrorRatio {
			a["threshold"] = 0.05
		}
		if g.chance(0.5) {
			a["runbook_url"] = "https://runbooks.example.com/" + g.url()
		}
		alerts = append(alerts, a)
		names = append(names, name)
	}
	doc := map[string]any{
		"gateways": []map[string]any{{
			"name": g.name("gw"), "namespace": g.name("ns"), "workload": g.str() + "w", "selector": "app=gw",
		}},
		"alerts": alerts,
		"mattermost": map[string]any{
			"webhook_url":      "https://mattermost.example.com/hooks/abc",
			"channel":          g.str(),
			"username":         g.str(),
			"icon_url":         "https://icons.example.com/" + g.url(),
			"icon_emoji":       g.str(),
			"mention_critical": "@" + g.str(),
		},
		"routing": map[string]any{"alerts": names},
		"cluster": map[string]any{"alertmanager": map[string]any{"version": []string{"0.28.1", "0.31.1"}[g.r.IntN(2)]}},
	}
	// JSON is YAML, and its quoting survives any string (yaml.v3's block
	// style does not: a multi-line value with leading spaces comes out
	// unreadable).
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err)
	}
	out.yaml = b
	return out
}

// TestRenderedTemplatesProperty generates specs with template syntax,
// quotes, backslashes, newlines and unicode in every string that reaches a
// rule or the Alertmanager configuration. Each is either refused by
// validation (every problem with file:line) or renders, for every target,
// rule files that Prometheus's rule parser accepts and Alertmanager
// configurations that Alertmanager loads and whose templates execute, with
// every plain spec value coming out as written.
func TestRenderedTemplatesProperty(t *testing.T) {
	am, err := amtemplate.FromGlobs(nil)
	require.NoError(t, err)
	runs := 110
	if testing.Short() {
		runs = 40
	}
	accepted, refused := 0, 0
	for seed := range uint64(runs) {
		g := gen{rand.New(rand.NewPCG(seed, 421))}
		gs := g.spec()
		s, err := spec.Parse(gs.yaml, "gen.yaml", rules.SpecKinds())
		if err != nil {
			refused++
			requirePositioned(t, err, gs.yaml)
			continue
		}
		accepted++
		ok := t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			checkRules(t, s, gs)
			for _, target := range Targets() {
				files, err := target.Render(s)
				require.NoError(t, err, target.Name)
				for _, f := range files {
					checkRenderedFile(t, am, s, target.Name, f)
				}
			}
			y, err := AlertmanagerConfigYAML(s)
			require.NoError(t, err)
			checkAlertmanagerConfig(t, am, s, y, "embedded engine")
		})
		if !ok {
			t.Logf("spec of seed %d:\n%s", seed, gs.yaml)
		}
	}
	t.Logf("%d specs accepted, %d refused", accepted, refused)
	require.Greater(t, accepted, runs/4, "the generator must produce valid specs, or the property says nothing")
	require.Positive(t, refused)
}

// requirePositioned: every problem of a refused spec has file:line.
func requirePositioned(t *testing.T, err error, y []byte) {
	t.Helper()
	var flat []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		flat = j.Unwrap()
	} else {
		flat = []error{err}
	}
	for _, e := range flat {
		var se *spec.Error
		require.True(t, errors.As(e, &se), "%v\n%s", e, y)
		require.Equal(t, "gen.yaml", se.File)
		require.Positive(t, se.Line, "%v", e)
	}
}

// checkRules: the rules parse as a rule file; expanded as Prometheus
// expands them, the spec's values are printed as written and no query runs.
func checkRules(t *testing.T, s *spec.Spec, gs generated) {
	t.Helper()
	b, err := yaml.Marshal(rules.Generate(s))
	require.NoError(t, err)
	parseRuleFile(t, s, b, "the embedded engine's rules")
	exprLabels := map[string]string{"pod": "gw-0", "instance": "10.0.0.1:15090"}
	for _, gw := range s.Gateways {
		for _, a := range s.EnabledAlerts() {
			r := rules.ForAlert(gw, a)
			own := func(what string, m map[string]string) {
				for k, v := range m {
					lit, isLit := gs.literals[a.Name+"/"+what+"/"+k]
					userKey := what == "labels" && a.Labels[k] != "" || what == "annotations" && a.Annotations[k] != ""
					if userKey && !isLit {
						continue // a template by intent: parsed by Validate, not run here
					}
					got := expandNoQuery(t, v, exprLabels)
					if isLit {
						require.Equal(t, lit, got, "%s %s of %s", what, k, a.Name)
					}
				}
			}
			own("labels", r.Labels)
			own("annotations", r.Annotations)
			l := func(k string) string { return expandNoQuery(t, r.Labels[k], exprLabels) }
			require.Equal(t, gw.Workload, l("workload"))
			require.Equal(t, gw.Name, l("gateway"))
			require.Equal(t, gw.Namespace, l("namespace"))
			require.Equal(t, a.Severity, l("severity"))
			ann := func(k string) string { return expandNoQuery(t, r.Annotations[k], exprLabels) }
			if _, own := a.Annotations["description"]; !own {
				require.Contains(t, ann("description"), "(workload "+gw.Workload+") in namespace "+gw.Namespace)
			}
			if _, own := a.Annotations["summary"]; !own {
				switch a.Kind {
				case rules.KindResponseCode, rules.KindErrorRatio:
					require.Contains(t, ann("summary"), a.ResponseCode)
				case rules.KindResponseFlags:
					require.Contains(t, ann("summary"), a.ResponseFlags)
				}
			}
			if a.RunbookURL != "" {
				require.Equal(t, a.RunbookURL, ann("runbook_url"))
			}
		}
	}
}

func expandNoQuery(t *testing.T, text string, lbls map[string]string) string {
	t.Helper()
	out, err := rules.ExpandTemplate("x", text, lbls, 2, func(_ context.Context, q string, _ time.Time) (promql.Vector, error) {
		t.Errorf("the template ran the query %q", q)
		return nil, nil
	})
	require.NoError(t, err, "%q", text)
	return out
}

// parsedRuleFiles are the rule files parseRuleFile has accepted.
var parsedRuleFiles = map[string]bool{}

// parseRuleFile runs Prometheus's rule parser, as Prometheus loads a rule
// file, and requires the groups to be gatewatch's rules exactly.
func parseRuleFile(t *testing.T, s *spec.Spec, b []byte, from string) {
	t.Helper()
	if parsedRuleFiles[string(b)] {
		return // the same rules in the same form as another target's
	}
	parsedRuleFiles[string(b)] = true
	groups, errs := rulefmt.Parse(b, false, model.UTF8Validation, parser.NewParser(parser.Options{}), promslog.NewNopLogger())
	require.Empty(t, errs, "%s:\n%s", from, b)
	want := rules.Generate(s)
	require.Len(t, groups.Groups, len(want.Groups), from)
	for i, g := range groups.Groups {
		for j, r := range g.Rules {
			w := want.Groups[i].Rules[j]
			require.Equal(t, w.Alert, r.Alert, from)
			require.Equal(t, w.Labels, r.Labels, from)
			require.Equal(t, w.Annotations, r.Annotations, from)
		}
	}
}

// checkRenderedFile checks a rendered file's rule groups and Alertmanager
// configuration, wherever the target puts them.
func checkRenderedFile(t *testing.T, am *amtemplate.Template, s *spec.Spec, target string, f File) {
	t.Helper()
	from := target + "/" + f.Name
	o, _ := OutputOf(f.Name)
	switch {
	case o.Format == FormatRuleFile:
		parseRuleFile(t, s, f.Content, from)
	case o.Format == FormatAlertmanagerConfig:
		checkAlertmanagerConfig(t, am, s, f.Content, from)
	case o.Format == FormatHelmValues:
		var v struct {
			Rules        map[string]any `json:"additionalPrometheusRulesMap"`
			Alertmanager struct {
				Config any `json:"config"`
			} `json:"alertmanager"`
		}
		require.NoError(t, yaml.Unmarshal(f.Content, &v))
		b, err := yaml.Marshal(v.Rules["gatewatch"])
		require.NoError(t, err)
		parseRuleFile(t, s, b, from)
		b, err = yaml.Marshal(v.Alertmanager.Config)
		require.NoError(t, err)
		checkAlertmanagerConfig(t, am, s, b, from)
	case o.Format == FormatObject && slices.Contains(o.Kinds, "PrometheusRule"):
		var pr struct {
			Spec any `json:"spec"`
		}
		require.NoError(t, yaml.Unmarshal(f.Content, &pr))
		b, err := yaml.Marshal(pr.Spec)
		require.NoError(t, err)
		parseRuleFile(t, s, b, from)
	case o.Format == FormatObject && slices.Contains(o.Kinds, "AlertmanagerConfig"):
		var amc map[string]any
		require.NoError(t, yaml.Unmarshal(f.Content, &amc))
		receivers := amc["spec"].(map[string]any)["receivers"].([]any)
		checkReceivers(t, am, s, receivers, "slackConfigs", from)
	case o.Format == FormatObject && slices.Contains(o.Kinds, "ConfigMap"):
		// The deployed spec (standalone) is read back by gatewatch run.
		b, err := DeploymentSpec(s)
		require.NoError(t, err)
		again, err := spec.Parse(b, "deployed.yaml", rules.SpecKinds())
		require.NoError(t, err, "%s", b)
		require.Equal(t, s.Mattermost.Channel, again.Mattermost.Channel)
		require.Equal(t, s.Gateways[0].Workload, again.Gateways[0].Workload)
	}
}

// checkAlertmanagerConfig loads the configuration with Alertmanager's
// loader and executes its receivers' templates.
func checkAlertmanagerConfig(t *testing.T, am *amtemplate.Template, s *spec.Spec, b []byte, from string) {
	t.Helper()
	_, err := amconfig.Load(string(b))
	require.NoError(t, err, "%s:\n%s", from, b)
	var c map[string]any
	require.NoError(t, yaml.Unmarshal(b, &c))
	checkReceivers(t, am, s, c["receivers"].([]any), "", from)
}

// alertData is a group of one alert as Alertmanager's templates see it.
func alertData(status, severity string) *amtemplate.Data {
	lbls := amtemplate.KV{"alertname": "A", "severity": severity, "gateway": "gw", "namespace": "ns", "pod": "p"}
	ann := amtemplate.KV{"summary": "s", "description": "d", "count": "1", "window": "5m"}
	return &amtemplate.Data{
		Receiver: ReceiverName, Status: status,
		Alerts:      amtemplate.Alerts{{Status: status, Labels: lbls, Annotations: ann, StartsAt: time.Unix(0, 0), GeneratorURL: "http://prometheus/graph"}},
		GroupLabels: amtemplate.KV{"alertname": "A"}, CommonLabels: lbls, CommonAnnotations: ann,
		ExternalURL: "http://alertmanager:9093",
	}
}

// executed is one template run on one of the fixed alertData values: the
// message templates are the same in every configuration, so each runs once.
type executed struct {
	text string
	data *amtemplate.Data
}

var (
	amExecuted                                      = map[executed]string{}
	dataCritical, dataWarning, dataResolvedCritical = alertData("firing", "critical"), alertData("firing", "warning"), alertData("resolved", "critical")
)

// checkReceivers executes every string of every Mattermost/Slack config
// as an Alertmanager template (each such field is one) and compares the
// poster fields with the spec's values. key is the configs' key
// (mattermost_configs or slack_configs when "", slackConfigs for the
// operator's AlertmanagerConfig).
func checkReceivers(t *testing.T, am *amtemplate.Template, s *spec.Spec, receivers []any, key, from string) {
	t.Helper()
	m := s.Mattermost
	critical, warning, resolved := dataCritical, dataWarning, dataResolvedCritical
	exec := func(text string, d *amtemplate.Data) string {
		key := executed{text, d}
		if out, ok := amExecuted[key]; ok {
			return out
		}
		out, err := am.ExecuteTextString(text, d)
		require.NoError(t, err, "%s: %q", from, text)
		amExecuted[key] = out
		return out
	}
	n := 0
	for _, rv := range receivers {
		r := rv.(map[string]any)
		for _, k := range []string{"mattermost_configs", "slack_configs", key} {
			cfgs, _ := r[k].([]any)
			if k == "" || cfgs == nil {
				continue
			}
			for _, cv := range cfgs {
				cfg := cv.(map[string]any)
				n++
				walkStrings(cfg, func(text string) {
					for _, d := range []*amtemplate.Data{critical, warning, resolved} {
						exec(text, d)
					}
				})
				field := func(json, yaml string) string {
					v, _ := cfg[json].(string)
					if v == "" {
						v, _ = cfg[yaml].(string)
					}
					return exec(v, critical)
				}
				require.Equal(t, m.Channel, field("channel", "channel"), from)
				require.Equal(t, m.Username, field("username", "username"), from)
				require.Equal(t, m.IconURL, field("icon_url", "iconURL"), from)
				require.Equal(t, m.IconEmoji, field("icon_emoji", "iconEmoji"), from)
				mention := "text"
				if k != "mattermost_configs" {
					mention = "pretext"
				}
				text, _ := cfg[mention].(string)
				require.Equal(t, m.MentionCritical, exec(text, critical), "%s: the mention on a critical firing group", from)
				require.Empty(t, exec(text, warning), "%s: no mention on a warning", from)
				require.Empty(t, exec(text, resolved), "%s: no mention when resolved", from)
			}
		}
	}
	require.Positive(t, n, "%s has Mattermost or Slack configs", from)
}

func walkStrings(v any, fn func(string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case map[string]any:
		for _, e := range v {
			walkStrings(e, fn)
		}
	case []any:
		for _, e := range v {
			walkStrings(e, fn)
		}
	}
}

// TestTemplateCases are issue 12's four cases: each is rendered as literal
// text (the rule files parse, the configuration loads, the message says
// what the spec says and runs nothing).
func TestTemplateCases(t *testing.T) {
	am, err := amtemplate.FromGlobs(nil)
	require.NoError(t, err)
	base := `gateways:
  - name: gw
    namespace: ns
    selector: app=gw
    workload: %s
alerts:
  - kind: response-code
    response_code: %s
    severity: critical
mattermost:
  webhook_url: https://mattermost.example.com/hooks/abc
  channel: %s
  mention_critical: %s
routing:
  alerts: [GatewayResponseCode]
cluster:
  alertmanager:
    version: %s
`
	const (
		workload = "istio{{ broken"
		code     = `4(21|{{ query "up" | first | value }}9)`
		channel  = "town{{ .Status"
		mention  = "@here{{ end }}"
	)
	for _, version := range []string{"0.31.1", "0.28.1"} {
		t.Run(version, func(t *testing.T) {
			y := fmt.Sprintf(base, `"istio{{ broken"`, `'4(21|{{ query "up" | first | value }}9)'`, `'town{{ .Status'`, `"@here{{ end }}"`, version)
			s, err := spec.Parse([]byte(y), "cases.yaml", rules.SpecKinds())
			require.NoError(t, err)
			files, err := Render(s, TargetPrometheus)
			require.NoError(t, err)
			byName := map[string][]byte{}
			for _, f := range files {
				byName[f.Name] = f.Content
			}

			// The rule file parses; its templates print the workload and
			// the regex, and the query is never run.
			groups, errs := rulefmt.Parse(byName[RulesFileName], false, model.UTF8Validation, parser.NewParser(parser.Options{}), promslog.NewNopLogger())
			require.Empty(t, errs)
			var r rulefmt.Rule
			for _, rr := range groups.Groups[0].Rules {
				if rr.Alert == "GatewayResponseCode" {
					r = rr
				}
			}
			lbls := map[string]string{"pod": "p"}
			require.Equal(t, workload, expandNoQuery(t, r.Labels["workload"], lbls))
			require.Equal(t, "Gateway gw returned HTTP "+code, expandNoQuery(t, r.Annotations["summary"], lbls))
			require.Contains(t, expandNoQuery(t, r.Annotations["description"], lbls), "with code "+code+" served by gateway gw (workload "+workload+")")

			// The configuration loads; the channel is the channel and the
			// mention stays inside its guard.
			_, err = amconfig.Load(string(byName[AlertmanagerConfigFileName]))
			require.NoError(t, err)
			var c amConfig
			require.NoError(t, yaml.Unmarshal(byName[AlertmanagerConfigFileName], &c))
			var ch, text string
			if version == "0.28.1" {
				sc := c.Receivers[1].SlackConfigs[0]
				ch, text = sc.Channel, sc.Pretext
			} else {
				mc := c.Receivers[1].MattermostConfigs[0]
				ch, text = mc.Channel, mc.Text
			}
			exec := func(text string, d *amtemplate.Data) string {
				out, err := am.ExecuteTextString(text, d)
				require.NoError(t, err)
				return out
			}
			require.Equal(t, channel, exec(ch, alertData("firing", "warning")))
			require.Equal(t, mention, exec(text, alertData("firing", "critical")))
			require.Empty(t, exec(text, alertData("firing", "warning")))
			require.Empty(t, exec(text, alertData("resolved", "critical")))
		})
	}
}

// TestRealToolsAcceptBraces: promtool checks the rule file and runs the
// scenarios on it (expected labels expanded), amtool checks the
// configuration, for a spec with braces in its plain values.
func TestRealToolsAcceptBraces(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real promtool and amtool (make test builds them)")
	}
	dir := os.Getenv("GATEWATCH_TOOLS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", ".cache", "bin")
	}
	tool := func(name string) string {
		p, err := filepath.Abs(filepath.Join(dir, name))
		require.NoError(t, err)
		_, err = os.Stat(p)
		require.NoError(t, err, "run `make tools` first")
		return p
	}
	y := `gateways:
  - name: gw
    namespace: ns
    selector: app=gw
    workload: "istio{{ broken"
alerts:
  - kind: response-code
    response_code: '4(21|{{ query "up" | first | value }}9)'
    labels:
      pod_copy: '{{ $labels.pod }}'
mattermost:
  webhook_url: https://mattermost.example.com/hooks/abc
  channel: 'town{{ .Status'
  mention_critical: "@here{{ end }}{"
routing:
  alerts: [GatewayResponseCode, GatewayMisdirectedRequest421]
`
	s, err := spec.Parse([]byte(y), "braces.yaml", rules.SpecKinds())
	require.NoError(t, err)
	files, err := Render(s, TargetPrometheus)
	require.NoError(t, err)
	out := t.TempDir()
	require.NoError(t, WriteDir(out, files))
	tests, err := rules.PromtoolTests(s, RulesFileName)
	require.NoError(t, err)
	require.NotEmpty(t, tests)
	var testFiles []string
	for name, pt := range tests {
		b, err := yaml.Marshal(pt)
		require.NoError(t, err)
		p := filepath.Join(out, name+".test.yml")
		require.NoError(t, os.WriteFile(p, b, 0o644))
		testFiles = append(testFiles, p)
	}
	run := func(bin string, args ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		b, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		require.NoError(t, err, "%s %s:\n%s", filepath.Base(bin), strings.Join(args, " "), b)
	}
	run(tool("promtool"), "check", "rules", filepath.Join(out, RulesFileName))
	run(tool("promtool"), append([]string{"test", "rules"}, testFiles...)...)
	run(tool("amtool"), "check-config", filepath.Join(out, AlertmanagerConfigFileName))
}
