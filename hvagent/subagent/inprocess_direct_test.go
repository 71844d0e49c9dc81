package subagent

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// stuckServer returns a server whose T.Stuck method signals entered, then
// waits for release, ignoring its context when ignore is set; it sends
// whether its context ended on ended.
func stuckServer(entered, release chan struct{}, ended chan bool, ignore bool) *Server {
	s := NewServer()
	Handle(s, "T.Stuck", func(ctx context.Context, _ *VolumeRequest) (*VolumeResponse, error) {
		close(entered)
		if ignore {
			<-release
		} else {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		ended <- ctx.Err() != nil
		return &VolumeResponse{}, nil
	})
	return s
}

// TestInProcess_DirectAbandoned checks that a Call whose caller gives up
// returns at once while its handler, which ignores its context, is counted
// as abandoned until it returns.
func TestInProcess_DirectAbandoned(t *testing.T) {
	t.Parallel()
	entered, release, ended := make(chan struct{}), make(chan struct{}), make(chan bool, 1)
	p := NewInProcess(stuckServer(entered, release, ended, true))
	t.Cleanup(func() { _ = p.Close() })
	c := NewClient(ClientConfig{URL: "http://x" + RPCPath, HTTPClient: p.HTTPClient()})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Call(ctx, "T.Stuck", &VolumeRequest{}, new(VolumeResponse)) }()
	<-entered
	require.Zero(t, p.Abandoned(), "its client still waits")
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, IsConnectError(err))
	require.Eventually(t, func() bool { return p.Abandoned() == 1 }, 10*time.Second, time.Millisecond)
	close(release)
	require.True(t, <-ended, "the handler's context ended with its caller's")
	require.Eventually(t, func() bool { return p.Abandoned() == 0 }, 10*time.Second, time.Millisecond)
}

// TestInProcess_DirectClose checks that Close ends the context of a Call's
// handler, as closing its connection would, and that the call fails.
func TestInProcess_DirectClose(t *testing.T) {
	t.Parallel()
	entered, release, ended := make(chan struct{}), make(chan struct{}), make(chan bool, 1)
	p := NewInProcess(stuckServer(entered, release, ended, false))
	c := NewClient(ClientConfig{URL: "http://x" + RPCPath, HTTPClient: p.HTTPClient()})
	done := make(chan error, 1)
	go func() { done <- c.Call(t.Context(), "T.Stuck", &VolumeRequest{}, new(VolumeResponse)) }()
	<-entered
	require.NoError(t, p.Close())
	require.True(t, <-ended, "Close ended the handler's context")
	require.NoError(t, <-done, "the handler still replied")
	err := c.Call(t.Context(), "T.Stuck", &VolumeRequest{}, new(VolumeResponse))
	require.True(t, IsConnectError(err), "error: %v", err)
}

// TestInProcess_DirectReply checks a Call's reply as the handler writes
// it: its status, a reply past the client's limit, a handler's abort.
func TestInProcess_DirectReply(t *testing.T) {
	t.Parallel()
	s := NewServer()
	s.HandleRaw("/big", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := []byte(strings.Repeat("x", 1000))
		for range 10 {
			if _, err := w.Write(chunk); err != nil {
				require.ErrorIs(t, err, errReplyTooLarge)
				return
			}
		}
		t.Error("every write succeeded")
	}))
	s.HandleRaw("/teapot", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		w.WriteHeader(http.StatusOK) // ignored, as net/http does
	}))
	s.HandleRaw("/abort", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	p := NewInProcess(s)
	t.Cleanup(func() { require.NoError(t, p.Close()) })

	big := NewClient(ClientConfig{URL: "http://x/big", HTTPClient: p.HTTPClient()})
	big.maxReply = 4000
	ce := requireCallError(t, big.Call(t.Context(), "T.Big", &VolumeRequest{}, nil), KindDecode)
	require.Contains(t, ce.Message, "reply too large")

	teapot := NewClient(ClientConfig{URL: "http://x/teapot", HTTPClient: p.HTTPClient()})
	ce = requireCallError(t, teapot.Call(t.Context(), "T.Teapot", &VolumeRequest{}, nil), KindHTTP)
	require.Equal(t, http.StatusTeapot, ce.Status)

	abort := NewClient(ClientConfig{URL: "http://x/abort", HTTPClient: p.HTTPClient()})
	ce = requireCallError(t, abort.Call(t.Context(), "T.Abort", &VolumeRequest{}, nil), KindTransport)
	require.Contains(t, ce.Error(), "aborted")
}
