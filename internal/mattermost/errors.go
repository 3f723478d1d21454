package mattermost

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path"
	"strings"
	"syscall"
	"time"
)

// Causes a failed delivery is classified into, in the words the doctor and
// the logs use.
const (
	CauseRefused   = "connection refused"
	CauseReset     = "connection reset"
	CauseTimeout   = "timeout"
	CauseDNS       = "DNS lookup failed"
	CauseTLS       = "TLS error"
	CauseHTTP      = "HTTP error"
	CauseCanceled  = "canceled"
	CauseConfig    = "configuration"
	CauseNetwork   = "network error"
	CauseRateLimit = "rate limited"
	CauseAuth      = "unauthorized"
)

// SendError is a failed delivery attempt. It never holds the webhook URL.
type SendError struct {
	// Cause is one of the Cause* words.
	Cause string
	// Status is the HTTP status, 0 when no answer came.
	Status int
	// Message is Mattermost's error message (its JSON "message"), if any.
	Message string
	// Retryable says whether another attempt may succeed.
	Retryable bool
	// RetryAfter is the server's Retry-After, if any.
	RetryAfter time.Duration
	// Err is the underlying error, with the URL removed.
	Err error
	// Op is the REST API call (bot mode), e.g. "POST /api/v4/posts"; empty
	// for the webhook.
	Op string
	// Hint, if set, replaces the status's usual meaning with what to do,
	// e.g. the command that adds the bot to the channel.
	Hint string
	// fromMattermost is set when the body was Mattermost's JSON error, so
	// the status hint applies (a proxy's 404 is not "channel not found").
	fromMattermost bool
}

func (e *SendError) Error() string {
	var b strings.Builder
	if e.Op != "" {
		fmt.Fprintf(&b, "mattermost API %s: ", e.Op)
	} else {
		b.WriteString("mattermost webhook: ")
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.Status)
		hint := e.Hint
		if hint == "" && e.Op != "" {
			hint = apiStatusHint(e.Status)
		} else if hint == "" {
			hint = statusHint(e.Status)
		}
		if hint != "" && (e.Hint != "" || e.fromMattermost || e.Status == 429 || e.Status >= 500) {
			fmt.Fprintf(&b, " (%s)", hint)
		}
		if e.Message != "" {
			fmt.Fprintf(&b, ": %s", e.Message)
		}
	} else {
		b.WriteString(e.Cause)
		if e.Err != nil {
			fmt.Fprintf(&b, ": %v", e.Err)
		}
	}
	return b.String()
}

func (e *SendError) Unwrap() error { return e.Err }

// statusHint says what a Mattermost webhook status usually means.
func statusHint(code int) string {
	switch code {
	case 400:
		return "bad payload or unknown hook id"
	case 403:
		return "channel locked to the hook, or no permission to post there"
	case 404:
		return "channel not found"
	case 413:
		return "payload too large"
	case 429:
		return "rate limited"
	case 501:
		return "incoming webhooks are disabled on this server"
	}
	if code >= 500 {
		return "server error"
	}
	return ""
}

// apiStatusHint says what a REST API status usually means for a bot.
func apiStatusHint(code int) string {
	switch code {
	case 400:
		return "request refused"
	case 401:
		return "bad, expired or revoked bot token"
	case 403:
		return "no permission: is the bot a member of the channel?"
	case 404:
		return "not found"
	case 413:
		return "payload too large"
	case 429:
		return "rate limited"
	case 501:
		return "not implemented by this server"
	}
	if code >= 500 {
		return "server error"
	}
	return ""
}

// redactedError is a transport error with every form of the URL removed.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact removes the webhook URL from err: Go's HTTP client puts it in
// *url.Error, and some errors repeat it in their text.
func redact(err error, rawURL string) error {
	if err == nil {
		return nil
	}
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	return &redactedError{msg: redactString(inner.Error(), rawURL), err: inner}
}

// redactString removes the URL and every part of it that can identify
// the hook from s: its path and hook id, its query (a proxy's ?key=…) and
// each query value, its fragment, and user and password, raw and escaped.
func redactString(s, rawURL string) string {
	if rawURL == "" {
		return s
	}
	s = strings.ReplaceAll(s, rawURL, "<secret>")
	u, err := url.Parse(rawURL)
	if err != nil {
		return s
	}
	if u.RawQuery != "" {
		s = strings.ReplaceAll(s, u.RawQuery, "<secret>")
	}
	var parts []string
	for _, vs := range u.Query() {
		parts = append(parts, vs...)
	}
	parts = append(parts, u.Fragment)
	if u.User != nil {
		pw, _ := u.User.Password()
		parts = append(parts, u.User.String(), pw, u.User.Username())
	}
	for _, p := range parts {
		if len(p) < 4 { // too short to identify anything, too common to replace
			continue
		}
		s = strings.ReplaceAll(s, p, "<secret>")
		s = strings.ReplaceAll(s, url.QueryEscape(p), "<secret>")
	}
	if u.Path != "" && u.Path != "/" {
		s = strings.ReplaceAll(s, u.Path, "/<secret>")
		if id := path.Base(u.Path); len(id) >= 8 {
			s = strings.ReplaceAll(s, id, "<secret>")
		}
	}
	return s
}

// Classify names the cause of a transport error in a few user-facing
// words (connection refused, timeout, DNS lookup failed, TLS error, …), as
// pint's promapi errors do; the doctor prints the same words.
func Classify(err error) string {
	var dnsErr *net.DNSError
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return CauseRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return CauseReset
	case errors.As(err, &dnsErr):
		return CauseDNS
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &recErr):
		return CauseTLS
	case errors.As(err, &netErr) && netErr.Timeout():
		return CauseTimeout
	}
	return CauseNetwork
}
