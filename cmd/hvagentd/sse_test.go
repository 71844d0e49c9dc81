package main

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
)

// sseStream is an open GET /events.
type sseStream struct {
	cancel context.CancelFunc
	events chan *hvagent.Event // closed when the stream ends
}

// openEvents opens GET /events on addr, resuming after lastID when it is
// not empty, and decodes its frames in the background.
func openEvents(t *testing.T, hc *http.Client, addr, lastID string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/events", nil)
	require.NoError(t, err)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", strings.Split(resp.Header.Get("Content-Type"), ";")[0])
	s := &sseStream{cancel: cancel, events: make(chan *hvagent.Event, 1000)}
	go func() {
		defer close(s.events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var id, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "" && data != "":
				var ev hvagent.Event
				if json.Unmarshal([]byte(data), &ev) == nil && strconv.FormatInt(ev.ID, 10) == id {
					s.events <- &ev
				}
				id, data = "", ""
			case strings.HasPrefix(line, "id: "):
				id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

// close disconnects and waits for the reader to end.
func (s *sseStream) close() {
	s.cancel()
	for range s.events { // drain until the reader ends
	}
}

// until reads events until one says job id ended, and returns them all.
func (s *sseStream) until(t *testing.T, jobID string) []*hvagent.Event {
	t.Helper()
	var got []*hvagent.Event
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			require.True(t, ok, "stream ended")
			got = append(got, ev)
			if ev.Job != nil && ev.Job.ID == jobID && ev.Job.Status.Final() {
				return got
			}
		case <-timeout:
			require.FailNow(t, "no final event", "job %s", jobID)
		}
	}
}

func TestSSE_ResumeWithLastEventID(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	c := newClient(t, d.TCPAddr())
	hc := httpClient(t)
	ctx := context.Background()
	run := func(action, guest string) string {
		req := hvagent.Request{}
		if action == hvagent.ActionCreate {
			req.Guest = &hvagent.Guest{Memory: 128}
		}
		res, err := c.Do(ctx, action, guest, req)
		require.NoError(t, err)
		require.Equal(t, hvagent.JobComplete, waitJob(t, c, res.Job.ID).Status)
		return res.Job.ID
	}

	// A live stream sees the guest being created and started.
	first := openEvents(t, hc, d.TCPAddr(), "")
	time.Sleep(100 * time.Millisecond) // the stream is live from its first poll
	res, err := c.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 128}})
	require.NoError(t, err)
	guest := res.Guest.ID
	seen := first.until(t, res.Job.ID)
	seen = append(seen, first.until(t, run(hvagent.ActionStart, guest))...)
	first.close()

	// Jobs run while nobody listens.
	var last string
	for _, action := range []string{hvagent.ActionSuspend, hvagent.ActionResume, hvagent.ActionPoweroff, hvagent.ActionStart} {
		last = run(action, guest)
	}
	second := openEvents(t, hc, d.TCPAddr(), strconv.FormatInt(seen[len(seen)-1].ID, 10))
	seen = append(seen, second.until(t, last)...)

	// Every event since the first one seen arrived exactly once, in order.
	page, err := d.Agent.Events(ctx, hvagent.EventQuery{After: seen[0].ID - 1, Limit: 1000})
	require.NoError(t, err)
	require.False(t, page.Reset)
	var want, got []int64
	for _, ev := range page.Events {
		if ev.ID <= seen[len(seen)-1].ID {
			want = append(want, ev.ID)
		}
	}
	for _, ev := range seen {
		got = append(got, ev.ID)
	}
	require.Equal(t, want, got)
	require.Greater(t, len(got), 12, "create, start and four more jobs, each queued, running and ended")
}
