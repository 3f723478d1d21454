package web

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestServeUntilCancelled(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hi") }))
	}()
	resp, err := http.Get("http://" + ln.Addr().String())
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "hi", string(b))
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(ShutdownTimeout + time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	_, err = http.Get("http://" + ln.Addr().String())
	require.Error(t, err, "the listener is closed")

	_, err = Listen(ln.Addr().String() + "0")
	require.ErrorContains(t, err, "listen ")
}
