package hvagent

import (
	"context"
	"sync"
	"time"
)

// MaxEventPage caps one page of events (EventQuery.Limit).
const MaxEventPage = 1000

// eventBell rings when the store may hold new events: every write the
// agent makes goes through ringingStore, which rings it afterwards.
type eventBell struct {
	mu sync.Mutex
	ch chan struct{} // the waiters' channel; nil while nobody waits
}

func newEventBell() *eventBell { return &eventBell{} }

// ring wakes every current waiter. Without waiters it costs no channel.
func (b *eventBell) ring() {
	b.mu.Lock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
	b.mu.Unlock()
}

// wait returns a channel closed at the next ring.
func (b *eventBell) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

// Events returns events after q.After, oldest first, waiting up to q.Wait
// for the first one. Reset is set when q.After is older than the retained
// log, or newer than its newest event (the page's Cursor is then that
// event's ID). Errors: EINVALID (negative limit).
func (a *Agent) Events(ctx context.Context, q EventQuery) (*EventPage, error) {
	if q.Limit < 0 || q.After < -1 {
		return nil, Errorf(EINVALID, "event limit must not be negative and event id not below -1")
	}
	if q.After == -1 {
		last, err := a.store.LastEventID(ctx)
		if err != nil {
			return nil, err
		}
		q.After = last
	}
	if q.Limit == 0 || q.Limit > MaxEventPage {
		q.Limit = MaxEventPage
	}
	var deadline <-chan time.Time
	if q.Wait > 0 {
		t := time.NewTimer(q.Wait)
		defer t.Stop()
		deadline = t.C
	}
	for {
		bell := a.bell.wait()
		page, err := a.eventPage(ctx, q)
		if err != nil || len(page.Events) > 0 || page.Reset || deadline == nil {
			return page, err
		}
		select {
		case <-bell:
		case <-deadline:
			return page, nil
		case <-ctx.Done():
			return page, nil
		case <-a.quit:
			return page, nil
		}
	}
}

// eventPage reads one page and tells whether events were pruned in between.
func (a *Agent) eventPage(ctx context.Context, q EventQuery) (*EventPage, error) {
	evs, err := a.store.Events(ctx, q.After, q.Limit)
	if err != nil {
		return nil, err
	}
	page := &EventPage{Events: evs, Cursor: q.After}
	if len(evs) > 0 {
		page.Cursor = evs[len(evs)-1].ID
	}
	if q.After >= 0 && (len(evs) == 0 || evs[0].ID > q.After+1) {
		first, err := a.store.FirstEventID(ctx)
		if err != nil {
			return nil, err
		}
		page.Reset = first > q.After+1
	}
	if q.After > 0 && len(evs) == 0 && !page.Reset {
		// A cursor past the newest event (kept from another log: the
		// database was restored or made anew) would wait for events that
		// have other IDs: a reset, from the newest.
		last, err := a.store.LastEventID(ctx)
		if err != nil {
			return nil, err
		}
		if q.After > last {
			page.Reset, page.Cursor = true, last
		}
	}
	return page, nil
}

// ringingStore is the agent's Store: writes ring the event bell.
type ringingStore struct {
	Store
	bell *eventBell
}

func (s ringingStore) PatchGuestMetadata(ctx context.Context, id string, patch map[string]string,
	lim MetadataLimits) (*Guest, error) {
	defer s.bell.ring()
	return s.Store.PatchGuestMetadata(ctx, id, patch, lim)
}

func (s ringingStore) RenameGuest(ctx context.Context, id, name string, at time.Time) (*Guest, error) {
	defer s.bell.ring()
	return s.Store.RenameGuest(ctx, id, name, at)
}

func (s ringingStore) SetGuestState(ctx context.Context, id, state string, at time.Time) (*Guest, error) {
	defer s.bell.ring()
	return s.Store.SetGuestState(ctx, id, state, at)
}

func (s ringingStore) Enqueue(ctx context.Context, n NewJob) (*Job, error) {
	defer s.bell.ring()
	return s.Store.Enqueue(ctx, n)
}

func (s ringingStore) EnqueueClaim(ctx context.Context, n NewJob, o ClaimOptions) (*Job, *Claim, error) {
	defer s.bell.ring()
	return s.Store.EnqueueClaim(ctx, n, o)
}

func (s ringingStore) Claim(ctx context.Context, queue string, at time.Time, o ClaimOptions) (*Claim, error) {
	defer s.bell.ring()
	return s.Store.Claim(ctx, queue, at, o)
}

func (s ringingStore) Advance(ctx context.Context, u JobUpdate) (*Job, error) {
	defer s.bell.ring()
	return s.Store.Advance(ctx, u)
}

func (s ringingStore) Finish(ctx context.Context, e JobEnd) (*Job, []string, error) {
	defer s.bell.ring()
	return s.Store.Finish(ctx, e)
}

func (s ringingStore) FinishClaim(ctx context.Context, e JobEnd, queue string, o ClaimOptions) (*Ended, error) {
	defer s.bell.ring()
	return s.Store.FinishClaim(ctx, e, queue, o)
}

func (s ringingStore) Requeue(ctx context.Context, id, message string, at time.Time) (*Job, error) {
	defer s.bell.ring()
	return s.Store.Requeue(ctx, id, message, at)
}

func (s ringingStore) CancelQueued(ctx context.Context, id, message string, at time.Time) (*Job, error) {
	defer s.bell.ring()
	return s.Store.CancelQueued(ctx, id, message, at)
}
