package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/internal/sockbuf"
	"github.com/hvagent/hvagent/internal/testio"
)

// noWriteTo is a reader whose WriteTo must not be used.
type noWriteTo struct {
	io.Reader
	t *testing.T
}

func (r noWriteTo) WriteTo(io.Writer) (int64, error) {
	r.t.Error("WriteTo used: the copy would hand the pages over")
	return 0, io.ErrUnexpectedEOF
}

// tcpPair returns both ends of a loopback TCP connection, the accepted
// one counted by limits, closed at cleanup.
func tcpPair(t *testing.T) (*limitConn, net.Conn) {
	t.Helper()
	addr, accepted := limitedListener(t, newConnLimits(0, 0, zerolog.Nop()))
	c := dialFrom(t, "127.0.0.1", addr)
	s := requireAccepted(t, accepted).(*limitConn)
	t.Cleanup(func() { _ = s.Close() })
	return s, c
}

func TestLimitConn_ReadFromLoopback(t *testing.T) {
	t.Parallel()
	data := make([]byte, 5<<20+3)
	_, _ = rand.Read(data)
	path := filepath.Join(t.TempDir(), "export")
	require.NoError(t, os.WriteFile(path, data, 0o600))

	t.Run("File", func(t *testing.T) {
		t.Parallel()
		out, in := tcpPair(t)
		require.True(t, out.loopback)
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		got := readN(in, len(data))
		lr := &io.LimitedReader{R: f, N: 3 << 20}
		n, err := out.ReadFrom(lr)
		require.NoError(t, err)
		require.Equal(t, int64(3<<20), n)
		require.Zero(t, lr.N)
		n, err = out.ReadFrom(noWriteTo{Reader: f, t: t})
		require.NoError(t, err)
		require.Equal(t, int64(len(data)-3<<20), n)
		require.True(t, bytes.Equal(data, <-got), "received bytes differ")
	})

	t.Run("Socket", func(t *testing.T) {
		t.Parallel()
		src, feed := tcpPair(t)
		go func() {
			_, _ = feed.Write(data)
			_ = feed.Close()
		}()
		out, in := tcpPair(t)
		got := readN(in, len(data))
		n, err := out.ReadFrom(&io.LimitedReader{R: src.Conn, N: int64(len(data))})
		require.NoError(t, err)
		require.Equal(t, int64(len(data)), n)
		require.True(t, bytes.Equal(data, <-got), "received bytes differ")
	})

	t.Run("PeerGone", func(t *testing.T) {
		t.Parallel()
		out, in := tcpPair(t)
		require.NoError(t, in.Close())
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		n, err := out.ReadFrom(f)
		require.Error(t, err)
		require.Less(t, n, int64(len(data)))
	})
}

func TestLimitConnLoopbackBuffer(t *testing.T) {
	t.Parallel()
	capped := testio.WmemMax(t)
	want := 2 * min(sockbuf.Loopback, capped) // the kernel doubles what it is asked for
	out, in := tcpPair(t)
	conn := out.Conn.(*net.TCPConn)
	require.NotEqual(t, want, testio.SendBuffer(t, conn), "a new connection's send buffer")
	streamABC(t, out, in)
	require.Equal(t, want, testio.SendBuffer(t, conn), "send buffer after a stream")
}

func TestOnLoopback(t *testing.T) {
	t.Parallel()
	out, _ := tcpPair(t)
	require.True(t, onLoopback(out.Conn))
	us, _ := unixPair(t)
	require.False(t, onLoopback(us))
}
