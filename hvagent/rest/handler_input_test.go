package rest_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
)

// rawConn is one keep-alive HTTP/1.1 connection to a test server.
type rawConn struct {
	host string
	c    net.Conn
	r    *bufio.Reader
}

func dialRaw(t *testing.T, a *api) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", a.srv.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(time.Minute)))
	return &rawConn{host: a.srv.Listener.Addr().String(), c: c, r: bufio.NewReader(c)}
}

// send writes a request with body and extra header lines, all at once,
// and returns the final (non-1xx) reply with its body read.
func (rc *rawConn) send(t *testing.T, method, path, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n",
		method, path, rc.host, len(body))
	for _, h := range hdr {
		head += h + "\r\n"
	}
	_, err := io.WriteString(rc.c, head+"\r\n"+body)
	require.NoError(t, err)
	for {
		resp, err := http.ReadResponse(rc.r, &http.Request{Method: method})
		require.NoError(t, err)
		if resp.StatusCode >= 200 {
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			return resp, b
		}
	}
}

// A GET that carries a body is answered and its connection kept: the body
// is drained, never left unread on a connection net/http then closes (the
// peer would see a reset instead of the reply).
func TestHandler_GetWithBodyKeepsConnection(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	for range 8 {
		a.env.Create(t, nil)
	}
	rc := dialRaw(t, a)
	for i, hdr := range [][]string{{"Expect: 100-continue"}, nil, {"Expect: 100-continue"}} {
		resp, body := rc.send(t, "GET", "/jobs", `{"status":"done","padding":"`+strings.Repeat("p", 4096)+`"}`, hdr...)
		require.Equal(t, http.StatusOK, resp.StatusCode, "request %d: %s", i, body)
		require.False(t, resp.Close, "request %d: the server closes the connection", i)
		var jobs []hvagent.Job
		require.NoError(t, json.Unmarshal(body, &jobs), "request %d", i)
		require.Len(t, jobs, 8, "request %d", i)
	}
	resp, body := rc.send(t, "HEAD", "/guests", `{}`, "Expect: 100-continue")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, body)
	resp, body = rc.send(t, "GET", "/healthz", "")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
}

// A GET body above the body limit is refused with 413 in the JSON shape.
func TestHandler_GetWithHugeBody(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	rc := dialRaw(t, a)
	resp, body := rc.send(t, "GET", "/jobs", strings.Repeat(" ", 1<<20+1))
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "%s", body)
	require.JSONEq(t, `{"message":"request body is larger than 1048576 bytes (Content-Length 1048577)","code":413,"error":"too_large"}`, string(body))
}

// An Idempotency-Key of exactly 255 bytes is accepted, stored and echoed;
// a retry returns the same job.
func TestHandler_IdempotencyKeyAtLimit(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	g := a.env.Create(t, nil)
	key := strings.Repeat("k", hvagent.MaxIdempotencyKey)
	first := a.call(t, "POST", "/guests/"+g.ID+"/start", nil, http.StatusAccepted, nil, "Idempotency-Key", key)
	again := a.call(t, "POST", "/guests/"+g.ID+"/start", nil, http.StatusAccepted, nil, "Idempotency-Key", key)
	id := first.Header.Get("X-Guest-Job-ID")
	require.NotEmpty(t, id)
	require.Equal(t, id, again.Header.Get("X-Guest-Job-ID"))
	var job hvagent.Job
	a.call(t, "GET", "/jobs/"+id, nil, http.StatusOK, &job)
	require.Equal(t, key, job.IdempotencyKey)
}
