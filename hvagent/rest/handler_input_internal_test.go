package rest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A client that disconnects mid-request is logged at debug level, not as
// an internal error, and no error reply is attempted.
func TestHandler_ClientGoneIsDebug(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	f := &fakeService{MetadataFunc: func(ctx context.Context) (map[string]string, error) {
		close(started)
		<-ctx.Done()
		return nil, fmt.Errorf("read metadata: %w", ctx.Err())
	}}
	srv, logs := serveFake(t, f, 0, 0)
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/metadata", nil)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		done <- err
	}()
	<-started
	cancel()
	require.Error(t, <-done)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `"message":"request"`) },
		10*time.Second, 10*time.Millisecond, "the request line is logged once the handler returns")
	out := logs.String()
	require.NotContains(t, out, "internal error")
	require.NotContains(t, out, `"level":"error"`)
	require.Contains(t, out, `"level":"debug","error":"read metadata: context canceled","method":"GET","path":"/metadata","message":"client went away"`)
}

// A cancellation that is not the client's (its request context is live)
// stays an internal error.
func TestHandler_CanceledButClientHereIsInternal(t *testing.T) {
	t.Parallel()
	f := &fakeService{MetadataFunc: func(context.Context) (map[string]string, error) {
		return nil, fmt.Errorf("sub-call: %w", context.Canceled)
	}}
	srv, logs := serveFake(t, f, 0, 0)
	resp, body := get(t, srv, "/metadata")
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.JSONEq(t, `{"message":"internal error","code":500,"error":"internal"}`, body)
	require.Contains(t, logs.String(), "internal error")
}

func TestIsCleanPath(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]bool{
		"/": true, "/guests": true, "/guests/": true, "/debug/pprof/": true, "/guests/a/jobs": true,
		"": false, "guests": false, "//guests": false, "/guests//x": false, "/guests/.": false,
		"/guests/./x": false, "/guests/..": false, "/jobs/../guests": false, "/guests/x/": true, "/guests//": false,
		"/..": false, "/.": false, "/a.b/..c": true,
	} {
		require.Equal(t, want, isCleanPath(p), "%q", p)
	}
}

func TestCheckUTF8(t *testing.T) {
	t.Parallel()
	require.NoError(t, checkUTF8([]byte(`{"name":"café ✓ 𝄞"}`)))
	for in, want := range map[string]string{
		"{\"a\":\"\xff\"}":         "invalid UTF-8 at offset 6",
		"{\"a\":\"caf\xc3\"}":      "invalid UTF-8 at offset 9",
		"\xed\xa0\x80":             "invalid UTF-8 at offset 0", // a surrogate
		"{\"a\":\"\xc0\xaf\"}":     "invalid UTF-8 at offset 6", // overlong
		"{\"\xe2\x82\":\"x\"}":     "invalid UTF-8 at offset 2",
		"{\"a\":\"ok\"}\n\xf8\x88": "invalid UTF-8 at offset 11",
	} {
		err := checkUTF8([]byte(in))
		require.Error(t, err, "%q", in)
		require.Contains(t, err.Error(), want, "%q", in)
	}
}

func TestCheckEscapes(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{`{"a":"\ud834\udd1e"}`, `{"a":"\u00e9\\ud800"}`, `{"\\":"\\ud800"}`, `{"a":"\uzzzz"}`, `\ud800`, `"\ud8"`} {
		require.NoError(t, checkEscapes([]byte(ok)), ok)
	}
	for in, want := range map[string]string{
		`{"a":"\ud800"}`:            `lone UTF-16 surrogate \ud800 at offset 6`,
		`{"a":"x\uDBFFy"}`:          `lone UTF-16 surrogate \uDBFF at offset 7`,
		`{"a":"\udc00\ud800"}`:      `lone UTF-16 surrogate \udc00 at offset 6`,
		`{"\ud800\u0041":"x"}`:      `at offset 2`,
		`{"a":"\ud800\ud800"}`:      `at offset 6`,
		`{"a":"\"\ud800"}`:          `at offset 8`,
		`{"a":"ok"} {"b":"\udfff"}`: `at offset 17`,
	} {
		err := checkEscapes([]byte(in))
		require.Error(t, err, "%s", in)
		require.Contains(t, err.Error(), want, "%s", in)
	}
}
