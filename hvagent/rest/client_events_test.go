package rest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
)

// sseServer serves frames as an event stream, then holds the stream open
// until the client leaves. It reports each request's Last-Event-ID.
func sseServer(t *testing.T, frames string) (*rest.Client, <-chan string) {
	t.Helper()
	ids := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case ids <- r.Header.Get("Last-Event-ID"):
		default: // a later request of the same test
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = fmt.Fprint(w, frames)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	c := rest.NewClient(srv.URL)
	t.Cleanup(func() {
		c.CloseIdleConnections()
		srv.Close()
	})
	return c, ids
}

func jobFrame(id int64, crlf bool) string {
	nl := "\n"
	if crlf {
		nl = "\r\n"
	}
	data := fmt.Sprintf(`{"id":%d,"type":"job.updated","at":"2026-01-02T03:04:05Z","job":{"ID":"j%d","Status":"Running"}}`, id, id)
	return fmt.Sprintf("id: %d%sevent: job%sdata: %s%s%s", id, nl, nl, data, nl, nl)
}

func TestClient_EventsFrames(t *testing.T) {
	t.Parallel()
	guestFrame := "id: 9\nevent: guest\ndata: {\"id\":9,\"type\":\"guest.deleted\",\"at\":\"2026-01-02T03:04:05Z\",\"guest\":{\"id\":\"g\"}}\n\n"
	for _, tc := range []struct {
		name, frames string
		q            hvagent.EventQuery
		ids          []int64
		reset        bool
		cursor       int64
		lastEventID  string
	}{
		{"Events", jobFrame(5, false) + ": ping\n\n" + jobFrame(6, false) + guestFrame, hvagent.EventQuery{After: 4}, []int64{5, 6, 9}, false, 9, "4"},
		{"CRLF", jobFrame(7, true), hvagent.EventQuery{}, []int64{7}, false, 7, "0"},
		{"Limit", jobFrame(1, false) + jobFrame(2, false) + jobFrame(3, false), hvagent.EventQuery{Limit: 2}, []int64{1, 2}, false, 2, "0"},
		{"Reset", "event: reset\ndata: {}\n\n" + jobFrame(40, false), hvagent.EventQuery{After: 3}, []int64{40}, true, 40, "3"},
		{"ResetAlone", "event: reset\ndata: {}\n\n", hvagent.EventQuery{After: 3, Wait: time.Minute}, nil, true, 3, "3"},
		{"CursorOnly", ": ping\n\nid: 12\n\n", hvagent.EventQuery{After: -1, Wait: 200 * time.Millisecond}, nil, false, 12, ""},
		{"UnknownEvent", "id: 13\nevent: future\ndata: {}\n\n", hvagent.EventQuery{After: 2, Wait: 200 * time.Millisecond}, nil, false, 13, "2"},
		{"Nothing", "", hvagent.EventQuery{After: 2}, nil, false, 2, "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, lastIDs := sseServer(t, tc.frames)
			page, err := c.Events(t.Context(), tc.q)
			require.NoError(t, err)
			require.Equal(t, tc.lastEventID, <-lastIDs)
			var ids []int64
			for _, e := range page.Events {
				ids = append(ids, e.ID)
			}
			require.Equal(t, tc.ids, ids)
			require.NotNil(t, page.Events)
			require.Equal(t, tc.reset, page.Reset)
			require.Equal(t, tc.cursor, page.Cursor)
		})
	}
	t.Run("ErrGarbage", func(t *testing.T) {
		t.Parallel()
		c, _ := sseServer(t, "id: 1\nevent: job\ndata: {not json\n\n")
		_, err := c.Events(t.Context(), hvagent.EventQuery{})
		require.Equal(t, hvagent.EINTERNAL, hvagent.ErrorCode(err))
	})
}

func TestClient_EventsWait(t *testing.T) {
	t.Parallel()
	c, _ := sseServer(t, ": ping\n\n")
	start := time.Now()
	page, err := c.Events(t.Context(), hvagent.EventQuery{Wait: 300 * time.Millisecond})
	require.NoError(t, err)
	require.Empty(t, page.Events)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "waits for a first event")

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	page, err = c.Events(ctx, hvagent.EventQuery{Wait: time.Minute})
	require.NoError(t, err, "the end of ctx ends the wait, as for the agent")
	require.Empty(t, page.Events)
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
