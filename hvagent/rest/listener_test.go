package rest_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/rest"
)

// exchangeRaw writes raw on a new connection to srv, half-closes it and
// returns the reply.
func exchangeRaw(t *testing.T, srv *httptest.Server, raw string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	go func() {
		_, _ = io.WriteString(conn, raw)
		_ = conn.(*net.TCPConn).CloseWrite()
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// net/http's own replies to requests it cannot parse are rewritten in the
// JSON error shape; a handler's replies, text ones included, pass
// unchanged, and so does a body sent with ReadFrom.
func TestListener(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/text", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "400 Bad Request")
	})
	mux.HandleFunc("/copy", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.Copy(w, strings.NewReader(strings.Repeat("x", 100000)))
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = rest.Listener(srv.Listener)
	srv.Config.MaxHeaderBytes = 4096
	srv.Start()
	t.Cleanup(srv.Close)

	for _, c := range []struct{ name, raw, body string }{
		{"NoHost", "GET /text HTTP/1.1\r\n\r\n",
			`{"message":"malformed HTTP request: missing required Host header","code":400,"error":"invalid"}`},
		{"BadLine", "GET\r\nHost: x\r\n\r\n", `{"message":"malformed HTTP request","code":400,"error":"invalid"}`},
		{"BadHeader", "GET /text HTTP/1.1\r\nHost: x\r\nX Y: z\r\n\r\n",
			`{"message":"malformed HTTP request: invalid header name","code":400,"error":"invalid"}`},
		{"Version", "GET /text HTTP/2.0\r\nHost: x\r\n\r\n",
			`{"message":"unsupported HTTP version: use HTTP/1.1","code":400,"error":"invalid"}`},
		{"TransferEncoding", "POST /text HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
			`{"message":"unsupported Transfer-Encoding: only chunked is understood","code":400,"error":"invalid"}`},
		{"Expect", "POST /text HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: x\r\n\r\n{}",
			`{"message":"unsupported Expect header: only 100-continue is understood","code":400,"error":"invalid"}`},
		{"HeadersTooLarge", "GET /text HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 10000) + "\r\n\r\n",
			`{"message":"request headers are larger than the server accepts","code":413,"error":"too_large"}`},
	} {
		resp, body := exchangeRaw(t, srv, c.raw)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"), c.name)
		require.JSONEq(t, c.body, body, c.name)
		require.Empty(t, errorShapeProblem(resp.StatusCode, resp.Header.Get("Content-Type"), []byte(body)), c.name)
		require.True(t, resp.Close, c.name)
	}

	resp, body := exchangeRaw(t, srv, "GET /text HTTP/1.1\r\nHost: x\r\n\r\n")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Equal(t, "400 Bad Request", body)

	resp, body = exchangeRaw(t, srv, "GET /copy HTTP/1.1\r\nHost: x\r\n\r\n")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, strings.Repeat("x", 100000), body)
}
