package engine

import (
	"os"
	"path/filepath"
	"testing"

	pb "github.com/prometheus/alertmanager/silence/silencepb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// TestOnlyTheGroupsOwnSilence: a post shows (and its Unsilence button
// ends) only a silence of exactly the group's labels, as the buttons make;
// a wider silence, or one with other matchers, is someone else's.
func TestOnlyTheGroupsOwnSilence(t *testing.T) {
	group := map[string]string{"alertname": "A", "namespace": "n", "gateway": "g"}
	eq := func(name, v string) *pb.Matcher { return &pb.Matcher{Type: pb.Matcher_EQUAL, Name: name, Pattern: v} }
	own := []*pb.MatcherSet{{Matchers: []*pb.Matcher{eq("alertname", "A"), eq("gateway", "g"), eq("namespace", "n")}}}
	wide := []*pb.MatcherSet{{Matchers: []*pb.Matcher{eq("namespace", "n")}}}
	regex := []*pb.MatcherSet{{Matchers: []*pb.Matcher{eq("alertname", "A"), eq("gateway", "g"), {Type: pb.Matcher_REGEXP, Name: "namespace", Pattern: "n"}}}}
	require.True(t, exactly(own, group))
	require.False(t, exactly(wide, group))
	require.False(t, exactly(regex, group))
}

// TestActionsSecretFile: an unreadable or empty key file is refused (every
// button would be refused otherwise); a readable one is the only key.
func TestActionsSecretFile(t *testing.T) {
	dir := t.TempDir()
	c, err := newChatState(filepath.Join(dir, "chat.json"), newStateMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	require.Len(t, c.keys(), 1, "a generated key")
	require.ErrorContains(t, c.setKeyFile(filepath.Join(dir, "missing")), "actions_secret_file")
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))
	require.ErrorContains(t, c.setKeyFile(empty), "is empty")
	key := filepath.Join(dir, "key")
	require.NoError(t, os.WriteFile(key, []byte("s3cret-signing-key\n"), 0o600))
	require.NoError(t, c.setKeyFile(key))
	require.Equal(t, [][]byte{[]byte("s3cret-signing-key")}, c.keys())
}
