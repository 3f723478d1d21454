package doctor

import (
	"context"
	"fmt"
	"strings"

	amconfig "github.com/prometheus/alertmanager/config"
)

// alertmanagerConfig (alertmanager/config): Alertmanager's configuration
// loads and has a Mattermost receiver.
type alertmanagerConfig struct{}

func (alertmanagerConfig) ID() string    { return "alertmanager/config" }
func (alertmanagerConfig) Title() string { return "Alertmanager has a Mattermost receiver" }
func (alertmanagerConfig) Offline() bool { return true }

const factAMConfig = "alertmanager-config"

func (alertmanagerConfig) Run(ctx context.Context, env *Env) Result {
	var conf *amconfig.Config
	var source string
	if env.offline() {
		c, src, err := env.Manifests.alertmanagerConfig()
		if err != nil {
			return failed("no usable Alertmanager configuration in the manifests", "render it with `gatewatch render --target prometheus|helm|operator`", err.Error())
		}
		conf, source = c, src
	} else {
		if env.AlertmanagerURL == "" {
			return skip("no Alertmanager URL (use --alertmanager-url)")
		}
		var st struct {
			Config struct {
				Original string `json:"original"`
			} `json:"config"`
		}
		if err := getJSON(ctx, env, strings.TrimRight(env.AlertmanagerURL, "/")+"/api/v2/status", &st); err != nil {
			return failed("Alertmanager API unreachable", "check --alertmanager-url (e.g. kubectl -n monitoring port-forward svc/alertmanager-operated 9093)", err.Error())
		}
		c, err := amconfig.Load(st.Config.Original)
		if err != nil {
			return failed("Alertmanager's configuration does not load here", "", err.Error())
		}
		conf, source = c, env.AlertmanagerURL
	}
	env.facts[factAMConfig] = conf
	var mm []string
	for _, r := range conf.Receivers {
		switch {
		case len(r.MattermostConfigs) > 0:
			mm = append(mm, r.Name+" (mattermost_configs)")
		case len(r.SlackConfigs) > 0:
			mm = append(mm, r.Name+" (slack_configs)")
		}
	}
	if len(mm) == 0 {
		return failed("no Mattermost receiver", "add the receiver from `gatewatch render` (through chart values or an AlertmanagerConfig: editing the operator's generated Secret is overwritten)", "from "+source)
	}
	return pass(fmt.Sprintf("%d Mattermost receiver(s)", len(mm)), append([]string{"from " + source}, mm...)...)
}
