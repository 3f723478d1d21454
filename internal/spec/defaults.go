package spec

import "fmt"

// applyDefaults fills every empty field with its documented default. Fields
// that were written in the file keep their value even when it is zero, so
// validate can reject "window: 0s" instead of silently replacing it.
func (s *Spec) applyDefaults(idx lineIndex, kinds Kinds) {
	for i := range s.Gateways {
		g := &s.Gateways[i]
		if g.Workload == "" {
			g.Workload = g.Name
		}
		if g.Stats.Port.IsZero() {
			g.Stats.Port = Port{Name: DefaultStatsPortName}
		}
		if g.Stats.Path == "" {
			g.Stats.Path = DefaultStatsPath
		}
		if !idx.has(fmt.Sprintf("gateways[%d].stats.interval", i)) {
			g.Stats.Interval = DefaultScrapeInterval
		}
		if !idx.has(fmt.Sprintf("gateways[%d].stats.timeout", i)) {
			g.Stats.Timeout = min(DefaultScrapeTimeout, g.Stats.Interval)
		}
	}

	present := map[string]bool{}
	for i := range s.Alerts {
		a := &s.Alerts[i]
		a.path = fmt.Sprintf("alerts[%d]", i)
		if a.Kind == "" && len(kinds) > 0 {
			a.Kind = kinds[0].Name
		}
		present[a.Kind] = true
		k, _ := kinds.Lookup(a.Kind)
		a.applyDefaults(k, idx.has(a.path+".window"), idx.has(a.path+".for"))
	}
	// Implicit kinds (the 421 alert: it is what gatewatch is for) are on
	// unless the file has an entry of their kind, in catalogue order ahead
	// of the written alerts.
	var implicit []Alert
	for _, k := range kinds {
		if k.Implicit && !present[k.Name] {
			a := Alert{Kind: k.Name, path: "alerts"}
			a.applyDefaults(k, false, false)
			implicit = append(implicit, a)
		}
	}
	s.Alerts = append(implicit, s.Alerts...)

	m := &s.Mattermost
	if m.Username == "" {
		m.Username = "gatewatch"
	}

	r := &s.Routing
	if len(r.GroupBy) == 0 {
		r.GroupBy = []string{"alertname", "namespace", "gateway"}
	}
	if r.GroupWait == 0 && !idx.has("routing.group_wait") {
		r.GroupWait = DefaultGroupWait
	}
	if !idx.has("routing.group_interval") {
		r.GroupInterval = DefaultGroupInterval
	}
	if !idx.has("routing.repeat_interval") {
		r.RepeatInterval = DefaultRepeatInterval
	}
	if r.DefaultReceiver == "" {
		r.DefaultReceiver = "null"
	}
	if len(r.Alerts) == 0 {
		for _, a := range s.Alerts {
			if a.IsEnabled() {
				r.Alerts = append(r.Alerts, a.Name)
			}
		}
	}

	if s.Explain.Timeout == 0 {
		s.Explain.Timeout = DefaultExplainTimeout
	}

	c := &s.Cluster
	if c.MonitoringNamespace == "" {
		c.MonitoringNamespace = "monitoring"
	}
	if c.Prometheus.Namespace == "" {
		c.Prometheus.Namespace = c.MonitoringNamespace
	}
	if c.Prometheus.PodSelector == "" {
		c.Prometheus.PodSelector = "app.kubernetes.io/name=prometheus"
	}
	if c.Alertmanager.Namespace == "" {
		c.Alertmanager.Namespace = c.MonitoringNamespace
	}
	if c.Alertmanager.PodSelector == "" {
		c.Alertmanager.PodSelector = "app.kubernetes.io/name=alertmanager"
	}
	if c.Alertmanager.Version == "" {
		c.Alertmanager.Version = DefaultAMVersion
	}
	if c.Alertmanager.SecretName == "" {
		c.Alertmanager.SecretName = DefaultSecretName
	}
	if c.Image == "" {
		c.Image = DefaultImage
	}
	if c.DNS.Namespace == "" {
		c.DNS.Namespace = "kube-system"
	}
	if c.DNS.PodSelector == "" {
		c.DNS.PodSelector = "k8s-app=kube-dns"
	}
	w := &c.WebhookPath
	if w.Via == "" {
		w.Via = ViaGateway
	}
	if w.Via == ViaGateway {
		if w.Gateway.Namespace == "" && len(s.Gateways) > 0 {
			w.Gateway.Namespace = s.Gateways[0].Namespace
		}
		if w.Gateway.PodSelector == "" && len(s.Gateways) > 0 {
			w.Gateway.PodSelector = s.Gateways[0].Selector
		}
		if w.Gateway.Port == 0 {
			w.Gateway.Port = 443
		}
		if w.Gateway.TargetPort == 0 {
			w.Gateway.TargetPort = 8443
		}
	}
	if w.Port == 0 {
		w.Port = 443
	}
}

// EnabledAlerts returns the alerts that are on, in file order.
func (s *Spec) EnabledAlerts() []Alert {
	var out []Alert
	for _, a := range s.Alerts {
		if a.IsEnabled() {
			out = append(out, a)
		}
	}
	return out
}

func (a *Alert) applyDefaults(k Kind, windowWritten, forWritten bool) {
	if a.Name == "" {
		a.Name = k.AlertName
	}
	if k.Defaults != nil {
		k.Defaults(a)
	}
	if !windowWritten {
		a.Window = DefaultWindow
		if k.DefaultWindow > 0 {
			a.Window = k.DefaultWindow
		}
	}
	if !forWritten {
		a.For = k.DefaultFor
	}
	if a.Severity == "" {
		a.Severity = DefaultSeverity
	}
	if a.Per == "" {
		a.Per = "pod"
	}
}
