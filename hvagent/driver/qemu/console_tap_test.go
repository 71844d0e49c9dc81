package qemu

import (
	"bytes"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/testguest"
)

// syncBuffer collects a stream's bytes for polling by the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// follow opens a Follow stream of g over the wire and copies it into a
// buffer until the stream ends; the returned func closes it and waits.
func follow(t *testing.T, stream *subagent.Client, g *subagent.Guest) (*syncBuffer, func()) {
	t.Helper()
	body, size, err := stream.Stream(ctx(t), &subagent.ConsoleRequest{GuestRequest: subagent.GuestRequest{Guest: g}, Follow: true})
	require.NoError(t, err)
	require.Equal(t, int64(-1), size)
	out := &syncBuffer{}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out, body)
	}()
	return out, func() { _ = body.Close(); <-copied }
}

// input sends keystrokes to g's console over the wire.
func input(t *testing.T, stream *subagent.Client, g *subagent.Guest, s string) error {
	t.Helper()
	body, _, err := stream.Stream(ctx(t), &subagent.ConsoleRequest{GuestRequest: subagent.GuestRequest{Guest: g}, Input: []byte(s)})
	if err != nil {
		return err
	}
	return body.Close()
}

func TestDriver_ConsoleSession(t *testing.T) {
	t.Parallel()
	b, g := setupGuest(t)
	d := b.driver
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	stream := subagent.NewClient(subagent.ClientConfig{URL: srv.URL + ConsolePath, Timeout: callTimeout})
	g = mustCall(t, d.CreateGuest, g)

	// Not running: no session, no input.
	_, _, err := stream.Stream(ctx(t), &subagent.ConsoleRequest{GuestRequest: subagent.GuestRequest{Guest: g}, Follow: true})
	require.ErrorContains(t, err, "not running")
	require.Equal(t, subagent.CodeConflict, subagent.ErrorCode(err))

	g = mustCall(t, d.Start, g)
	waitConsole(t, d, g, testguest.BootMarker, 1)
	err = input(t, stream, g, "echo nobody\r")
	require.ErrorContains(t, err, "no console session is attached")
	err = input(t, stream, g, strings.Repeat("x", subagent.MaxConsoleInput+1))
	require.ErrorContains(t, err, "at most 4096 per write")

	// Type a command, see its output in the session and in the log.
	out, closeFollow := follow(t, stream, g)
	require.NoError(t, input(t, stream, g, "echo console-$((6*7))\r"))
	require.Eventually(t, func() bool { return testguest.HasLine(out.String(), "console-42") },
		bootTimeout, 50*time.Millisecond, "session output:\n%s", out.String())
	closeFollow()
	require.True(t, testguest.HasLine(consoleText(t, d, g), "console-42"))

	// Detached: the guest runs on, its output goes to the ring buffer again
	// and a second session works.
	require.Equal(t, "running", b.qmpStatus(t, g.ID))
	require.Eventually(t, func() bool {
		return input(t, stream, g, "x") != nil // the session's close is seen by the driver
	}, bootTimeout, 50*time.Millisecond)
	out, closeFollow = follow(t, stream, g)
	defer closeFollow()
	require.NoError(t, input(t, stream, g, "echo again-$((6*7))\r"))
	require.Eventually(t, func() bool { return testguest.HasLine(out.String(), "again-42") },
		bootTimeout, 50*time.Millisecond, "session output:\n%s", out.String())
	closeFollow()
	_ = mustCall(t, d.Poweroff, g)
}
