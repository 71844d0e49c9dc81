package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/internal/testio"
)

// unixPair returns both ends of a unix socket connection, closed at cleanup.
func unixPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(tempDir(t), "s"), Net: "unix"})
	require.NoError(t, err)
	defer ln.Close()
	c, err := net.DialUnix("unix", nil, ln.Addr().(*net.UnixAddr))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	s, err := ln.AcceptUnix()
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, c
}

// readN reads n bytes from c in the background.
func readN(c net.Conn, n int) <-chan []byte {
	got := make(chan []byte, 1)
	go func() {
		buf := make([]byte, n)
		_, _ = io.ReadFull(c, buf)
		got <- buf
	}()
	return got
}

// streamABC streams "abc" through w's ReadFrom and checks that in, the
// other end of w's connection, reads it.
func streamABC(t *testing.T, w io.ReaderFrom, in net.Conn) {
	t.Helper()
	got := readN(in, 3)
	n, err := w.ReadFrom(strings.NewReader("abc"))
	require.NoError(t, err)
	require.Equal(t, int64(3), n)
	require.Equal(t, "abc", string(<-got))
}

func TestSendFileUnix(t *testing.T) {
	t.Parallel()
	data := make([]byte, 5<<20+3)
	_, _ = rand.Read(data)
	path := filepath.Join(t.TempDir(), "export")
	require.NoError(t, os.WriteFile(path, data, 0o600))

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		out, in := unixPair(t)
		got := readN(in, len(data))
		lr := &io.LimitedReader{R: f, N: 3 << 20}
		n, handled, err := sendFileUnix(out, lr)
		require.NoError(t, err)
		require.True(t, handled)
		require.Equal(t, int64(3<<20), n)
		require.Zero(t, lr.N)
		off, err := f.Seek(0, io.SeekCurrent)
		require.NoError(t, err)
		require.Equal(t, int64(3<<20), off, "the file's offset moves past what was sent")
		// Through limitConn as net/http reaches it: a file is sent, another
		// reader copied.
		c := &limitConn{Conn: out, limits: newConnLimits(0, 0, zerolog.Nop())}
		n, err = c.ReadFrom(&io.LimitedReader{R: f, N: 1 << 20})
		require.NoError(t, err)
		require.Equal(t, int64(1<<20), n)
		n, err = c.ReadFrom(struct{ io.Reader }{f})
		require.NoError(t, err)
		require.Equal(t, int64(len(data)-4<<20), n)
		require.True(t, bytes.Equal(data, <-got), "received bytes differ")
	})

	t.Run("NotAFile", func(t *testing.T) {
		t.Parallel()
		out, _ := unixPair(t)
		n, handled, err := sendFileUnix(out, strings.NewReader("x"))
		require.NoError(t, err)
		require.False(t, handled)
		require.Zero(t, n)
	})

	t.Run("ErrDeadline", func(t *testing.T) {
		t.Parallel()
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		out, _ := unixPair(t) // nobody reads: the socket fills up
		require.NoError(t, out.SetWriteDeadline(time.Now().Add(100*time.Millisecond)))
		n, handled, err := sendFileUnix(out, f)
		require.True(t, handled)
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		require.Less(t, n, int64(len(data)))
	})
}

func TestLimitConnStreamBuffer(t *testing.T) {
	t.Parallel()
	capped := testio.WmemMax(t)
	want := 2 * streamSendBuffer // the kernel doubles what it is asked for
	if os.Geteuid() != 0 {
		want = 2 * min(streamSendBuffer, capped) // SO_SNDBUF: capped at wmem_max
	}
	out, in := unixPair(t)
	require.Less(t, testio.SendBuffer(t, out), want, "a new connection's send buffer")
	c := &limitConn{Conn: out, limits: newConnLimits(0, 0, zerolog.Nop())}
	streamABC(t, c, in)
	require.Equal(t, want, testio.SendBuffer(t, out), "send buffer after a stream")
}
