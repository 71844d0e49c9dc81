package rest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
)

// slowRate refills a caller's bucket once in 1,000 s: within a test, a
// caller has its burst and nothing more.
const slowRate = 0.001

// requireRateLimited checks a 429 busy reply whose Retry-After is the
// time until the caller's next token.
func requireRateLimited(t *testing.T, resp *http.Response, caller string) {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "%s", body)
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After %q", resp.Header.Get("Retry-After"))
	require.InDelta(t, 1000, retry, 60, "one token takes 1,000 s at 0.001/s")
	var e struct {
		Message string `json:"message"`
		Code    int    `json:"code"`
		Error   string `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &e), "%s", body)
	require.Equal(t, hvagent.EBUSY, e.Error)
	require.Equal(t, http.StatusTooManyRequests, e.Code)
	require.Contains(t, e.Message, "too many requests from "+caller+": at most 0.001 per second (burst 3)")
}

func TestHandler_RequestRatePerToken(t *testing.T) {
	t.Parallel()
	limits, err := rest.NewLimits(rest.LimitOptions{RequestRate: slowRate, RequestBurst: 3})
	require.NoError(t, err)
	a := newAPI(t, rest.HandlerOptions{Tokens: testTokens(), Limits: limits})
	as := func(secret string) *api { c := *a; c.token = secret; return &c }
	reader, writer := as(readSecret), as(writeSecret)

	for range 3 {
		reader.call(t, "GET", "/guests", nil, http.StatusOK, nil)
	}
	requireRateLimited(t, reader.do(t, "GET", "/guests", nil), `token reader`)
	// A write with a body is refused before its body is read.
	requireRateLimited(t, reader.do(t, "POST", "/guests", map[string]any{"memory": 256}), `token reader`)
	require.Equal(t, uint64(2), limits.Stats().RefusedRate)

	writer.call(t, "GET", "/guests", nil, http.StatusOK, nil) // another token is another caller
	a.call(t, "GET", "/healthz", nil, http.StatusOK, nil)     // health checks are not counted
	a.call(t, "GET", "/guests", nil, http.StatusUnauthorized, nil)
	require.Equal(t, uint64(2), limits.Stats().RefusedRate, "an unauthenticated request takes no caller's token")
}

func TestHandler_RequestRatePerAddress(t *testing.T) {
	t.Parallel()
	limits, err := rest.NewLimits(rest.LimitOptions{RequestRate: slowRate, RequestBurst: 3})
	require.NoError(t, err)
	a := newAPI(t, rest.HandlerOptions{Limits: limits})
	a.call(t, "GET", "/guests", nil, http.StatusOK, nil)
	a.call(t, "GET", "/jobs", nil, http.StatusOK, nil)
	a.call(t, "GET", "/nosuch", nil, http.StatusNotFound, nil)
	requireRateLimited(t, a.do(t, "GET", "/guests", nil), "addr 127.0.0.1")
	for range 5 {
		a.call(t, "GET", "/healthz", nil, http.StatusOK, nil)
	}
}

func TestHandler_NoRateLimitByDefault(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	for range 200 {
		a.call(t, "GET", "/jobs?limit=1", nil, http.StatusOK, nil)
	}
}
