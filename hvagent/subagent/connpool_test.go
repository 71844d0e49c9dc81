package subagent

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/internal/httpconn"
)

const okReply = `{"result":{},"error":null,"id":ID}`

// countedServer is a test server that counts the connections opened to
// it and reports each one it closes.
type countedServer struct {
	*httptest.Server
	opened atomic.Int32
	closed chan struct{} // one value per closed connection
}

// newCountedServer starts h over plain HTTP, TLS, or a unix socket
// (network "tcp", "tls" or "unix").
func newCountedServer(t *testing.T, network string, h http.HandlerFunc) *countedServer {
	t.Helper()
	s := &countedServer{Server: httptest.NewUnstartedServer(h), closed: make(chan struct{}, 100)}
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are part of the tests
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.closed <- struct{}{}
		}
	}
	switch network {
	case "tls":
		s.StartTLS()
	case "unix":
		dir, err := os.MkdirTemp("", "sa") // short: socket paths are limited to 108 bytes
		require.NoError(t, err)
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		ln, err := net.Listen("unix", filepath.Join(dir, "s.sock"))
		require.NoError(t, err)
		s.Listener = ln
		s.Start()
	default:
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// client returns a client of s with the default transports.
func (s *countedServer) client(t *testing.T, cfg ClientConfig) *Client {
	t.Helper()
	cfg.URL = s.URL + RPCPath
	if s.Listener.Addr().Network() == "unix" {
		cfg.URL, cfg.Socket = "http://unix"+RPCPath, s.Listener.Addr().String()
	}
	if s.TLS != nil {
		roots := x509.NewCertPool()
		roots.AddCert(s.Certificate())
		cfg.TLSConfig = s.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		cfg.TLSConfig.RootCAs = roots
	}
	c := NewClient(cfg)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func call(t *testing.T, c *Client) error {
	t.Helper()
	return c.Call(t.Context(), "Test.Call", &GuestRequest{}, new(GuestResponse))
}

func TestConnPool_KeepAlive(t *testing.T) {
	t.Parallel()
	for _, network := range []string{"tcp", "tls", "unix"} {
		t.Run(network, func(t *testing.T) {
			t.Parallel()
			s := newCountedServer(t, network, echoID(okReply))
			c := s.client(t, ClientConfig{})
			for range 10 {
				require.NoError(t, call(t, c))
			}
			require.Equal(t, int32(1), s.opened.Load())
		})
	}
}

func TestConnPool_UnixStream(t *testing.T) {
	t.Parallel()
	s := newCountedServer(t, "unix", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "streamed")
	})
	c := s.client(t, ClientConfig{})
	body, _, err := c.Stream(t.Context(), &GuestRequest{})
	require.NoError(t, err)
	data, err := io.ReadAll(body)
	require.NoError(t, err)
	require.NoError(t, body.Close())
	require.Equal(t, "streamed", string(data))
}

func TestConnPool_ErrTLSUnknownAuthority(t *testing.T) {
	t.Parallel()
	s := newCountedServer(t, "tls", echoID(okReply))
	c := NewClient(ClientConfig{URL: s.URL + RPCPath}) // the system's roots do not know the test CA
	err := call(t, c)
	ce := requireCallError(t, err, KindTransport)
	require.Contains(t, ce.Error(), "tls handshake")
	require.Contains(t, ce.Error(), "certificate")
	require.False(t, IsConnectError(err))
}

// TestConnPool_ServerClosedIdle: a connection the sub-agent closed while
// idle is not used again, and no call fails for it.
func TestConnPool_ServerClosedIdle(t *testing.T) {
	t.Parallel()
	s := newCountedServer(t, "tcp", echoID(okReply))
	c := s.client(t, ClientConfig{})
	require.NoError(t, call(t, c))
	s.CloseClientConnections()
	<-s.closed
	for range 3 {
		require.NoError(t, call(t, c))
	}
	require.Equal(t, int32(2), s.opened.Load())
}

func TestConnPool_ConnectionClose(t *testing.T) {
	t.Parallel()
	s := newCountedServer(t, "tcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		echoID(okReply)(w, r)
	})
	c := s.client(t, ClientConfig{})
	for range 3 {
		require.NoError(t, call(t, c))
	}
	require.Equal(t, int32(3), s.opened.Load())
}

func TestConnPool_Chunked(t *testing.T) {
	t.Parallel()
	s := newCountedServer(t, "tcp", func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		id := envelopeID.FindSubmatch(data)[1]
		_, _ = io.WriteString(w, `{"result":{"guest":{"id":"g1"}},`)
		w.(http.Flusher).Flush() // no Content-Length: the reply is chunked
		_, _ = io.WriteString(w, `"error":null,"id":`+string(id)+`}`)
	})
	c := s.client(t, ClientConfig{})
	for range 3 {
		var resp GuestResponse
		require.NoError(t, c.Call(t.Context(), "Test.Call", &GuestRequest{}, &resp))
		require.Equal(t, "g1", resp.Guest.ID)
	}
	require.Equal(t, int32(1), s.opened.Load())
}

// TestConnPool_DrainOrDrop: an error reply's body, read only in part, is
// drained when short, keeping the connection, and the connection is
// dropped when the rest is long.
func TestConnPool_DrainOrDrop(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		size   int
		opened int32
	}{{"Drained", 2 * maxErrorText, 1}, {"Dropped", 4 * httpconn.DrainLimit, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newCountedServer(t, "tcp", func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, strings.Repeat("x", tc.size))
			})
			c := s.client(t, ClientConfig{})
			for range 2 {
				requireCallError(t, call(t, c), KindHTTP)
			}
			require.Equal(t, tc.opened, s.opened.Load())
		})
	}
}

func TestConnPool_ErrTooLarge(t *testing.T) {
	t.Parallel()
	s := newCountedServer(t, "tcp", echoID(`{"result":{"message":"`+strings.Repeat("x", 3*httpconn.DrainLimit)+`"},"error":null,"id":ID}`))
	c := s.client(t, ClientConfig{})
	c.maxReply = httpconn.DrainLimit
	for range 2 {
		ce := requireCallError(t, call(t, c), KindDecode)
		require.Equal(t, "reply too large (limit 65536 bytes)", ce.Message)
	}
	require.Equal(t, int32(2), s.opened.Load())
}

func TestConnPool_Cancel(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	s := newCountedServer(t, "tcp", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(HeaderJobID) == "hang" {
			arrived <- struct{}{}
			hang(w, r)
			return
		}
		echoID(okReply)(w, r)
	})
	c := s.client(t, ClientConfig{})
	require.NoError(t, call(t, c))

	ctx, cancel := context.WithCancel(WithCall(t.Context(), "hang", 1))
	go func() { <-arrived; cancel() }()
	err := c.Call(ctx, "Test.Call", &GuestRequest{}, new(GuestResponse))
	ce := requireCallError(t, err, KindTransport)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, "call abandoned", ce.Message)
	<-s.closed // the cancel closed the connection

	require.NoError(t, call(t, c))
	require.Equal(t, int32(2), s.opened.Load())
}

func TestConnPool_ErrTimeout(t *testing.T) {
	t.Parallel()
	s := newCountedServer(t, "tcp", hang)
	c := s.client(t, ClientConfig{Timeout: 50 * time.Millisecond})
	err := call(t, c)
	ce := requireCallError(t, err, KindTransport)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, "no answer within 50ms", ce.Message)
	require.False(t, IsConnectError(err))
	<-s.closed
}

// rawServer serves each connection to it with serve, one request at a
// time, until serve returns false, and counts the requests it read. serve
// gets the request's number and its envelope's id.
type rawServer struct {
	ln       net.Listener
	requests atomic.Int32
	wg       sync.WaitGroup
}

func newRawServer(t *testing.T, serve func(n int32, id string, w *bufio.Writer) bool) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &rawServer{ln: ln}
	s.wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() { s.serveConn(conn, serve) })
		}
	})
	t.Cleanup(func() { _ = ln.Close(); s.wg.Wait() })
	return s
}

func (s *rawServer) serveConn(conn net.Conn, serve func(n int32, id string, w *bufio.Writer) bool) {
	defer conn.Close()
	br, bw := bufio.NewReader(conn), bufio.NewWriter(conn)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		data, _ := io.ReadAll(req.Body)
		id := ""
		if m := envelopeID.FindSubmatch(data); m != nil {
			id = string(m[1])
		}
		more := serve(s.requests.Add(1), id, bw)
		if bw.Flush() != nil || !more {
			return
		}
	}
}

func (s *rawServer) client(t *testing.T) *Client {
	t.Helper()
	c := NewClient(ClientConfig{URL: "http://" + s.ln.Addr().String() + RPCPath})
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestConnPool_DiesMidReply(t *testing.T) {
	t.Parallel()
	s := newRawServer(t, func(n int32, id string, w *bufio.Writer) bool {
		_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"result\":")
		return false // and the connection closes
	})
	c := s.client(t)
	for range 2 {
		err := c.Call(t.Context(), "Test.Call", &GuestRequest{}, new(GuestResponse))
		ce := requireCallError(t, err, KindTransport)
		require.Equal(t, "call failed", ce.Message)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		require.False(t, IsConnectError(err))
	}
	require.Equal(t, int32(2), s.requests.Load()) // each call sent once, on a connection of its own
}

// TestConnPool_NoReplyNotResent: a request the sub-agent read but did not
// answer may have been acted on: it is not sent again.
func TestConnPool_NoReplyNotResent(t *testing.T) {
	t.Parallel()
	s := newRawServer(t, func(n int32, id string, w *bufio.Writer) bool {
		if n == 1 {
			_, _ = io.WriteString(w, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nfail")
			return true
		}
		return false
	})
	c := s.client(t)
	requireCallError(t, c.Call(t.Context(), "Test.Call", &GuestRequest{}, new(GuestResponse)), KindHTTP)
	err := c.Call(t.Context(), "Test.Call", &GuestRequest{}, new(GuestResponse))
	ce := requireCallError(t, err, KindTransport)
	require.Equal(t, "call failed", ce.Message)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Equal(t, int32(2), s.requests.Load())
}

func TestConnPool_HTTP10(t *testing.T) {
	t.Parallel()
	s := newRawServer(t, func(n int32, id string, w *bufio.Writer) bool {
		_, _ = io.WriteString(w, "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n"+
			`{"result":{"guest":{"id":"g1"}},"error":null,"id":`+id+`}`)
		return false // the end of the body is the end of the connection
	})
	c := s.client(t)
	for range 2 {
		var resp GuestResponse
		require.NoError(t, c.Call(t.Context(), "Test.Call", &GuestRequest{}, &resp))
		require.Equal(t, "g1", resp.Guest.ID)
	}
	require.Equal(t, int32(2), s.requests.Load())
}

func TestConnPool_Interim(t *testing.T) {
	t.Parallel()
	s := newRawServer(t, func(n int32, id string, w *bufio.Writer) bool {
		reply := `{"result":{"guest":{"id":"g1"}},"error":null,"id":` + id + `}`
		_, _ = fmt.Fprintf(w, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"+
			"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(reply), reply)
		return true
	})
	c := s.client(t)
	for range 2 {
		var resp GuestResponse
		require.NoError(t, c.Call(t.Context(), "Test.Call", &GuestRequest{}, &resp))
		require.Equal(t, "g1", resp.Guest.ID)
	}
	require.Equal(t, int32(2), s.requests.Load())
}

func TestConnPool_ErrRedirect(t *testing.T) {
	t.Parallel()
	s := newCountedServer(t, "tcp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	c := s.client(t, ClientConfig{})
	ce := requireCallError(t, call(t, c), KindHTTP)
	require.Equal(t, http.StatusTemporaryRedirect, ce.Status)
	require.Contains(t, ce.Error(), "sub-agent answered HTTP 307")
}

func TestConnPool_URLUserinfo(t *testing.T) {
	t.Parallel()
	s := newCountedServer(t, "tcp", func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); !ok || user != "hv" || pass != "s3cret" {
			http.Error(w, "who are you?", http.StatusUnauthorized)
			return
		}
		echoID(okReply)(w, r)
	})
	c := NewClient(ClientConfig{URL: strings.Replace(s.URL, "://", "://hv:s3cret@", 1) + RPCPath})
	t.Cleanup(c.CloseIdleConnections)
	require.NoError(t, call(t, c))
}
