// Package explain says why an Istio/Envoy gateway answered 421
// (Misdirected Request): it reads the gateway's access log (accesslog),
// groups the 421s by TLS SNI → :authority pair and by who answered, checks
// the gateway configuration and certificates (gwconfig) for each pair, and
// gives a verdict with the fix. The same analysis enriches the 421 alert's
// Mattermost message through the adapter in internal/explain/enrich; this
// package knows nothing of messages.
package explain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gatewatch/gatewatch/internal/explain/accesslog"
	"github.com/gatewatch/gatewatch/internal/explain/gwconfig"
)

// Options say what to analyse. Logs and Config are each optional; without
// logs the report lists the certificates that make coalescing possible.
type Options struct {
	Logs   LogSource
	Config ConfigSource
	// Format is a custom Envoy access-log format (nil: Istio's text and
	// JSON formats, detected per line).
	Format *accesslog.Format
	// Since keeps entries of the last Since before Now (0: all). Entries
	// without a time are kept.
	Since time.Duration
	// Now is the analysis time (certificate expiry, Since).
	Now time.Time
	// Top is how many pairs get a full finding (default 10); the text
	// report shows at most Top items of every list.
	Top int
	// ReadFor bounds the reading of the sources (0: until ctx ends): what
	// was read by then is analysed. The analysis itself stops when ctx
	// ends, with ctx's error.
	ReadFor time.Duration
	// Strict fails the run when any source cannot be read (the command
	// line: a source the user named must work); otherwise a source that
	// fails is a warning as long as another one was read (enrichment).
	Strict bool
}

// Report is the whole analysis; it marshals as `explain -o json`.
type Report struct {
	Now          time.Time `json:"now"`
	LogSource    string    `json:"log_source,omitempty"`
	ConfigSource string    `json:"config_source,omitempty"`
	// Logs is the access-log analysis; nil without logs.
	Logs *accesslog.Report `json:"logs,omitempty"`
	// Skipped counts entries older than Since.
	Skipped int `json:"skipped_older_entries,omitempty"`
	// Servers is the number of gateway servers/listeners in the config.
	Servers int `json:"servers"`
	// Findings are the top 421 pairs, each with the configuration's view
	// and a verdict, most 421s first.
	Findings []Finding `json:"findings"`
	// Conflicts are the names servers claim together on one port of the
	// same gateway pods (Istio's IST0145 ConflictingGateways), each with
	// its servers and a verdict.
	Conflicts []ConflictFinding `json:"conflicts"`
	// Coalescing are the certificates that cover hosts of other servers
	// (config only): one group per certificate (or certificates sharing a
	// name) with the servers presenting it and those whose hosts it
	// covers, and one verdict. Groups where browsers coalesce come first.
	Coalescing []CoalescingFinding `json:"coalescing"`
	// Verdict is the headline: the first finding's; without 421s in the
	// logs the first conflict's, else the first coalescing group's; nil
	// when there is nothing.
	Verdict *Verdict `json:"verdict,omitempty"`
	// Warnings are per-item problems (bad lines, unreadable resources);
	// the analysis went on without them.
	Warnings []string `json:"warnings"`
	// Top is how many items of each list the text report shows.
	Top int `json:"-"`
}

// Finding is one SNI → :authority pair of 421s.
type Finding struct {
	accesslog.Pair
	// Config is how the gateway configuration resolves the pair; nil
	// without configuration.
	Config  *gwconfig.Pair `json:"config,omitempty"`
	Verdict Verdict        `json:"verdict"`
}

// CoalescingFinding is a config-only finding: a certificate whose names
// cover hosts of servers other than those presenting it.
type CoalescingFinding struct {
	gwconfig.CoalescingGroup
	Verdict Verdict `json:"verdict"`
}

// ConflictFinding is a config-only finding: servers claiming the same
// hosts (IST0145).
type ConflictFinding struct {
	gwconfig.ServerConflict
	Verdict Verdict `json:"verdict"`
}

// Run analyses what o names. It fails only when no source could be read at
// all (per-item problems are Warnings), or with ctx's error when ctx ends:
// the work grows with the servers and log lines, and every loop of it
// checks ctx.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Logs == nil && o.Config == nil {
		return nil, errors.New("nothing to explain: give access logs, gateway configuration, or both")
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Top <= 0 {
		o.Top = 10
	}
	r := &Report{Now: o.Now, Top: o.Top, Findings: []Finding{}, Conflicts: []ConflictFinding{}, Coalescing: []CoalescingFinding{}, Warnings: []string{}}
	analysis, err := r.read(ctx, o)
	if err != nil {
		return nil, err
	}
	if analysis != nil {
		if err := r.judgeConfig(ctx, analysis); err != nil {
			return nil, err
		}
	}
	if err := r.judgeLogs(ctx, analysis, o.Top); err != nil {
		return nil, err
	}
	r.Verdict = r.headline()
	return r, nil
}

// read reads the sources within o.ReadFor, and analyses the configuration.
func (r *Report) read(ctx context.Context, o Options) (*gwconfig.Analysis, error) {
	readCtx := ctx
	if o.ReadFor > 0 {
		var cancel context.CancelFunc
		readCtx, cancel = context.WithTimeout(ctx, o.ReadFor)
		defer cancel()
	}
	var analysis *gwconfig.Analysis
	var errs []error
	if o.Config != nil {
		a, err := r.readConfig(readCtx, ctx, o)
		analysis = a
		if err != nil {
			errs = append(errs, err)
		}
	}
	if o.Logs != nil {
		if err := r.readLogs(readCtx, o); err != nil {
			errs = append(errs, err)
		}
	}
	// Interrupted or out of time: no partial report, ctx's error.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(errs) > 0 && (o.Strict || (r.Logs == nil && analysis == nil)) {
		return nil, errors.Join(errs...)
	}
	for _, err := range errs {
		r.warn(err.Error())
	}
	return analysis, nil
}

func (r *Report) warn(s string) { r.Warnings = append(r.Warnings, s) }

// readConfig reads the configuration within readCtx and analyses it
// within ctx.
func (r *Report) readConfig(readCtx, ctx context.Context, o Options) (*gwconfig.Analysis, error) {
	r.ConfigSource = o.Config.String()
	c, err := o.Config.Config(readCtx, r.warn)
	if err != nil {
		return nil, err
	}
	analysis, err := c.AnalyzeContext(ctx, o.Now)
	if err != nil {
		return nil, err
	}
	r.Servers = len(analysis.Servers)
	for _, w := range analysis.Warnings {
		r.warn(w.String())
	}
	return analysis, nil
}

// readLogs reads and analyses the access log within ctx.
func (r *Report) readLogs(ctx context.Context, o Options) error {
	r.LogSource = o.Logs.String()
	rep, skipped, err := readLogs(ctx, o, r.warn)
	if err != nil {
		return err
	}
	r.Logs, r.Skipped = rep, skipped
	if rep.Truncated {
		r.warn(fmt.Sprintf("out of time: analysed the first %d lines of the access log only", rep.Input.Lines))
	}
	for _, b := range rep.Input.BadSamples {
		r.warn(fmt.Sprintf("access log line %d: %s (%s): %s", b.Line, b.Reason, b.Detail, printable(b.Text)))
	}
	if n := rep.Input.Bad - len(rep.Input.BadSamples); n > 0 {
		var reasons []string
		for reason, c := range rep.Input.BadByReason {
			reasons = append(reasons, fmt.Sprintf("%s %d", reason, c))
		}
		slices.Sort(reasons)
		r.warn(fmt.Sprintf("%d more access-log lines could not be read (all %d by reason: %s)", n, rep.Input.Bad, strings.Join(reasons, ", ")))
	}
	return nil
}

// judgeConfig gives the configuration's own findings their verdicts.
func (r *Report) judgeConfig(ctx context.Context, analysis *gwconfig.Analysis) error {
	conflicts, err := analysis.ConflictingServers(ctx)
	if err != nil {
		return err
	}
	for _, c := range conflicts {
		r.Conflicts = append(r.Conflicts, ConflictFinding{ServerConflict: c, Verdict: judgeConflict(c)})
	}
	groups, err := analysis.CoalescingGroups(ctx)
	if err != nil {
		return err
	}
	for i, g := range groups {
		if i%256 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		r.Coalescing = append(r.Coalescing, CoalescingFinding{CoalescingGroup: g, Verdict: judgeGroup(g)})
	}
	return nil
}

// judgeLogs gives the top pairs of 421s their findings.
func (r *Report) judgeLogs(ctx context.Context, analysis *gwconfig.Analysis, top int) error {
	if r.Logs == nil {
		return nil
	}
	for _, p := range r.Logs.Pairs {
		if len(r.Findings) == top {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		f := Finding{Pair: p}
		if analysis != nil && (p.Kind == accesslog.PairCoalesced || p.Kind == accesslog.PairSameHost) {
			cp := analysis.Resolve(p.SNI, p.Authority)
			cp.Notes = append(cp.Notes, conflictNotes(cp, r.Conflicts)...)
			f.Config = &cp
		}
		f.Verdict = judgePair(f, analysis != nil)
		r.Findings = append(r.Findings, f)
	}
	return nil
}

// headline is the first finding's verdict; without 421s in the logs the
// first conflict's, else the first coalescing group's where browsers
// coalesce.
func (r *Report) headline() *Verdict {
	switch {
	case len(r.Findings) > 0:
		return &r.Findings[0].Verdict
	case len(r.Conflicts) > 0:
		return &r.Conflicts[0].Verdict
	case len(r.Coalescing) > 0 && r.Coalescing[0].Coalescing:
		return &r.Coalescing[0].Verdict
	}
	return nil
}

// conflictNotes point a pair of 421s at the conflicts its SNI's server is
// in for the pair's hosts: the other servers of a conflict get no traffic
// for the hosts they share.
func conflictNotes(cp gwconfig.Pair, conflicts []ConflictFinding) []string {
	if cp.SNIServer == nil {
		return nil
	}
	var out []string
	sni := cp.SNIServer.String()
	for _, c := range conflicts {
		members := c.Members()
		if !slices.ContainsFunc(members, func(m gwconfig.ServerRef) bool { return m.String() == sni }) {
			continue
		}
		hosts := contested(c.ServerConflict)
		if !slices.ContainsFunc(hosts, func(h string) bool {
			return gwconfig.HostMatches(h, cp.SNI) || gwconfig.HostMatches(h, cp.Authority)
		}) {
			continue // the conflict is about other hosts of that server
		}
		out = append(out, fmt.Sprintf("%s both serve %s on one port of the same gateway pods (IST0145): see the conflicts below", serverList(members), gwconfig.Few(hosts, 3)))
	}
	return out
}

// serverList names servers: "A and B", "A, B, C and 7 more".
func serverList(rs []gwconfig.ServerRef) string {
	if len(rs) == 2 {
		return rs[0].String() + " and " + rs[1].String()
	}
	var names []string
	for _, r := range rs {
		names = append(names, r.String())
	}
	return gwconfig.Few(names, 3)
}

// readLogs reads the access log, keeping the entries of the last Since.
func readLogs(ctx context.Context, o Options, warn func(string)) (*accesslog.Report, int, error) {
	rc, err := o.Logs.Logs(ctx, o.Since, warn)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	return analyzeSince(ctx, rc, o.Format, o.Since, o.Now)
}

func analyzeSince(ctx context.Context, r io.Reader, format *accesslog.Format, since time.Duration, now time.Time) (*accesslog.Report, int, error) {
	rd := accesslog.NewReader(r, accesslog.ReaderOptions{Format: format})
	a := accesslog.NewAnalyzer(accesslog.AnalyzerOptions{})
	cutoff := time.Time{}
	if since > 0 {
		cutoff = now.Add(-since)
	}
	skipped := 0
	for n := 0; rd.Next(); n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			// Out of time (an alert's enrichment budget): analyse what was
			// read rather than nothing.
			rep := a.Report(rd.Stats())
			rep.Truncated = true
			return rep, skipped, nil
		}
		e := rd.Entry()
		if !cutoff.IsZero() && !e.Time.IsZero() && e.Time.Before(cutoff) {
			skipped++
			continue
		}
		a.Add(&e)
	}
	if err := rd.Err(); err != nil && ctx.Err() == nil {
		return nil, 0, err // the reader says "read access log …"
	}
	rep := a.Report(rd.Stats())
	rep.Truncated = ctx.Err() != nil // a stream cut by the deadline ends early
	return rep, skipped, nil
}

// printable is text as it is when it prints cleanly, quoted with escapes
// when it holds control or invalid characters (a terminal must not act on
// them).
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return strconv.Quote(s)
		}
	}
	return s
}
