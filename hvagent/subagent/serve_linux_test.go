package subagent

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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

// sendBuffer is the kernel's SO_SNDBUF of c.
func sendBuffer(t *testing.T, c syscall.Conn) int {
	t.Helper()
	raw, err := c.SyscallConn()
	require.NoError(t, err)
	var size int
	var serr error
	require.NoError(t, raw.Control(func(fd uintptr) {
		size, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
	}))
	require.NoError(t, serr)
	return size
}

func TestServeLoopbackSendBuffer(t *testing.T) {
	t.Parallel()
	wmemMax, err := os.ReadFile("/proc/sys/net/core/wmem_max")
	require.NoError(t, err)
	capped, err := strconv.Atoi(strings.TrimSpace(string(wmemMax)))
	require.NoError(t, err)
	want := 2 * min(loopbackSendBuffer, capped) // the kernel doubles what it is asked for

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
	require.Equal(t, want, sendBuffer(t, (<-rl.conns).(*net.TCPConn)), "send buffer of a connection from this host")
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
	before := sendBuffer(t, c.(*net.TCPConn))
	boundLoopbackBuffer(c, http.StateActive)
	require.Equal(t, before, sendBuffer(t, c.(*net.TCPConn)))
}
