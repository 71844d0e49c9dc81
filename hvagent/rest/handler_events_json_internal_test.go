package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// testEvents returns n events of every form: job events AppendEvent
// writes, a job event it leaves to encoding/json (progress), guest and
// deleted-guest events, escapes.
func testEvents(n int) []*hvagent.Event {
	at := time.Date(2026, 12, 1, 3, 50, 0, 123456789, time.UTC)
	events := make([]*hvagent.Event, n)
	for i := range events {
		ev := &hvagent.Event{ID: int64(i + 1), Type: hvagent.EventJobUpdated, At: at.Add(time.Duration(i))}
		switch i % 4 {
		case 0:
			ev.Job = &hvagent.Job{ID: strconv.Itoa(i), GuestID: "g", Action: "start", QueuedAt: at,
				Status: hvagent.JobComplete, Message: "a <b> & \u2028", FinishedAt: at,
				Result: json.RawMessage(`{"id":"g","cpu":1}`)}
		case 1:
			ev.Job = &hvagent.Job{ID: strconv.Itoa(i), Progress: &hvagent.Progress{Done: int64(i), Total: 9}}
		case 2:
			ev.Type, ev.Guest = hvagent.EventGuestUpdated, &hvagent.Guest{ID: "g", Name: "web\"" + strconv.Itoa(i),
				State: "running", Disks: []hvagent.Disk{{Size: 1024}}}
		default:
			ev.Type, ev.Guest = hvagent.EventGuestDeleted, &hvagent.Guest{ID: "g"}
		}
		events[i] = ev
	}
	return events
}

// sseFrames is what writeEvents writes for page: encoding/json's events in
// SSE frames.
func sseFrames(t *testing.T, page *hvagent.EventPage) string {
	var b bytes.Buffer
	if page.Reset {
		b.WriteString("event: reset\ndata: {}\n\n")
	}
	for _, ev := range page.Events {
		data, err := json.Marshal(ev)
		require.NoError(t, err)
		kind := "guest"
		if ev.Job != nil {
			kind = "job"
		}
		fmt.Fprintf(&b, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, kind, data)
	}
	return b.String()
}

// TestWriteEvents: the SSE frames of a page carry encoding/json's bytes,
// for pages larger than a chunk too, and the scratch buffer is reused.
func TestWriteEvents(t *testing.T) {
	t.Parallel()
	var buf []byte
	for _, page := range []*hvagent.EventPage{
		{Events: []*hvagent.Event{}}, {Reset: true, Events: []*hvagent.Event{}}, {Events: testEvents(1)},
		{Reset: true, Events: testEvents(4)}, {Events: testEvents(1000)},
	} {
		var got bytes.Buffer
		var err error
		buf, err = writeEvents(&got, page, buf)
		require.NoError(t, err)
		require.Equal(t, sseFrames(t, page), got.String())
		require.Empty(t, buf)
	}
}

// TestWriteEvents_EncodeError: an event that cannot be encoded ends the
// page after the frames before it.
func TestWriteEvents_EncodeError(t *testing.T) {
	t.Parallel()
	events := testEvents(3)
	bad := &hvagent.Event{ID: 99, At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Job: &hvagent.Job{}}
	var got bytes.Buffer
	_, err := writeEvents(&got, &hvagent.EventPage{Events: append(events, bad, events[0])}, nil)
	require.ErrorContains(t, err, "encode event 99")
	require.Equal(t, sseFrames(t, &hvagent.EventPage{Events: events}), got.String())
}

// TestReplyEventPage: the JSON page is what reply sends for its
// eventPageReply, byte for byte.
func TestReplyEventPage(t *testing.T) {
	t.Parallel()
	for name, page := range map[string]*hvagent.EventPage{
		"empty": {Events: []*hvagent.Event{}, Cursor: 5}, "reset": {Events: testEvents(2), Cursor: 2, Reset: true},
		"many": {Events: testEvents(1000), Cursor: 1 << 40},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want := httptest.NewRecorder()
			require.NoError(t, (&exchange{w: want}).reply(http.StatusOK,
				eventPageReply{Events: nonNilList(page.Events), Next: page.Cursor, Reset: page.Reset}))
			got := httptest.NewRecorder()
			require.NoError(t, replyEventPage(&exchange{w: got}, page))
			require.Equal(t, want.Code, got.Code)
			require.Equal(t, want.Header(), got.Header())
			require.Equal(t, want.Body.String(), got.Body.String())
		})
	}
}

// BenchmarkWriteEvents compares a page of 1,000 job events written as SSE
// frames by writeEvents with the same frames through json.Marshal and
// fmt.Fprintf, one write an event (what it replaced).
func BenchmarkWriteEvents(b *testing.B) {
	at := time.Date(2026, 12, 1, 3, 50, 0, 123456789, time.UTC)
	page := &hvagent.EventPage{Events: make([]*hvagent.Event, 1000)}
	for i := range page.Events {
		page.Events[i] = &hvagent.Event{ID: int64(i + 1), Type: hvagent.EventJobUpdated, At: at,
			Job: &hvagent.Job{ID: "6f1c2b1e-8d3a-4c55-9a51-" + strconv.Itoa(100000000000+i),
				GuestID: "0b8a2c4e-1f2d-4e6b-8c9a-7d5e3f1a2b3c", Action: hvagent.ActionStart, QueuedAt: at,
				StartedAt: at, UpdatedAt: at, Status: hvagent.JobRunning, Stage: "1/1 Sim.Start", StageStartedAt: at,
				Attempt: 1, RequestedBy: "local"}}
	}
	w := &discardWriter{h: http.Header{}}
	var buf []byte
	for _, side := range []struct {
		name  string
		write func() error
	}{
		{"writeEvents", func() (err error) {
			buf, err = writeEvents(w, page, buf)
			return err
		}},
		{"Marshal", func() error {
			for _, ev := range page.Events {
				data, err := json.Marshal(ev)
				if err != nil {
					return err
				}
				if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, "job", data); err != nil {
					return err
				}
			}
			return nil
		}},
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
