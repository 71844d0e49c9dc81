package store

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// lookupBoth returns guest id by ID and by name, requiring both to agree.
func lookupBoth(t *testing.T, db *DB, id, name string) *hvagent.Guest {
	t.Helper()
	ctx := context.Background()
	byID, err := db.Guest(ctx, id)
	require.NoError(t, err)
	byName, err := db.GuestByName(ctx, name)
	require.NoError(t, err)
	require.Equal(t, byID, byName)
	return byID
}

// TestGuestCache_SeesEveryAnsweredWrite warms the cache, then checks that
// each kind of guest write is seen by the next lookup, by ID and by name.
func TestGuestCache_SeesEveryAnsweredWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.createGuest(t, &hvagent.Guest{ID: "g1", Name: "web", State: hvagent.StateCreate, Memory: 256})
	b.run(t, "g1", at(0)) // the create job
	lim := hvagent.MetadataLimits{Keys: 10, KeyLen: 64, ValueLen: 64, Bytes: 1024}

	lookupBoth(t, b.db, "g1", "web") // fills the cache
	_, err := b.db.PatchGuestMetadata(ctx, "g1", map[string]string{"owner": "ann"}, lim)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"owner": "ann"}, lookupBoth(t, b.db, "g1", "web").Metadata)

	_, err = b.db.SetGuestState(ctx, "g1", hvagent.StateRunning, at(1))
	require.NoError(t, err)
	require.Equal(t, hvagent.StateRunning, lookupBoth(t, b.db, "g1", "web").State)

	j := b.enqueue(t, newJob("g1", nil))
	b.claim(t, "g1", at(2))
	_, _, err = b.db.Finish(ctx, hvagent.JobEnd{ID: j.ID, At: at(3), Status: hvagent.JobComplete,
		Guest: &hvagent.Guest{ID: "g1", State: hvagent.StateShutoff, Memory: 512}})
	require.NoError(t, err)
	g := lookupBoth(t, b.db, "g1", "web")
	require.Equal(t, hvagent.StateShutoff, g.State)
	require.EqualValues(t, 512, g.Memory)

	_, err = b.db.RenameGuest(ctx, "g1", "db", at(4))
	require.NoError(t, err)
	_, err = b.db.GuestByName(ctx, "web")
	requireCode(t, err, hvagent.ENOTFOUND)
	require.Equal(t, "db", lookupBoth(t, b.db, "g1", "db").Name)

	j = b.enqueue(t, newJob("g1", nil))
	b.claim(t, "g1", at(5))
	_, _, err = b.db.Finish(ctx, hvagent.JobEnd{ID: j.ID, At: at(6), Status: hvagent.JobComplete, DeleteGuest: true})
	require.NoError(t, err)
	_, err = b.db.Guest(ctx, "g1")
	requireCode(t, err, hvagent.ENOTFOUND)
	_, err = b.db.GuestByName(ctx, "db")
	requireCode(t, err, hvagent.ENOTFOUND)
}

// TestGuestCache_ReaderBeforeCommitDoesNotFill plays the race the
// generation guards against, step by step: a lookup loads the generation
// and reads the row, a write commits and is answered, then the lookup
// tries to store what it read. The next lookup must see the write.
func TestGuestCache_ReaderBeforeCommitDoesNotFill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.createGuest(t, &hvagent.Guest{ID: "g1", Name: "web"})

	gen := b.db.guests.generation()
	old, err := b.db.readGuest(ctx, false, "g1")
	require.NoError(t, err)
	oldByName, err := b.db.readGuest(ctx, true, "web")
	require.NoError(t, err)
	_, err = b.db.SetGuestState(ctx, "g1", hvagent.StateRunning, at(1))
	require.NoError(t, err)
	g, err := old.decode()
	require.NoError(t, err)
	b.db.guests.put(false, "g1", g, old.size(), gen) // too late: its generation has ended
	g, err = oldByName.decode()
	require.NoError(t, err)
	b.db.guests.put(true, "web", g, oldByName.size(), gen)
	require.Equal(t, hvagent.StateRunning, lookupBoth(t, b.db, "g1", "web").State)
}

// TestGuestCache_FilledBeforeCommitIsDropped: a lookup stores what it read
// before a write commits; once the write is answered, the entry is no
// longer served.
func TestGuestCache_FilledBeforeCommitIsDropped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.createGuest(t, &hvagent.Guest{ID: "g1", Name: "web"})
	require.Empty(t, lookupBoth(t, b.db, "g1", "web").State)
	gen := b.db.guests.generation()
	require.NotNil(t, b.db.guests.get(false, "g1", gen), "the lookup did not fill the cache")

	_, err := b.db.SetGuestState(ctx, "g1", hvagent.StateRunning, at(1))
	require.NoError(t, err)
	require.Nil(t, b.db.guests.get(false, "g1", b.db.guests.generation()),
		"an entry read before the commit is still served")
	require.Equal(t, hvagent.StateRunning, lookupBoth(t, b.db, "g1", "web").State)
}

// TestGuestCache_NotServedWhileCommitting: between a write's COMMIT and
// the answer to its caller the new state is already in the database, where
// a reader of the event log can see it; a lookup then must not be served
// the guest cached before the write, nor fill the cache.
func TestGuestCache_NotServedWhileCommitting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.createGuest(t, &hvagent.Guest{ID: "g1", Name: "web"})
	require.Empty(t, lookupBoth(t, b.db, "g1", "web").State) // now cached
	var (
		states []string
		errs   []error
		filled bool
	)
	lookup := func(time.Duration) { // on the committer, after COMMIT, before the answer
		byID, err := b.db.Guest(ctx, "g1")
		byName, err2 := b.db.GuestByName(ctx, "web")
		if err = errors.Join(err, err2); err != nil {
			errs = append(errs, err)
			return
		}
		states = append(states, byID.State, byName.State)
		c := &b.db.guests
		c.mu.RLock()
		filled = c.byID["g1"] != nil && c.byID["g1"].State == hvagent.StateRunning
		c.mu.RUnlock()
	}
	b.db.commits.onCommit.Store(&lookup)
	_, err := b.db.SetGuestState(ctx, "g1", hvagent.StateRunning, at(1))
	b.db.commits.onCommit.Store(nil)
	require.NoError(t, err)
	require.Empty(t, errs)
	require.Equal(t, []string{hvagent.StateRunning, hvagent.StateRunning}, states)
	require.False(t, filled, "a lookup during the commit filled the cache")
	require.Equal(t, hvagent.StateRunning, lookupBoth(t, b.db, "g1", "web").State)
}

// TestGuestCache_Bounded fills more guests than the cache holds, by count
// and by size: every lookup is still right, the cache stays within its
// bounds, and a guest larger than the whole budget is not cached.
func TestGuestCache_Bounded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 3 {
		b.createGuest(t, &hvagent.Guest{ID: "g" + strconv.Itoa(i), Name: "n" + strconv.Itoa(i)})
	}
	c := &b.db.guests
	within := func() {
		t.Helper()
		c.mu.RLock()
		defer c.mu.RUnlock()
		require.LessOrEqual(t, len(c.byID), maxCachedGuests)
		require.LessOrEqual(t, len(c.byName), maxCachedGuests)
		require.LessOrEqual(t, c.bytes, maxCachedBytes)
	}
	gen := c.generation()
	for i := range maxCachedGuests + 10 {
		c.put(false, "x"+strconv.Itoa(i), &hvagent.Guest{ID: "x"}, cachedGuestOverhead, gen)
	}
	within()
	for i := range 20 { // 20 guests of 1/8 of the budget each
		c.put(i%2 == 0, "big"+strconv.Itoa(i), &hvagent.Guest{ID: "big"}, maxCachedBytes/8, gen)
	}
	within()
	c.put(false, "huge", &hvagent.Guest{ID: "huge"}, maxCachedBytes+1, gen)
	require.Nil(t, c.get(false, "huge", gen), "a guest over the whole budget was cached")
	require.NotNil(t, c.get(true, "big18", gen), "the last guest put was not cached")
	for i := range 3 {
		require.Equal(t, "g"+strconv.Itoa(i), lookupBoth(t, b.db, "g"+strconv.Itoa(i), "n"+strconv.Itoa(i)).ID)
	}
	within()
}

// TestGuestCache_ConcurrentReadersSeeAnsweredWrites runs lookups while a
// writer counts up in the guest's metadata: a lookup that starts after a
// write was answered must see that write or a later one.
func TestGuestCache_ConcurrentReadersSeeAnsweredWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.createGuest(t, &hvagent.Guest{ID: "g1", Name: "web", Metadata: map[string]string{"n": "0"}})
	lim := hvagent.MetadataLimits{Keys: 10, KeyLen: 64, ValueLen: 64, Bytes: 1024}
	const writes = 200
	var answered atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for answered.Load() < writes {
				floor := answered.Load()
				var g *hvagent.Guest
				var err error
				if r%2 == 0 {
					g, err = b.db.Guest(ctx, "g1")
				} else {
					g, err = b.db.GuestByName(ctx, "web")
				}
				if err != nil {
					errs <- err
					return
				}
				if n, _ := strconv.ParseInt(g.Metadata["n"], 10, 64); n < floor {
					errs <- &hvagent.Error{Code: hvagent.EINTERNAL, Message: "stale read: n=" +
						g.Metadata["n"] + " after write " + strconv.FormatInt(floor, 10) + " was answered"}
					return
				}
			}
		}()
	}
	for i := int64(1); i <= writes; i++ {
		_, err := b.db.PatchGuestMetadata(ctx, "g1", map[string]string{"n": strconv.FormatInt(i, 10)}, lim)
		require.NoError(t, err)
		answered.Store(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestGuestCache_HitsAreCopies: a caller changing the guest it got does not
// change what the next lookup returns.
func TestGuestCache_HitsAreCopies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createGuest(t, &hvagent.Guest{ID: "g1", Name: "web", Metadata: map[string]string{"owner": "ann"},
		Nics: []hvagent.Nic{{Network: "n", VLANs: []int{1}}}, Boot: &hvagent.Boot{Kernel: "/k"}})
	for range 2 { // a miss, then a hit
		g := lookupBoth(t, b.db, "g1", "web")
		require.Equal(t, "ann", g.Metadata["owner"])
		require.Equal(t, []int{1}, g.Nics[0].VLANs)
		require.Equal(t, "/k", g.Boot.Kernel)
		g.Metadata["owner"], g.Nics[0].VLANs[0], g.Boot.Kernel, g.State = "bob", 2, "/x", "changed"
	}
}

// TestGuestCache_KeptByJobWrites: a transaction that writes no guest (a
// job queued, claimed and ended with its guest unchanged) leaves the cache
// as it was, still served; one whose job changes its guest ends it.
func TestGuestCache_KeptByJobWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	g := &hvagent.Guest{ID: "g1", Name: "web", State: hvagent.StateRunning, Memory: 256}
	b.createGuest(t, g)
	b.run(t, "g1", at(0)) // the create job
	j := b.enqueue(t, newJob("g1", nil))
	b.claim(t, "g1", at(1))
	lookupBoth(t, b.db, "g1", "web") // fills the cache
	gen := b.db.guests.generation()

	next := b.enqueue(t, newJob("g1", nil))
	end, err := b.db.FinishClaim(ctx, hvagent.JobEnd{ID: j.ID, At: at(2), Status: hvagent.JobComplete, Guest: g},
		"g1", hvagent.ClaimOptions{})
	require.NoError(t, err)
	require.Equal(t, next.ID, end.Next.Job.ID)
	require.Equal(t, gen, b.db.guests.generation(), "a job's writes with its guest unchanged ended the generation")
	require.NotNil(t, b.db.guests.get(false, "g1", gen), "the cached guest is no longer served")

	changed := *g
	changed.State = hvagent.StateShutoff
	_, _, err = b.db.Finish(ctx, hvagent.JobEnd{ID: next.ID, At: at(3), Status: hvagent.JobComplete, Guest: &changed})
	require.NoError(t, err)
	require.NotEqual(t, gen, b.db.guests.generation())
	require.Equal(t, hvagent.StateShutoff, lookupBoth(t, b.db, "g1", "web").State)
}
