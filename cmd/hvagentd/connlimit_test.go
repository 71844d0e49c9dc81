package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

// limitedListener listens on loopback with limits; accepted connections
// arrive on the returned channel.
func limitedListener(t *testing.T, limits *connLimits) (string, <-chan net.Conn) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := limits.wrap(inner, true)
	accepted := make(chan net.Conn, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		close(accepted)
		for c := range accepted {
			_ = c.Close()
		}
	})
	return ln.Addr().String(), accepted
}

// dialFrom connects to addr from the loopback address ip.
func dialFrom(t *testing.T, ip, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// requireAccepted waits for the server side of one connection.
func requireAccepted(t *testing.T, accepted <-chan net.Conn) net.Conn {
	t.Helper()
	select {
	case c := <-accepted:
		return c
	case <-time.After(10 * time.Second):
		require.FailNow(t, "connection not accepted")
		return nil
	}
}

// requireClosed checks that the server closed c without a byte.
func requireClosed(t *testing.T, c net.Conn) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	n, err := c.Read(make([]byte, 1))
	require.Zero(t, n)
	require.Error(t, err)
	require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "the refused connection was left open")
}

func TestConnLimits_PerClientAndTotal(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	limits := newConnLimits(3, 2, zerolog.New(&logs).Level(zerolog.InfoLevel)) // the default level
	addr, accepted := limitedListener(t, limits)

	// Two from one client are served; its third is closed at once.
	dialFrom(t, "127.0.0.1", addr)
	first := requireAccepted(t, accepted)
	dialFrom(t, "127.0.0.1", addr)
	requireAccepted(t, accepted)
	requireClosed(t, dialFrom(t, "127.0.0.1", addr))

	// Another client gets the last slot of the total; then nobody does.
	dialFrom(t, "127.0.0.2", addr)
	requireAccepted(t, accepted)
	requireClosed(t, dialFrom(t, "127.0.0.2", addr))
	require.Contains(t, logs.String(), `"level":"warn","client":"127.0.0.1`)
	require.Contains(t, logs.String(), `"limit":"max_connections_per_client"`)

	// A closed connection frees its slots (closing twice counts once).
	require.NoError(t, first.Close())
	_ = first.Close()
	c := dialFrom(t, "127.0.0.1", addr)
	requireAccepted(t, accepted)
	_, err := c.Write([]byte("x"))
	require.NoError(t, err)
	requireClosed(t, dialFrom(t, "127.0.0.3", addr))

	limits.mu.Lock()
	defer limits.mu.Unlock()
	require.Equal(t, 3, limits.open)
	require.Equal(t, map[string]int{"127.0.0.1": 2, "127.0.0.2": 1}, limits.byIP)
}

func TestConnLimits_UnixTotalOnly(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/s.sock"
	inner, err := net.Listen("unix", path)
	require.NoError(t, err)
	ln := newConnLimits(1, 1, zerolog.Nop()).wrap(inner, false)
	defer ln.Close()

	a, err := net.Dial("unix", path)
	require.NoError(t, err)
	defer a.Close()
	served, err := ln.Accept()
	require.NoError(t, err)
	defer served.Close()

	b, err := net.Dial("unix", path)
	require.NoError(t, err)
	defer b.Close()
	// Accept closes b and waits for the next connection, which comes after
	// served is closed.
	got := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			got <- c
		}
		close(got)
	}()
	require.NoError(t, b.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = b.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
	require.NoError(t, served.Close())
	c, err := net.Dial("unix", path)
	require.NoError(t, err)
	defer c.Close()
	third, ok := <-got
	require.True(t, ok, "a connection is accepted once a slot is free")
	require.NoError(t, third.Close())
}

// healthz sends GET /healthz on c and checks the 200, keeping c open.
func healthz(t *testing.T, c net.Conn) {
	t.Helper()
	host := "localhost" // the unix socket does not check it
	if c.RemoteAddr().Network() == "tcp" {
		host = c.RemoteAddr().String()
	}
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestDaemon_ConnectionLimits(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--max-connections", "3", "--max-connections-per-client", "2")
	dial := func(network, addr string) net.Conn {
		c, err := net.DialTimeout(network, addr, 5*time.Second)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	healthz(t, dial("tcp", d.TCPAddr()))
	healthz(t, dial("tcp", d.TCPAddr()))
	requireClosed(t, dial("tcp", d.TCPAddr())) // per client
	healthz(t, dial("unix", d.SocketPath()))
	requireClosed(t, dial("unix", d.SocketPath())) // total
}
