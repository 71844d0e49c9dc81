package store

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestDB_ClaimPaused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	first := b.enqueue(t, newJob("g1", &jobOpts{QueuedAt: ptr(at(1))}))
	b.enqueue(t, newJob("g1", &jobOpts{QueuedAt: ptr(at(2))}))
	var holds atomic.Int32
	count := func(time.Duration) { holds.Add(1) }
	b.db.commits.onHold.Store(&count)
	cl, err := b.db.Claim(ctx, "g1", at(3), hvagent.ClaimOptions{Paused: []string{first.Action}})
	require.NoError(t, err)
	require.Nil(t, cl, "a paused job holds its queue")
	require.Zero(t, holds.Load(), "a claim of a queue held by a paused job takes no write")
	b.db.commits.onHold.Store(nil)
	cl, err = b.db.Claim(ctx, "g1", at(3), hvagent.ClaimOptions{Paused: []string{"someOtherAction"}})
	require.NoError(t, err)
	require.Equal(t, first.ID, cl.Job.ID)
}

func TestDB_QueueStats(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	stats, err := b.db.QueueStats(ctx)
	require.NoError(t, err)
	require.Empty(t, stats)
	b.enqueue(t, newJob("g1", &jobOpts{QueuedAt: ptr(at(1))}))
	b.enqueue(t, newJob("g1", &jobOpts{QueuedAt: ptr(at(2))}))
	b.enqueue(t, newJob("g1", &jobOpts{QueuedAt: ptr(at(3))}))
	b.enqueue(t, newJob("g2", &jobOpts{QueuedAt: ptr(at(4))}))
	b.claim(t, "g1", at(5))
	b.claim(t, "g2", at(5))
	stats, err = b.db.QueueStats(ctx)
	require.NoError(t, err)
	require.Len(t, stats, 2)
	require.Equal(t, "g1", stats[0].Queue)
	require.Equal(t, 2, stats[0].Queued)
	require.Equal(t, 1, stats[0].Running)
	require.Equal(t, at(2), stats[0].OldestQueuedAt)
	require.Equal(t, 0, stats[1].Queued)
	require.True(t, stats[1].OldestQueuedAt.IsZero())
}
