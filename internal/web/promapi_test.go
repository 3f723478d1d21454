package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/demo"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
	"github.com/gatewatch/gatewatch/internal/web"
)

// promAnswer is Prometheus's API envelope, data left raw.
type promAnswer struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

// getProm GETs path and decodes the envelope and its data into data.
func getProm(t *testing.T, base, path string, data any) (int, promAnswer) {
	t.Helper()
	code, body := get(t, base+path)
	var a promAnswer
	require.NoError(t, json.Unmarshal([]byte(body), &a), body)
	if code == http.StatusOK && data != nil {
		require.NoError(t, json.Unmarshal(a.Data, data), body)
	}
	return code, a
}

type apiRule struct {
	State          string            `json:"state"`
	Name           string            `json:"name"`
	Query          string            `json:"query"`
	Labels         map[string]string `json:"labels"`
	Health         string            `json:"health"`
	Type           string            `json:"type"`
	LastEvaluation time.Time         `json:"lastEvaluation"`
	Alerts         []struct {
		Labels map[string]string `json:"labels"`
		State  string            `json:"state"`
		Value  string            `json:"value"`
	} `json:"alerts"`
}

type apiRules struct {
	Groups []struct {
		Name     string    `json:"name"`
		File     string    `json:"file"`
		Interval float64   `json:"interval"`
		Rules    []apiRule `json:"rules"`
	} `json:"groups"`
	GroupNextToken string `json:"groupNextToken"`
}

// rule finds a rule by name in a rules answer.
func (rs apiRules) rule(name string) (apiRule, bool) {
	for _, g := range rs.Groups {
		for _, r := range g.Rules {
			if r.Name == name {
				return r, true
			}
		}
	}
	return apiRule{}, false
}

// TestPrometheusMetadataAPI: series, labels, label values, targets, rules,
// alerts and metadata of a running engine scraping a simulated gateway,
// with Prometheus's parameters, shapes and errors.
func TestPrometheusMetadataAPI(t *testing.T) {
	gw := demo.NewGateway("istio-ingress", "istio-ingressgateway", "pod-0", nil, nil)
	require.NoError(t, gw.Start("127.0.0.1:0"))
	defer gw.Close()
	gw.Serve(10)
	s, err := spec.Parse([]byte(fmt.Sprintf(`gateways:
  - name: public-ingress
    namespace: istio-ingress
    workload: istio-ingressgateway
    static_targets: ["%s"]
    stats: {interval: 1s, timeout: 900ms}
mattermost:
  webhook_url: http://127.0.0.1:1/hooks/x
`, gw.Addr())), "t.yaml", rules.SpecKinds())
	require.NoError(t, err)
	job := rules.StaticJobName(s.Gateways[0])
	e := startEngine(t, s)
	srv := httptest.NewServer(web.Handler(e, web.Options{}))
	defer srv.Close()

	// Every rule evaluated once after the first scrape: then up, the
	// families and the rules' health are all there.
	var rs apiRules
	require.Eventually(t, func() bool {
		code, _ := getProm(t, srv.URL, "/api/v1/rules", &rs)
		r, ok := rs.rule("GatewayMisdirectedRequest421")
		ts := e.Targets()
		return code == 200 && ok && r.Health == "ok" && len(ts) == 1 && ts[0].Health == "up" && r.LastEvaluation.After(ts[0].LastScrape)
	}, 30*time.Second, 50*time.Millisecond, "the target scraped and the 421 rule evaluated after it")

	t.Run("series", func(t *testing.T) {
		var series []map[string]string
		code, a := getProm(t, srv.URL, "/api/v1/series?match[]=up", &series)
		require.Equal(t, 200, code)
		require.Equal(t, "success", a.Status)
		require.Equal(t, []map[string]string{{"__name__": "up", "gateway": "public-ingress", "instance": gw.Addr(), "job": job}}, series)

		// POST (promtool and Grafana post the form), two selectors joined.
		resp, err := http.PostForm(srv.URL+"/api/v1/series", url.Values{"match[]": {"up", "envoy_server_uptime"}, "start": {fmt.Sprint(time.Now().Add(-time.Hour).Unix())}})
		require.NoError(t, err)
		var post struct{ Data []map[string]string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&post))
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		var names []string
		for _, l := range post.Data {
			names = append(names, l["__name__"])
		}
		require.Equal(t, []string{"envoy_server_uptime", "up"}, names, "sorted, one each")

		// The limit cuts the answer and says so, as Prometheus does.
		series = nil
		code, a = getProm(t, srv.URL, "/api/v1/series?limit=1&match[]="+url.QueryEscape(`{job="`+job+`"}`), &series)
		require.Equal(t, 200, code)
		require.Len(t, series, 1)
		require.Equal(t, []string{"results truncated due to limit"}, a.Warnings)

		// No series before the data started.
		series = nil
		code, _ = getProm(t, srv.URL, "/api/v1/series?match[]=up&start=0&end=60", &series)
		require.Equal(t, 200, code)
		require.Empty(t, series)
	})

	t.Run("labels", func(t *testing.T) {
		var names []string
		code, _ := getProm(t, srv.URL, "/api/v1/labels", &names)
		require.Equal(t, 200, code)
		require.Subset(t, names, []string{"__name__", "instance", "job", "response_code"})
		names = nil
		code, _ = getProm(t, srv.URL, "/api/v1/labels?match[]=up", &names)
		require.Equal(t, 200, code)
		require.Equal(t, []string{"__name__", "gateway", "instance", "job"}, names)

		var vals []string
		code, _ = getProm(t, srv.URL, "/api/v1/label/job/values", &vals)
		require.Equal(t, 200, code)
		require.Equal(t, []string{job}, vals)
		vals = nil
		code, _ = getProm(t, srv.URL, "/api/v1/label/__name__/values", &vals)
		require.Equal(t, 200, code)
		require.Equal(t, []string{"envoy_server_uptime", "istio_requests_total", "scrape_duration_seconds", "scrape_samples_post_metric_relabeling",
			"scrape_samples_scraped", "scrape_series_added", "up"}, vals, "the kept families and the scrape's own series")
		vals = nil
		code, a := getProm(t, srv.URL, "/api/v1/label/__name__/values?limit=2", &vals)
		require.Equal(t, 200, code)
		require.Equal(t, []string{"envoy_server_uptime", "istio_requests_total"}, vals)
		require.Equal(t, []string{"results truncated due to limit"}, a.Warnings)
		vals = nil
		code, _ = getProm(t, srv.URL, "/api/v1/label/response_code/values?match[]="+url.QueryEscape(`istio_requests_total{job="`+job+`"}`), &vals)
		require.Equal(t, 200, code)
		// The simulated gateway's ordinary traffic: 200s, and a 404 one
		// time in 50.
		require.Contains(t, vals, "200")
		require.Subset(t, []string{"200", "404"}, vals)
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			name, path, err string
		}{
			{"series without match", "/api/v1/series", "no match[] parameter provided"},
			{"selector matching everything", "/api/v1/series?match[]=" + url.QueryEscape(`{job=~".*"}`), "at least one non-empty matcher"},
			{"bad selector", "/api/v1/labels?match[]=" + url.QueryEscape("up{"), `invalid parameter "match[]"`},
			{"negative limit", "/api/v1/label/job/values?limit=-1", "limit must be non-negative"},
			{"bad time", "/api/v1/labels?start=yesterday", `invalid parameter "start"`},
			{"bad label name", "/api/v1/label/" + url.PathEscape("a\xffb") + "/values", "invalid label name"},
			{"bad rule type", "/api/v1/rules?type=both", `invalid parameter "type"`},
			{"token without limit", "/api/v1/rules?group_next_token=x", "group_limit needs to be present"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, a := getProm(t, srv.URL, tc.path, nil)
				require.Equal(t, http.StatusBadRequest, code)
				require.Equal(t, "error", a.Status)
				require.Equal(t, "bad_data", a.ErrorType)
				require.Contains(t, a.Error, tc.err)
			})
		}
	})

	t.Run("targets", func(t *testing.T) {
		var td struct {
			ActiveTargets []struct {
				DiscoveredLabels   map[string]string `json:"discoveredLabels"`
				Labels             map[string]string `json:"labels"`
				ScrapePool         string            `json:"scrapePool"`
				ScrapeURL          string            `json:"scrapeUrl"`
				GlobalURL          string            `json:"globalUrl"`
				LastError          string            `json:"lastError"`
				LastScrape         time.Time         `json:"lastScrape"`
				LastScrapeDuration float64           `json:"lastScrapeDuration"`
				Health             string            `json:"health"`
				ScrapeInterval     string            `json:"scrapeInterval"`
				ScrapeTimeout      string            `json:"scrapeTimeout"`
			} `json:"activeTargets"`
			DroppedTargets []any `json:"droppedTargets"`
		}
		code, _ := getProm(t, srv.URL, "/api/v1/targets", &td)
		require.Equal(t, 200, code)
		require.Len(t, td.ActiveTargets, 1)
		at := td.ActiveTargets[0]
		require.Equal(t, "up", at.Health)
		require.Equal(t, job, at.ScrapePool)
		require.Equal(t, map[string]string{"gateway": "public-ingress", "instance": gw.Addr(), "job": job}, at.Labels)
		require.Equal(t, gw.Addr(), at.DiscoveredLabels["__address__"])
		require.Equal(t, "http://"+gw.Addr()+"/stats/prometheus", at.ScrapeURL)
		require.Equal(t, at.ScrapeURL, at.GlobalURL)
		require.Empty(t, at.LastError)
		require.WithinDuration(t, time.Now(), at.LastScrape, 30*time.Second)
		require.Positive(t, at.LastScrapeDuration)
		require.Equal(t, "1s", at.ScrapeInterval)
		require.Equal(t, "900ms", at.ScrapeTimeout)
		require.NotNil(t, td.DroppedTargets)
		require.Empty(t, td.DroppedTargets)

		td.ActiveTargets = nil
		code, _ = getProm(t, srv.URL, "/api/v1/targets?state=dropped", &td)
		require.Equal(t, 200, code)
		require.Empty(t, td.ActiveTargets)
		code, _ = getProm(t, srv.URL, "/api/v1/targets?scrapePool=other", &td)
		require.Equal(t, 200, code)
		require.Empty(t, td.ActiveTargets)
	})

	t.Run("metadata", func(t *testing.T) {
		var md map[string][]map[string]string
		code, _ := getProm(t, srv.URL, "/api/v1/metadata", &md)
		require.Equal(t, 200, code)
		require.Equal(t, []map[string]string{{"type": "counter", "help": "", "unit": ""}}, md["istio_requests_total"])
		require.Equal(t, "gauge", md["envoy_server_uptime"][0]["type"])
		require.NotContains(t, md, "istio_request_duration_milliseconds", "dropped families have no metadata")
		md = nil
		code, _ = getProm(t, srv.URL, "/api/v1/metadata?metric=envoy_server_uptime", &md)
		require.Equal(t, 200, code)
		require.Len(t, md, 1)
	})

	// Before any 421: every rule loaded, inactive, healthy, no alerts.
	r, _ := rs.rule("GatewayMisdirectedRequest421")
	require.Equal(t, "inactive", r.State)
	require.Equal(t, "alerting", r.Type)
	require.Equal(t, "public-ingress", r.Labels["gateway"])
	require.Contains(t, r.Query, "envoy_server_uptime")
	require.NotNil(t, r.Alerts)
	require.Empty(t, r.Alerts)
	require.Len(t, rs.Groups, 1)
	require.Equal(t, float64(1), rs.Groups[0].Interval)
	require.True(t, strings.HasSuffix(rs.Groups[0].File, "rules.yml"), rs.Groups[0].File)
	var ruleNames []string
	for _, r := range rs.Groups[0].Rules {
		ruleNames = append(ruleNames, r.Name)
	}
	require.Contains(t, ruleNames, "GatewayMisdirectedRequest421")
	require.Contains(t, ruleNames, "GatewayStatsDown")

	// The first 421 fires the rule: /api/v1/rules and /api/v1/alerts show it.
	gw.Misdirect(1)
	var alerts struct {
		Alerts []struct {
			Labels   map[string]string `json:"labels"`
			State    string            `json:"state"`
			ActiveAt *time.Time        `json:"activeAt"`
			Value    string            `json:"value"`
		} `json:"alerts"`
	}
	require.Eventually(t, func() bool {
		code, _ := getProm(t, srv.URL, "/api/v1/alerts", &alerts)
		return code == 200 && len(alerts.Alerts) == 1 && alerts.Alerts[0].State == "firing"
	}, 30*time.Second, 50*time.Millisecond, "the 421 alert firing")
	a := alerts.Alerts[0]
	require.Equal(t, "GatewayMisdirectedRequest421", a.Labels["alertname"])
	require.Equal(t, "1e+00", a.Value, "Prometheus's value format")
	require.NotNil(t, a.ActiveAt)

	var only apiRules
	code, _ := getProm(t, srv.URL, "/api/v1/rules?type=alert&rule_name[]=GatewayMisdirectedRequest421", &only)
	require.Equal(t, 200, code)
	require.Len(t, only.Groups, 1)
	require.Len(t, only.Groups[0].Rules, 1)
	fired := only.Groups[0].Rules[0]
	require.Equal(t, "firing", fired.State)
	require.Len(t, fired.Alerts, 1)
	require.Equal(t, "firing", fired.Alerts[0].State)

	only = apiRules{}
	code, _ = getProm(t, srv.URL, "/api/v1/rules?exclude_alerts=true&rule_name[]=GatewayMisdirectedRequest421", &only)
	require.Equal(t, 200, code)
	require.Nil(t, only.Groups[0].Rules[0].Alerts, "exclude_alerts leaves the alerts out")
	only = apiRules{}
	code, _ = getProm(t, srv.URL, "/api/v1/rules?type=record", &only)
	require.Equal(t, 200, code)
	require.Empty(t, only.Groups, "gatewatch has no recording rules")
	only = apiRules{}
	code, _ = getProm(t, srv.URL, "/api/v1/rules?match[]="+url.QueryEscape(`{gateway="other"}`), &only)
	require.Equal(t, 200, code)
	require.Empty(t, only.Groups)

	// Pagination: one group per page, the last page without a token.
	only = apiRules{}
	code, _ = getProm(t, srv.URL, "/api/v1/rules?group_limit=1", &only)
	require.Equal(t, 200, code)
	require.Len(t, only.Groups, 1)
	require.Empty(t, only.GroupNextToken, "one gateway, one group")
}
