package store

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

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
	b.db.guests.put(false, "g1", old, gen) // too late: its generation has ended
	b.db.guests.put(true, "web", oldByName, gen)
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
	_, hit := b.db.guests.get(false, "g1", gen)
	require.True(t, hit, "the lookup did not fill the cache")

	_, err := b.db.SetGuestState(ctx, "g1", hvagent.StateRunning, at(1))
	require.NoError(t, err)
	_, hit = b.db.guests.get(false, "g1", b.db.guests.generation())
	require.False(t, hit, "an entry read before the commit is still served")
	require.Equal(t, hvagent.StateRunning, lookupBoth(t, b.db, "g1", "web").State)
}

// TestGuestCache_Bounded fills more guests than the cache holds: every
// lookup is still right, and the maps stay within their bound.
func TestGuestCache_Bounded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 3 {
		b.createGuest(t, &hvagent.Guest{ID: "g" + strconv.Itoa(i), Name: "n" + strconv.Itoa(i)})
	}
	c := &b.db.guests
	gen := c.generation()
	for i := range maxCachedGuests + 10 {
		c.put(false, "x"+strconv.Itoa(i), guestRecord{id: "x"}, gen)
	}
	for i := range 3 {
		require.Equal(t, "g"+strconv.Itoa(i), lookupBoth(t, b.db, "g"+strconv.Itoa(i), "n"+strconv.Itoa(i)).ID)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	require.LessOrEqual(t, len(c.byID), maxCachedGuests)
	require.LessOrEqual(t, len(c.byName), maxCachedGuests)
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
