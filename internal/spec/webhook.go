package spec

// The Mattermost incoming-webhook URL is a secret, given inline or as a file
// re-read at each use (so a rotated secret takes effect without a restart),
// checked to be an http(s) URL with a host, and never quoted in an error.
// The spec's validation, the Mattermost client and doctor share these.

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// ErrNoWebhook is returned when neither the URL nor the URL file is given.
var ErrNoWebhook = errors.New("no webhook_url or webhook_url_file in the spec")

// ParseWebhookURL checks that raw is an http(s) URL with a host. The error never
// holds raw.
func ParseWebhookURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("not an http(s) URL with a host (value not shown: it is a secret)")
	}
	return u, nil
}

// ResolveWebhookURL returns the webhook URL as written: inline when it is given,
// else the trimmed content of file, read now. It is checked with ParseWebhookURL;
// errors name the file, never the value.
func ResolveWebhookURL(inline, file string) (string, error) {
	if inline != "" {
		if _, err := ParseWebhookURL(inline); err != nil {
			return "", fmt.Errorf("webhook_url: %w", err)
		}
		return inline, nil
	}
	if file == "" {
		return "", ErrNoWebhook
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read webhook_url_file %q: %w", file, err)
	}
	raw := strings.TrimSpace(string(b))
	if raw == "" {
		return "", fmt.Errorf("webhook_url_file %q is empty", file)
	}
	if _, err := ParseWebhookURL(raw); err != nil {
		return "", fmt.Errorf("webhook_url_file %q does not hold an http(s) URL (value not shown: it is a secret)", file)
	}
	return raw, nil
}

// ParseServerURL checks a Mattermost server base URL (bot mode): http(s),
// a host, no query. It is not a secret.
func ParseServerURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("url %q must be the Mattermost server's base URL, e.g. https://mattermost.example.com", raw)
	}
	return u, nil
}

// ErrNoBotToken is returned when neither the token nor the token file is given.
var ErrNoBotToken = errors.New("no bot_token or bot_token_file in the spec")

// ResolveBotToken returns the bot token: inline when given, else the
// trimmed content of file, read now (so a rotated token is used at once).
// Errors name the file, never the value.
func ResolveBotToken(inline, file string) (string, error) {
	if inline != "" {
		return inline, nil
	}
	if file == "" {
		return "", ErrNoBotToken
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read bot_token_file %q: %w", file, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("bot_token_file %q is empty", file)
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("bot_token_file %q holds more than one word (value not shown: it is a secret)", file)
	}
	return tok, nil
}
