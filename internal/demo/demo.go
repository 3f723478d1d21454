package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gatewatch/gatewatch/internal/engine"
	"github.com/gatewatch/gatewatch/internal/explain"
	"github.com/gatewatch/gatewatch/internal/explain/enrich"
	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
	"github.com/gatewatch/gatewatch/internal/rules"
	"github.com/gatewatch/gatewatch/internal/spec"
	"github.com/gatewatch/gatewatch/internal/web"
)

// Options configure the demo.
type Options struct {
	// Listen is the status page address.
	Listen string
	// ScrapeInterval of the simulated gateway.
	ScrapeInterval time.Duration
	// FirstAfter is when the first misdirected request is served.
	FirstAfter time.Duration
	// Every is the interval between later ones (0: only on demand).
	Every time.Duration
	// Window of the 421 alert (how long until it resolves).
	Window time.Duration
	// Pods is the number of simulated gateway pods.
	Pods int
	// Scenario is what each injection does: "first-421" (one misdirected
	// request), "burst" (five at once) or "restart" (the gateway restarts,
	// resetting its counters, then serves one).
	Scenario string
	// Webhook posts through an incoming webhook instead of as a bot (the
	// default: one post per incident, edited, with a thread and buttons).
	Webhook bool
	// AccessLog receives the gateway's Istio access log (nil: discarded).
	AccessLog io.Writer
	Logger    *slog.Logger
	Version   string
	// Ready, if set, is called with the status page URL once everything runs.
	Ready func(url string)
}

// Run starts the inbox, the simulated gateway pods, the engine and the
// status page, prints every message the inbox receives to out, and runs
// until ctx is done.
func Run(ctx context.Context, o Options, out io.Writer) error {
	switch o.Scenario {
	case "", "first-421", "burst", "restart":
	default:
		return fmt.Errorf("unknown scenario %q: use first-421, burst or restart", o.Scenario)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Pods < 1 {
		o.Pods = 1
	}
	mm, err := inbox.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer mm.Close()
	pg := &page{out: out, mm: mm}
	mattermostYAML, cleanup, err := pg.setupMattermost(o.Webhook)
	if err != nil {
		return err
	}
	defer cleanup()

	// The gateways' access log also feeds explain, which, with the demo
	// gateway's configuration (two Gateways sharing a wildcard certificate,
	// a Lua filter), explains each 421 in its message.
	accessLog := explain.NewMemoryLogs(8 << 20)
	var logOut io.Writer = accessLog
	if o.AccessLog != nil {
		logOut = io.MultiWriter(accessLog, o.AccessLog)
	}
	gwConfig, err := GatewayConfig(time.Now())
	if err != nil {
		return fmt.Errorf("demo gateway configuration: %w", err)
	}
	enricher := &enrich.Enricher{
		Alerts: map[string]bool{"GatewayMisdirectedRequest421": true},
		Logs:   func(string) explain.LogSource { return accessLog },
		Config: explain.StaticConfig{C: gwConfig, Name: "the demo gateway's configuration"},
		Logger: o.Logger,
	}

	var pods []*Gateway
	var targets []string
	for i := 0; i < o.Pods; i++ {
		g := NewGateway("istio-ingress", "istio-ingressgateway", fmt.Sprintf("istio-ingressgateway-7d9f8b6c4d-%05d", i), nil, logOut)
		if err := g.Start("127.0.0.1:0"); err != nil {
			return err
		}
		defer g.Close()
		pods = append(pods, g)
		targets = append(targets, `"`+g.Addr()+`"`)
	}

	s, err := spec.Parse([]byte(fmt.Sprintf(`gateways:
  - name: public-ingress
    namespace: istio-ingress
    workload: istio-ingressgateway
    static_targets: [%s]
    stats: {interval: %s, timeout: %s}
alerts:
  - kind: misdirected-request
    window: %s
    runbook_url: https://github.com/gatewatch/gatewatch/blob/main/docs/mattermost.md
mattermost:
%s
routing:
  group_interval: 30s
`, strings.Join(targets, ", "), spec.Duration(o.ScrapeInterval), spec.Duration(o.ScrapeInterval*9/10), spec.Duration(o.Window), mattermostYAML)), "demo", rules.SpecKinds())
	if err != nil {
		return fmt.Errorf("demo spec: %w", err)
	}

	ln, err := web.Listen(o.Listen)
	if err != nil {
		return fmt.Errorf("status page: %w", err)
	}
	url := "http://" + ln.Addr().String()
	extURL, err := neturl.Parse(url)
	if err != nil {
		ln.Close()
		return err
	}
	e, err := engine.New(s, engine.Options{Logger: o.Logger, ExternalURL: extURL, Enrich: enricher.Enrich})
	if err != nil {
		ln.Close()
		return err
	}
	if err := e.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	defer e.Close()

	pg.inject = func() {
		switch o.Scenario {
		case "burst":
			pods[0].Misdirect(5)
		case "restart":
			pods[0].Restart()
			pods[0].Serve(5)
			pods[0].Misdirect(1)
		default:
			pods[0].Misdirect(1)
		}
		o.Logger.Info("served misdirected requests", "scenario", o.Scenario)
	}
	h := web.Handler(e, web.Options{Version: o.Version, Logger: o.Logger, Demo: pg, Hosts: web.HostsFor(ln.Addr(), "")})
	pageCtx, stopPage := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := web.Serve(pageCtx, ln, h); err != nil {
			o.Logger.Error("status page stopped", "err", err)
		}
	}()
	defer func() {
		stopPage()
		<-served
	}()

	pg.mu.Lock()
	fmt.Fprintf(out, "gatewatch demo\n  status page:        %s\n  simulated gateway:  %d pod(s), stats at http://%s/stats/prometheus (scraped every %s)\n  Mattermost inbox:   strict local server, channel ~gateway-alerts, %s\n  first misdirected request (421) in %s", url, len(pods), pods[0].Addr(), o.ScrapeInterval, pg.mode(), o.FirstAfter)
	if o.Every > 0 {
		fmt.Fprintf(out, ", then every %s", o.Every)
	}
	fmt.Fprintf(out, "; serve one now with the page's button or `curl -X POST %s/demo/inject`\n  Ctrl-C stops everything.\n\n", url)
	pg.mu.Unlock()
	if o.Ready != nil {
		o.Ready(url)
	}

	traffic := time.NewTicker(time.Second)
	defer traffic.Stop()
	first := time.NewTimer(o.FirstAfter)
	defer first.Stop()
	var every <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-traffic.C:
			for _, p := range pods {
				p.Serve(5)
			}
		case <-first.C:
			pg.inject()
			if o.Every > 0 {
				t := time.NewTicker(o.Every)
				defer t.Stop()
				every = t.C
			}
		case <-every:
			pg.inject()
		}
	}
}

// page is the demo's part of the status page (web.Demo): the inject button
// and the messages the inbox received, which it also prints to out.
type page struct {
	inject func()
	mm     *inbox.Server
	bot    bool

	mu       sync.Mutex // serialises out too
	out      io.Writer
	received []web.InboxPost
}

// demoUser clicks the buttons on the status page.
const demoUser = "alice"

// setupMattermost prepares the inbox: a bot in team demo, channel
// gateway-alerts, with alice as a member to click (bot mode), or a locked
// webhook. It returns the spec's mattermost section.
func (p *page) setupMattermost(webhook bool) (string, func(), error) {
	if webhook {
		hook := p.mm.AddHook("demo", "gateway-alerts", true)
		p.mm.OnPost(p.post)
		return fmt.Sprintf("  webhook_url: %s\n  username: gatewatch\n  channel: gateway-alerts", hook), func() {}, nil
	}
	p.bot = true
	chID := p.mm.AddTeamChannel("demo", "gateway-alerts")
	token := p.mm.SetupBot("demo", "gateway-alerts", "gatewatch")
	alice, _ := p.mm.AddUser(demoUser, false)
	p.mm.AddMember(chID, alice)
	dir, err := os.MkdirTemp("", "gatewatch-demo-")
	if err != nil {
		return "", nil, err
	}
	tokenFile := filepath.Join(dir, "bot-token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	p.mm.OnEvent(p.event)
	return fmt.Sprintf("  url: %s\n  bot_token_file: %s\n  team: demo\n  channel: gateway-alerts", p.mm.URL, tokenFile), func() { os.RemoveAll(dir) }, nil
}

func (p *page) mode() string {
	if p.bot {
		return "gatewatch posts as a bot (one post per incident, edited, with a thread and buttons)"
	}
	return "incoming webhook"
}

// post prints a webhook post the inbox accepted and lists it, newest first.
func (p *page) post(ip inbox.Post) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inbox.PrintPost(p.out, ip)
	for _, a := range ip.Attachments {
		p.received = append([]web.InboxPost{{At: ip.Received, Title: a.Title, Color: a.Color, Text: a.Text}}, p.received...)
	}
}

// event prints what happened to a bot post.
func (p *page) event(e inbox.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inbox.PrintEvent(p.out, e)
}

// Inject serves misdirected requests as the scenario says.
func (p *page) Inject() { p.inject() }

// Inbox lists the messages received, newest first: in bot mode each root
// post as it is now, with its status line, buttons and thread.
func (p *page) Inbox() []web.InboxPost {
	if !p.bot {
		p.mu.Lock()
		defer p.mu.Unlock()
		return append([]web.InboxPost(nil), p.received...)
	}
	var out []web.InboxPost
	for _, ap := range p.mm.APIPosts() {
		if ap.RootID != "" || ap.DeleteAt != 0 {
			continue
		}
		ip := web.InboxPost{ID: ap.ID, At: time.UnixMilli(ap.CreateAt), Edited: ap.EditAt != 0, Text: ap.Message}
		if len(ap.Attachments) > 0 {
			a := ap.Attachments[0]
			ip.Title, ip.Color, ip.Text, ip.Status = a.Title, a.Color, a.Text, a.Pretext
		}
		for _, act := range ap.Actions {
			ip.Buttons = append(ip.Buttons, web.InboxButton{ID: act.ID, Name: act.Name})
		}
		for _, r := range p.mm.Thread(ap.ID) {
			ip.Thread = append(ip.Thread, r.Message)
		}
		out = append([]web.InboxPost{ip}, out...)
	}
	return out
}

// Click clicks a button as the demo user, as Mattermost's client would:
// the inbox sends the click to gatewatch's action endpoint.
func (p *page) Click(postID, actionID string) error {
	if !p.bot {
		return fmt.Errorf("the demo posts through a webhook (--webhook): there are no buttons")
	}
	res, err := p.mm.Click(demoUser, postID, actionID)
	if err != nil {
		return err
	}
	if res.Status != http.StatusOK {
		return fmt.Errorf("gatewatch answered the click with %d: %s", res.Status, res.Err)
	}
	return nil
}
