package store

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// TestDB_Concurrent enqueues and claims from 8 goroutines on 4 queues and
// checks that every job is claimed exactly once, from its own queue.
func TestDB_Concurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	const workers, queues, perWorker = 8, 4, 25

	var (
		mu       sync.Mutex
		enqueued = map[string]string{}   // job ID → queue
		claimed  = map[string][]string{} // queue → job IDs in claim order
		wg       sync.WaitGroup
		errs     = make(chan error, workers)
	)
	for w := range workers {
		queue := fmt.Sprintf("q%d", w%queues)
		wg.Go(func() {
			for range perWorker {
				j, err := b.db.Enqueue(ctx, newJob(queue, nil))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				enqueued[j.ID] = queue
				mu.Unlock()
				if err := claimOne(ctx, b.db, queue, &mu, claimed); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	seen := map[string]bool{}
	total := 0
	for queue, ids := range claimed {
		for _, id := range ids {
			require.False(t, seen[id], "job %s claimed twice", id)
			seen[id] = true
			require.Equal(t, queue, enqueued[id])
		}
		total += len(ids)
	}
	require.Equal(t, workers*perWorker, total)
	running, err := b.db.RunningJobs(ctx)
	require.NoError(t, err)
	require.Len(t, running, workers*perWorker)
	for _, j := range running {
		require.Equal(t, 1, j.Attempt)
	}
	q, err := b.db.QueuedQueues(ctx)
	require.NoError(t, err)
	require.Empty(t, q)
}

// claimOne claims the head of queue and records it under mu. Each worker
// enqueues before it claims, so the queue is never empty.
func claimOne(ctx context.Context, db *DB, queue string, mu *sync.Mutex, claimed map[string][]string) error {
	c, err := db.Claim(ctx, queue, at(1), hvagent.ClaimOptions{})
	if err != nil {
		return err
	}
	if c == nil {
		return fmt.Errorf("queue %s is empty", queue)
	}
	mu.Lock()
	defer mu.Unlock()
	claimed[queue] = append(claimed[queue], c.Job.ID)
	return nil
}
