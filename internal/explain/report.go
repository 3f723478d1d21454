package explain

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatewatch/gatewatch/internal/explain/accesslog"
	"github.com/gatewatch/gatewatch/internal/explain/gwconfig"
)

// WriteJSON writes the report as one JSON document.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a terminal. Every list shows at most
// r.Top items (default 10) and says how many more there are (-o json has
// them all). Every value goes through textWriter.printf, which escapes
// control characters: hosts come from clients and configurations, and no
// terminal may act on them.
func WriteText(w io.Writer, r *Report) error {
	t := &textWriter{top: r.Top}
	if t.top <= 0 {
		t.top = 10
	}
	t.summary(r)
	for i, f := range r.Findings {
		t.finding(i, f)
	}
	if r.Logs != nil && len(r.Logs.Pairs) > len(r.Findings) {
		t.printf("\n… and %d more pairs (raise --top, or -o json)\n", len(r.Logs.Pairs)-len(r.Findings))
	}
	t.configuration(r)
	if len(r.Warnings) > 0 {
		t.printf("\nwarnings (%d; the analysis went on without these):\n", len(r.Warnings))
		t.limitWith("  ", len(r.Warnings), nounWarnings, func(i int) { t.printf("  ! %s\n", r.Warnings[i]) })
	}
	_, err := io.WriteString(w, t.b.String())
	return err
}

// textWriter builds the text report.
type textWriter struct {
	b   strings.Builder
	top int
}

// printf writes format with args, each string-like argument escaped
// (escape): the format strings are this file's, the arguments carry what
// clients and configurations wrote.
func (t *textWriter) printf(format string, args ...any) {
	for i, a := range args {
		switch v := a.(type) {
		case fmt.Stringer:
			args[i] = escape(v.String())
		case error:
			args[i] = escape(v.Error())
		default:
			if rv := reflect.ValueOf(a); rv.Kind() == reflect.String {
				args[i] = escape(rv.String())
			}
		}
	}
	fmt.Fprintf(&t.b, format, args...)
}

// escape replaces what a terminal could act on — control characters (ESC,
// BEL, newlines, C1 controls), invalid UTF-8 and other non-printable
// characters such as bidirectional overrides — by Go escapes (\x1b,
// \u202e), and keeps the rest as it is.
func escape(s string) string {
	if !strings.ContainsFunc(s, notPrintable) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !notPrintable(r):
			b.WriteString(s[i : i+size])
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += size
	}
	return b.String()
}

func notPrintable(r rune) bool { return r != ' ' && !unicode.IsPrint(r) }

// limit writes item(i) for the first top of n rows, then how many more.
func (t *textWriter) limit(n int, what noun, item func(i int)) {
	t.limitWith(fmt.Sprintf("    %-14s ", ""), n, what, item)
}

// limitSection is limit for a section's items.
func (t *textWriter) limitSection(n int, what noun, item func(i int)) {
	t.limitWith("\n", n, what, item)
}

func (t *textWriter) limitWith(prefix string, n int, what noun, item func(i int)) {
	for i := range min(n, t.top) {
		item(i)
	}
	if more := n - t.top; more > 0 {
		word := what.many
		if more == 1 {
			word = what.one
		}
		t.printf("%s… and %d more %s (raise --top, or -o json)\n", prefix, more, word)
	}
}

// noun is a word of a list, singular and plural.
type noun struct{ one, many string }

var (
	nounWarnings     = noun{"warning", "warnings"}
	nounServers      = noun{"server", "servers"}
	nounAddresses    = noun{"address", "addresses"}
	nounFilters      = noun{"EnvoyFilter", "EnvoyFilters"}
	nounNotes        = noun{"note", "notes"}
	nounConflicts    = noun{"conflict", "conflicts"}
	nounCertificates = noun{"certificate", "certificates"}
)

// few joins the first top of ss, saying how many more there are.
func (t *textWriter) few(ss []string) string {
	if len(ss) <= t.top {
		return strings.Join(ss, ", ")
	}
	return fmt.Sprintf("%s … and %d more", strings.Join(ss[:t.top], ", "), len(ss)-t.top)
}

func (t *textWriter) row(k, v string) {
	if v != "" {
		t.printf("    %-14s %s\n", k+":", v)
	}
}

// rows writes one value a line, the label on the first, at most top.
func (t *textWriter) rows(k string, what noun, vs []string) {
	t.limit(len(vs), what, func(i int) {
		if i == 0 {
			t.row(k, vs[i])
			return
		}
		t.printf("    %-14s %s\n", "", vs[i])
	})
}

func (t *textWriter) verdict(v Verdict) {
	t.printf("    %-14s %s\n", "verdict:", v.Summary)
	for i, f := range v.Fixes {
		label := ""
		if i == 0 {
			label = "fix:"
		}
		t.printf("    %-14s %d. %s [%s]\n", label, i+1, f.Text, f.Code)
	}
}

// summary writes the sources and the 421 counts.
func (t *textWriter) summary(r *Report) {
	if r.Logs != nil {
		in := r.Logs.Input
		t.printf("access log: %s — %d lines, %d access-log entries", r.LogSource, in.Lines, in.AccessLog)
		if in.NotAccessLog > 0 {
			t.printf(", %s skipped", gwconfig.Count(in.NotAccessLog, "other log line", "other log lines"))
		}
		if in.Bad > 0 {
			t.printf(", %d unreadable", in.Bad)
		}
		if r.Skipped > 0 {
			t.printf(", %d older than --since", r.Skipped)
		}
		t.printf("\n")
	}
	if r.ConfigSource != "" {
		t.printf("configuration: %s — %d gateway servers/listeners\n", r.ConfigSource, r.Servers)
	}
	l := r.Logs
	switch {
	case l == nil:
	case l.Input.AccessLog == 0:
		t.printf("\nno line of the log read as an access log (%d lines): if the mesh sets its own format (meshConfig.accessLogFormat), pass it with --log-format; see the warnings\n", l.Input.Lines)
	default:
		t.misdirected(l)
	}
}

func (t *textWriter) misdirected(l *accesslog.Report) {
	t.printf("\n421 Misdirected Request: %d", l.Misdirected)
	if l.Misdirected > 0 {
		t.printf(" (%d across hosts, %d same host, %d without SNI", l.Coalesced, l.SameHost, l.NoSNI)
		if l.SNINotLogged > 0 {
			t.printf(", %d with no SNI logged", l.SNINotLogged)
		}
		t.printf(")")
		if !l.FirstSeen.IsZero() {
			t.printf(", %s – %s", l.FirstSeen.UTC().Format(time.DateTime), l.LastSeen.UTC().Format("15:04:05 UTC"))
		}
		t.printf("\n  answered by: %s", producers(l.Producers))
		if l.WebKit > 0 {
			t.printf("\n  Safari/WebKit: %d (some versions do not retry a 421)", l.WebKit)
		}
	}
	t.printf("\n")
}

// finding writes one pair of 421s with the configuration's view.
func (t *textWriter) finding(i int, f Finding) {
	t.printf("\n#%d  %s → %s   %d× %s\n", i+1, orDash(f.SNI), orDash(f.Authority), f.Count, kindWords(f.Kind))
	t.row("seen", span(f.FirstSeen, f.LastSeen))
	t.row("protocol", counts(f.Protocols))
	t.row("clients", clients(f.Pair))
	t.row("answered by", producers(f.Producers))
	if c := f.Config; c != nil {
		t.pairConfig(c)
	}
	t.verdict(f.Verdict)
}

func (t *textWriter) pairConfig(c *gwconfig.Pair) {
	if c.SNIServer != nil {
		t.row("SNI selects", c.SNIServer.String()+credentials(c.SNIServer.Credentials))
	}
	if c.AuthorityServer != nil && !c.SameServer {
		t.row(":authority on", c.AuthorityServer.String())
	}
	if c.SNIServer != nil {
		cov := "does not cover " + c.Authority
		if c.CertCoversAuthority {
			cov = "covers " + c.Authority
		}
		if c.CertInferred {
			cov += " (judged from the server's hosts: certificate not given)"
		}
		t.row("certificate", cov)
		if c.AuthorityServer != nil {
			ports := fmt.Sprintf("port %d", c.SNIServer.Port)
			if c.AuthorityServer.Port != c.SNIServer.Port {
				ports = fmt.Sprintf("ports %d and %d", c.SNIServer.Port, c.AuthorityServer.Port)
			}
			t.row("address", fmt.Sprintf("%s, %s; h2 %s", c.AddressNote, ports, yesNo(c.H2)))
		}
	}
	t.limit(len(c.Filters), nounFilters, func(i int) {
		fm := c.Filters[i]
		t.row("EnvoyFilter", fmt.Sprintf("%s (applies: %s) %s", fm.EnvoyFilter, fm.Applies, fm.Reason))
	})
	t.limit(len(c.Notes), nounNotes, func(i int) { t.row("note", c.Notes[i]) })
}

// configuration writes the configuration's own findings.
func (t *textWriter) configuration(r *Report) {
	switch {
	case r.ConfigSource == "":
		return
	case r.Servers == 0:
		t.printf("\nno Gateway server or listener found in the configuration: give the Istio or Gateway API Gateways (and their Secrets)\n")
		return
	}
	if len(r.Conflicts) > 0 {
		t.printf("\nservers claiming the same hosts on one port of the same gateway pods (IST0145): %d\n", len(r.Conflicts))
		t.limitSection(len(r.Conflicts), nounConflicts, func(i int) { t.conflict(r.Conflicts[i]) })
	}
	var possible []CoalescingFinding
	servers := 0
	for _, c := range r.Coalescing {
		if c.Coalescing {
			possible = append(possible, c)
			servers += len(c.Servers)
		}
	}
	if len(possible) == 0 {
		t.printf("\nno certificate lets browsers coalesce connections (none covers another server's host on a shared address and port)\n")
		return
	}
	t.printf("\ncertificates that let browsers coalesce connections: %d (%s)\n", len(possible), gwconfig.Count(servers, "server", "servers"))
	t.limitSection(len(possible), nounCertificates, func(i int) { t.group(possible[i]) })
}

func (t *textWriter) conflict(c ConflictFinding) {
	t.printf("\n- %s, port %d: %s\n", t.few(c.Hosts), c.Port, gwconfig.Count(len(c.Members()), "server", "servers"))
	var servers []string
	for _, s := range c.Servers {
		servers = append(servers, s.String())
	}
	t.rows("servers", nounServers, servers)
	var within []string
	for _, w := range c.Within {
		within = append(within, w.String()+": "+t.few(w.Hosts))
	}
	t.rows("within", nounServers, within)
	t.verdict(c.Verdict)
}

// group writes a certificate and the servers among which browsers can
// coalesce.
func (t *textWriter) group(g CoalescingFinding) {
	t.printf("\n- certificate for %s%s: %s across %s\n", t.few(g.Names), secretWords(t, g.Secrets),
		gwconfig.Count(len(g.Servers), "server", "servers"), gwconfig.Count(g.Gateways, "Gateway", "Gateways"))
	var listeners []string
	for _, l := range g.Listeners {
		s := fmt.Sprintf("%s port %d, %s", listenerAddress(l.Address), l.Port, gwconfig.Count(l.Servers, "server", "servers"))
		if l.Coalescing {
			s += ": browsers coalesce here"
		}
		listeners = append(listeners, s)
	}
	t.rows("address", nounAddresses, listeners)
	var servers []string
	for _, s := range g.Servers {
		servers = append(servers, t.groupServer(s))
	}
	t.rows("servers", nounServers, servers)
	if len(g.Directions) > 0 {
		var hosts []string
		for _, d := range g.Directions {
			hosts = append(hosts, fmt.Sprintf("%s on connections for %s", t.few(d.Hosts), serverName(d.From, d.To)))
		}
		t.row("hosts", strings.Join(hosts, "; "))
	}
	t.verdict(g.Verdict)
}

func (t *textWriter) groupServer(s gwconfig.GroupServer) string {
	out := s.String()
	switch {
	case len(s.Hosts) > 0 && s.Presents:
		out += ": " + t.few(s.Hosts)
	case len(s.Hosts) > 0:
		out += ": " + t.few(s.Hosts) + " (with a certificate of its own)"
	default:
		out += " (presents the certificate)"
	}
	return out
}

func secretWords(t *textWriter, secrets []string) string {
	switch len(secrets) {
	case 0:
		return ""
	case 1:
		return " (Secret " + secrets[0] + ")"
	}
	return " (Secrets " + t.few(secrets) + ")"
}

// listenerAddress names an address: its IPs or hostnames, else its Services,
// else the gateway pods.
func listenerAddress(a gwconfig.GatewayAddress) string {
	switch {
	case len(a.Addresses) > 0:
		return strings.Join(a.Addresses, ", ")
	case len(a.Services) > 0:
		return "Service " + strings.Join(a.Services, ", ")
	case strings.HasPrefix(a.Key, "istio-selector:"):
		return "gateway pods " + strings.TrimPrefix(a.Key, "istio-selector:")
	}
	return a.Key
}

func kindWords(k accesslog.PairKind) string {
	switch k {
	case accesslog.PairCoalesced:
		return "(different hosts: a reused connection)"
	case accesslog.PairSameHost:
		return "(same host)"
	case accesslog.PairNoSNI:
		return "(no SNI)"
	case accesslog.PairSNINotLogged:
		return "(SNI not logged)"
	}
	return ""
}

func producers(ps []accesslog.ProducerCount) string {
	var out []string
	for _, p := range ps {
		s := fmt.Sprintf("%s %d", p.Producer, p.Count)
		if p.Detail != "" {
			s = fmt.Sprintf("%s (%s) %d", p.Producer, p.Detail, p.Count)
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

func counts(ns []accesslog.NameCount) string {
	var out []string
	for _, n := range ns {
		out = append(out, fmt.Sprintf("%s %d", n.Name, n.Count))
	}
	return strings.Join(out, ", ")
}

func clients(p accesslog.Pair) string {
	var out []string
	for _, c := range p.Clients {
		s := fmt.Sprintf("%s %d", c.Family, c.Count)
		if c.WebKit {
			s += " (WebKit)"
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

func span(a, b time.Time) string {
	if a.IsZero() {
		return ""
	}
	return a.UTC().Format(time.DateTime) + " – " + b.UTC().Format("15:04:05 UTC")
}

func credentials(c []string) string {
	if len(c) == 0 {
		return ""
	}
	return ", certificate " + strings.Join(c, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "offered"
	}
	return "not offered"
}
