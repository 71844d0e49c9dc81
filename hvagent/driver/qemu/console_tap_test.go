package qemu

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/testguest"
	"github.com/hvagent/hvagent/internal/testio"
)

// follow opens a Follow stream of g over the wire and copies it into a
// buffer until the stream ends; the returned func closes it and waits.
func follow(t *testing.T, stream *subagent.Client, g *subagent.Guest) (*testio.Buffer, func()) {
	t.Helper()
	body, size, err := stream.Stream(ctx(t), &subagent.ConsoleRequest{GuestRequest: subagent.GuestRequest{Guest: g}, Follow: true})
	require.NoError(t, err)
	require.Equal(t, int64(-1), size)
	out := &testio.Buffer{}
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

// readSession copies a session's output into a buffer until it ends.
func readSession(s *ConsoleSession) (*testio.Buffer, chan struct{}) {
	out := &testio.Buffer{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(out, s)
	}()
	return out, done
}

// consoleChardevFile is what QEMU says the console chardev is: "ringbuf",
// or the socket while a session is attached.
func consoleChardevFile(t *testing.T, v *vm) string {
	t.Helper()
	var devs []struct{ Label, Filename string }
	require.NoError(t, v.qmp.run(ctx(t), "query-chardev", nil, &devs))
	for _, c := range devs {
		if c.Label == consoleChardev {
			return c.Filename
		}
	}
	t.Fatalf("no chardev %q in %v", consoleChardev, devs)
	return ""
}

func TestDriver_ConsoleSessions(t *testing.T) {
	t.Parallel()
	b, g := setupGuest(t)
	g = mustCall(t, b.driver.CreateGuest, g)
	g = mustCall(t, b.driver.Start, g)
	waitConsole(t, b.driver, g, testguest.BootMarker, 1)
	seen := func(out *testio.Buffer, line string) {
		t.Helper()
		require.Eventually(t, func() bool { return testguest.HasLine(out.String(), line) },
			bootTimeout, 50*time.Millisecond, "session output:\n%s", out.String())
	}

	// Two sessions see the same output; when one detaches the other goes on.
	s1, err := b.driver.AttachConsole(ctx(t), g)
	require.NoError(t, err)
	s2, err := b.driver.AttachConsole(ctx(t), g)
	require.NoError(t, err)
	out1, done1 := readSession(s1)
	out2, done2 := readSession(s2)
	require.Contains(t, consoleChardevFile(t, b.driver.attached(g.ID)), consoleSocket)
	_, err = s1.Write([]byte("echo both-$((6*7))\r"))
	require.NoError(t, err)
	seen(out1, "both-42")
	seen(out2, "both-42")
	require.NoError(t, s1.Close())
	<-done1
	_, err = s1.Write([]byte("x"))
	require.ErrorIs(t, err, errSessionClosed)
	_, err = s2.Write([]byte("echo second-$((6*7))\r"))
	require.NoError(t, err)
	seen(out2, "second-42")
	require.NotContains(t, out1.String(), "second-42")

	// The driver stops during the session (hvagentd restarts): the session
	// ends, QEMU runs on with the socket, and the next driver puts the ring
	// buffer back when it re-attaches.
	require.NoError(t, b.driver.Close())
	<-done2
	require.NoError(t, s2.Close())
	d := b.newDriver(t)
	_, err = d.Reconcile(ctx(t))
	require.NoError(t, err)
	v := d.attached(g.ID)
	require.NotNil(t, v)
	require.Equal(t, "ringbuf", consoleChardevFile(t, v))
	s3, err := d.AttachConsole(ctx(t), g)
	require.NoError(t, err)
	out3, done3 := readSession(s3)
	require.NoError(t, d.ConsoleInput(ctx(t), g, []byte("echo third-$((6*7))\r")))
	seen(out3, "third-42")
	require.NoError(t, s3.Close())
	<-done3
	require.Equal(t, "ringbuf", consoleChardevFile(t, v), "the last session's close restores the ring buffer")
	require.True(t, testguest.HasLine(consoleText(t, d, g), "third-42"))
	_ = mustCall(t, d.Poweroff, g)
}
