package rest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/servicetest"
)

const consoleGuest = "3f1d6c1e-9a43-4b8e-8f59-2a7f0c1d5e21"

// echoConsole is a console session that prints back what is typed, in
// upper case, until closed or ended.
type echoConsole struct {
	pr     *io.PipeReader
	pw     *io.PipeWriter
	closed chan struct{}
	once   sync.Once
}

func newEchoConsole() *echoConsole {
	pr, pw := io.Pipe()
	return &echoConsole{pr: pr, pw: pw, closed: make(chan struct{})}
}

func (e *echoConsole) Read(p []byte) (int, error) { return e.pr.Read(p) }

func (e *echoConsole) Write(p []byte) (int, error) {
	return e.pw.Write([]byte(strings.ToUpper(string(p))))
}

func (e *echoConsole) Close() error {
	e.once.Do(func() { close(e.closed) })
	return e.pr.Close()
}

// consoleFake is a Service whose console attaches to an echo console; it
// records the requests it got.
func consoleFake(t *testing.T) (*servicetest.Fake, chan hvagent.Request, chan *echoConsole) {
	reqs := make(chan hvagent.Request, 4)
	sessions := make(chan *echoConsole, 4)
	return &servicetest.Fake{DoFunc: func(_ context.Context, action, guest string, req hvagent.Request) (*hvagent.Result, error) {
		reqs <- req
		switch {
		case action != hvagent.ActionConsole || guest != consoleGuest:
			return nil, hvagent.Errorf(hvagent.ENOTFOUND, "guest %s not found", guest)
		case !req.Attach:
			return &hvagent.Result{Stream: io.NopCloser(strings.NewReader("the log")), Size: 7}, nil
		}
		e := newEchoConsole()
		sessions <- e
		return &hvagent.Result{Stream: e, Input: e, Size: -1}, nil
	}}, reqs, sessions
}

// roundTrip types into an attached console and reads the echo.
func roundTrip(t *testing.T, c *rest.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.Do(ctx, hvagent.ActionConsole, consoleGuest, hvagent.Request{Attach: true})
	require.NoError(t, err)
	require.NotNil(t, res.Input)
	_, err = res.Input.Write([]byte("echo hi\r"))
	require.NoError(t, err)
	got := make([]byte, len("ECHO HI\r"))
	_, err = io.ReadFull(res.Stream, got)
	require.NoError(t, err)
	require.Equal(t, "ECHO HI\r", string(got))
	require.NoError(t, res.Stream.Close())
}

func TestClient_ConsoleAttach(t *testing.T) {
	t.Parallel()

	t.Run("TCP", func(t *testing.T) {
		t.Parallel()
		fake, reqs, sessions := consoleFake(t)
		c := newFakeClient(t, fake, rest.HandlerOptions{})
		roundTrip(t, c)
		require.True(t, (<-reqs).Attach)
		select { // detaching closes the agent's session
		case <-(<-sessions).closed:
		case <-time.After(30 * time.Second):
			t.Fatal("the session was not closed after detach")
		}
	})
	t.Run("UnixSocket", func(t *testing.T) {
		t.Parallel()
		fake, _, _ := consoleFake(t)
		sock := filepath.Join(t.TempDir(), "hvagent.sock")
		ln, err := net.Listen("unix", sock)
		require.NoError(t, err)
		srv := &http.Server{Handler: rest.NewHandler(fake, rest.HandlerOptions{}), ReadHeaderTimeout: 10 * time.Second}
		served := make(chan struct{})
		go func() { defer close(served); _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close(); <-served })
		c := rest.NewClient("unix://" + sock)
		t.Cleanup(c.CloseIdleConnections)
		roundTrip(t, c)
	})
	t.Run("OutputEnds", func(t *testing.T) {
		t.Parallel()
		fake, _, sessions := consoleFake(t)
		c := newFakeClient(t, fake, rest.HandlerOptions{})
		res, err := c.Do(context.Background(), hvagent.ActionConsole, consoleGuest, hvagent.Request{Attach: true})
		require.NoError(t, err)
		defer res.Stream.Close()
		require.NoError(t, (<-sessions).pw.Close()) // the guest stopped
		_, err = io.ReadAll(res.Stream)
		require.NoError(t, err)
	})
	t.Run("PlainGetUnchanged", func(t *testing.T) {
		t.Parallel()
		fake, reqs, _ := consoleFake(t)
		c := newFakeClient(t, fake, rest.HandlerOptions{})
		res, err := c.Do(context.Background(), hvagent.ActionConsole, consoleGuest, hvagent.Request{})
		require.NoError(t, err)
		b, err := io.ReadAll(res.Stream)
		require.NoError(t, res.Stream.Close())
		require.NoError(t, err)
		require.Equal(t, "the log", string(b))
		require.False(t, (<-reqs).Attach)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		fake, _, _ := consoleFake(t)
		c := newFakeClient(t, fake, rest.HandlerOptions{})
		_, err := c.Do(context.Background(), hvagent.ActionConsole, "web1", hvagent.Request{Attach: true})
		require.Equal(t, hvagent.ENOTFOUND, hvagent.ErrorCode(err), "%v", err)
		require.ErrorContains(t, err, "guest web1 not found")
	})
	t.Run("ErrReadScope", func(t *testing.T) {
		t.Parallel()
		fake, reqs, _ := consoleFake(t)
		sum := sha256.Sum256([]byte("reader-secret"))
		opts := rest.HandlerOptions{Tokens: []rest.Token{{Name: "ro", SHA256: hex.EncodeToString(sum[:]), Scope: rest.ScopeRead}}}
		c := newFakeClient(t, fake, opts)
		c.Token = "reader-secret"
		_, err := c.Do(context.Background(), hvagent.ActionConsole, consoleGuest, hvagent.Request{Attach: true})
		require.Equal(t, hvagent.EFORBIDDEN, hvagent.ErrorCode(err), "%v", err)
		require.ErrorContains(t, err, "needs scope write")
		require.Empty(t, reqs)
		// The read-only log stays readable with scope read.
		res, err := c.Do(context.Background(), hvagent.ActionConsole, consoleGuest, hvagent.Request{})
		require.NoError(t, err)
		require.NoError(t, res.Stream.Close())
	})
	t.Run("ErrForeignOrigin", func(t *testing.T) {
		t.Parallel()
		fake, reqs, _ := consoleFake(t)
		c := newFakeClient(t, fake, rest.HandlerOptions{}, func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") })
		_, err := c.Do(context.Background(), hvagent.ActionConsole, consoleGuest, hvagent.Request{Attach: true})
		require.Equal(t, hvagent.EFORBIDDEN, hvagent.ErrorCode(err), "%v", err)
		require.Empty(t, reqs)
	})
	t.Run("ErrCanceled", func(t *testing.T) {
		t.Parallel()
		fake, _, _ := consoleFake(t)
		c := newFakeClient(t, fake, rest.HandlerOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.Do(ctx, hvagent.ActionConsole, consoleGuest, hvagent.Request{Attach: true})
		require.True(t, errors.Is(err, context.Canceled) || hvagent.ErrorCode(err) == hvagent.ECANCELED, "%v", err)
	})
}
