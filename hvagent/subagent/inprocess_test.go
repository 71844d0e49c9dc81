package subagent

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestInProcess(t *testing.T) {
	t.Parallel()
	payload := make([]byte, 1<<20)
	_, _ = rand.Read(payload)
	canceled := make(chan struct{})

	s := testServer()
	s.HandleRaw("/download", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
		for rest := payload; len(rest) > 0; rest = rest[64<<10:] {
			_, _ = w.Write(rest[:64<<10])
			w.(http.Flusher).Flush()
		}
	}))
	s.HandleRaw("/upload", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = w.Write(data)
	}))
	s.HandleRaw("/hang", http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
		close(canceled)
	}))
	p := NewInProcess(s)
	t.Cleanup(func() { require.NoError(t, p.Close()) })

	t.Run("Call", func(t *testing.T) {
		t.Parallel()
		c := NewClient(ClientConfig{URL: "http://sim" + RPCPath, HTTPClient: p.HTTPClient()})
		var resp VolumeResponse
		require.NoError(t, c.Call(t.Context(), "Test.Echo", &VolumeRequest{ID: "v"}, &resp))
		require.Equal(t, []*Volume{{ID: "v"}}, resp.Volumes)
		err := c.Call(t.Context(), "Test.Fail", &VolumeRequest{}, new(VolumeResponse))
		requireCallError(t, err, KindMethod)
	})

	t.Run("Stream", func(t *testing.T) {
		t.Parallel()
		c := NewClient(ClientConfig{URL: "http://any-host/download", HTTPClient: p.HTTPClient()})
		body, size, err := c.Stream(t.Context(), &SnapshotRequest{ID: "guests/g"})
		require.NoError(t, err)
		defer body.Close()
		require.Equal(t, int64(len(payload)), size)
		got, err := io.ReadAll(body)
		require.NoError(t, err)
		require.True(t, bytes.Equal(payload, got), "stream differs")
	})

	t.Run("Upload", func(t *testing.T) {
		t.Parallel()
		// A chunked 1 MiB request body, then a 1 MiB reply.
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://x/upload", io.MultiReader(bytes.NewReader(payload)))
		require.NoError(t, err)
		resp, err := p.HTTPClient().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.True(t, bytes.Equal(payload, got), "echo differs")
	})

	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		c := NewClient(ClientConfig{URL: "http://x/hang", HTTPClient: p.HTTPClient()})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, _, err := c.Stream(ctx, &SnapshotRequest{})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		select {
		case <-canceled:
		case <-time.After(10 * time.Second):
			t.Fatal("the handler's context was not canceled")
		}
	})
}

func TestInProcess_Close(t *testing.T) {
	t.Parallel()
	p := NewInProcess(testServer())
	c := NewClient(ClientConfig{URL: "http://x" + RPCPath, HTTPClient: p.HTTPClient()})
	require.NoError(t, c.Call(t.Context(), "Test.Echo", &VolumeRequest{}, new(VolumeResponse)))
	require.NoError(t, p.Close())
	require.NoError(t, p.Close(), "Close is idempotent")

	err := c.Call(t.Context(), "Test.Echo", &VolumeRequest{}, new(VolumeResponse))
	requireCallError(t, err, KindTransport)
	require.True(t, IsConnectError(err), "error: %v", err)
}

// TestInProcess_Leak is not parallel: it checks that an InProcess leaves no
// goroutine behind, which only works while no other test runs. (Parallel
// tests wait until the sequential ones are done.)
func TestInProcess_Leak(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	p := NewInProcess(testServer())
	c := NewClient(ClientConfig{URL: "http://x" + RPCPath, HTTPClient: p.HTTPClient()})
	for range 3 {
		require.NoError(t, c.Call(t.Context(), "Test.Echo", &VolumeRequest{}, new(VolumeResponse)))
	}
	require.NoError(t, p.Close())
}

func TestInProcess_Abandoned(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	s := testServer()
	s.HandleRaw("/stuck", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		close(entered)
		<-release // ignores its request's context on purpose
	}))
	p := NewInProcess(s)
	t.Cleanup(func() { _ = p.Close() })
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://x/stuck", http.NoBody)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		resp, err := p.HTTPClient().Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		done <- err
	}()
	<-entered
	require.Zero(t, p.Abandoned(), "its client still waits")
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.Eventually(t, func() bool { return p.Abandoned() == 1 }, 10*time.Second, time.Millisecond)
	close(release)
	require.Eventually(t, func() bool { return p.Abandoned() == 0 }, 10*time.Second, time.Millisecond)
}
