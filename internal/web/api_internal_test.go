package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOneQueryPerClient: while a client's query runs, its second one is
// refused with 429; another client's is not; after the first ends, the
// client may query again.
func TestOneQueryPerClient(t *testing.T) {
	var s server
	running, finish := make(chan struct{}), make(chan struct{})
	h := s.limited(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("block") != "" {
			close(running)
			<-finish
		}
		w.WriteHeader(http.StatusOK)
	})
	call := func(remote, query string) int {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/query?"+query, nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		h(w, r)
		return w.Code
	}
	done := make(chan int, 1)
	go func() { done <- call("10.0.0.1:5000", "block=1") }()
	<-running
	require.Equal(t, http.StatusTooManyRequests, call("10.0.0.1:5001", ""), "same client, another connection")
	require.Equal(t, http.StatusOK, call("10.0.0.2:5000", ""), "another client")
	close(finish)
	require.Equal(t, http.StatusOK, <-done)
	require.Equal(t, http.StatusOK, call("10.0.0.1:5002", ""), "the client's next query")
}
