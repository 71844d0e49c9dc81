package rest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
)

// sseFrame is one server-sent event.
type sseFrame struct {
	id    string
	event string
	data  string
}

// sseStream is an open GET /events.
type sseStream struct {
	resp   *http.Response
	rd     *bufio.Reader
	cancel context.CancelFunc
}

// openSSE opens GET path with optional header pairs.
func (a *api) openSSE(t *testing.T, path string, hdr ...string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", a.srv.URL+path, nil)
	require.NoError(t, err)
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := a.srv.Client().Do(req)
	require.NoError(t, err)
	s := &sseStream{resp: resp, rd: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(s.close)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	return s
}

func (s *sseStream) close() {
	s.cancel()
	_ = s.resp.Body.Close()
}

// next reads the next frame, skipping comments and id-only frames; it fails the test when
// the stream ends or nothing comes within 10 s.
func (s *sseStream) next(t *testing.T) sseFrame {
	t.Helper()
	timer := time.AfterFunc(10*time.Second, s.cancel)
	defer timer.Stop()
	var f sseFrame
	for {
		line, err := s.rd.ReadString('\n')
		require.NoError(t, err, "event stream ended")
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && f.event != "":
			return f
		case line == "": // an id-only frame moves the cursor and dispatches nothing
			f = sseFrame{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			f.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			f.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			f.data = strings.TrimPrefix(line, "data: ")
		default:
			t.Fatalf("unexpected SSE line %q", line)
		}
	}
}

// frameEvent checks a frame against its data and returns the event.
func frameEvent(t *testing.T, f sseFrame) *hvagent.Event {
	t.Helper()
	var ev hvagent.Event
	require.NoError(t, json.Unmarshal([]byte(f.data), &ev), f.data)
	require.Equal(t, f.id, strconv.FormatInt(ev.ID, 10))
	if f.event == "job" {
		require.NotNil(t, ev.Job)
		require.Equal(t, hvagent.EventJobUpdated, ev.Type)
	} else {
		require.Equal(t, "guest", f.event)
		require.NotNil(t, ev.Guest)
	}
	require.False(t, ev.At.IsZero())
	return &ev
}

// eventIDsAfter lists the IDs of every stored event after id.
func eventIDsAfter(t *testing.T, a *api, id int64) []int64 {
	t.Helper()
	page, err := a.env.Agent.Events(context.Background(), hvagent.EventQuery{After: id})
	require.NoError(t, err)
	ids := []int64{}
	for _, e := range page.Events {
		ids = append(ids, e.ID)
	}
	return ids
}

func TestSSE_LiveAndResume(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	a.env.Create(t, nil) // history a live stream must not replay
	live := a.openSSE(t, "/events")
	g := a.env.Create(t, nil)
	first := frameEvent(t, live.next(t))
	require.True(t, (first.Job != nil && first.Job.GuestID == g.ID) || (first.Guest != nil && first.Guest.ID == g.ID),
		"a live stream starts after the events that existed when it opened")
	second := frameEvent(t, live.next(t))
	require.Greater(t, second.ID, first.ID)
	live.close()

	// Jobs run while nobody listens; a resume sees each later event once.
	for _, action := range []string{"start", "reboot", "shutdown"} {
		a.call(t, "POST", "/guests/"+g.ID+"/"+action+"?wait=30s", nil, http.StatusOK, nil)
	}
	want := eventIDsAfter(t, a, second.ID)
	require.GreaterOrEqual(t, len(want), 6)
	resumed := a.openSSE(t, "/events", "Last-Event-ID", strconv.FormatInt(second.ID, 10))
	var got []int64
	for range want {
		got = append(got, frameEvent(t, resumed.next(t)).ID)
	}
	require.Equal(t, want, got)
	// New events keep coming on the same stream, none repeated.
	a.call(t, "POST", "/guests/"+g.ID+"/start?wait=30s", nil, http.StatusOK, nil)
	ev := frameEvent(t, resumed.next(t))
	require.Equal(t, got[len(got)-1]+1, ev.ID)

	// ?since= resumes too; since=0 is the whole retained log.
	all := a.openSSE(t, "/events?since=0")
	require.Equal(t, "1", all.next(t).id)
}

func TestSSE_Reset(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	g := a.env.Create(t, nil)
	a.call(t, "POST", "/guests/"+g.ID+"/start?wait=30s", nil, http.StatusOK, nil)
	require.NoError(t, a.env.Store.Prune(context.Background(), 1000, 2, time.Now()))
	kept := eventIDsAfter(t, a, 0)
	require.Len(t, kept, 2)

	s := a.openSSE(t, "/events", "Last-Event-ID", "1")
	f := s.next(t)
	require.Equal(t, "reset", f.event)
	require.Equal(t, "{}", f.data)
	require.Equal(t, strconv.FormatInt(kept[0], 10), s.next(t).id, "after a reset the retained events follow")

	// An ID the log still holds gets no reset.
	s2 := a.openSSE(t, "/events", "Last-Event-ID", strconv.FormatInt(kept[0], 10))
	f = s2.next(t)
	require.Equal(t, strconv.FormatInt(kept[1], 10), f.id)

	// An ID past the newest event (kept from another log) gets a reset,
	// and the events written after it follow.
	s3 := a.openSSE(t, "/events", "Last-Event-ID", strconv.FormatInt(kept[1]+1000, 10))
	require.Equal(t, "reset", s3.next(t).event)
	a.call(t, "POST", "/guests/"+g.ID+"/shutdown?wait=30s", nil, http.StatusOK, nil)
	require.Equal(t, strconv.FormatInt(kept[1]+1, 10), s3.next(t).id)
}

// TestSSE_ResumeFromZeroAfterPrune: a stream resumed from id 0 (the
// live stream's first id on an empty log) after events were pruned starts
// with a reset.
func TestSSE_ResumeFromZeroAfterPrune(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	a.env.Create(t, nil)
	a.env.Create(t, nil)
	require.NoError(t, a.env.Store.Prune(context.Background(), 1000, 2, time.Now()))
	resumed := a.openSSE(t, "/events", "Last-Event-ID", "0")
	require.Equal(t, "reset", resumed.next(t).event)
}

// TestEvents_CursorPastTheLog: a JSON page asked past the newest event
// says reset, with the newest ID as its next cursor, at once (no wait).
func TestEvents_CursorPastTheLog(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	a.env.Create(t, nil)
	kept := eventIDsAfter(t, a, 0)
	last := kept[len(kept)-1]
	var page struct {
		Events []json.RawMessage `json:"events"`
		Next   int64             `json:"next"`
		Reset  bool              `json:"reset"`
	}
	began := time.Now()
	a.call(t, "GET", "/events?format=json&wait=10s&since="+strconv.FormatInt(last+1000, 10), nil, http.StatusOK, &page)
	require.Less(t, time.Since(began), 5*time.Second, "a reset does not wait")
	require.True(t, page.Reset)
	require.Equal(t, last, page.Next)
	require.Empty(t, page.Events)
}
