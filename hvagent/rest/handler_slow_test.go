package rest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// slowServer serves a handler with tokens and the given body timeout on a
// real connection, and returns its address.
func slowServer(t *testing.T, timeout time.Duration) string {
	t.Helper()
	sum := sha256.Sum256([]byte("w-secret"))
	s := newServer(&fakeService{}, HandlerOptions{Tokens: []Token{{Name: "w", SHA256: hex.EncodeToString(sum[:]), Scope: ScopeWrite}}})
	s.bodyTimeout = timeout
	srv := httptest.NewServer(s.handler())
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// rawRequest writes head (request line and headers, without the blank
// line) then body, and returns the connection and a reader of its replies.
func rawRequest(t *testing.T, addr, head, body string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	// A bound on the whole test exchange, far above the handler's own.
	require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = io.WriteString(conn, head+"\r\n\r\n"+body)
	require.NoError(t, err)
	return conn, bufio.NewReader(conn)
}

func TestHandler_UnauthenticatedBodyNotRead(t *testing.T) {
	t.Parallel()
	addr := slowServer(t, time.Minute)
	// The body is declared and never sent: the 401 must not wait for it.
	_, br := rawRequest(t, addr, "POST /guests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100", "")
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.True(t, resp.Close, "the connection of a refused body is closed")

	// Nor does a 403 (scope too low) or a 403 (Host refused by a token
	// that may write).
	_, br = rawRequest(t, addr, "PATCH /metadata HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer w-secret\r\nContent-Length: 100", "")
	resp, err = http.ReadResponse(br, nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.True(t, resp.Close)
}

func TestHandler_DeclaredTooLarge(t *testing.T) {
	t.Parallel()
	addr := slowServer(t, time.Minute)
	_, br := rawRequest(t, addr, "POST /guests HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer w-secret\r\nContent-Type: application/json\r\nContent-Length: 2097152", "")
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(b), `"too_large"`)
	require.Contains(t, string(b), "Content-Length 2097152")
}

func TestHandler_SlowBodyCut(t *testing.T) {
	t.Parallel()
	addr := slowServer(t, 300*time.Millisecond)
	for _, head := range []string{
		"POST /guests HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer w-secret\r\nContent-Type: application/json\r\nContent-Length: 100",
		"GET /nowhere HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer w-secret\r\nContent-Length: 100",
		"POST /guests HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer w-secret\r\nTransfer-Encoding: chunked",
	} {
		conn, br := rawRequest(t, addr, head, "")
		// One byte at a time, slower than the deadline allows in all:
		// the server must end the connection, whatever it answers.
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					b := "{"
					if strings.Contains(head, "chunked") {
						b = "1\r\n{\r\n"
					}
					if _, err := io.WriteString(conn, b); err != nil {
						return
					}
				}
			}
		}()
		// Ends when the server closes (a reset, when the server closes
		// while bytes are still coming, is an end too); the test's own
		// deadline is the failure.
		_, err := io.ReadAll(br)
		close(stop)
		<-done
		require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "%s: the connection was not cut: %v", head, err)
	}
}

// TestHandler_ReplyNotTakenIsCut: a client that sends a request and never
// reads its (large) reply does not hold the handler for good: with no byte
// taken for the stall, the write fails and the handler returns, on the
// SyncServer as hvagentd serves and on net/http's server.
func TestHandler_ReplyNotTakenIsCut(t *testing.T) {
	t.Parallel()
	big := map[string]string{}
	for i := range 2000 {
		big[strings.Repeat("k", 8)+strconv.Itoa(i)] = strings.Repeat("v", 4000)
	}
	// ?wait= on a route that does not wait is no long poll: bounded too.
	for _, kind := range []string{"sync", "nethttp", "sync?wait=1s", "nethttp?wait=1s"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			kind, query, _ := strings.Cut(kind, "?")
			if query != "" {
				query = "?" + query
			}
			s := newServer(&fakeService{MetadataFunc: func(context.Context) (map[string]string, error) { return big, nil }}, HandlerOptions{})
			s.replyStall = 200 * time.Millisecond
			done := make(chan struct{}, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s.handler().ServeHTTP(w, r)
				done <- struct{}{}
			})
			addr := serveWith(t, kind, &http.Server{Handler: h, ReadHeaderTimeout: time.Second})
			conn, _ := rawRequest(t, addr, "GET /metadata"+query+" HTTP/1.1\r\nHost: x", "")
			require.NoError(t, conn.(*net.TCPConn).SetReadBuffer(4096)) // and never read
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				require.FailNow(t, "the handler still writes a reply nobody takes")
			}
		})
	}
}
