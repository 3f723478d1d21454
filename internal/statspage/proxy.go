package statspage

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Proxy puts the filter in front of Prometheus's scrape loop without a
// port: its DialContext (given to the scrape manager with
// config.WithDialContextFunc) answers each scrape connection in process by
// fetching the real page and streaming it through the filter. Prometheus
// then parses only the kept lines, and a refused page is a failed scrape
// whose error says why ("server returned HTTP status 502 stats page
// refused: line 1: …").
//
// The scrape manager takes dial options, not a RoundTripper
// (prometheus/scrape newScrapeClient), which is why the proxy sits at the
// connection.
type Proxy struct {
	Filter *Filter
	// Upstream fetches the real page; nil means a client with no proxy
	// and Go's transparent gzip.
	Upstream *http.Client
	Logger   *slog.Logger
	// Observe, if set, is told each page's outcome (for metrics).
	Observe func(Stats, error)
}

// DefaultTimeout bounds a fetch when the scrape request does not say its
// timeout.
const DefaultTimeout = 10 * time.Second

// DialContext returns one end of an in-memory connection whose other end
// serves one scrape of the target at addr.
func (p *Proxy) DialContext(_ context.Context, _, addr string) (net.Conn, error) {
	client, server := net.Pipe()
	go p.serve(server, addr)
	return client, nil
}

func (p *Proxy) serve(conn net.Conn, addr string) {
	defer conn.Close()
	defer func() {
		// No page may end the process: a panic here is a failed scrape.
		if r := recover(); r != nil {
			p.logger().Error("stats page handling panicked", "target", addr, "panic", fmt.Sprint(r))
			_ = answer(http.StatusInternalServerError, fmt.Sprintf("stats page handling failed: %v", r), nil).Write(conn)
		}
	}()
	req, err := http.ReadRequest(bufio.NewReader(conn))
	if err != nil {
		return
	}
	timeout := scrapeTimeout(req)
	_ = conn.SetDeadline(time.Now().Add(timeout + time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp := p.fetch(ctx, req, addr)
	_ = resp.Write(conn)
}

// scrapeTimeout reads Prometheus's X-Prometheus-Scrape-Timeout-Seconds.
func scrapeTimeout(req *http.Request) time.Duration {
	s, err := strconv.ParseFloat(req.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), 64)
	if err != nil || s <= 0 || s > 600 {
		return DefaultTimeout
	}
	return time.Duration(s * float64(time.Second))
}

// fetch gets the page at addr and answers with its kept lines, or with
// 502 and the reason.
func (p *Proxy) fetch(ctx context.Context, req *http.Request, addr string) *http.Response {
	up, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+req.URL.RequestURI(), nil)
	if err != nil {
		return answer(http.StatusBadGateway, err.Error(), nil)
	}
	up.Header.Set("Accept", "text/plain;version=0.0.4")
	for _, h := range []string{"User-Agent", "X-Prometheus-Scrape-Timeout-Seconds"} {
		if v := req.Header.Get(h); v != "" {
			up.Header.Set(h, v)
		}
	}
	resp, err := p.client().Do(up)
	if err != nil {
		return answer(http.StatusBadGateway, err.Error(), nil)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		return answer(resp.StatusCode, http.StatusText(resp.StatusCode), nil)
	}
	if ct := resp.Header.Get("Content-Type"); !isText(ct) {
		p.observe(Stats{}, errNotText)
		return answer(http.StatusBadGateway, fmt.Sprintf("stats page refused: Content-Type %q is not the text exposition format", ct), nil)
	}
	var kept bytes.Buffer
	stats, err := p.Filter.Copy(&kept, resp.Body)
	p.observe(stats, err)
	if err != nil {
		return answer(http.StatusBadGateway, "stats page refused: "+err.Error(), nil)
	}
	return answer(http.StatusOK, "", kept.Bytes())
}

var errNotText = fmt.Errorf("not text")

func isText(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "text/plain"
}

func (p *Proxy) client() *http.Client {
	if p.Upstream != nil {
		return p.Upstream
	}
	return defaultUpstream
}

var defaultUpstream = &http.Client{Transport: &http.Transport{
	DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	MaxIdleConnsPerHost:   2,
	IdleConnTimeout:       90 * time.Second,
	ResponseHeaderTimeout: time.Minute,
}}

func (p *Proxy) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (p *Proxy) observe(s Stats, err error) {
	if p.Observe != nil {
		p.Observe(s, err)
	}
}

// answer builds the response written back to the scrape loop; a non-200
// carries the reason in its status line, which Prometheus shows as the
// target's error.
func answer(code int, reason string, body []byte) *http.Response {
	status := strconv.Itoa(code) + " " + oneLine(reason)
	if reason == "" {
		status = strconv.Itoa(code) + " " + http.StatusText(code)
	}
	h := http.Header{}
	if code == http.StatusOK {
		h.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	}
	return &http.Response{
		Status: status, StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Close: true,
	}
}

// oneLine keeps a reason to one printable line of bounded length.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 512 {
		s = s[:512] + "…"
	}
	return s
}
