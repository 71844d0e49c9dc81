package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

const limitGuest = "0b3c5d1e-0000-4000-8000-000000000003"

// heldStreams is a fake service whose stream actions stream until released
// and whose event queries wait until the request ends.
type heldStreams struct {
	fakeService
	release chan struct{}
}

func newHeldStreams() *heldStreams {
	h := &heldStreams{release: make(chan struct{})}
	h.DoFunc = func(ctx context.Context, action, guest string, req hvagent.Request) (*hvagent.Result, error) {
		pr, pw := io.Pipe()
		go func() {
			select {
			case <-h.release:
			case <-ctx.Done():
			}
			_ = pw.Close()
		}()
		return &hvagent.Result{Stream: pr, Size: -1}, nil
	}
	h.EventsFunc = func(ctx context.Context, q hvagent.EventQuery) (*hvagent.EventPage, error) {
		if q.Wait > 0 {
			<-ctx.Done()
		}
		return &hvagent.EventPage{Events: []*hvagent.Event{}, Cursor: 1}, nil
	}
	return h
}

// serveLimited serves svc with limits on a test server.
func serveLimited(t *testing.T, svc hvagent.Service, limits *Limits) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewHandler(svc, HandlerOptions{Logger: zerolog.New(zerolog.NewTestWriter(t)), Limits: limits}))
	t.Cleanup(srv.Close)
	return srv
}

// open starts GET path and returns the response once its headers came;
// the request ends with the test.
func open(t *testing.T, srv *httptest.Server, path string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	require.NoError(t, err)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { cancel(); _ = resp.Body.Close() })
	return resp
}

// requireRefused checks a 503 unavailable reply with Retry-After.
func requireRefused(t *testing.T, resp *http.Response, what string) {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "%s", body)
	require.Equal(t, "5", resp.Header.Get("Retry-After"))
	var e errorBody
	require.NoError(t, json.Unmarshal(body, &e), "%s", body)
	require.Equal(t, hvagent.EUNAVAILABLE, e.Error)
	require.Equal(t, http.StatusServiceUnavailable, e.Code)
	require.Contains(t, e.Message, what)
}

func TestLimits_Streams(t *testing.T) {
	t.Parallel()
	svc := newHeldStreams()
	limits, err := NewLimits(LimitOptions{MaxStreams: 2})
	require.NoError(t, err)
	srv := serveLimited(t, svc, limits)
	download := "/guests/" + limitGuest + "/snapshots/s1/download"
	console := "/guests/" + limitGuest + "/console"
	require.Equal(t, http.StatusOK, open(t, srv, download).StatusCode)
	require.Equal(t, http.StatusOK, open(t, srv, console).StatusCode)
	require.Equal(t, 2, limits.Stats().Streams)

	for _, path := range []string{download, console, "/guests/" + limitGuest + "/disks/0/snapshots/s1/download"} {
		requireRefused(t, open(t, srv, path), "too many streams: at most 2 at once")
	}
	require.Equal(t, uint64(3), limits.Stats().RefusedStreams)
	events := open(t, srv, "/events")
	require.Equal(t, http.StatusOK, events.StatusCode, "event clients have their own limit")
	resp, body := get(t, srv, "/guests/"+limitGuest+"/metrics/cpu")
	require.NotEqual(t, http.StatusServiceUnavailable, resp.StatusCode, "%s: other routes are not limited", body)

	close(svc.release) // the two streams end
	require.Eventually(t, func() bool { return limits.Stats().Streams == 0 }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, http.StatusOK, open(t, srv, download).StatusCode, "a place is free again")
}

func TestLimits_EventClients(t *testing.T) {
	t.Parallel()
	limits, err := NewLimits(LimitOptions{MaxEventClients: 2})
	require.NoError(t, err)
	srv := serveLimited(t, newHeldStreams(), limits)
	require.Equal(t, http.StatusOK, open(t, srv, "/events").StatusCode)
	// A long poll answers only when it ends: it runs aside until its
	// client goes away.
	ctx, leave := context.WithCancel(context.Background())
	defer leave()
	polled := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events?format=json&wait=1m", nil)
		if err == nil {
			var resp *http.Response
			if resp, err = srv.Client().Do(req); err == nil {
				_ = resp.Body.Close()
			}
		}
		polled <- err
	}()
	require.Eventually(t, func() bool { return limits.Stats().EventClients == 2 }, 10*time.Second, 5*time.Millisecond,
		"an SSE stream and a long poll are event clients")

	requireRefused(t, open(t, srv, "/events"), "too many event clients: at most 2 at once")
	requireRefused(t, open(t, srv, "/events?format=json"), "too many event clients")
	require.Equal(t, uint64(2), limits.Stats().RefusedEventClients)

	leave() // the long poll's client goes away
	require.ErrorIs(t, <-polled, context.Canceled)
	require.Eventually(t, func() bool { return limits.Stats().EventClients == 1 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, http.StatusOK, open(t, srv, "/events").StatusCode)
}

// Handlers given one *Limits share it: hvagentd's listeners together.
func TestLimits_SharedByHandlers(t *testing.T) {
	t.Parallel()
	limits, err := NewLimits(LimitOptions{MaxStreams: 1})
	require.NoError(t, err)
	svc := newHeldStreams()
	one, two := serveLimited(t, svc, limits), serveLimited(t, svc, limits)
	download := "/guests/" + limitGuest + "/snapshots/s1/download"
	require.Equal(t, http.StatusOK, open(t, one, download).StatusCode)
	requireRefused(t, open(t, two, download), "too many streams")

	mine := serveLimited(t, svc, nil) // a handler without Limits has its own defaults
	for range DefaultMaxStreams {
		require.Equal(t, http.StatusOK, open(t, mine, download).StatusCode)
	}
	requireRefused(t, open(t, mine, download), fmt.Sprintf("at most %d at once", DefaultMaxStreams))

	unbounded := &Limits{}
	none := serveLimited(t, svc, unbounded)
	for range DefaultMaxStreams + 1 {
		require.Equal(t, http.StatusOK, open(t, none, download).StatusCode, "a zero Limits bounds nothing")
	}
	require.Equal(t, DefaultMaxStreams+1, unbounded.Stats().Streams, "but counts")
	close(svc.release)
}

func TestNewLimits(t *testing.T) {
	t.Parallel()
	l, err := NewLimits(LimitOptions{})
	require.NoError(t, err)
	require.Equal(t, LimitOptions{MaxStreams: 64, MaxEventClients: 256}, l.Options())
	require.Nil(t, l.rates, "no rate limit by default")
	l, err = NewLimits(LimitOptions{RequestRate: 2.5})
	require.NoError(t, err)
	require.Equal(t, 3, l.Options().RequestBurst, "the burst defaults to the rate rounded up")

	for name, tc := range map[string]struct {
		o    LimitOptions
		want string
	}{
		"NegativeStreams": {LimitOptions{MaxStreams: -1}, "max streams must not be negative, got -1"},
		"NegativeEvents":  {LimitOptions{MaxEventClients: -3}, "max event clients must not be negative, got -3"},
		"NegativeRate":    {LimitOptions{RequestRate: -1}, "request rate must be a number of requests per second, 0 or more, got -1"},
		"NaNRate":         {LimitOptions{RequestRate: math.NaN()}, "got NaN"},
		"NegativeBurst":   {LimitOptions{RequestRate: 1, RequestBurst: -1}, "request burst must not be negative, got -1"},
		"BurstNoRate":     {LimitOptions{RequestBurst: 5}, "request burst 5 needs a request rate"},
	} {
		_, err := NewLimits(tc.o)
		require.Error(t, err, name)
		require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err), name)
		require.Contains(t, err.Error(), tc.want, name)
	}
}

func TestCallerRates(t *testing.T) {
	t.Parallel()
	l, err := NewLimits(LimitOptions{RequestRate: 2, RequestBurst: 2})
	require.NoError(t, err)
	c := l.rates
	t0 := time.Unix(1_000_000, 0)
	require.Zero(t, c.reserve("a", t0))
	require.Zero(t, c.reserve("a", t0))
	require.Equal(t, 500*time.Millisecond, c.reserve("a", t0), "the third at once waits for one token at 2/s")
	require.Equal(t, 500*time.Millisecond, c.reserve("a", t0), "a refused request takes no token")
	require.Zero(t, c.reserve("b", t0), "each caller has its own bucket")
	require.Zero(t, c.reserve("a", t0.Add(500*time.Millisecond)))
	require.Equal(t, uint64(2), l.Stats().RefusedRate)

	for i := range 100 {
		c.reserve(fmt.Sprint("addr ", i), t0)
	}
	require.Len(t, c.callers, 102)
	c.reserve("a", t0.Add(rateSweepEvery+time.Second))
	require.Len(t, c.callers, 1, "callers whose bucket is full again are forgotten")
}

func TestRateCaller(t *testing.T) {
	t.Parallel()
	req := func(remote string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/guests", nil)
		r.RemoteAddr = remote
		return r
	}
	alice := identity{name: "alice", scope: ScopeRead}
	require.Equal(t, "token alice", rateCaller(req("10.0.0.1:5000"), alice, true))
	require.Equal(t, "addr 10.0.0.1", rateCaller(req("10.0.0.1:5000"), identity{name: localCaller}, false))
	require.Equal(t, rateCaller(req("10.0.0.1:5000"), identity{}, false), rateCaller(req("10.0.0.1:6000"), identity{}, false),
		"one address is one caller, whatever the port")
	require.Equal(t, "addr ::1", rateCaller(req("[::1]:80"), identity{}, false))
	require.Equal(t, rateCaller(req("@"), identity{}, false), rateCaller(req("@"), identity{}, false), "a unix socket is one caller")
}
