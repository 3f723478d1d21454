package gwconfig

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCertNameMatches(t *testing.T) {
	for _, tc := range []struct {
		name, cert, host string
		want             bool
	}{
		{"exact", "shop.example.com", "shop.example.com", true},
		{"exact is case-insensitive", "Shop.Example.COM", "shop.example.com", true},
		{"trailing dot ignored", "shop.example.com.", "shop.example.com", true},
		{"exact other host", "shop.example.com", "api.example.com", false},
		{"wildcard one label", "*.example.com", "api.example.com", true},
		{"wildcard not two labels", "*.example.com", "a.b.example.com", false},
		{"wildcard not the bare domain", "*.example.com", "example.com", false},
		{"wildcard only left-most", "a.*.example.com", "a.b.example.com", false},
		{"partial wildcard prefix", "f*.example.com", "foo.example.com", false},
		{"partial wildcard suffix", "*o.example.com", "foo.example.com", false},
		{"partial wildcard in short name", "f*.com", "foo.com", false},
		{"wildcard needs two labels after it", "*.com", "example.com", false},
		{"bare star", "*", "example.com", false},
		{"two wildcards", "*.*.example.com", "a.b.example.com", false},
		{"wildcard does not match an IP", "*.0.2.1", "192.0.2.1", false},
		{"empty label in host", "*.example.com", ".example.com", false},
		{"empty name", "", "example.com", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, CertNameMatches(tc.cert, tc.host))
		})
	}
}

func TestCertCovers(t *testing.T) {
	wild := &Certificate{DNSNames: []string{"*.example.com", "example.com"}, IPAddresses: []string{"192.0.2.7"}}
	cnOnly := &Certificate{CommonName: "legacy.example.com", CNOnly: true}
	for _, tc := range []struct {
		name string
		cert *Certificate
		host string
		want bool
	}{
		{"wildcard SAN", wild, "api.example.com", true},
		{"apex SAN", wild, "example.com", true},
		{"too deep", wild, "a.api.example.com", false},
		{"IP SAN", wild, "192.0.2.7", true},
		{"other IP", wild, "192.0.2.8", false},
		{"CN used only without SANs", cnOnly, "legacy.example.com", true},
		{"CN ignored with SANs", &Certificate{CommonName: "cn.example.com", DNSNames: []string{"san.example.com"}}, "cn.example.com", false},
		{"no certificate", nil, "example.com", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, CertCovers(tc.cert, tc.host))
		})
	}
}

func TestHostMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, host string
		want          bool
	}{
		{"*", "anything.example.com", true},
		{"", "anything.example.com", true}, // Gateway API listener without hostname
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "a.b.example.com", true}, // suffix match, unlike certificates
		{"*.example.com", "example.com", false},
		{"*.example.com", "a.example.org", false},
		{"*.com", "example.com", true},
		{"shop.example.com", "SHOP.example.com.", true},
		{"shop.example.com", "api.example.com", false},
		{"prod/*.example.com", "a.example.com", true},
		{"*/foo.com", "foo.com", true},
		{"./foo.com", "foo.com", true},
		{"prod/*", "foo.com", true},
	} {
		t.Run(tc.pattern+" "+tc.host, func(t *testing.T) {
			require.Equal(t, tc.want, HostMatches(tc.pattern, tc.host))
		})
	}
}

func TestAuthorityHost(t *testing.T) {
	for in, want := range map[string]string{
		"api.example.com":       "api.example.com",
		"API.example.com:443":   "api.example.com",
		"api.example.com.:8443": "api.example.com",
		"[2001:db8::1]:443":     "2001:db8::1",
		"192.0.2.1":             "192.0.2.1",
	} {
		t.Run(in, func(t *testing.T) {
			require.Equal(t, want, authorityHost(in))
		})
	}
}
