package httpconn

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// requestCase is a request and whether writeRequest writes it itself.
type requestCase struct {
	name   string
	req    func(t *testing.T) *http.Request
	direct bool
}

func newReq(t *testing.T, method, target string, header http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, target, nil)
	require.NoError(t, err)
	for k, vs := range header {
		req.Header[k] = vs
	}
	return req
}

func requestCases() []requestCase {
	h := http.Header{"Accept": {"application/json"}, "User-Agent": {"hvagent-client/1"},
		"Authorization": {"Bearer x"}, "X-Multi": {"a", "b"}, "X-Empty": {""}}
	simple := func(method string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			return newReq(t, method, "http://127.0.0.1:8080/jobs/abc?wait=30s", h)
		}
	}
	return []requestCase{
		{"get", simple(http.MethodGet), true},
		{"post", simple(http.MethodPost), true},
		{"put", simple(http.MethodPut), true},
		{"patch", simple(http.MethodPatch), true},
		{"delete", simple(http.MethodDelete), true},
		{"head", simple(http.MethodHead), true},
		{"no user agent", func(t *testing.T) *http.Request {
			return newReq(t, http.MethodGet, "http://host.example/x", nil)
		}, true},
		{"empty user agent", func(t *testing.T) *http.Request {
			return newReq(t, http.MethodGet, "http://[::1]:80/x", http.Header{"User-Agent": {""}})
		}, true},
		{"Host field", func(t *testing.T) *http.Request {
			r := newReq(t, http.MethodGet, "http://127.0.0.1:1/x", h)
			r.Host = "api.example:443"
			return r
		}, true},
		{"own headers in the header", func(t *testing.T) *http.Request {
			return newReq(t, http.MethodGet, "http://h/x", http.Header{"Host": {"other"},
				"Content-Length": {"5"}, "Transfer-Encoding": {"chunked"}, "Trailer": {"X"}})
		}, true},
		{"escaped path", func(t *testing.T) *http.Request {
			return newReq(t, http.MethodGet, "http://h/guests/a%2Fb/start", nil)
		}, true},
		{"empty method", func(t *testing.T) *http.Request {
			r := newReq(t, http.MethodGet, "http://h/x", nil)
			r.Method = ""
			return r
		}, true},
		{"body", func(t *testing.T) *http.Request {
			r, err := http.NewRequest(http.MethodPost, "http://h/x", strings.NewReader(`{"a":1}`))
			require.NoError(t, err)
			return r
		}, false},
		{"close", func(t *testing.T) *http.Request {
			r := newReq(t, http.MethodGet, "http://h/x", nil)
			r.Close = true
			return r
		}, false},
		{"value with newline", func(t *testing.T) *http.Request {
			return newReq(t, http.MethodGet, "http://h/x", http.Header{"X-A": {"a\r\nb"}})
		}, false},
		{"value with blanks", func(t *testing.T) *http.Request {
			return newReq(t, http.MethodGet, "http://h/x", http.Header{"X-A": {" a "}})
		}, false},
		{"user agent with tab", func(t *testing.T) *http.Request {
			return newReq(t, http.MethodGet, "http://h/x", http.Header{"User-Agent": {"a\tb"}})
		}, false},
		{"non-ASCII value", func(t *testing.T) *http.Request {
			return newReq(t, http.MethodGet, "http://h/x", http.Header{"X-A": {"é"}})
		}, false},
		{"IDN host", func(t *testing.T) *http.Request {
			r := newReq(t, http.MethodGet, "http://h/x", nil)
			r.Host = "bücher.example"
			return r
		}, false},
		{"zone", func(t *testing.T) *http.Request {
			r := newReq(t, http.MethodGet, "http://h/x", nil)
			r.URL = &url.URL{Scheme: "http", Host: "[fe80::1%25eth0]:80", Path: "/x"}
			r.Host = ""
			return r
		}, false},
		{"connect", func(t *testing.T) *http.Request {
			r := newReq(t, http.MethodGet, "http://h/x", nil)
			r.Method = http.MethodConnect
			r.URL = &url.URL{Host: "h:443"}
			return r
		}, false},
		{"trace", func(t *testing.T) *http.Request {
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{})
			r, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://h/x", nil)
			require.NoError(t, err)
			return r
		}, false},
	}
}

// TestWriteRequest checks that writeRequest writes the bytes
// http.Request.Write writes, and which requests it writes itself.
func TestWriteRequest(t *testing.T) {
	t.Parallel()
	for _, c := range requestCases() {
		t.Run(c.name, func(t *testing.T) {
			var want, got bytes.Buffer
			require.NoError(t, c.req(t).Write(&want))
			bw := bufio.NewWriter(&got)
			req := c.req(t)
			require.NoError(t, writeRequest(bw, req))
			require.NoError(t, bw.Flush())
			require.Equal(t, want.String(), got.String())
			_, _, _, direct := directHead(c.req(t), nil)
			require.Equal(t, c.direct, direct)
		})
	}
}

// TestWriteRequest_ManyHeaders checks a header with more keys than the
// key array on the stack.
func TestWriteRequest_ManyHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	for _, k := range strings.Fields("Z Y X W V U T S R Q P O N M") {
		h["X-"+k] = []string{k}
	}
	var want, got bytes.Buffer
	require.NoError(t, newReq(t, http.MethodGet, "http://h/x", h).Write(&want))
	bw := bufio.NewWriter(&got)
	require.NoError(t, writeRequest(bw, newReq(t, http.MethodGet, "http://h/x", h)))
	require.NoError(t, bw.Flush())
	require.Equal(t, want.String(), got.String())
}

// BenchmarkWriteRequest compares writeRequest with http.Request.Write on
// the request rest.Client sends for GET /jobs/{id}?wait=.
func BenchmarkWriteRequest(b *testing.B) {
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:8080/jobs/0123456789abcdef?wait=30s", nil)
	require.NoError(b, err)
	req.Header = http.Header{"Accept": {"application/json"}, "User-Agent": {"hvagent-client/1"}}
	bw := bufio.NewWriter(io.Discard)
	for _, side := range []struct {
		name  string
		write func() error
	}{
		{"direct", func() error { return writeRequest(bw, req) }},
		{"Request.Write", func() error { return req.Write(bw) }},
	} {
		b.Run(side.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := side.write(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
