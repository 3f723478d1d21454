package spec_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

const minimal = `gateways:
  - name: gw
    namespace: istio-ingress
    selector: app=istio-ingressgateway
`

func TestDefaults(t *testing.T) {
	s, err := spec.Parse([]byte(minimal), "g.yaml", rules.SpecKinds())
	require.NoError(t, err)
	g := s.Gateways[0]
	require.Equal(t, "gw", g.Workload)
	require.Equal(t, spec.Port{Name: "http-envoy-prom"}, g.Stats.Port)
	require.Equal(t, "/stats/prometheus", g.Stats.Path)
	require.Equal(t, 15*time.Second, g.Stats.Interval.D())
	require.Equal(t, 10*time.Second, g.Stats.Timeout.D())
	require.Len(t, s.Alerts, 2, "the 421 and stats-down alerts are on by default")
	a := s.Alerts[0]
	require.Equal(t, rules.KindMisdirectedRequest, a.Kind)
	require.Equal(t, "GatewayMisdirectedRequest421", a.Name)
	require.Equal(t, 5*time.Minute, a.Window.D())
	require.Equal(t, "warning", a.Severity)
	require.True(t, a.IsEnabled())
	sd := s.Alerts[1]
	require.Equal(t, rules.KindStatsDown, sd.Kind)
	require.Equal(t, "GatewayStatsDown", sd.Name)
	require.Equal(t, 2*time.Minute, sd.For.D(), "the kind's default for")
	require.Equal(t, 10*time.Minute, sd.Window.D(), "the kind's default window")
	require.Equal(t, []string{"GatewayMisdirectedRequest421", "GatewayStatsDown"}, s.Routing.Alerts)
	require.Equal(t, []string{"alertname", "namespace", "gateway"}, s.Routing.GroupBy)
	require.Equal(t, "null", s.Routing.DefaultReceiver)
	require.True(t, s.Routing.RoutesWatchdog())
	require.True(t, s.Mattermost.ShouldSendResolved())
	require.Equal(t, spec.ViaGateway, s.Cluster.WebhookPath.Via)
	require.Equal(t, "istio-ingress", s.Cluster.WebhookPath.Gateway.Namespace)
	require.Equal(t, 8443, s.Cluster.WebhookPath.Gateway.TargetPort)
	require.Equal(t, spec.DefaultAMVersion, s.Cluster.Alertmanager.Version)
	require.True(t, s.Cluster.MattermostNative(), "0.31.1 has mattermost_configs")
}

func TestShortIntervalDefaultsTimeout(t *testing.T) {
	s, err := spec.Parse([]byte(minimal+"    stats:\n      interval: 5s\n"), "g.yaml", rules.SpecKinds())
	require.NoError(t, err)
	require.Equal(t, 5*time.Second, s.Gateways[0].Stats.Timeout.D())
}

func Test421CanBeTurnedOffAndOtherAlertsAdded(t *testing.T) {
	s, err := spec.Parse([]byte(minimal+"alerts:\n  - kind: response-flags\n    response_flags: NR\n    name: NoRoute\n"), "g.yaml", rules.SpecKinds())
	require.NoError(t, err)
	require.Len(t, s.EnabledAlerts(), 3, "adding an alert keeps the 421 and stats-down ones")
	require.Equal(t, rules.KindMisdirectedRequest, s.Alerts[0].Kind)

	s, err = spec.Parse([]byte(minimal+"alerts:\n  - kind: misdirected-request\n    enabled: false\n  - kind: stats-down\n    enabled: false\n  - kind: response-code\n    response_code: \"503\"\n"), "g.yaml", rules.SpecKinds())
	require.NoError(t, err)
	require.Len(t, s.EnabledAlerts(), 1)
	require.Equal(t, "GatewayResponseCode", s.EnabledAlerts()[0].Name)
	require.Equal(t, []string{"GatewayResponseCode"}, s.Routing.Alerts)
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", minimal + "    sidecar: true\n", []string{`g.yaml:5: unknown key "sidecar" in gateway`}},
		{"wrong type", minimal + "    static_targets: 5\n", []string{"g.yaml:5: wrong type"}},
		{"bad duration", minimal + "    stats:\n      interval: fast\n", []string{`g.yaml:6: bad duration "fast"`}},
		{"invalid selector", strings.Replace(minimal, "app=istio-ingressgateway", `"app in (a,"`, 1), []string{"g.yaml:4: gateways[0].selector: invalid label selector"}},
		{"numeric selector", strings.Replace(minimal, "app=istio-ingressgateway", `"app=gw,revision>3"`, 1), []string{"g.yaml:4: gateways[0].selector: label selector \"app=gw,revision>3\": \">\" compares numbers"}},
		{"not http url", minimal + "mattermost:\n  webhook_url: mattermost.example.com/hooks/x\n", []string{"g.yaml:6: mattermost.webhook_url: webhook_url must be an http(s) URL"}},
		{"bot token and webhook", minimal + "mattermost:\n  webhook_url: https://m.example.com/hooks/x\n  url: https://m.example.com\n  bot_token_file: /t\n  team: ops\n  channel: alerts\n", []string{"g.yaml:6: mattermost.webhook_url: give a webhook or a bot token, not both"}},
		{"bot token without url", minimal + "mattermost:\n  bot_token_file: /t\n  team: ops\n  channel: alerts\n", []string{"g.yaml:6: mattermost.bot_token_file: a bot token needs mattermost.url"}},
		{"bot token without channel", minimal + "mattermost:\n  url: https://m.example.com\n  bot_token_file: /t\n", []string{"g.yaml:7: mattermost.bot_token_file: a bot token needs the channel to post in"}},
		{"bot url not a base url", minimal + "mattermost:\n  url: m.example.com\n  bot_token_file: /t\n  channel_id: abc\n", []string{"g.yaml:6: mattermost.url: url \"m.example.com\" must be the Mattermost server's base URL"}},
		{"bot fields without token", minimal + "mattermost:\n  webhook_url: https://m.example.com/hooks/x\n  team: ops\n", []string{"g.yaml:7: mattermost.team: team is for bot mode"}},
		{"url and file", minimal + "mattermost:\n  webhook_url: https://m/hooks/x\n  webhook_url_file: f\n", []string{"g.yaml:7: mattermost.webhook_url_file: give webhook_url or webhook_url_file, not both"}},
		{"zero window", minimal + "alerts:\n  - window: 0s\n", []string{"g.yaml:6: alerts[0].window: window must be positive"}},
		{"negative window", minimal + "alerts:\n  - window: -1m\n", []string{`g.yaml:6: bad duration "-1m"`}},
		{"empty gateways", "gateways: []\n", []string{"g.yaml:1: gateways: at least one gateway is required"}},
		{"timeout over interval", minimal + "    stats:\n      interval: 10s\n      timeout: 20s\n", []string{"g.yaml:7: gateways[0].stats.timeout: timeout 20s is longer than the interval 10s"}},
		{"for not shorter than window", minimal + "alerts:\n  - for: 5m\n", []string{"g.yaml:6: alerts[0].for: for 5m is not shorter than the window 5m"}},
		{"routing unknown alert", minimal + "routing:\n  alerts: [Nope]\n", []string{`g.yaml:6: routing.alerts[0]: alert "Nope" is not an enabled alert`}},
		{"direct without cidrs", minimal + "cluster:\n  webhook_path:\n    via: direct\n", []string{"cluster.webhook_path.cidrs: via direct needs the CIDRs"}},
		{"bad cidr", minimal + "cluster:\n  webhook_path:\n    via: direct\n    cidrs: [10.0.0.0/33]\n", []string{`g.yaml:8: cluster.webhook_path.cidrs[0]: "10.0.0.0/33" is not a CIDR`}},
		{"reserved label", minimal + "alerts:\n  - labels: {namespace: x}\n", []string{`alerts[0].labels.namespace: label "namespace" is set by gatewatch`}},
		{"egress denied without a webhook path", "gateways:\n  - name: gw\n    namespace: ns\n    static_targets: [\"10.0.0.1:15090\"]\ncluster:\n  default_deny: [egress]\n", []string{"cluster.default_deny: egress is denied by default"}},
		{"bad default_deny", minimal + "cluster:\n  default_deny: [sideways]\n", []string{`cluster.default_deny[0]: "sideways"`}},
		{"window shorter than 4 intervals", minimal + "alerts:\n  - window: 30s\n", []string{"alerts[0].window: window 30s is shorter than 4 scrape intervals"}},
		{"same workload twice", minimal + "  - name: gw2\n    namespace: istio-ingress\n    workload: gw\n    selector: app=x\n", []string{"same namespace and workload"}},
		{"two documents", minimal + "---\n" + minimal, []string{"g.yaml:5: the spec must be a single YAML document"}},
		{"gateways as a mapping", "gateways: {}\n", []string{"g.yaml:1: wrong type: got a mapping, want a list"}},
		{"zero group_interval", minimal + "routing:\n  group_interval: 0s\n", []string{"g.yaml:6: routing.group_interval: group_interval must be positive"}},
		{"explain kube logs without selector", "gateways:\n  - name: gw\n    namespace: ns\n    static_targets: [\"10.0.0.1:15090\"]\nexplain:\n  access_logs: kube\n", []string{"g.yaml:6: explain.access_logs: access_logs: kube reads the gateway pods' logs, but no gateway has a selector"}},
		{"explain logs from stdin", minimal + "explain:\n  access_logs: \"-\"\n", []string{"g.yaml:6: explain.access_logs: access_logs: standard input cannot feed alert messages"}},
		{"explain timeout too long", minimal + "explain:\n  timeout: 5m\n", []string{"g.yaml:6: explain.timeout: timeout 5m must be between 0 and 1m"}},
		{"bad interval, no timeout: one error", minimal + "    stats: {interval: 15x}\n", []string{`g.yaml:5: bad duration "15x"`}},
		{"key the kind does not take", minimal + "alerts:\n  - kind: misdirected-request\n    response_code: \"503\"\n", []string{`g.yaml:7: alerts[0].response_code: kind misdirected-request does not take response_code (kinds that do: response-code, error-ratio)`}},
		{"unknown kind", minimal + "alerts:\n  - kind: latency\n", []string{`g.yaml:6: alerts[0].kind: unknown kind "latency": use one of misdirected-request, stats-down, response-code, response-flags, error-ratio`}},
		{"ratio threshold out of range", minimal + "alerts:\n  - kind: error-ratio\n    threshold: 5\n", []string{"g.yaml:7: alerts[0].threshold: kind error-ratio needs a threshold between 0 and 1"}},
		{"regex whole only inside the anchors", minimal + "alerts:\n  - kind: response-code\n    response_code: \"5..)|(4..\"\n", []string{`g.yaml:7: alerts[0].response_code: invalid regex "5..)|(4..": error parsing regexp: unexpected )`}},
		{"flags kind without flags", minimal + "alerts:\n  - kind: response-flags\n", []string{"alerts[0].response_flags: kind response-flags needs response_flags"}},
		{"zero replicas", minimal + "cluster:\n  standalone:\n    replicas: 0\n", []string{"g.yaml:7: cluster.standalone.replicas: replicas 0: give at least 1"}},
		{"bad storage size", minimal + "cluster:\n  standalone:\n    storage: {size: lots}\n", []string{`g.yaml:7: cluster.standalone.storage.size: size "lots" is not a Kubernetes quantity`}},
		{"zero storage size", minimal + "cluster:\n  standalone:\n    storage:\n      size: \"0\"\n", []string{`g.yaml:8: cluster.standalone.storage.size: size "0" must be positive`}},
		{"bad storage class", minimal + "cluster:\n  standalone:\n    storage:\n      storage_class: Fast_SSD\n", []string{`g.yaml:8: cluster.standalone.storage.storage_class: "Fast_SSD" is not a valid StorageClass name`}},
		{"storage class with empty_dir", minimal + "cluster:\n  standalone:\n    storage:\n      storage_class: fast\n      empty_dir: true\n", []string{"g.yaml:8: cluster.standalone.storage.storage_class: storage_class has no effect with empty_dir: true"}},
		{"web peer without namespace or cidrs", minimal + "cluster:\n  standalone:\n    web_from:\n      - pod_selector: app=x\n", []string{"g.yaml:8: cluster.standalone.web_from[0]: a peer needs a namespace"}},
		{"web peer with both", minimal + "cluster:\n  standalone:\n    web_from:\n      - namespace: monitoring\n        cidrs: [10.0.0.0/8]\n", []string{"g.yaml:9: cluster.standalone.web_from[0].cidrs: a peer is pods of a namespace or cidrs, not both"}},
		{"web peer bad cidr", minimal + "cluster:\n  standalone:\n    web_from:\n      - cidrs: [10.0.0.0/40]\n", []string{`g.yaml:8: cluster.standalone.web_from[0].cidrs[0]: "10.0.0.0/40" is not a CIDR`}},
		{"web peer bad selector", minimal + "cluster:\n  standalone:\n    web_from:\n      - namespace: monitoring\n        pod_selector: \"a in (\"\n", []string{"g.yaml:9: cluster.standalone.web_from[0].pod_selector: invalid label selector"}},
		{"bridge zero replicas", minimal + "cluster:\n  bridge:\n    replicas: 0\n", []string{"g.yaml:7: cluster.bridge.replicas: replicas 0: give at least 1"}},
		{"bridge bot mode with two replicas", minimal + "mattermost:\n  url: https://chat.example.com\n  bot_token_file: /t\n  team: ops\n  channel: alerts\ncluster:\n  bridge:\n    replicas: 2\n", []string{"g.yaml:12: cluster.bridge.replicas: replicas 2: in bot mode the bridge keeps each alert group's post in its data directory, one bridge per directory: use 1"}},
		{"bridge bad alertmanager_url", minimal + "cluster:\n  bridge:\n    alertmanager_url: alertmanager:9093\n", []string{`g.yaml:7: cluster.bridge.alertmanager_url: alertmanager_url "alertmanager:9093" must be an http(s) URL`}},
		{"bridge bad external_url", minimal + "cluster:\n  bridge:\n    external_url: /bridge\n", []string{`g.yaml:7: cluster.bridge.external_url: external_url "/bridge" must be an http(s) URL`}},
		{"bridge web peer bad cidr", minimal + "cluster:\n  bridge:\n    web_from:\n      - cidrs: [10.0.0.0/40]\n", []string{`g.yaml:8: cluster.bridge.web_from[0].cidrs[0]: "10.0.0.0/40" is not a CIDR`}},
		{"bridge bad storage size", minimal + "cluster:\n  bridge:\n    storage: {size: lots}\n", []string{`g.yaml:7: cluster.bridge.storage.size: size "lots" is not a Kubernetes quantity`}},
		{"api server bad cidr", minimal + "cluster:\n  api_server:\n    cidrs: [apiserver]\n", []string{`g.yaml:7: cluster.api_server.cidrs[0]: "apiserver" is not a CIDR`}},
		{"api server no ports", minimal + "cluster:\n  api_server:\n    ports: []\n", []string{"g.yaml:7: cluster.api_server.ports: ports: give at least one"}},
		{"api server port out of range", minimal + "cluster:\n  api_server:\n    ports: [70000]\n", []string{"g.yaml:7: cluster.api_server.ports[0]: port 70000 is out of range"}},
		{"several at once", "gateways:\n  - name: Bad_Name\n    namespace: ok\n    selector: a=b\n    stats: {interval: x, timeout: y}\n", []string{"g.yaml:2: gateways[0].name", `g.yaml:5: bad duration "x"`, `g.yaml:5: bad duration "y"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := spec.Parse([]byte(tc.yaml), "g.yaml", rules.SpecKinds())
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			var se *spec.Error
			require.True(t, errors.As(err, &se), "errors are *spec.Error")
			if strings.HasSuffix(tc.name, ": one error") {
				require.Equal(t, 1, strings.Count(err.Error(), "g.yaml:"), err.Error())
			}
		})
	}
}

func TestSecretMasks(t *testing.T) {
	s := spec.Secret("https://m.example.com/hooks/abc123")
	require.Equal(t, "<secret>", s.String())
	require.Equal(t, "https://m.example.com/hooks/abc123", s.Reveal())
	b, err := s.MarshalJSON()
	require.NoError(t, err)
	var got string
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, "<secret>", got)
	require.Equal(t, "", spec.Secret("").String())
}

func TestWebhookFileResolvesRelativeToSpec(t *testing.T) {
	s, err := spec.Load("../../examples/gatewatch.yaml", rules.SpecKinds())
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(s.Mattermost.WebhookURLFile, "examples/mattermost-webhook-url"))
}

func TestExplainPathsResolveRelativeToSpec(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gatewatch.yaml")
	require.NoError(t, os.WriteFile(file, []byte(minimal+"explain:\n  access_logs: logs/gw.log\n  config: kube\n"), 0o644))
	s, err := spec.Load(file, rules.SpecKinds())
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "logs", "gw.log"), s.Explain.AccessLogs)
	require.Equal(t, "kube", s.Explain.Config)
	require.Equal(t, spec.DefaultExplainTimeout, s.Explain.Timeout)
	require.True(t, s.Explain.Enabled())
}

// TestStatsDownRoutedWith421: a written routing.alerts that delivers the 421
// alert delivers stats-down too; one that does not, does not.
func TestStatsDownRoutedWith421(t *testing.T) {
	s, err := spec.Parse([]byte(minimal+"routing:\n  alerts: [GatewayMisdirectedRequest421]\n"), "g.yaml", rules.SpecKinds())
	require.NoError(t, err)
	require.Equal(t, []string{"GatewayMisdirectedRequest421", "GatewayStatsDown"}, s.Routing.Alerts)
	require.Empty(t, s.Warnings())

	y := minimal + "alerts:\n  - kind: response-code\n    name: Gateway503\n    response_code: \"503\"\nrouting:\n  alerts: [Gateway503]\n  default_receiver: mattermost\n"
	s, err = spec.Parse([]byte(y), "g.yaml", rules.SpecKinds())
	require.NoError(t, err)
	require.Equal(t, []string{"Gateway503"}, s.Routing.Alerts, "stats-down follows the 421 alert's routing only")
}

func TestUndeliveredAlertsWarn(t *testing.T) {
	y := minimal + "alerts:\n  - kind: response-flags\n    name: NoRoute\n    response_flags: NR\nrouting:\n  alerts: [GatewayMisdirectedRequest421]\n"
	s, err := spec.Parse([]byte(y), "g.yaml", rules.SpecKinds())
	require.NoError(t, err, "a warning leaves the spec valid")
	require.Len(t, s.Warnings(), 1)
	require.Contains(t, s.Warnings()[0].Error(), "g.yaml:6: alerts[0]: alert NoRoute is enabled but no route delivers it")

	// Delivered by the default receiver, or named: no warning.
	for _, ok := range []string{
		minimal + "alerts:\n  - kind: response-flags\n    name: NoRoute\n    response_flags: NR\nrouting:\n  alerts: [GatewayMisdirectedRequest421]\n  default_receiver: mattermost\n",
		minimal + "alerts:\n  - kind: response-flags\n    name: NoRoute\n    response_flags: NR\n",
		minimal + "alerts:\n  - kind: response-flags\n    name: NoRoute\n    response_flags: NR\n    enabled: false\nrouting:\n  alerts: [GatewayMisdirectedRequest421]\n",
	} {
		s, err := spec.Parse([]byte(ok), "g.yaml", rules.SpecKinds())
		require.NoError(t, err)
		require.Empty(t, s.Warnings(), ok)
	}
}

// TestDocsNameEveryKey holds docs/spec.md to its claim that it names every
// key of gatewatch.yaml.
func TestDocsNameEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/spec.md")
	require.NoError(t, err)
	var keys []string
	var walk func(reflect.Type, string)
	walk = func(ty reflect.Type, prefix string) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice || ty.Kind() == reflect.Map {
			ty = ty.Elem()
		}
		if ty.Kind() != reflect.Struct {
			return
		}
		for i := 0; i < ty.NumField(); i++ {
			f := ty.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")
			if tag[0] == "-" || !f.IsExported() {
				continue
			}
			if len(tag) > 1 && tag[1] == "inline" {
				walk(f.Type, prefix)
				continue
			}
			keys = append(keys, prefix+tag[0])
			walk(f.Type, prefix+tag[0]+".")
		}
	}
	walk(reflect.TypeOf(spec.Spec{}), "")
	require.Greater(t, len(keys), 40)
	for _, k := range keys {
		leaf := k[strings.LastIndex(k, ".")+1:]
		re := regexp.MustCompile("(?m)[`.]" + regexp.QuoteMeta(leaf) + "[`.]|^## " + regexp.QuoteMeta(leaf) + "\\b")
		require.True(t, re.Match(doc), "docs/spec.md does not name the key %s", k)
	}
}

// TestSpecSizeCapped: an endless or huge file is refused quickly, read no
// further than the cap.
func TestSpecSizeCapped(t *testing.T) {
	_, err := spec.Load("/dev/zero", rules.SpecKinds())
	require.ErrorContains(t, err, "larger than 1024 KiB")
	big := filepath.Join(t.TempDir(), "big.yaml")
	require.NoError(t, os.WriteFile(big, []byte(minimal+"# "+strings.Repeat("x", spec.MaxSpecBytes)+"\n"), 0o644))
	_, err = spec.Load(big, rules.SpecKinds())
	require.ErrorContains(t, err, "a gatewatch spec is a few kilobytes")
}

// TestStandaloneDefaults: two replicas on a 1Gi claim of the default class,
// the web port open to cluster.prometheus, the API server on 443 and 6443
// anywhere.
func TestStandaloneDefaults(t *testing.T) {
	s, err := spec.Parse([]byte(minimal+"cluster:\n  prometheus: {namespace: obs, pod_selector: app=prom}\n"), "g.yaml", rules.SpecKinds())
	require.NoError(t, err)
	st := s.Cluster.Standalone
	require.Equal(t, 2, st.Replicas)
	require.Equal(t, spec.Storage{Size: "1Gi"}, st.Storage)
	require.Equal(t, []spec.Peer{{Namespace: "obs", PodSelector: "app=prom"}}, st.WebFrom)
	require.Equal(t, spec.APIServer{Ports: []int{443, 6443}}, s.Cluster.APIServer)
	require.Empty(t, s.Warnings())

	// Written values stay; an empty web_from lets no one in.
	s, err = spec.Parse([]byte(minimal+"cluster:\n  api_server: {cidrs: [192.0.2.1/32], ports: [6443]}\n  standalone:\n    replicas: 3\n    storage: {size: 5Gi, storage_class: fast}\n    web_from: []\n"), "g.yaml", rules.SpecKinds())
	require.NoError(t, err)
	require.Equal(t, 3, s.Cluster.Standalone.Replicas)
	require.Equal(t, spec.Storage{Size: "5Gi", StorageClass: "fast"}, s.Cluster.Standalone.Storage)
	require.Empty(t, s.Cluster.Standalone.WebFrom)
	require.Equal(t, spec.APIServer{CIDRs: []string{"192.0.2.1/32"}, Ports: []int{6443}}, s.Cluster.APIServer)
}

// TestEmptyDirWarns: an emptyDir for the data is valid but warned about at
// its line: the state lives only as long as the pod.
func TestEmptyDirWarns(t *testing.T) {
	s, err := spec.Parse([]byte(minimal+"cluster:\n  standalone:\n    storage:\n      empty_dir: true\n"), "g.yaml", rules.SpecKinds())
	require.NoError(t, err)
	require.Len(t, s.Warnings(), 1)
	require.Contains(t, s.Warnings()[0].Error(), "g.yaml:8: cluster.standalone.storage.empty_dir: empty_dir: true keeps silences and the notification log only as long as the pod")
}

// TestStaticTargetNameWarnsUnderEgressDeny: a static target given by name
// cannot be allowed by a NetworkPolicy; under default-deny egress check
// says so at its line (an address is allowed by render, no warning).
func TestStaticTargetNameWarnsUnderEgressDeny(t *testing.T) {
	y := minimal + "    static_targets: [\"192.0.2.10:15090\", \"edge-vm.example.com:15090\"]\ncluster:\n  default_deny: [egress]\n"
	s, err := spec.Parse([]byte(y), "g.yaml", rules.SpecKinds())
	require.NoError(t, err)
	require.Len(t, s.Warnings(), 1)
	require.Contains(t, s.Warnings()[0].Error(), `gateways[0].static_targets[1]: "edge-vm.example.com:15090" is a name`)
	s, err = spec.Parse([]byte(strings.Replace(y, "[egress]", "[ingress]", 1)), "g.yaml", rules.SpecKinds())
	require.NoError(t, err)
	require.Empty(t, s.Warnings())
}
