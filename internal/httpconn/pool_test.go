package httpconn

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// server is a test server that counts the connections opened to it and
// reports each one it closes.
type server struct {
	*httptest.Server
	opened atomic.Int32
	closed chan struct{} // one value per closed connection
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{Server: httptest.NewUnstartedServer(h), closed: make(chan struct{}, 100)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.closed <- struct{}{}
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *server) pool(t *testing.T) *Pool {
	t.Helper()
	p, err := New(Config{URL: s.URL})
	require.NoError(t, err)
	require.NotNil(t, p)
	t.Cleanup(p.CloseIdleConnections)
	return p
}

func get(t *testing.T, ctx context.Context, p *Pool, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := p.RoundTrip(req)
	require.NoError(t, err)
	return resp
}

func TestPool_RoundTripper(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+string(data))
	})
	c := &http.Client{Transport: s.pool(t)}
	for range 5 {
		resp, err := c.Post(s.URL+"/a/b?x=1", "text/plain", strings.NewReader("hello"))
		require.NoError(t, err)
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, "POST /a/b?x=1 hello", string(data))
	}
	require.Equal(t, int32(1), s.opened.Load())
}

func TestNew_Errors(t *testing.T) {
	t.Parallel()
	_, err := New(Config{URL: "ftp://host/x"})
	require.ErrorContains(t, err, `unsupported scheme "ftp"`)
	_, err = New(Config{URL: "http://"})
	require.ErrorContains(t, err, "has no host")
	_, err = New(Config{URL: "http://a b/"})
	require.Error(t, err)
}

// TestPool_StreamedBody: a body is handed over as it arrives, not read
// whole first, and its end gives the connection back.
func TestPool_StreamedBody(t *testing.T) {
	t.Parallel()
	next := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first ")
		w.(http.Flusher).Flush()
		<-next
		_, _ = io.WriteString(w, "second")
	})
	p := s.pool(t)
	for range 2 {
		resp := get(t, t.Context(), p, s.URL)
		buf := make([]byte, 6)
		_, err := io.ReadFull(resp.Body, buf)
		require.NoError(t, err)
		require.Equal(t, "first ", string(buf))
		next <- struct{}{}
		rest, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, "second", string(rest))
		require.NoError(t, resp.Body.Close())
	}
	require.Equal(t, int32(1), s.opened.Load())
}

// TestPool_EarlyClose: without WaitDrain, closing a body whose rest has
// not arrived returns at once and drops the connection; a rest already
// read is drained and keeps it.
func TestPool_EarlyClose(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/short" {
			_, _ = io.WriteString(w, strings.Repeat("x", 100))
			return
		}
		_, _ = io.WriteString(w, "start")
		w.(http.Flusher).Flush()
		<-release // the client closes before the rest comes
	})
	p := s.pool(t)

	resp := get(t, t.Context(), p, s.URL+"/short")
	_, err := resp.Body.Read(make([]byte, 10))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	_, err = resp.Body.Read(make([]byte, 10))
	require.ErrorIs(t, err, ErrBodyClosed)

	resp = get(t, t.Context(), p, s.URL+"/long")
	require.Equal(t, int32(1), s.opened.Load()) // the short reply's connection was kept
	_, err = resp.Body.Read(make([]byte, 5))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	close(release)
	<-s.closed
}

// TestPool_CloseDuringRead: Close from another goroutine ends a Read
// blocked on the connection.
func TestPool_CloseDuringRead(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		<-release
	})
	t.Cleanup(func() { close(release) })
	resp := get(t, t.Context(), s.pool(t), s.URL)
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		done <- err
	}()
	b := resp.Body.(*body)
	for b.mu.TryLock() { // wait until the Read holds the body
		b.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	require.NoError(t, resp.Body.Close())
	require.Error(t, <-done)
}

// TestPool_ContextEnd: the end of the request's context ends a Read
// waiting for the reply's body, and closes the connection.
func TestPool_ContextEnd(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		<-release
	})
	ctx, cancel := context.WithCancel(t.Context())
	resp := get(t, ctx, s.pool(t), s.URL)
	cancel()
	_, err := io.ReadAll(resp.Body)
	require.Error(t, err)
	require.NoError(t, resp.Body.Close())
	close(release)
	<-s.closed
}

// TestPool_ServerClosedIdle: a connection the server closed while idle is
// not used again, and no request fails for it.
func TestPool_ServerClosedIdle(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	p := s.pool(t)
	roundTrip := func() {
		resp := get(t, t.Context(), p, s.URL)
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, "ok", string(data))
	}
	roundTrip()
	s.CloseClientConnections()
	<-s.closed
	for range 3 {
		roundTrip()
	}
	require.Equal(t, int32(2), s.opened.Load())
}

// TestPool_ResendUnsent: a request that failed on a reused connection
// before a byte of it was written is sent again on a new connection.
func TestPool_ResendUnsent(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		_, _ = w.Write(data)
	})
	p := s.pool(t)
	resp := get(t, t.Context(), p, s.URL)
	require.NoError(t, resp.Body.Close())
	pc := p.pop()
	require.NotNil(t, pc)
	pc.sent.w = failWriter{} // the socket stays open: only its writes fail
	p.put(pc)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL, strings.NewReader("again"))
	require.NoError(t, err)
	resp, err = p.RoundTrip(req)
	require.NoError(t, err)
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, "again", string(data))
	require.Equal(t, int32(2), s.opened.Load())
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("write refused") }

func TestConnCheck(t *testing.T) { // not parallel: it counts allocations
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	dial := func() (client, server net.Conn) {
		client, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		server, err = ln.Accept()
		require.NoError(t, err)
		return client, server
	}

	client, server := dial()
	defer client.Close()
	check := newConnCheck(client)
	require.True(t, check.idleOpen())
	require.True(t, check.idleOpen(), "a check changes nothing")
	require.Zero(t, testing.AllocsPerRun(10, func() { check.idleOpen() }), "a check allocates nothing")
	require.NoError(t, server.Close())
	require.Eventually(t, func() bool { return !check.idleOpen() }, 10*time.Second, time.Millisecond)

	client2, server2 := dial()
	defer client2.Close()
	defer server2.Close()
	_, err = server2.Write([]byte("x")) // nothing is due on an idle connection
	require.NoError(t, err)
	check2 := newConnCheck(client2)
	require.Eventually(t, func() bool { return !check2.idleOpen() }, 10*time.Second, time.Millisecond)
}
