package explain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/gatewatch/gatewatch/internal/spec"
)

// LogSource yields a gateway access log to analyse.
type LogSource interface {
	// Logs opens the log of roughly the last since (0: all there is).
	// warn is told about each part that could not be read (also while the
	// log is read); the rest is returned.
	Logs(ctx context.Context, since time.Duration, warn func(string)) (io.ReadCloser, error)
	// String names the source for the report ("file gw.log", "kube …").
	String() string
}

// DefaultMaxLogBytes bounds how much of a log is read per file or pod.
const DefaultMaxLogBytes = 64 << 20

// tailLines is how many of a pod's newest log lines are read when no window
// is given: as many as fit in maxBytes at 1 KiB a line (Istio's JSON lines
// run to about 700 bytes), so the byte limit does not cut the newest.
func tailLines(maxBytes int64) int64 { return max(maxBytes/1024, 1) }

// FileLogs reads an access-log file, or its last MaxBytes when larger (the
// newest lines are the ones that explain a firing alert).
type FileLogs struct {
	Path     string
	MaxBytes int64
}

func (f FileLogs) String() string { return "file " + f.Path }

// Logs opens the file at its tail.
func (f FileLogs) Logs(ctx context.Context, _ time.Duration, warn func(string)) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	file, err := os.Open(f.Path)
	if err != nil {
		return nil, fmt.Errorf("open access log: %w", err)
	}
	max := f.MaxBytes
	if max <= 0 {
		max = DefaultMaxLogBytes
	}
	if st, err := file.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > max {
		if _, err := file.Seek(st.Size()-max, io.SeekStart); err == nil {
			warn(fmt.Sprintf("%s: read its last %d MiB of %d MiB (the first line read may be cut and counted bad)", f.Path, max>>20, st.Size()>>20))
		}
	}
	return file, nil
}

// KubeLogs reads the access log from the gateway pods' proxy container
// through the API server, as `kubectl logs --since` does (needs get on
// pods/log in the gateway namespaces).
type KubeLogs struct {
	Client   kubernetes.Interface
	Gateways []spec.Gateway
	// Container is the proxy container's name (default istio-proxy; a pod
	// without it is read from its first container).
	Container string
	// MaxBytes is read at most per pod (default DefaultMaxLogBytes).
	MaxBytes int64
}

func (k KubeLogs) String() string {
	var names []string
	for _, g := range k.Gateways {
		names = append(names, g.Namespace+"/"+g.Name)
	}
	return "kube logs of gateway " + strings.Join(names, ", ")
}

// Logs streams every running gateway pod's log, one pod after the other.
func (k KubeLogs) Logs(ctx context.Context, since time.Duration, warn func(string)) (io.ReadCloser, error) {
	container := k.Container
	if container == "" {
		container = "istio-proxy"
	}
	max := k.MaxBytes
	if max <= 0 {
		max = DefaultMaxLogBytes
	}
	var opens []func() (io.ReadCloser, error)
	var listErrs []error
	for _, g := range k.Gateways {
		if g.Selector == "" {
			continue
		}
		sel, err := labels.Parse(g.Selector)
		if err != nil {
			return nil, fmt.Errorf("gateway %s selector: %w", g.Name, err)
		}
		pods, err := k.Client.CoreV1().Pods(g.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			listErrs = append(listErrs, fmt.Errorf("list gateway %s pods in %s: %w", g.Name, g.Namespace, err))
			continue
		}
		items := pods.Items
		sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
		for _, p := range items {
			if p.Status.Phase != corev1.PodRunning {
				continue
			}
			// The newest lines explain a firing alert: with a window, the
			// window (its first MaxBytes); without one, the last TailLines,
			// as `kubectl logs --tail` (LimitBytes alone would keep the
			// oldest part of the container's log).
			opts := &corev1.PodLogOptions{Container: logContainer(p, container), LimitBytes: &max}
			if since > 0 {
				secs := int64(since.Seconds() + 0.5)
				opts.SinceSeconds = &secs
			} else {
				tail := tailLines(max)
				opts.TailLines = &tail
			}
			pod := p
			opens = append(opens, func() (io.ReadCloser, error) {
				rc, err := k.Client.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, opts).Stream(ctx)
				if err != nil {
					return nil, fmt.Errorf("logs of pod %s/%s container %s: %w", pod.Namespace, pod.Name, opts.Container, err)
				}
				return &limitWatch{rc: rc, limit: max, warn: func(n int64) {
					if since > 0 {
						warn(fmt.Sprintf("logs of pod %s/%s: the %d MiB limit was reached; the newest lines of the window were not read (narrow --since)", pod.Namespace, pod.Name, n>>20))
					} else {
						warn(fmt.Sprintf("logs of pod %s/%s: the %d MiB limit was reached within its last %d lines; the newest were not read (give --since)", pod.Namespace, pod.Name, n>>20, tailLines(max)))
					}
				}}, nil
			})
		}
	}
	if len(opens) == 0 {
		if len(listErrs) > 0 {
			return nil, errors.Join(listErrs...)
		}
		var where []string
		for _, g := range k.Gateways {
			if g.Selector != "" {
				where = append(where, fmt.Sprintf("-n %s -l %s", g.Namespace, g.Selector))
			}
		}
		return nil, fmt.Errorf("no running gateway pod to read logs from (looked with %s): check the namespace and selector with `kubectl get pods`", strings.Join(where, "; "))
	}
	for _, err := range listErrs {
		warn(err.Error())
	}
	return &podLogs{ctx: ctx, opens: opens, warn: func(err error) { warn(err.Error()) }}, nil
}

func logContainer(p corev1.Pod, want string) string {
	for _, c := range p.Spec.Containers {
		if c.Name == want {
			return want
		}
	}
	if len(p.Spec.Containers) > 0 {
		return p.Spec.Containers[0].Name
	}
	return want
}

// limitWatch says when a stream delivered its byte limit (the API server
// cut it there).
type limitWatch struct {
	rc    io.ReadCloser
	n     int64
	limit int64
	warn  func(int64)
}

func (l *limitWatch) Read(b []byte) (int, error) {
	n, err := l.rc.Read(b)
	l.n += int64(n)
	if err == io.EOF && l.n >= l.limit {
		l.warn(l.n)
	}
	return n, err
}

func (l *limitWatch) Close() error { return l.rc.Close() }

// podLogs reads the pods' streams in turn; a pod whose log cannot be opened
// is skipped with a warning. A stream that ends mid-line (cut at its byte
// limit) is ended with a newline, so it never joins the next pod's first
// line.
type podLogs struct {
	ctx      context.Context
	opens    []func() (io.ReadCloser, error)
	cur      io.ReadCloser
	last     byte // the last byte of the current stream
	warn     func(error)
	opened   int
	openErrs []error
}

func (p *podLogs) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		if p.cur == nil {
			if len(p.opens) == 0 || p.ctx.Err() != nil {
				if p.opened == 0 && len(p.openErrs) > 0 {
					// Not one pod's log: an error (e.g. no pods/log
					// permission), not an empty log.
					return 0, errors.Join(p.openErrs...)
				}
				return 0, io.EOF
			}
			rc, err := p.opens[0]()
			p.opens = p.opens[1:]
			if err != nil {
				p.openErrs = append(p.openErrs, err)
				p.warn(err)
				continue
			}
			p.opened++
			p.cur, p.last = rc, '\n'
		}
		n, err := p.cur.Read(b)
		if n > 0 {
			p.last = b[n-1]
		}
		if err != nil {
			if err != io.EOF {
				p.warn(fmt.Errorf("reading pod log: %w", err))
			}
			_ = p.cur.Close()
			p.cur = nil
			if p.last != '\n' {
				if n < len(b) {
					b[n] = '\n'
					return n + 1, nil
				}
				// No room: the next Read starts with the newline.
				p.opens = append([]func() (io.ReadCloser, error){func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("\n")), nil }}, p.opens...)
			}
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, nil
	}
}

func (p *podLogs) Close() error {
	if p.cur != nil {
		return p.cur.Close()
	}
	return nil
}

// MemoryLogs keeps the newest lines written to it, up to MaxBytes, and
// serves them as a LogSource: the demo's simulated gateway writes its
// access log here. Safe for concurrent use.
type MemoryLogs struct {
	mu       sync.Mutex
	maxBytes int
	lines    []string
	size     int
	partial  string
}

// NewMemoryLogs keeps up to maxBytes of log.
func NewMemoryLogs(maxBytes int) *MemoryLogs { return &MemoryLogs{maxBytes: maxBytes} }

func (m *MemoryLogs) String() string { return "the simulated gateway's access log" }

// Write takes log text; whole lines are kept.
func (m *MemoryLogs) Write(b []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	text := m.partial + string(b)
	parts := strings.Split(text, "\n")
	m.partial = parts[len(parts)-1]
	for _, l := range parts[:len(parts)-1] {
		m.lines = append(m.lines, l+"\n")
		m.size += len(l) + 1
	}
	for m.size > m.maxBytes && len(m.lines) > 0 {
		m.size -= len(m.lines[0])
		m.lines = m.lines[1:]
	}
	return len(b), nil
}

// Logs returns a copy of the lines kept.
func (m *MemoryLogs) Logs(context.Context, time.Duration, func(string)) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return io.NopCloser(strings.NewReader(strings.Join(m.lines, ""))), nil
}

// ReaderLogs is a log already open, e.g. standard input (`--logs -`).
type ReaderLogs struct {
	R    io.Reader
	Name string
}

func (r ReaderLogs) String() string { return r.Name }

// Logs returns the reader.
func (r ReaderLogs) Logs(context.Context, time.Duration, func(string)) (io.ReadCloser, error) {
	return io.NopCloser(r.R), nil
}
