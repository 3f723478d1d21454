package explain

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gatewatch/gatewatch/internal/explain/accesslog"
)

// WriteJSON writes the report as one JSON document.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a terminal.
func WriteText(w io.Writer, r *Report) error {
	b := &strings.Builder{}
	if r.Logs != nil {
		in := r.Logs.Input
		fmt.Fprintf(b, "access log: %s — %d lines, %d access-log entries", r.LogSource, in.Lines, in.AccessLog)
		if in.NotAccessLog > 0 {
			fmt.Fprintf(b, ", %s skipped", plural(in.NotAccessLog, "other log line", "other log lines"))
		}
		if in.Bad > 0 {
			fmt.Fprintf(b, ", %d unreadable", in.Bad)
		}
		if r.Skipped > 0 {
			fmt.Fprintf(b, ", %d older than --since", r.Skipped)
		}
		b.WriteString("\n")
	}
	if r.ConfigSource != "" {
		fmt.Fprintf(b, "configuration: %s — %d gateway servers/listeners\n", r.ConfigSource, r.Servers)
	}
	if l := r.Logs; l != nil && l.Input.AccessLog == 0 {
		fmt.Fprintf(b, "\nno line of the log read as an access log (%d lines): if the mesh sets its own format (meshConfig.accessLogFormat), pass it with --log-format; see the warnings\n", l.Input.Lines)
	} else if l != nil {
		fmt.Fprintf(b, "\n421 Misdirected Request: %d", l.Misdirected)
		if l.Misdirected > 0 {
			fmt.Fprintf(b, " (%d across hosts, %d same host, %d without SNI", l.Coalesced, l.SameHost, l.NoSNI)
			if l.SNINotLogged > 0 {
				fmt.Fprintf(b, ", %d with no SNI logged", l.SNINotLogged)
			}
			b.WriteString(")")
			if !l.FirstSeen.IsZero() {
				fmt.Fprintf(b, ", %s – %s", l.FirstSeen.UTC().Format(time.DateTime), l.LastSeen.UTC().Format("15:04:05 UTC"))
			}
			b.WriteString("\n  answered by: " + producers(l.Producers))
			if l.WebKit > 0 {
				fmt.Fprintf(b, "\n  Safari/WebKit: %d (some versions do not retry a 421)", l.WebKit)
			}
		}
		b.WriteString("\n")
	}
	for i, f := range r.Findings {
		fmt.Fprintf(b, "\n#%d  %s → %s   %d× %s\n", i+1, orDash(printable(f.SNI)), orDash(printable(f.Authority)), f.Count, kindWords(f.Kind))
		row(b, "seen", span(f.FirstSeen, f.LastSeen))
		row(b, "protocol", counts(f.Protocols))
		row(b, "clients", clients(f.Pair))
		row(b, "answered by", producers(f.Producers))
		if c := f.Config; c != nil {
			if c.SNIServer != nil {
				row(b, "SNI selects", c.SNIServer.String()+credentials(c.SNIServer.Credentials))
			}
			if c.AuthorityServer != nil && !c.SameServer {
				row(b, ":authority on", c.AuthorityServer.String())
			}
			if c.SNIServer != nil {
				cov := "does not cover " + c.Authority
				if c.CertCoversAuthority {
					cov = "covers " + c.Authority
				}
				if c.CertInferred {
					cov += " (judged from the server's hosts: certificate not given)"
				}
				row(b, "certificate", cov)
				if c.AuthorityServer != nil {
					ports := fmt.Sprintf("port %d", c.SNIServer.Port)
					if c.AuthorityServer.Port != c.SNIServer.Port {
						ports = fmt.Sprintf("ports %d and %d", c.SNIServer.Port, c.AuthorityServer.Port)
					}
					row(b, "address", fmt.Sprintf("%s, %s; h2 %s", c.AddressNote, ports, yesNo(c.H2)))
				}
			}
			for _, fm := range c.Filters {
				row(b, "EnvoyFilter", fmt.Sprintf("%s (applies: %s) %s", fm.EnvoyFilter, fm.Applies, fm.Reason))
			}
			for _, n := range c.Notes {
				row(b, "note", n)
			}
		}
		verdict(b, f.Verdict)
	}
	if r.Logs != nil && len(r.Logs.Pairs) > len(r.Findings) {
		fmt.Fprintf(b, "\n… %d more pairs (raise --top, or -o json)\n", len(r.Logs.Pairs)-len(r.Findings))
	}
	var possible []CoalescingFinding
	for _, c := range r.Coalescing {
		if c.Coalescing {
			possible = append(possible, c)
		}
	}
	if r.ConfigSource != "" && r.Servers == 0 {
		b.WriteString("\nno Gateway server or listener found in the configuration: give the Istio or Gateway API Gateways (and their Secrets)\n")
	} else if r.ConfigSource != "" {
		if len(r.Conflicts) > 0 {
			fmt.Fprintf(b, "\nservers claiming the same hosts on one port of the same gateway pods (IST0145): %d\n", len(r.Conflicts))
			for _, c := range r.Conflicts {
				fmt.Fprintf(b, "\n- %s and %s\n", c.A, c.B)
				row(b, "hosts", strings.Join(c.Hosts, ", "))
				verdict(b, c.Verdict)
			}
		}
		if len(possible) == 0 {
			b.WriteString("\nno pair of servers lets browsers coalesce connections (no certificate covers another server's host on a shared address and port)\n")
		} else {
			fmt.Fprintf(b, "\nserver pairs where browsers can coalesce connections: %d\n", len(possible))
			for _, c := range possible {
				arrow := "↔"
				if !c.Both() {
					arrow = "→"
				}
				from, to := c.Directions[0].From, c.Directions[0].To
				fmt.Fprintf(b, "\n- %s %s %s\n", from, arrow, to)
				var hosts []string
				for _, d := range c.Directions {
					hosts = append(hosts, fmt.Sprintf("%s on connections for %s", strings.Join(d.Hosts, ", "), serverName(d.From, d.To)))
				}
				row(b, "hosts", strings.Join(hosts, "; "))
				verdict(b, c.Verdict)
			}
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(b, "\nwarnings (%d; the analysis went on without these):\n", len(r.Warnings))
		for _, w := range r.Warnings {
			fmt.Fprintf(b, "  ! %s\n", w)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func row(b *strings.Builder, k, v string) {
	if v != "" {
		fmt.Fprintf(b, "    %-14s %s\n", k+":", v)
	}
}

func verdict(b *strings.Builder, v Verdict) {
	fmt.Fprintf(b, "    %-14s %s\n", "verdict:", v.Summary)
	for i, f := range v.Fixes {
		label := ""
		if i == 0 {
			label = "fix:"
		}
		fmt.Fprintf(b, "    %-14s %d. %s [%s]\n", label, i+1, f.Text, f.Code)
	}
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

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
