// Package webhook resolves the Mattermost incoming-webhook URL, a secret:
// given inline or as a file re-read at each use (so a rotated secret takes
// effect without a restart), checked to be an http(s) URL with a host, and
// never quoted in an error. It imports only the standard library, so the
// spec's validation, the Mattermost client and doctor can share it.
package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// ErrNone is returned when neither the URL nor the URL file is given.
var ErrNone = errors.New("no webhook_url or webhook_url_file in the spec")

// Parse checks that raw is an http(s) URL with a host. The error never
// holds raw.
func Parse(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("not an http(s) URL with a host (value not shown: it is a secret)")
	}
	return u, nil
}

// Resolve returns the webhook URL as written: inline when it is given,
// else the trimmed content of file, read now. It is checked with Parse;
// errors name the file, never the value.
func Resolve(inline, file string) (string, error) {
	if inline != "" {
		if _, err := Parse(inline); err != nil {
			return "", fmt.Errorf("webhook_url: %w", err)
		}
		return inline, nil
	}
	if file == "" {
		return "", ErrNone
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read webhook_url_file %q: %w", file, err)
	}
	raw := strings.TrimSpace(string(b))
	if raw == "" {
		return "", fmt.Errorf("webhook_url_file %q is empty", file)
	}
	if _, err := Parse(raw); err != nil {
		return "", fmt.Errorf("webhook_url_file %q does not hold an http(s) URL (value not shown: it is a secret)", file)
	}
	return raw, nil
}
