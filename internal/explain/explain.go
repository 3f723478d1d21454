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
// logs the report lists the server pairs whose certificates make coalescing
// possible.
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
	// Top is how many pairs get a full finding (default 10).
	Top int
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
	// Conflicts are the servers that claim the same hosts on one port of
	// the same gateway pods (Istio's IST0145 ConflictingGateways), each
	// with a verdict.
	Conflicts []ConflictFinding `json:"conflicts"`
	// Coalescing are the pairs of servers whose certificates make
	// coalescing possible (config only): one per pair of servers, with the
	// directions it goes (A→B, B→A or both) and one verdict.
	Coalescing []CoalescingFinding `json:"coalescing"`
	// Verdict is the headline: the first finding's; without 421s in the
	// logs the first conflict's, else the first coalescing pair's; nil when
	// there is nothing.
	Verdict *Verdict `json:"verdict,omitempty"`
	// Warnings are per-item problems (bad lines, unreadable resources);
	// the analysis went on without them.
	Warnings []string `json:"warnings"`
}

// Finding is one SNI → :authority pair of 421s.
type Finding struct {
	accesslog.Pair
	// Config is how the gateway configuration resolves the pair; nil
	// without configuration.
	Config  *gwconfig.Pair `json:"config,omitempty"`
	Verdict Verdict        `json:"verdict"`
}

// CoalescingFinding is a config-only finding: a pair of servers where
// browsers can coalesce connections, in one direction or both.
type CoalescingFinding struct {
	gwconfig.ServerPair
	Verdict Verdict `json:"verdict"`
}

// ConflictFinding is a config-only finding: two servers claiming the same
// hosts (IST0145).
type ConflictFinding struct {
	gwconfig.ServerConflict
	Verdict Verdict `json:"verdict"`
}

// Run analyses what o names. It fails only when no source could be read at
// all; per-item problems are Warnings.
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
	r := &Report{Now: o.Now, Findings: []Finding{}, Conflicts: []ConflictFinding{}, Coalescing: []CoalescingFinding{}, Warnings: []string{}}
	warn := func(s string) { r.Warnings = append(r.Warnings, s) }

	var analysis *gwconfig.Analysis
	var errs []error
	if o.Config != nil {
		r.ConfigSource = o.Config.String()
		c, err := o.Config.Config(ctx, warn)
		if err != nil {
			errs = append(errs, err)
		} else {
			analysis = c.Analyze(o.Now)
			r.Servers = len(analysis.Servers)
			for _, w := range analysis.Warnings {
				warn(w.String())
			}
		}
	}
	if o.Logs != nil {
		r.LogSource = o.Logs.String()
		rep, skipped, err := readLogs(ctx, o, warn)
		if err != nil {
			errs = append(errs, err)
		} else {
			r.Logs, r.Skipped = rep, skipped
			if rep.Truncated {
				warn(fmt.Sprintf("out of time: analysed the first %d lines of the access log only", rep.Input.Lines))
			}
			for _, b := range rep.Input.BadSamples {
				warn(fmt.Sprintf("access log line %d: %s (%s): %s", b.Line, b.Reason, b.Detail, printable(b.Text)))
			}
			if n := rep.Input.Bad - len(rep.Input.BadSamples); n > 0 {
				var reasons []string
				for reason, c := range rep.Input.BadByReason {
					reasons = append(reasons, fmt.Sprintf("%s %d", reason, c))
				}
				slices.Sort(reasons)
				warn(fmt.Sprintf("%d more access-log lines could not be read (all %d by reason: %s)", n, rep.Input.Bad, strings.Join(reasons, ", ")))
			}
		}
	}
	if len(errs) > 0 && (o.Strict || (r.Logs == nil && analysis == nil)) {
		return nil, errors.Join(errs...)
	}
	for _, err := range errs {
		warn(err.Error())
	}

	if analysis != nil {
		for _, c := range analysis.ConflictingServers() {
			r.Conflicts = append(r.Conflicts, ConflictFinding{ServerConflict: c, Verdict: judgeConflict(c)})
		}
		for _, sp := range analysis.CoalescingServerPairs() {
			r.Coalescing = append(r.Coalescing, CoalescingFinding{ServerPair: sp, Verdict: judgeServers(sp)})
		}
	}
	if r.Logs != nil {
		for _, p := range r.Logs.Pairs {
			if len(r.Findings) == o.Top {
				break
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
	}
	switch {
	case len(r.Findings) > 0:
		v := r.Findings[0].Verdict
		r.Verdict = &v
	case len(r.Conflicts) > 0:
		v := r.Conflicts[0].Verdict
		r.Verdict = &v
	case len(r.Coalescing) > 0:
		for _, c := range r.Coalescing {
			if c.Coalescing {
				v := c.Verdict
				r.Verdict = &v
				break
			}
		}
	}
	return r, nil
}

// conflictNotes point a pair of 421s at the conflicts its SNI's server is
// in for the pair's hosts: the other server of a conflict gets no traffic
// for the hosts both claim.
func conflictNotes(cp gwconfig.Pair, conflicts []ConflictFinding) []string {
	var out []string
	for _, c := range conflicts {
		if cp.SNIServer == nil {
			break
		}
		if sni := cp.SNIServer.String(); sni != c.A.String() && sni != c.B.String() {
			continue
		}
		if !slices.ContainsFunc(c.Hosts, func(h string) bool {
			return gwconfig.HostMatches(h, cp.SNI) || gwconfig.HostMatches(h, cp.Authority)
		}) {
			continue // the conflict is about other hosts of that server
		}
		out = append(out, fmt.Sprintf("%s and %s both serve %s on one port of the same gateway pods (IST0145): see the conflicts below", c.A, c.B, strings.Join(c.Hosts, ", ")))
	}
	return out
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
