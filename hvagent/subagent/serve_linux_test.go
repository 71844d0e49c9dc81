package subagent

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/internal/sockbuf"
	"github.com/hvagent/hvagent/internal/testio"
)

// recordListener hands each connection it accepts to conns.
type recordListener struct {
	net.Listener
	conns chan net.Conn
}

func (l recordListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.conns <- c
	}
	return c, err
}

func TestServeLoopbackSendBuffer(t *testing.T) {
	t.Parallel()
	capped := testio.WmemMax(t)
	want := 2 * min(sockbuf.Loopback, capped) // the kernel doubles what it is asked for

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	rl := recordListener{Listener: ln, conns: make(chan net.Conn, 1)}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	go func() { done <- Serve(ctx, rl, h, nil) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://" + ln.Addr().String())
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, "ok", string(body))
	require.Equal(t, want, testio.SendBuffer(t, (<-rl.conns).(*net.TCPConn)), "send buffer of a connection from this host")
}

func TestBoundLoopbackBuffer_OtherConns(t *testing.T) {
	t.Parallel()
	// A connection other than TCP, and a state other than new, are left alone.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	boundLoopbackBuffer(a, http.StateNew)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	before := testio.SendBuffer(t, c.(*net.TCPConn))
	boundLoopbackBuffer(c, http.StateActive)
	require.Equal(t, before, testio.SendBuffer(t, c.(*net.TCPConn)))
}
