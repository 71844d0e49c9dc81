package rest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/internal/benchkit"
)

// syncTest is a SyncServer on a loopback port with the handler under test.
type syncTest struct {
	srv  *SyncServer
	addr string
	done chan error
}

// startSync serves h with a SyncServer; the server is closed when the
// test ends.
func startSync(t *testing.T, h http.HandlerFunc, idle time.Duration) *syncTest {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	st := &syncTest{srv: NewSyncServer(&http.Server{Handler: h, ReadHeaderTimeout: time.Second, IdleTimeout: idle}),
		addr: ln.Addr().String(), done: make(chan error, 1)}
	go func() { st.done <- st.srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = st.srv.Close()
		require.ErrorIs(t, <-st.done, http.ErrServerClosed)
	})
	return st
}

// rawClient is one connection to the server, written and read by hand.
type rawClient struct {
	c  net.Conn
	br *bufio.Reader
}

// dial opens a connection to st.
func (st *syncTest) dial(t *testing.T) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", st.addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	return &rawClient{c: c, br: bufio.NewReader(c)}
}

// do sends raw and reads one reply (to a request of method) with its body.
func (rc *rawClient) do(t *testing.T, method, raw string) (*http.Response, string) {
	t.Helper()
	_, err := io.WriteString(rc.c, raw)
	require.NoError(t, err)
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	for err == nil && resp.StatusCode < 200 { // informational: the reply follows
		resp, err = http.ReadResponse(rc.br, &http.Request{Method: method})
	}
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// served is the header by which the test handlers say who served them.
const served = "X-Served-By"

// whoServes writes "sync" or "net/http" in the served header.
func whoServes(w http.ResponseWriter) {
	by := "net/http"
	if _, ok := w.(*syncReply); ok {
		by = "sync"
	}
	w.Header().Set(served, by)
}

// rawGet is a GET of path as a client sends it.
func rawGet(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n" }

func TestSyncServer_KeepAliveAndHandOver(t *testing.T) {
	t.Parallel()
	st := startSync(t, func(w http.ResponseWriter, r *http.Request) {
		whoServes(w)
		body, _ := io.ReadAll(r.Body)
		_, _ = fmt.Fprintf(w, "<p>%s %s %s %s</p>", r.Method, r.URL.Path, r.Host, body)
	}, time.Minute)
	rc := st.dial(t)
	for i := range 2 {
		resp, body := rc.do(t, "GET", rawGet(fmt.Sprintf("/guests/%d", i)))
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, "sync", resp.Header.Get(served))
		require.Equal(t, fmt.Sprintf("<p>GET /guests/%d x </p>", i), body)
		require.Equal(t, int64(len(body)), resp.ContentLength)
		require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
		require.NotEmpty(t, resp.Header.Get("Date"))
		require.False(t, resp.Close)
	}
	resp, body := rc.do(t, "POST", "POST /guests HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd")
	require.Equal(t, "sync", resp.Header.Get(served))
	require.Equal(t, "<p>POST /guests x abcd</p>", body)
	// A download goes to net/http, and the connection stays there.
	for _, path := range []string{"/guests/1/snapshots/s/download", "/guests/1"} {
		resp, body = rc.do(t, "GET", rawGet(path))
		require.Equal(t, "net/http", resp.Header.Get(served))
		require.Equal(t, "<p>GET "+path+" x </p>", body)
	}
}

// TestStreamPath_MatchesTheRouteTable ties streamPath to the REST route
// table: a stream route (a download, a console) served by the SyncServer
// would lose sendfile or fail to hijack, so every one must be handed over,
// and no other route must be.
func TestStreamPath_MatchesTheRouteTable(t *testing.T) {
	t.Parallel()
	wildcard := regexp.MustCompile(`\{[^}]+\}`)
	streams := 0
	for _, r := range Routes() {
		path := wildcard.ReplaceAllString(r.Pattern, "x1")
		require.Equal(t, r.Stream, streamPath(path), "%s (as %s): stream %v", r, path, r.Stream)
		req := httptest.NewRequest(r.Method, path, nil)
		req.RequestURI = path // the origin form, as the SyncServer reads it
		require.Equal(t, !r.Stream, syncable(req), "%s served by the SyncServer", r)
		if r.Stream {
			streams++
		}
	}
	require.Equal(t, 3, streams, "the console and the two snapshot downloads")
}

func TestSyncServer_HandsOverWhatItDoesNotServe(t *testing.T) {
	t.Parallel()
	st := startSync(t, func(w http.ResponseWriter, r *http.Request) {
		whoServes(w)
		_, _ = io.Copy(io.Discard, r.Body)
	}, time.Minute)
	for name, raw := range map[string]string{
		"HTTP/1.0":       "GET / HTTP/1.0\r\nHost: x\r\n\r\n",
		"chunked body":   "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
		"expect":         "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\na",
		"upgrade":        "GET /guests/1/console HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"download":       rawGet("/guests/1/snapshots/s/download"),
		"absolute form":  "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"odd host":       "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		"large headers":  "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", syncBufferSize) + "\r\n\r\n",
		"long poll body": "POST /guests/1/start?wait=10s HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
	} {
		t.Run(name, func(t *testing.T) {
			method, _, _ := strings.Cut(raw, " ")
			resp, _ := st.dial(t).do(t, method, raw)
			if name == "odd host" {
				require.Equal(t, http.StatusBadRequest, resp.StatusCode) // net/http's own reply
				return
			}
			require.Equal(t, "net/http", resp.Header.Get(served))
		})
	}
	// No Host: net/http's 400.
	resp, body := st.dial(t).do(t, "GET", "GET / HTTP/1.1\r\n\r\n")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, body, "missing required Host header")
}

func TestSyncServer_LargeAndFlushedBodiesAreChunked(t *testing.T) {
	t.Parallel()
	large := strings.Repeat("0123456789abcdef", 3*syncReplyBuffer/16)
	st := startSync(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/large":
			_, _ = io.WriteString(w, large)
		case "/flushed":
			_, _ = io.WriteString(w, "one,")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "two")
		case "/many": // small writes after a flush, gathered into larger ones
			w.(http.Flusher).Flush()
			for i := range 20000 {
				_, _ = fmt.Fprintf(w, "%d,", i)
			}
		case "/sized":
			w.Header().Set("Content-Length", "5")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "12345")
			_, err := io.WriteString(w, "6")
			require.ErrorIs(t, err, http.ErrContentLength)
		}
	}, time.Minute)
	rc := st.dial(t)
	resp, body := rc.do(t, "GET", rawGet("/large"))
	require.Equal(t, []string{"chunked"}, resp.TransferEncoding)
	require.Equal(t, large, body)
	resp, body = rc.do(t, "GET", rawGet("/flushed"))
	require.Equal(t, []string{"chunked"}, resp.TransferEncoding)
	require.Equal(t, "one,two", body)
	_, body = rc.do(t, "GET", rawGet("/many"))
	var want strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&want, "%d,", i)
	}
	require.Equal(t, want.String(), body)
	resp, body = rc.do(t, "GET", rawGet("/sized"))
	require.Nil(t, resp.TransferEncoding)
	require.Equal(t, "12345", body)
	resp, _ = rc.do(t, "GET", rawGet("/large")) // the connection is still in step
	require.Equal(t, 200, resp.StatusCode)
}

func TestSyncServer_StatusesAndHead(t *testing.T) {
	t.Parallel()
	st := startSync(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
			_, err := w.Write([]byte("x"))
			require.ErrorIs(t, err, http.ErrBodyNotAllowed)
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			w.WriteHeader(http.StatusTeapot) // ignored
			_, _ = io.WriteString(w, `{"a":1}`)
		case "/early":
			w.Header().Set("Link", "</a>")
			w.WriteHeader(http.StatusEarlyHints)
			_, _ = io.WriteString(w, "body")
		}
	}, time.Minute)
	rc := st.dial(t)
	resp, body := rc.do(t, "GET", rawGet("/nocontent"))
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Empty(t, body)
	require.Empty(t, resp.Header.Get("Content-Length"))
	resp, body = rc.do(t, "GET", rawGet("/json"))
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.Equal(t, `{"a":1}`, body)
	resp, body = rc.do(t, "HEAD", "HEAD /json HTTP/1.1\r\nHost: x\r\n\r\n")
	require.Equal(t, int64(7), resp.ContentLength)
	require.Empty(t, body)
	resp, body = rc.do(t, "GET", rawGet("/early")) // do skips the 103
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "body", body)
}

func TestSyncServer_ConnectionEnds(t *testing.T) {
	t.Parallel()
	st := startSync(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic(http.ErrAbortHandler)
		}
		_, _ = io.WriteString(w, "ok")
	}, time.Minute)
	// The client asks to close.
	rc := st.dial(t)
	resp, _ := rc.do(t, "GET", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	require.True(t, resp.Close)
	_, err := rc.br.ReadByte()
	require.ErrorIs(t, err, io.EOF)
	// A body the handler leaves is drained when small, else the
	// connection closes after the reply.
	rc = st.dial(t)
	resp, _ = rc.do(t, "POST", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	require.False(t, resp.Close)
	big := maxBodyDrain + 1
	_, err = fmt.Fprintf(rc.c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", big)
	require.NoError(t, err)
	resp, err = http.ReadResponse(rc.br, nil)
	require.NoError(t, err)
	require.True(t, resp.Close)
	// A body that never comes closes the connection after the time headers
	// have.
	rc = st.dial(t)
	resp, _ = rc.do(t, "POST", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nabc")
	require.False(t, resp.Close)
	_, err = rc.br.ReadByte()
	require.ErrorIs(t, err, io.EOF)
	// A handler's panic closes the connection without a reply.
	rc = st.dial(t)
	_, err = io.WriteString(rc.c, rawGet("/panic"))
	require.NoError(t, err)
	_, err = rc.br.ReadByte()
	require.ErrorIs(t, err, io.EOF)
}

func TestSyncServer_LongPollEndsWhenTheClientGoes(t *testing.T) {
	t.Parallel()
	ended := make(chan error, 1)
	st := startSync(t, func(w http.ResponseWriter, r *http.Request) {
		if !LongLived(r) {
			_, _ = io.WriteString(w, "quick")
			return
		}
		if r.URL.Path == "/events" { // a stream: its head and a first event go out at once
			_, _ = io.WriteString(w, "data: 1\n\n")
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
			ended <- r.Context().Err()
		case <-time.After(10 * time.Second):
			ended <- errors.New("the long poll was not cancelled")
		}
	}, time.Minute)
	for _, path := range []string{"/jobs/1?wait=10s", "/events"} {
		rc := st.dial(t)
		_, body := rc.do(t, "GET", rawGet("/jobs/1"))
		require.Equal(t, "quick", body)
		_, err := io.WriteString(rc.c, rawGet(path))
		require.NoError(t, err)
		if path == "/events" {
			resp, err := http.ReadResponse(rc.br, nil)
			require.NoError(t, err)
			require.Equal(t, []string{"chunked"}, resp.TransferEncoding)
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "data: 1\n", line)
		} else {
			time.Sleep(50 * time.Millisecond)
		}
		require.NoError(t, rc.c.Close())
		require.ErrorIs(t, <-ended, context.Canceled, path)
	}
}

func TestSyncServer_LongPollKeepsTheConnection(t *testing.T) {
	t.Parallel()
	st := startSync(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.RawQuery)
	}, time.Minute)
	rc := st.dial(t)
	for _, q := range []string{"wait=1s", "", "wait=2s"} {
		_, body := rc.do(t, "GET", rawGet("/jobs/1?"+q))
		require.Equal(t, q, body)
	}
}

func TestSyncServer_ShutdownAndIdleTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{})
	st := startSync(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		_, _ = io.WriteString(w, "ok")
	}, 200*time.Millisecond)
	idle := st.dial(t)
	idle.do(t, "GET", rawGet("/"))
	_, err := idle.br.ReadByte() // the idle timeout closes it
	require.ErrorIs(t, err, io.EOF)

	busy := st.dial(t)
	_, err = io.WriteString(busy.c, rawGet("/slow"))
	require.NoError(t, err)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, st.srv.Shutdown(ctx), context.DeadlineExceeded)
	close(release)
	resp, err := http.ReadResponse(busy.br, nil)
	require.NoError(t, err)
	require.True(t, resp.Close, "a reply during shutdown closes its connection")
	require.NoError(t, st.srv.Shutdown(context.Background()))
	_, err = net.Dial("tcp", st.addr)
	require.Error(t, err, "the listener is closed")
}

// TestSyncServer_SilentConnectionClosed: a new connection that sends
// nothing is closed after the timeout for headers, as net/http closes it,
// not after the idle timeout between requests; a kept-alive one waits the
// idle timeout.
func TestSyncServer_SilentConnectionClosed(t *testing.T) {
	t.Parallel()
	st := startSync(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }, time.Hour)
	silent := st.dial(t)
	began := time.Now()
	_, err := silent.br.ReadByte()
	require.ErrorIs(t, err, io.EOF)
	took := time.Since(began)
	require.GreaterOrEqual(t, took, 900*time.Millisecond, "the header timeout is 1 s")
	require.Less(t, took, time.Minute, "closed long before the idle timeout")

	kept := st.dial(t)
	kept.do(t, "GET", rawGet("/"))
	require.NoError(t, kept.c.SetReadDeadline(time.Now().Add(1500*time.Millisecond)))
	_, err = kept.br.ReadByte()
	var ne net.Error
	require.ErrorAs(t, err, &ne, "after a request the connection idles: only our own deadline ends the read")
	require.True(t, ne.Timeout())
}

// serveWith serves hs on a loopback port with the SyncServer (kind
// "sync") or with net/http's server itself, until tb ends, and returns the
// address.
func serveWith(tb testing.TB, kind string, hs *http.Server) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	var srv interface {
		Serve(net.Listener) error
		Close() error
	} = hs
	if kind == "sync" {
		srv = NewSyncServer(hs)
	}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// BenchmarkServe is one small GET on a kept-alive loopback connection,
// answered by the SyncServer and by net/http's server with the same
// handler: the serving path's own cost (the client reads and writes
// synchronously, as hvagentd's sub-agent client does). cpu-us/op is the
// process's CPU time (client and server) per request.
func BenchmarkServe(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"cpus":[{"time":1}]}`+"\n")
	})
	for _, kind := range []string{"sync", "net/http"} {
		b.Run(strings.ReplaceAll(kind, "/", ""), func(b *testing.B) {
			addr := serveWith(b, kind, &http.Server{Handler: h, ReadHeaderTimeout: time.Minute, IdleTimeout: time.Minute})
			c, err := net.Dial("tcp", addr)
			require.NoError(b, err)
			defer c.Close()
			br := bufio.NewReader(c)
			req := []byte(rawGet("/guests/1/metrics/cpu"))
			b.ReportAllocs()
			cpu0 := benchkit.CPUTime(b)
			for b.Loop() {
				_, err := c.Write(req)
				require.NoError(b, err)
				resp, err := http.ReadResponse(br, nil)
				require.NoError(b, err)
				_, err = io.Copy(io.Discard, resp.Body)
				require.NoError(b, err)
			}
			b.ReportMetric(float64((benchkit.CPUTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
		})
	}
}

// TestSyncServer_RepliesAsNetHTTP sends the same requests to a SyncServer
// and to net/http's server with the same handlers, on one kept-alive
// connection each, and compares the replies: status, header (but Date),
// framing and body.
func TestSyncServer_RepliesAsNetHTTP(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 3*syncReplyBuffer)
	handlers := map[string]http.HandlerFunc{
		"/plain":    func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") },
		"/empty":    func(w http.ResponseWriter, r *http.Request) {},
		"/html":     func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "<html><body>x</body></html>") },
		"/notfound": func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no such thing", http.StatusNotFound) },
		"/nocontent": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-A", "1")
			w.WriteHeader(http.StatusNoContent)
		},
		"/notmodified": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) },
		"/json": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, `{"a":1}`)
		},
		"/declared": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "3")
			_, _ = io.WriteString(w, "abc")
		},
		"/big": func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, big) },
		"/flushed": func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "b")
		},
		"/close": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, "bye")
		},
		"/echo": func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(w, r.Body) },
	}
	mux := http.NewServeMux()
	for path, h := range handlers {
		mux.Handle(path, h)
	}
	sync := startSync(t, mux.ServeHTTP, time.Minute)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ref := &http.Server{Handler: mux}
	go func() { _ = ref.Serve(ln) }()
	t.Cleanup(func() { _ = ref.Close() })
	refTest := &syncTest{addr: ln.Addr().String()}

	type reply struct {
		Status           int
		Header           http.Header
		TransferEncoding []string
		ContentLength    int64
		Close            bool
		Body             string
	}
	exchange := func(rc *rawClient, method, raw string) reply {
		resp, body := rc.do(t, method, raw)
		resp.Header.Del("Date")
		return reply{resp.StatusCode, resp.Header, resp.TransferEncoding, resp.ContentLength, resp.Close, body}
	}
	var requests []string
	for path := range handlers {
		if path != "/close" {
			requests = append(requests, "GET "+path, "HEAD "+path)
		}
	}
	requests = append(requests, "POST /echo", "GET /close")
	got, want := sync.dial(t), refTest.dial(t)
	for _, req := range requests {
		method, path, _ := strings.Cut(req, " ")
		raw := method + " " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"
		if method == "POST" {
			raw = method + " " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
		}
		w, g := exchange(want, method, raw), exchange(got, method, raw)
		if req == "HEAD /big" { // net/http, past its buffer, sends no length; the SyncServer the body's
			require.Equal(t, int64(len(big)), g.ContentLength)
			g.Header.Del("Content-Length")
			g.ContentLength = -1
		}
		require.Equal(t, w, g, req)
	}
}
