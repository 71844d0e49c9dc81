package store

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// TestDB_Concurrent enqueues, claims and finishes from 8 goroutines on 4
// queues (two per queue) and checks that every job is claimed exactly once,
// from its own queue, and that a queue never has two Running jobs: the
// second claimer of a queue gets ECONFLICT until the first job has ended.
func TestDB_Concurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	const workers, queues, perWorker = 8, 4, 25

	var (
		mu       sync.Mutex
		enqueued = map[string]string{}   // job ID → queue
		claimed  = map[string][]string{} // queue → job IDs in claim order
		running  = map[string]int{}      // queue → jobs claimed and not finished
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
				if err := runOne(ctx, b.db, queue, &mu, claimed, running); err != nil {
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
	left, err := b.db.RunningJobs(ctx)
	require.NoError(t, err)
	require.Empty(t, left)
	done, err := b.db.Jobs(ctx, hvagent.JobFilter{Status: hvagent.JobComplete})
	require.NoError(t, err)
	require.Len(t, done, workers*perWorker)
	for _, j := range done {
		require.Equal(t, 1, j.Attempt)
	}
	q, err := b.db.QueuedQueues(ctx)
	require.NoError(t, err)
	require.Empty(t, q)
}

// runOne claims the head of queue, retrying while the other worker of the
// queue has a job Running, records it under mu and finishes it. Each worker
// enqueues before it claims, so the queue is never empty.
func runOne(ctx context.Context, db *DB, queue string, mu *sync.Mutex, claimed map[string][]string, running map[string]int) error {
	var c *hvagent.Claim
	for c == nil {
		var err error
		c, err = db.Claim(ctx, queue, at(1), hvagent.ClaimOptions{})
		switch {
		case hvagent.ErrorCode(err) == hvagent.ECONFLICT:
			runtime.Gosched()
			continue
		case err != nil:
			return err
		case c == nil:
			return fmt.Errorf("queue %s is empty", queue)
		}
	}
	mu.Lock()
	claimed[queue] = append(claimed[queue], c.Job.ID)
	running[queue]++
	n := running[queue]
	mu.Unlock()
	runtime.Gosched() // let the other worker of the queue try its claim
	mu.Lock()
	running[queue]-- // before Finish: the next claim of the queue can only succeed after it
	mu.Unlock()
	if n != 1 {
		return fmt.Errorf("queue %s had %d jobs running at once", queue, n)
	}
	_, _, err := db.Finish(ctx, hvagent.JobEnd{ID: c.Job.ID, At: at(2), Status: hvagent.JobComplete})
	return err
}
