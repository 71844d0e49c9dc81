package rest_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
)

// TestClient_EventsQuery checks that one Events call is one request of
// the JSON form that carries the query to the service unchanged (the wait
// capped at MaxWait, live reads without since=).
func TestClient_EventsQuery(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []hvagent.EventQuery
	fake := healthyFake()
	fake.EventsFunc = func(_ context.Context, q hvagent.EventQuery) (*hvagent.EventPage, error) {
		mu.Lock()
		seen = append(seen, q)
		mu.Unlock()
		return &hvagent.EventPage{Events: []*hvagent.Event{}, Cursor: 42}, nil
	}
	var requests []string
	c := newFakeClient(t, fake, rest.HandlerOptions{}, func(r *http.Request) {
		mu.Lock()
		requests = append(requests, r.Method+" "+r.URL.RequestURI())
		mu.Unlock()
	})
	for _, q := range []hvagent.EventQuery{
		{After: 5, Limit: 2, Wait: 2 * time.Second},
		{After: -1, Wait: time.Hour},
		{After: 0},
	} {
		page, err := c.Events(t.Context(), q)
		require.NoError(t, err)
		require.NotNil(t, page.Events)
		require.Equal(t, int64(42), page.Cursor)
	}
	require.Equal(t, []hvagent.EventQuery{
		{After: 5, Limit: 2, Wait: 2 * time.Second},
		{After: -1, Wait: rest.MaxWait},
		{After: 0},
	}, seen)
	require.Equal(t, []string{
		"GET /events?format=json&limit=2&since=5&wait=2s",
		"GET /events?format=json&wait=5m0s",
		"GET /events?format=json&since=0",
	}, requests)

	_, err := c.Events(t.Context(), hvagent.EventQuery{Limit: -1})
	require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
	_, err = c.Events(t.Context(), hvagent.EventQuery{After: -2})
	require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
}

// TestClient_EventsThroughHandler reads the agent's events through the
// real handler: the first page is written at once.
func TestClient_EventsThroughHandler(t *testing.T) {
	t.Parallel()
	fake := healthyFake()
	fake.EventsFunc = func(_ context.Context, q hvagent.EventQuery) (*hvagent.EventPage, error) {
		if q.After >= 3 {
			return &hvagent.EventPage{Events: []*hvagent.Event{}, Cursor: q.After}, nil
		}
		return &hvagent.EventPage{Events: []*hvagent.Event{
			{ID: 2, Type: hvagent.EventJobUpdated, Job: &hvagent.Job{ID: "j"}},
			{ID: 3, Type: hvagent.EventGuestUpdated, Guest: &hvagent.Guest{ID: "g"}},
		}, Cursor: 3, Reset: q.After == 1}, nil
	}
	c := newFakeClient(t, fake, rest.HandlerOptions{})
	page, err := c.Events(t.Context(), hvagent.EventQuery{After: 1, Wait: time.Minute})
	require.NoError(t, err)
	require.True(t, page.Reset)
	require.Len(t, page.Events, 2)
	require.Equal(t, "j", page.Events[0].Job.ID)
	require.Equal(t, "g", page.Events[1].Guest.ID)
	require.Equal(t, int64(3), page.Cursor)
}
