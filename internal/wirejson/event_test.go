package wirejson

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/guestgen"
)

// TestEventCodec_KnowsEveryField: AppendEvent writes every field of
// Event; a field added to Event must be added to it.
func TestEventCodec_KnowsEveryField(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[hvagent.Event]()
	var fields []string
	for i := range typ.NumField() {
		fields = append(fields, typ.Field(i).Name)
	}
	require.Equal(t, fields, EventFields)
}

// checkAppendEvent checks AppendEvent against json.Marshal on ev and
// returns whether AppendEvent took it.
func checkAppendEvent(t *testing.T, ev *hvagent.Event) bool {
	t.Helper()
	want, err := json.Marshal(ev)
	got, ok := AppendEvent([]byte("prefix"), ev)
	if ok {
		require.NoError(t, err, "AppendEvent took an event json.Marshal refuses")
		require.Equal(t, "prefix"+string(want), string(got))
	}
	return ok
}

func TestAppendEvent(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 3, 45, 0, 123456789, time.UTC)
	job := &hvagent.Job{ID: "5e2f6d7a-8b9c-4d0e-a1f2-3b4c5d6e7f80", GuestID: "g", Action: "start", QueuedAt: at,
		Status: hvagent.JobComplete, Attempt: 1, FinishedAt: at, Result: json.RawMessage(`{"id":"g","cpu":1}`)}
	guest := &hvagent.Guest{ID: "g", Name: "web<1>", State: "running", Memory: 256, CPU: 1,
		Disks: []hvagent.Disk{{Size: 1024}}}
	for _, tc := range []struct {
		name    string
		ev      *hvagent.Event
		encoded bool
	}{
		{"zero", &hvagent.Event{}, true},
		{"job", &hvagent.Event{ID: 7, Type: hvagent.EventJobUpdated, At: at, Job: job}, true},
		{"guest", &hvagent.Event{ID: 1 << 40, Type: hvagent.EventGuestUpdated, At: at, Guest: guest}, true},
		{"deleted", &hvagent.Event{ID: 9, Type: hvagent.EventGuestDeleted, At: at, Guest: &hvagent.Guest{ID: "g"}}, true},
		{"both", &hvagent.Event{ID: 3, Type: "x", At: at, Job: job, Guest: guest}, true},
		{"negative id", &hvagent.Event{ID: -1, Type: "x", At: at}, true},
		{"escaped type", &hvagent.Event{Type: "a\"b<c>\u2028\xff", At: at}, true},
		{"zoned time", &hvagent.Event{At: at.In(time.FixedZone("x", 5*3600+30*60))}, true},
		{"job with progress", &hvagent.Event{At: at, Job: &hvagent.Job{Progress: &hvagent.Progress{Done: 1}}}, false},
		{"year 10000", &hvagent.Event{At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Job: job}, false},
		{"job year -1", &hvagent.Event{At: at, Job: &hvagent.Job{QueuedAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}}, false},
	} {
		require.Equal(t, tc.encoded, checkAppendEvent(t, tc.ev), "%s: taken by AppendEvent", tc.name)
	}
}

// TestAppendEvent_Random compares AppendEvent with json.Marshal on events
// of random guests.
func TestAppendEvent_Random(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2026))
	for i := range 1000 {
		at := time.Unix(rng.Int64N(1<<34), rng.Int64N(1e9)).UTC()
		ev := &hvagent.Event{ID: rng.Int64(), Type: hvagent.EventGuestUpdated, At: at, Guest: guestgen.Random(rng)}
		if i%2 == 0 {
			ev.Type = hvagent.EventJobUpdated
			ev.Job = &hvagent.Job{ID: ev.Guest.ID, GuestID: ev.Guest.ID, GuestName: ev.Guest.Name, Action: "start",
				QueuedAt: at, Status: hvagent.JobRunning, Message: ev.Guest.State, Attempt: i}
			ev.Guest = nil
		}
		require.True(t, checkAppendEvent(t, ev), "event %d", i)
	}
}
