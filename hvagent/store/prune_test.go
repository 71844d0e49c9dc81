package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestDB_Prune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Jobs", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		finish := func(n hvagent.NewJob) string {
			id := b.enqueue(t, n).ID
			_, _, err := b.db.Finish(ctx, hvagent.JobEnd{ID: id, At: at(1), Status: hvagent.JobComplete})
			require.NoError(t, err)
			return id
		}
		live := finish(newJob("k", &jobOpts{Key: ptr("live"), Expires: ptr(at(100))}))
		expired := finish(newJob("k", &jobOpts{Key: ptr("expired"), Expires: ptr(at(50))}))
		old := finish(newJob("g1", nil))
		running := b.enqueue(t, newJob("g2", nil)).ID
		b.claim(t, "g2", at(2))
		queued := b.enqueue(t, newJob("g3", nil)).ID
		newest := finish(newJob("g1", nil))

		require.NoError(t, b.db.Prune(ctx, 1, 1000, at(50)))
		jobs, err := b.db.Jobs(ctx, hvagent.JobFilter{})
		require.NoError(t, err)
		var got []string
		for _, j := range jobs {
			got = append(got, j.ID)
		}
		require.Equal(t, []string{newest, queued, running, live}, got)
		_, err = b.db.Job(ctx, expired)
		requireCode(t, err, hvagent.ENOTFOUND)
		_, err = b.db.Job(ctx, old)
		requireCode(t, err, hvagent.ENOTFOUND)

		var keys int
		require.NoError(t, b.db.read.QueryRow(`SELECT COUNT(*) FROM idempotency_keys`).Scan(&keys))
		require.Equal(t, 1, keys)

		require.NoError(t, b.db.Prune(ctx, 0, 1000, at(100)))
		jobs, err = b.db.Jobs(ctx, hvagent.JobFilter{})
		require.NoError(t, err)
		require.Len(t, jobs, 2, "only the queued and running jobs stay")
	})

	t.Run("Events", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for range 5 {
			b.enqueue(t, newJob("g1", nil))
		}
		require.NoError(t, b.db.Prune(ctx, 10, 10, at(1)))
		require.Len(t, b.events(t), 5)

		require.NoError(t, b.db.Prune(ctx, 10, 2, at(1)))
		ev := b.events(t)
		require.Len(t, ev, 2)
		require.Equal(t, int64(4), ev[0].ID)
		first, err := b.db.FirstEventID(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(4), first)

		b.enqueue(t, newJob("g1", nil))
		require.Equal(t, int64(6), b.events(t)[2].ID, "event IDs are never reused")

		require.NoError(t, b.db.Prune(ctx, 10, 0, at(1)))
		require.Empty(t, b.events(t))
		b.enqueue(t, newJob("g1", nil))
		require.Equal(t, int64(7), b.events(t)[0].ID)
	})

	t.Run("ErrNegative", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		requireCode(t, b.db.Prune(ctx, -1, 0, at(1)), hvagent.EINVALID)
		requireCode(t, b.db.Prune(ctx, 0, -1, at(1)), hvagent.EINVALID)
	})
}
