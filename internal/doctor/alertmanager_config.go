package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	amconfig "github.com/prometheus/alertmanager/config"
	amcommoncfg "github.com/prometheus/alertmanager/config/common"
	"sigs.k8s.io/yaml"

	"github.com/gatewatch/gatewatch/internal/render"
)

// alertmanagerConfig (alertmanager/config): Alertmanager's configuration
// loads and has a Mattermost receiver.
type alertmanagerConfig struct{}

func (alertmanagerConfig) ID() string    { return "alertmanager/config" }
func (alertmanagerConfig) Title() string { return "Alertmanager has a Mattermost receiver" }
func (alertmanagerConfig) Offline() bool { return true }

// applies: not to a standalone render, which has no Prometheus or Alertmanager.
func (alertmanagerConfig) applies(_ context.Context, env *Env) (bool, error) {
	return env.checksStack(), nil
}

func (alertmanagerConfig) Run(ctx context.Context, env *Env) Result {
	conf, source, err := env.alertmanagerConfig(ctx)
	if err != nil {
		return verdict(err)
	}
	var mm, bridged []string
	for _, r := range conf.Receivers {
		switch {
		case len(r.MattermostConfigs) > 0:
			mm = append(mm, r.Name+" (mattermost_configs)")
		case len(r.SlackConfigs) > 0:
			mm = append(mm, r.Name+" (slack_configs)")
		}
		if how, ok := toBridge(env, r); ok {
			bridged = append(bridged, r.Name+" (webhook_configs → gatewatch bridge"+how+")")
		}
	}
	ev := []string{"from " + source}
	if env.Spec.Cluster.Bridge.Enabled {
		if len(bridged) == 0 {
			return failed("no receiver posts to gatewatch bridge, and cluster.bridge.enabled says Alertmanager posts through it",
				fmt.Sprintf("render the stack target again with cluster.bridge.enabled set: its receiver is a webhook_configs to %s", render.BridgeURL(env.Spec)), append(ev, mm...)...)
		}
		return pass(fmt.Sprintf("%d receiver(s) post to gatewatch bridge", len(bridged)), append(ev, bridged...)...)
	}
	mm = append(mm, bridged...)
	if len(mm) == 0 {
		return failed("no Mattermost receiver", "add the receiver from `gatewatch render` (through chart values or an AlertmanagerConfig: editing the operator's generated Secret is overwritten)", ev...)
	}
	return pass(fmt.Sprintf("%d Mattermost receiver(s)", len(mm)), append(ev, mm...)...)
}

// toBridge reports whether the receiver posts to gatewatch bridge: a
// webhook_configs whose URL is the bridge's Service (in the monitoring
// namespace, any port and path). Alertmanager's API hides webhook URLs
// (<secret>), as does a url_file: live, such a webhook counts when the spec
// sends Alertmanager through the bridge, and how says the URL was not seen.
func toBridge(env *Env, r amconfig.Receiver) (how string, ok bool) {
	for _, wc := range r.WebhookConfigs {
		raw := string(wc.URL)
		if raw == "" || raw == amcommoncfg.SecretToken {
			if env.Spec.Cluster.Bridge.Enabled {
				return ", its URL hidden by Alertmanager: not checked", true
			}
			continue
		}
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		host := strings.TrimSuffix(u.Hostname(), ".")
		ns := env.Spec.Cluster.MonitoringNamespace
		for _, name := range []string{render.BridgeName + "." + ns, render.BridgeName + "." + ns + ".svc", render.BridgeName + "." + ns + ".svc.cluster.local"} {
			if host == name {
				return "", true
			}
		}
	}
	return "", false
}

// readAlertmanagerConfig establishes the Alertmanager configuration fact
// (Env.alertmanagerConfig): offline from the manifests, live from
// Alertmanager's API. A failure carries alertmanager/config's verdict.
func readAlertmanagerConfig(ctx context.Context, env *Env) (alertmanagerSetup, error) {
	if env.offline() {
		c, src, err := manifestsAlertmanagerConfig(env.Manifests)
		if err != nil {
			return alertmanagerSetup{}, &verdictError{failed("no usable Alertmanager configuration in the manifests", "render it with `gatewatch render --target prometheus|helm|operator`", err.Error())}
		}
		return alertmanagerSetup{conf: c, source: src}, nil
	}
	if env.AlertmanagerURL == "" {
		return alertmanagerSetup{}, &verdictError{skip("no Alertmanager URL (use --alertmanager-url)")}
	}
	var st struct {
		Config struct {
			Original string `json:"original"`
		} `json:"config"`
	}
	if err := getJSON(ctx, env, strings.TrimRight(env.AlertmanagerURL, "/")+"/api/v2/status", &st); err != nil {
		return alertmanagerSetup{}, &verdictError{failed("Alertmanager API unreachable", "check --alertmanager-url (e.g. kubectl -n monitoring port-forward svc/alertmanager-operated 9093)", err.Error())}
	}
	c, err := loadAlertmanagerConfig(st.Config.Original)
	if err != nil {
		return alertmanagerSetup{}, &verdictError{failed("Alertmanager's configuration does not load here", "", err.Error())}
	}
	return alertmanagerSetup{conf: c, source: env.AlertmanagerURL}, nil
}

// loadAlertmanagerConfig is Alertmanager's own loader with its errors made
// safe to print: for a malformed URL it says `parse "<the URL>": …`, and
// the URL is the user's webhook URL, a secret.
func loadAlertmanagerConfig(y string) (*amconfig.Config, error) {
	c, err := amconfig.Load(y)
	if err != nil {
		return nil, errors.New(redactURLs(err.Error()))
	}
	return c, nil
}

var (
	quotedURLParse = regexp.MustCompile(`parse "(?:[^"\\]|\\.)*"`)
	bareURL        = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'\x60]+`)
)

// redactURLs replaces every URL in an error text with <secret>.
func redactURLs(s string) string {
	s = quotedURLParse.ReplaceAllString(s, `parse "<secret>"`)
	return bareURL.ReplaceAllString(s, "<secret>")
}

// manifestsAlertmanagerConfig returns the Alertmanager configuration in the
// manifests: an alertmanager.yml, helm values, or AlertmanagerConfig objects
// translated as the prometheus-operator does.
func manifestsAlertmanagerConfig(m *Manifests) (*amconfig.Config, string, error) {
	var errs []error
	for _, src := range m.amConfigs {
		c, err := loadAlertmanagerConfig(src.yaml)
		if err == nil {
			return c, src.file, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", src.file, err))
	}
	if len(m.amcs) > 0 {
		y, err := OperatorAlertmanagerYAML(m.amcs)
		if err != nil {
			return nil, "", err
		}
		c, err := loadAlertmanagerConfig(string(y))
		if err != nil {
			return nil, "", fmt.Errorf("AlertmanagerConfig objects: %w", err)
		}
		return c, fmt.Sprintf("%d AlertmanagerConfig object(s), under a null default with a Watchdog route as kube-prometheus-stack's base configuration has", len(m.amcs)), nil
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("no alertmanager.yml, helm values or AlertmanagerConfig found"))
	}
	return nil, "", errors.Join(errs...)
}

// OperatorAlertmanagerYAML translates AlertmanagerConfig objects the way the
// prometheus-operator does (receivers named <ns>/<name>/<receiver>, a
// namespace matcher on each route) under a "null" default receiver with the
// Watchdog route kube-prometheus-stack's base configuration has. Secret
// references become the files the operator mounts.
func OperatorAlertmanagerYAML(amcs []monitoringv1alpha1.AlertmanagerConfig) ([]byte, error) {
	type route = map[string]any
	var routes []any
	receivers := []any{map[string]any{"name": "null"}}
	for _, amc := range amcs {
		prefix := amc.Namespace + "/" + amc.Name + "/"
		r := amc.Spec.Route
		if r == nil {
			continue
		}
		matchers := []string{`namespace="` + amc.Namespace + `"`}
		for _, mt := range r.Matchers {
			op := string(mt.MatchType)
			if op == "" {
				op = "="
			}
			matchers = append(matchers, mt.Name+op+`"`+mt.Value+`"`)
		}
		rt := route{"receiver": prefix + r.Receiver, "matchers": matchers, "group_by": r.GroupBy}
		if r.GroupWait != nil {
			rt["group_wait"] = string(*r.GroupWait)
		}
		if r.GroupInterval != nil {
			rt["group_interval"] = string(*r.GroupInterval)
		}
		if r.RepeatInterval != nil {
			rt["repeat_interval"] = string(*r.RepeatInterval)
		}
		routes = append(routes, rt)
		for _, rc := range amc.Spec.Receivers {
			var slack []any
			for _, sc := range rc.SlackConfigs {
				if sc.APIURL == nil {
					return nil, fmt.Errorf("%s: slack config without apiURL", prefix+rc.Name)
				}
				cfg := map[string]any{"api_url_file": "/etc/alertmanager/secrets/" + sc.APIURL.Name + "/" + sc.APIURL.Key}
				if sc.SendResolved != nil {
					cfg["send_resolved"] = *sc.SendResolved
				}
				for k, v := range map[string]*string{"title": sc.Title, "text": sc.Text, "color": sc.Color, "username": sc.Username, "channel": sc.Channel, "pretext": sc.Pretext, "footer": sc.Footer} {
					if v != nil {
						cfg[k] = *v
					}
				}
				slack = append(slack, cfg)
			}
			var webhooks []any
			for _, wc := range rc.WebhookConfigs {
				if wc.URL == nil {
					// urlSecret: the operator mounts it; its value is not in the manifests.
					return nil, fmt.Errorf("%s: webhook config without url (urlSecret is not read offline)", prefix+rc.Name)
				}
				cfg := map[string]any{"url": *wc.URL, "max_alerts": wc.MaxAlerts}
				if wc.SendResolved != nil {
					cfg["send_resolved"] = *wc.SendResolved
				}
				webhooks = append(webhooks, cfg)
			}
			rcv := map[string]any{"name": prefix + rc.Name}
			if len(slack) > 0 {
				rcv["slack_configs"] = slack
			}
			if len(webhooks) > 0 {
				rcv["webhook_configs"] = webhooks
			}
			receivers = append(receivers, rcv)
		}
	}
	routes = append(routes, route{"receiver": "null", "matchers": []string{`alertname="Watchdog"`}})
	return yaml.Marshal(map[string]any{"route": route{"receiver": "null", "routes": routes}, "receivers": receivers})
}
