package servicetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// eventWait is the wait of event reads that expect events.
const eventWait = 10 * time.Second

// readUntil reads pages after cursor until done accepts the events so far,
// checking that IDs increase and that each page's cursor is its last event.
func (b *bundle) readUntil(t *testing.T, cursor int64, done func([]*hvagent.Event) bool) ([]*hvagent.Event, int64) {
	t.Helper()
	var all []*hvagent.Event
	deadline := time.Now().Add(waitTimeout)
	for !done(all) {
		require.True(t, time.Now().Before(deadline), "events did not arrive; got %d", len(all))
		page, err := b.svc.Events(t.Context(), hvagent.EventQuery{After: cursor, Wait: eventWait})
		require.NoError(t, err)
		require.False(t, page.Reset)
		for _, e := range page.Events {
			require.Greater(t, e.ID, cursor, "oldest first, after the cursor")
			cursor = e.ID
		}
		require.Equal(t, cursor, page.Cursor)
		all = append(all, page.Events...)
	}
	return all, cursor
}

// jobEnded returns a done func for readUntil: the job's final event is in.
func jobEnded(id string) func([]*hvagent.Event) bool {
	return func(evs []*hvagent.Event) bool {
		for _, e := range evs {
			if e.Job != nil && e.Job.ID == id && e.Job.Status.Final() {
				return true
			}
		}
		return false
	}
}

func testEvents(t *testing.T, b *bundle) {
	ctx := t.Context()
	page, err := b.svc.Events(ctx, hvagent.EventQuery{Wait: 50 * time.Millisecond})
	require.NoError(t, err)
	require.NotNil(t, page.Events)
	require.Empty(t, page.Events)
	require.Zero(t, page.Cursor)

	g := b.create(t, nil)
	jobs, err := b.svc.Jobs(ctx, hvagent.JobFilter{GuestID: g.ID})
	require.NoError(t, err)
	evs, cursor := b.readUntil(t, 0, jobEnded(jobs[0].ID))
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
		require.False(t, e.At.IsZero())
		if e.Job != nil {
			require.Equal(t, g.ID, e.Job.GuestID)
		} else {
			require.Equal(t, g.ID, e.Guest.ID)
		}
	}
	require.Contains(t, types, hvagent.EventJobUpdated)
	require.Contains(t, types, hvagent.EventGuestUpdated)

	first, err := b.svc.Events(ctx, hvagent.EventQuery{Limit: 1, Wait: eventWait})
	require.NoError(t, err)
	require.Len(t, first.Events, 1, "a page holds at most Limit events")
	require.Equal(t, evs[0].ID, first.Events[0].ID)
	require.Equal(t, evs[0].ID, first.Cursor)

	page, err = b.svc.Events(ctx, hvagent.EventQuery{After: cursor, Wait: 50 * time.Millisecond})
	require.NoError(t, err)
	require.Empty(t, page.Events, "caught up")
	require.Equal(t, cursor, page.Cursor)

	got := make(chan *hvagent.EventPage, 1)
	go func() {
		p, _ := b.svc.Events(context.Background(), hvagent.EventQuery{After: cursor, Wait: eventWait})
		got <- p
	}()
	time.Sleep(50 * time.Millisecond)
	start := b.do(t, hvagent.ActionStart, g.ID, hvagent.Request{})
	p := <-got
	require.NotNil(t, p)
	require.NotEmpty(t, p.Events, "a waiting reader is woken by the next event")
	require.Greater(t, p.Events[0].ID, cursor)
	b.readUntil(t, cursor, jobEnded(start.Job.ID))

	_, err = b.svc.Events(ctx, hvagent.EventQuery{Limit: -1})
	requireCode(t, hvagent.EINVALID, err)
	_, err = b.svc.Events(ctx, hvagent.EventQuery{After: -2})
	requireCode(t, hvagent.EINVALID, err)
}

func testEventsLive(t *testing.T, b *bundle) {
	g := b.create(t, nil)
	got := make(chan *hvagent.EventPage, 1)
	go func() {
		p, _ := b.svc.Events(context.Background(), hvagent.EventQuery{After: -1, Wait: eventWait})
		got <- p
	}()
	// The live read starts whenever its request gets there: act until it
	// sees something.
	var p *hvagent.EventPage
	for p == nil {
		b.run(t, hvagent.ActionStart, g.ID, hvagent.Request{})
		select {
		case p = <-got:
		case <-time.After(100 * time.Millisecond):
		}
	}
	require.NotEmpty(t, p.Events)
	for _, e := range p.Events {
		if e.Job != nil {
			require.Equal(t, hvagent.ActionStart, e.Job.Action, "live reads skip the past")
		} else {
			require.Equal(t, g.ID, e.Guest.ID)
		}
	}
	require.Equal(t, p.Events[len(p.Events)-1].ID, p.Cursor)

	empty, err := b.svc.Events(t.Context(), hvagent.EventQuery{After: -1, Wait: 50 * time.Millisecond})
	require.NoError(t, err)
	require.Empty(t, empty.Events)
	require.GreaterOrEqual(t, empty.Cursor, p.Cursor, "an empty live page still gives a cursor to resume from")
}
