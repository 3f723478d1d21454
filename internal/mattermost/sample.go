package mattermost

import (
	"errors"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
)

// SampleOptions shape a sample alert group.
type SampleOptions struct {
	// Sender names the command sending it, e.g. "gatewatch notify test";
	// the description says the message is a test from it.
	Sender string
	// Severity overrides the alert's own; "" keeps it.
	Severity string
	// Resolved sends the resolved form.
	Resolved bool
	// Now is when the sample is built (default time.Now): the alert
	// started a minute earlier.
	Now time.Time
}

// Sample is the alert group a real alert of the spec would produce: the
// first alert routed to Mattermost, at the first gateway, with the
// generated rule's labels and annotations (`gatewatch notify test` and
// doctor's test message).
func Sample(s *spec.Spec, o SampleOptions) (*template.Data, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	g := s.Gateways[0]
	var a spec.Alert
	for _, al := range s.EnabledAlerts() {
		if len(s.Routing.Alerts) > 0 && al.Name == s.Routing.Alerts[0] {
			a = al
		}
	}
	if a.Name == "" {
		return nil, errors.New("no enabled alert is routed to Mattermost")
	}
	rule := rules.ForAlert(g, a)
	pod := g.Workload + "-7d9f8b6c4d-x2l9q"
	exprLabels := map[string]string{"pod": pod, "instance": "10.0.0.11:15090"}
	if a.Per == "gateway" {
		exprLabels = map[string]string{}
	}
	ann, err := rules.ExpandAnnotations(rule, exprLabels, 1)
	if err != nil {
		return nil, err
	}
	ann["description"] = "This is a test message from `" + o.Sender + "`. " + ann["description"]
	expanded, err := rules.ExpandLabels(rule, exprLabels, 1)
	if err != nil {
		return nil, err
	}
	lbls := template.KV{"alertname": a.Name}
	for k, v := range expanded {
		lbls[k] = v
	}
	for k, v := range exprLabels {
		lbls[k] = v
	}
	if o.Severity != "" {
		lbls["severity"] = o.Severity
	}
	start := o.Now.Add(-time.Minute).UTC()
	// No generator URL: a test message has no graph to link to.
	alert := template.Alert{Status: "firing", Labels: lbls, Annotations: template.KV(ann), StartsAt: start}
	status := "firing"
	if o.Resolved {
		status = "resolved"
		alert.Status, alert.EndsAt = status, o.Now.UTC()
	}
	common := template.KV{}
	for k, v := range ann {
		common[k] = v
	}
	return &template.Data{
		Receiver: "mattermost", Status: status, Alerts: template.Alerts{alert},
		GroupLabels: template.KV{"alertname": a.Name}, CommonLabels: lbls, CommonAnnotations: common,
	}, nil
}
