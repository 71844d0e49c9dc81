package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestEvents_Flags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var got *EventsOptions
	require.NoError(t, parse(newCmdEvents(b.f, capture(&got)), "--follow", "--since", "0"))
	require.True(t, got.Follow)
	require.Equal(t, int64(0), *got.Since)
	require.NoError(t, parse(newCmdEvents(b.f, capture(&got))))
	require.Nil(t, got.Since)
	requireUsage(t, parse(newCmdEvents(b.f, capture(&got)), "--since", "-3"), "--since")
	requireUsage(t, parse(newCmdEvents(b.f, capture(&got)), "--since", "x"), `--since: "x" is neither an event ID nor a duration such as 10m`)
	requireUsage(t, parse(newCmdEvents(b.f, capture(&got)), "--since", "-5m"), "neither an event ID nor a duration")
	require.NoError(t, parse(newCmdEvents(b.f, capture(&got)), "--since", "10m"))
	require.Nil(t, got.Since)
	require.Equal(t, 10*time.Minute, got.SinceAge)
}

// eventLog serves events from a fixed log like the agent does.
func eventLog(log []*hvagent.Event, queries *[]hvagent.EventQuery) func(context.Context, hvagent.EventQuery) (*hvagent.EventPage, error) {
	return func(ctx context.Context, q hvagent.EventQuery) (*hvagent.EventPage, error) {
		*queries = append(*queries, q)
		page := &hvagent.EventPage{Events: []*hvagent.Event{}, Cursor: q.After}
		for _, e := range log {
			if e.ID > q.After && q.After >= 0 {
				page.Events = append(page.Events, e)
				page.Cursor = e.ID
			}
		}
		if len(page.Events) == 0 && q.Wait > 0 {
			<-ctx.Done()
			return nil, hvagent.Errorf(hvagent.ECANCELED, "canceled")
		}
		return page, nil
	}
}

func TestEvents_Run(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	job := newJob("start", hvagent.JobComplete)
	log := []*hvagent.Event{
		{ID: 7, Type: hvagent.EventJobUpdated, At: at, Job: job},
		{ID: 8, Type: hvagent.EventGuestUpdated, At: at, Guest: &hvagent.Guest{ID: guestID, State: "running"}},
	}
	t.Run("All", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var queries []hvagent.EventQuery
		b.fake.EventsFunc = eventLog(log, &queries)
		require.NoError(t, eventsRun(&EventsOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable}}))
		lines := strings.Split(strings.TrimSpace(b.out.String()), "\n")
		require.Len(t, lines, 3)
		require.Regexp(t, `^ID\s+TIME\s+TYPE\s+SUBJECT DETAIL$`, lines[0])
		lines = lines[1:]
		require.Regexp(t, `^7\s+`+fmtTime(at)+`\s+job.updated\s+`+jobID+` start guest=`+guestID+` Complete$`, lines[0])
		require.Regexp(t, `^8\s+.*guest.updated\s+`+guestID+` state=running$`, lines[1])
		require.Equal(t, []hvagent.EventQuery{{After: 0}, {After: 8}}, queries)
	})
	t.Run("DetailEscaped", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var queries []hvagent.EventQuery
		bad := newJob("start", hvagent.JobError)
		bad.Message = "HTTP 500 \x1b[31mred"
		b.fake.EventsFunc = eventLog([]*hvagent.Event{{ID: 9, Type: hvagent.EventJobUpdated, At: at, Job: bad}}, &queries)
		require.NoError(t, eventsRun(&EventsOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable}}))
		require.Contains(t, b.out.String(), `HTTP 500 \x1b[31mred`)
		require.NotContains(t, b.out.String(), "\x1b")
	})
	t.Run("EmptyHasHeader", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var queries []hvagent.EventQuery
		b.fake.EventsFunc = eventLog(nil, &queries)
		require.NoError(t, eventsRun(&EventsOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable}}))
		require.Regexp(t, `^ID\s+TIME\s+TYPE\s+SUBJECT DETAIL\n$`, b.out.String())
	})
	t.Run("SinceDuration", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var queries []hvagent.EventQuery
		old := []*hvagent.Event{{ID: 6, Type: hvagent.EventGuestUpdated, At: at.Add(-time.Hour), Guest: &hvagent.Guest{ID: guestID}}}
		b.fake.EventsFunc = eventLog(append(old, log...), &queries)
		opts := &EventsOptions{cmdBase: b.base(t), Out: outputOptions{Quiet: true}, SinceAge: 10 * time.Minute,
			Now: func() time.Time { return at.Add(time.Minute) }}
		require.NoError(t, eventsRun(opts))
		require.Equal(t, "7\n8\n", b.out.String(), "only the events of the last 10 minutes")
		require.Equal(t, int64(0), queries[0].After)
	})
	t.Run("SinceJSON", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var queries []hvagent.EventQuery
		b.fake.EventsFunc = eventLog(log, &queries)
		require.Equal(t, exitOK, b.run(t.Context(), "events", "--since", "7", "-o", "json"))
		var e hvagent.Event
		require.NoError(t, json.Unmarshal(b.out.Bytes(), &e), "one event a line")
		require.Equal(t, int64(8), e.ID)
		require.Equal(t, int64(7), queries[0].After)
	})
	t.Run("FollowUntilInterrupt", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var queries []hvagent.EventQuery
		ctx, cancel := context.WithCancel(t.Context())
		serve := eventLog(log, &queries)
		b.fake.EventsFunc = func(ctx context.Context, q hvagent.EventQuery) (*hvagent.EventPage, error) {
			if q.After == 8 {
				cancel() // Ctrl-C while waiting for more
			}
			return serve(ctx, q)
		}
		opts := &EventsOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable, Quiet: true}, Follow: true, Since: new(int64)}
		opts.ctx = ctx
		require.NoError(t, eventsRun(opts))
		require.Equal(t, "7\n8\n", b.out.String())
		require.Equal(t, eventsFollowWait, queries[0].Wait)
	})
	t.Run("FollowLive", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx, cancel := context.WithCancel(t.Context())
		var got hvagent.EventQuery
		b.fake.EventsFunc = func(_ context.Context, q hvagent.EventQuery) (*hvagent.EventPage, error) {
			got = q
			cancel()
			return nil, hvagent.Errorf(hvagent.ECANCELED, "canceled")
		}
		opts := &EventsOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable}, Follow: true}
		opts.ctx = ctx
		require.NoError(t, eventsRun(opts))
		require.Equal(t, int64(-1), got.After, "without --since, only new events")
	})
	t.Run("Reset", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		calls := 0
		b.fake.EventsFunc = func(context.Context, hvagent.EventQuery) (*hvagent.EventPage, error) {
			calls++
			if calls == 1 {
				return &hvagent.EventPage{Events: []*hvagent.Event{}, Reset: true, Cursor: 100}, nil
			}
			return &hvagent.EventPage{Events: []*hvagent.Event{}, Cursor: 100}, nil
		}
		require.Equal(t, exitOK, b.run(t.Context(), "events", "--since", "3"))
		require.Equal(t, "hvctl: events after 3 were pruned; some were missed\n", b.errOut.String())
	})
	t.Run("ErrUnavailable", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.EventsFunc = func(context.Context, hvagent.EventQuery) (*hvagent.EventPage, error) {
			return nil, hvagent.Errorf(hvagent.EUNAVAILABLE, "agent is stopping")
		}
		require.Equal(t, exitUnavailable, b.run(t.Context(), "events", "-f"))
	})
}
