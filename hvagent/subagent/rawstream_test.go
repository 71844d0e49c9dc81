package subagent

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rawClient returns a client with the default HTTP client (raw streams)
// for a server running h.
func rawClient(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return NewClient(ClientConfig{URL: srv.URL + "/stream"})
}

// countReadFrom is a buffer that counts the calls of its ReadFrom.
type countReadFrom struct {
	bytes.Buffer
	calls int
}

func (w *countReadFrom) ReadFrom(r io.Reader) (int64, error) {
	w.calls++
	return w.Buffer.ReadFrom(r)
}

func TestClient_RawStream(t *testing.T) {
	t.Parallel()
	data := make([]byte, 2*rawStreamChunk+1234)
	_, _ = rand.Read(data)
	serve := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		_, _ = w.Write(data)
	}

	t.Run("WriteTo", func(t *testing.T) {
		t.Parallel()
		c := rawClient(t, serve)
		body, size, err := c.Stream(t.Context(), &SnapshotRequest{ID: "x"})
		require.NoError(t, err)
		defer body.Close()
		require.Equal(t, int64(len(data)), size)
		wt, ok := body.(io.WriterTo)
		require.True(t, ok, "a Content-Length stream has WriteTo")
		var w countReadFrom
		n, err := wt.WriteTo(&w)
		require.NoError(t, err)
		require.Equal(t, int64(len(data)), n)
		require.True(t, bytes.Equal(data, w.Bytes()), "stream differs")
		require.GreaterOrEqual(t, w.calls, 3, "what was read ahead, then one ReadFrom per chunk")
	})

	t.Run("WriteToSocket", func(t *testing.T) {
		t.Parallel()
		c := rawClient(t, serve)
		body, _, err := c.Stream(t.Context(), &SnapshotRequest{ID: "x"})
		require.NoError(t, err)
		defer body.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		got := make(chan []byte, 1)
		go func() {
			conn, err := ln.Accept()
			if err != nil {
				got <- nil
				return
			}
			defer conn.Close()
			b, _ := io.ReadAll(conn)
			got <- b
		}()
		conn, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		n, err := body.(io.WriterTo).WriteTo(conn) // TCPConn.ReadFrom: splice
		require.NoError(t, err)
		require.NoError(t, conn.Close())
		require.Equal(t, int64(len(data)), n)
		require.True(t, bytes.Equal(data, <-got), "stream differs")
	})

	t.Run("Read", func(t *testing.T) {
		t.Parallel()
		c := rawClient(t, serve)
		body, _, err := c.Stream(t.Context(), &SnapshotRequest{ID: "x"})
		require.NoError(t, err)
		defer body.Close()
		got, err := io.ReadAll(struct{ io.Reader }{body})
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, got), "stream differs")
	})

	t.Run("UnknownLength", func(t *testing.T) {
		t.Parallel()
		c := rawClient(t, func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "part1")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "part2")
		})
		body, size, err := c.Stream(t.Context(), &SnapshotRequest{})
		require.NoError(t, err)
		defer body.Close()
		require.Equal(t, int64(-1), size)
		_, ok := body.(io.WriterTo)
		require.False(t, ok)
		got, err := io.ReadAll(body)
		require.NoError(t, err)
		require.Equal(t, "part1part2", string(got))
	})

	t.Run("ErrCutShort", func(t *testing.T) {
		t.Parallel()
		c := rawClient(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			_, _ = w.Write(data[:1000])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		})
		for _, how := range []string{"WriteTo", "Read"} {
			body, _, err := c.Stream(t.Context(), &SnapshotRequest{})
			require.NoError(t, err)
			if how == "WriteTo" {
				var w bytes.Buffer
				_, err = body.(io.WriterTo).WriteTo(&w)
			} else {
				_, err = io.ReadAll(struct{ io.Reader }{body})
			}
			require.ErrorIs(t, err, io.ErrUnexpectedEOF, how)
			require.NoError(t, body.Close())
		}
	})

	t.Run("ErrStatus", func(t *testing.T) {
		t.Parallel()
		c := rawClient(t, func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "no such snapshot", http.StatusNotFound)
		})
		_, _, err := c.Stream(t.Context(), &SnapshotRequest{})
		ce := requireCallError(t, err, KindHTTP)
		require.Equal(t, http.StatusNotFound, ce.Status)
		require.Equal(t, "no such snapshot", ce.Message)
	})

	t.Run("ErrTimeout", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(hang))
		t.Cleanup(srv.Close)
		c := NewClient(ClientConfig{URL: srv.URL + "/stream", Timeout: 100 * time.Millisecond})
		_, _, err := c.Stream(t.Context(), &SnapshotRequest{})
		ce := requireCallError(t, err, KindTransport)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, "no answer within 100ms", ce.Message)
	})

	t.Run("ErrCanceled", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(hang))
		t.Cleanup(srv.Close)
		c := NewClient(ClientConfig{URL: srv.URL + "/stream"})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, _, err := c.Stream(ctx, &SnapshotRequest{})
		ce := requireCallError(t, err, KindTransport)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, "stream abandoned", ce.Message)
	})

	t.Run("ErrUnreachable", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		c := NewClient(ClientConfig{URL: "http://" + addr + "/stream"})
		_, _, err = c.Stream(t.Context(), &SnapshotRequest{})
		requireCallError(t, err, KindTransport)
		require.True(t, IsConnectError(err), "%v", err)
	})
}
