package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/prometheus/alertmanager/cluster"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/client_golang/prometheus"
)

// High availability is Alertmanager's own: the cluster package (memberlist)
// gossips the notification log and the silences between replicas, and the
// notification pipeline waits position × peer timeout before its dedup
// stage, exactly as Alertmanager wires it (app/app.go, app/cluster.go in
// Alertmanager 0.35). Every replica scrapes and evaluates on its own, like
// a Prometheus HA pair, so each has the same alerts; the replica at
// position 0 sends, the others find its log entry by the time they look.
// Alertmanager's app package is not used as a whole: it builds its
// integrations from a configuration file, keeps its alert store and
// notification log to itself and runs its own HTTP server, which would
// leave out gatewatch's notifier, the outbox and the save on every change
// (docs/ha.md).

// ClusterOptions are Alertmanager's --cluster.* flags. An empty
// ListenAddress runs without clustering.
type ClusterOptions struct {
	ListenAddress    string
	AdvertiseAddress string
	Peers            []string
	// PeerName identifies this replica (the pod name in a StatefulSet);
	// empty is a random ULID. Positions are the members sorted by name.
	PeerName         string
	PeerTimeout      time.Duration
	GossipInterval   time.Duration
	PushPullInterval time.Duration
	SettleTimeout    time.Duration
	// ProbeInterval, ProbeTimeout, ReconnectInterval and TCPTimeout keep
	// Alertmanager's defaults when zero (tests shorten them).
	ProbeInterval, ProbeTimeout, ReconnectInterval, TCPTimeout time.Duration
}

// Alertmanager's defaults (cluster.DefaultPushPullInterval and its
// command's flags).
const (
	DefaultClusterPort    = 9094
	DefaultPeerTimeout    = 15 * time.Second
	DefaultGossipInterval = cluster.DefaultGossipInterval
	DefaultPushPull       = cluster.DefaultPushPullInterval
	DefaultSettleTimeout  = cluster.DefaultPushPullInterval
)

func (o ClusterOptions) withDefaults() ClusterOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.PeerTimeout, DefaultPeerTimeout)
	def(&o.GossipInterval, DefaultGossipInterval)
	def(&o.PushPullInterval, DefaultPushPull)
	def(&o.ProbeInterval, cluster.DefaultProbeInterval)
	def(&o.ProbeTimeout, cluster.DefaultProbeTimeout)
	def(&o.ReconnectInterval, cluster.DefaultReconnectInterval)
	def(&o.TCPTimeout, cluster.DefaultTCPTimeout)
	return o
}

// clusterPart is this replica's membership.
type clusterPart struct {
	peer    *cluster.Peer
	timeout time.Duration
	cancel  context.CancelFunc
}

// newCluster creates the peer (not yet joined: the gossiped states must be
// added first, or the first push-pull drops them).
func newCluster(o ClusterOptions, reg prometheus.Registerer, logger *slog.Logger) (*clusterPart, error) {
	if o.ListenAddress == "" {
		return nil, nil
	}
	o = o.withDefaults()
	peer, err := cluster.Create(logger.With("component", "cluster"), reg, o.ListenAddress, o.AdvertiseAddress, o.Peers, true,
		o.PushPullInterval, o.GossipInterval, o.TCPTimeout, cluster.DefaultResolvePeersTimeout, o.ProbeTimeout, o.ProbeInterval,
		nil, false, "", o.PeerName)
	if err != nil {
		return nil, fmt.Errorf("cluster on %s: %w", o.ListenAddress, err)
	}
	return &clusterPart{peer: peer, timeout: o.PeerTimeout}, nil
}

// join joins the known peers and settles in the background: the
// notification pipeline waits for the settled state before its first
// notification, so a replica that starts empty does not send what the
// others sent already.
func (c *clusterPart) join(o ClusterOptions, logger *slog.Logger) {
	o = o.withDefaults()
	if err := c.peer.Join(o.ReconnectInterval, cluster.DefaultReconnectTimeout); err != nil {
		logger.Warn("unable to join the gossip mesh yet; retrying in the background", "err", err)
	}
	// SettleTimeout 0: ready at once (as Alertmanager's flag).
	ctx, cancel := context.WithTimeout(context.Background(), o.SettleTimeout)
	c.cancel = cancel
	go c.peer.Settle(ctx, o.GossipInterval*10)
}

// notifyPeer is the pipeline's peer: a nil interface without a cluster
// (a typed nil would be called).
func (c *clusterPart) notifyPeer() notify.Peer {
	if c == nil {
		return nil
	}
	return c.peer
}

// wait is how long this replica waits before its dedup stage: its position
// among the members times the peer timeout.
func (c *clusterPart) wait() time.Duration {
	if c == nil {
		return 0
	}
	return time.Duration(c.peer.Position()) * c.timeout
}

func (c *clusterPart) leave() {
	if c == nil {
		return
	}
	if c.cancel != nil {
		c.cancel()
	}
	if err := c.peer.Leave(5 * time.Second); err != nil {
		_ = err // the others notice the departure by probing
	}
}

// ClusterMember is one replica as this one sees it.
type ClusterMember struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// ClusterStatus is the membership for the status page.
type ClusterStatus struct {
	Enabled  bool            `json:"enabled"`
	Name     string          `json:"name,omitempty"`
	Status   string          `json:"status,omitempty"` // "settling" or "ready"
	Position int             `json:"position"`
	Members  []ClusterMember `json:"members,omitempty"`
}

func (c *clusterPart) status() ClusterStatus {
	if c == nil {
		return ClusterStatus{}
	}
	st := ClusterStatus{Enabled: true, Name: c.peer.Name(), Status: c.peer.Status(), Position: c.peer.Position()}
	for _, m := range c.peer.Peers() {
		st.Members = append(st.Members, ClusterMember{Name: m.Name(), Address: m.Address()})
	}
	sort.Slice(st.Members, func(i, j int) bool { return st.Members[i].Name < st.Members[j].Name })
	return st
}

func (c *clusterPart) ready() bool {
	return c == nil || c.peer.Ready()
}
