package explain

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// TestTextEscapesClientAndConfigText: the SNI and :authority are the
// client's to choose, the hosts the configuration's author's; in the text
// report their control characters (ESC, BEL, C1) are escaped — on the
// header, verdict and fix lines alike — so no terminal acts on them. The
// JSON report keeps the values exactly (JSON escapes them itself).
func TestTextEscapesClientAndConfigText(t *testing.T) {
	evilAuthority := "api.example.com\x1b[31m\a"
	evilSNI := "shop.example.com\x1b]0;owned\x07"
	for _, tc := range []struct {
		name, sni, authority, details, format string
		want                                  []string // in the text, escaped
	}{
		{"authority in a verdict and its fixes, text log", "shop.example.com", evilAuthority, "via_upstream", "text",
			[]string{`to request api.example.com\x1b[31m\x07 (:authority)`, `1. fix the client: it sends requests for api.example.com\x1b[31m\x07 on connections`}},
		{"authority, JSON log", "shop.example.com", evilAuthority, "via_upstream", "json",
			[]string{`→ api.example.com\x1b[31m\x07`, `1. fix the client: it sends requests for api.example.com\x1b[31m\x07 on connections`}},
		{"SNI", evilSNI, "api.example.com", "lua_response", "json",
			[]string{`#1  shop.example.com\x1b]0;owned\x07 → api.example.com`, `matches the SNI shop.example.com\x1b]0;owned\x07:`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logFile, dir := scenario{
				gateways: istioGateway("shop", `"shop.example.com", "shop\e[2J\x9b1m.example.com"`, "shop-cert", "ingressgateway") +
					istioGateway("api", "api.example.com", "api-cert", "ingressgateway") + luaFilter,
				secrets: map[string][]string{"shop-cert": {"*.example.com"}, "api-cert": {"*.example.com"}},
				logs:    logs(3, tc.details, safari, tc.authority, tc.sni, tc.format),
			}.write(t)
			r, err := Run(context.Background(), Options{Logs: FileLogs{Path: logFile}, Config: DirConfig{Path: dir}, Now: now})
			require.NoError(t, err)
			require.NotEmpty(t, r.Findings)
			f := r.Findings[0]
			require.Equal(t, [2]string{tc.sni, tc.authority}, [2]string{f.SNI, f.Authority}, "the analysis keeps the values as they are")

			text := textOf(t, r)
			t.Log("\n" + text)
			requireNoControls(t, text)
			for _, w := range tc.want {
				require.Contains(t, text, w)
			}
			require.Contains(t, text, `shop\x1b[2j\x9b1m.example.com`, "a host of the configuration")

			var js bytes.Buffer
			require.NoError(t, WriteJSON(&js, r))
			var back Report
			require.NoError(t, json.Unmarshal(js.Bytes(), &back))
			require.Equal(t, [2]string{tc.sni, tc.authority}, [2]string{back.Findings[0].SNI, back.Findings[0].Authority}, "JSON keeps the exact values")
			require.Contains(t, back.Findings[0].Verdict.Summary, tc.sni)
		})
	}
}

// requireNoControls fails on any byte below 0x20 but newline and tab, on
// DEL, on a C1 control (U+0080–U+009F) and on invalid UTF-8.
func requireNoControls(t *testing.T, s string) {
	t.Helper()
	require.True(t, utf8.ValidString(s), "valid UTF-8")
	for i, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r <= 0x9f) {
			t.Fatalf("control character %U at byte %d: %q", r, i, s[max(0, i-40):min(len(s), i+40)])
		}
	}
}

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"shop.example.com", "shop.example.com"},
		{"Gateway a/b servers[0] port 443 → ×3 – ok", "Gateway a/b servers[0] port 443 → ×3 – ok"},
		{"a\x1b[31mb\a", `a\x1b[31mb\x07`},
		{"line\nbreak\ttab", `line\x0abreak\x09tab`},
		{"c1 \u009b and raw \x9b", `c1 \x9b and raw \x9b`},
		{"del \x7f", `del \x7f`},
		{"bidi \u202egnp.exe", `bidi \u202egnp.exe`},
		{"tag \U000E0041", `tag \U000e0041`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got := escape(tc.in)
			require.Equal(t, tc.want, got)
			requireNoControls(t, got)
		})
	}
}

// TestTopLimitsEveryList: --top bounds the servers of a group, the
// groups, the conflicts and the warnings, each saying how many more.
func TestTopLimitsEveryList(t *testing.T) {
	var gateways strings.Builder
	gateways.WriteString(ingressService)
	for _, name := range []string{"a", "b", "c", "d"} {
		gateways.WriteString(istioGateway(name, "shop.example.com", "missing-"+name, "ingressgateway"))
		gateways.WriteString(istioGateway(name+"-api", name+".api.example.com", "wildcard", "ingressgateway"))
	}
	_, dir := scenario{gateways: gateways.String(), secrets: map[string][]string{"wildcard": {"*.api.example.com"}}}.write(t)
	r, err := Run(context.Background(), Options{Config: DirConfig{Path: dir}, Now: now, Top: 2})
	require.NoError(t, err)
	require.Len(t, r.Conflicts, 1)
	require.Len(t, r.Conflicts[0].Servers, 4)
	require.Len(t, r.Warnings, 4, "four certificates not in the input")
	text := textOf(t, r)
	t.Log("\n" + text)
	require.Contains(t, text, "- shop.example.com, port 443: 4 servers\n")
	require.Contains(t, text, "… and 2 more servers (raise --top, or -o json)\n")
	require.Contains(t, text, "  … and 2 more warnings (raise --top, or -o json)\n")
	require.Equal(t, 2, strings.Count(text, "  ! "))
	require.Equal(t, 2, strings.Count(text, "… and 2 more servers"), "the conflict's and the certificate's servers")
}
