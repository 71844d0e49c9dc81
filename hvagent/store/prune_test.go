package store

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

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

	t.Run("Interleaved", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		finish := func(id string) {
			_, _, err := b.db.Finish(ctx, hvagent.JobEnd{ID: id, At: at(1), Status: hvagent.JobComplete})
			require.NoError(t, err)
		}
		var ids []string // F1 F2 Q3 F4 R5 F6 Q7 F8: Finished, Queued, Running
		for _, kind := range "FFQFRFQF" {
			guest := map[rune]string{'F': "f", 'Q': "q", 'R': "r"}[kind]
			id := b.enqueue(t, newJob(guest, nil)).ID
			switch kind {
			case 'F':
				finish(id)
			case 'R':
				b.claim(t, "r", at(1))
			}
			ids = append(ids, id)
		}
		remaining := func() []string {
			jobs, err := b.db.Jobs(ctx, hvagent.JobFilter{})
			require.NoError(t, err)
			var got []string
			for _, j := range jobs {
				got = append(got, j.ID)
			}
			return got
		}

		require.NoError(t, b.db.Prune(ctx, 3, 1000, at(1)))
		require.Equal(t, []string{ids[7], ids[6], ids[5], ids[4], ids[3], ids[2]}, remaining(),
			"the newest 3 finished jobs and every unfinished one stay")

		finish(ids[2])
		require.NoError(t, b.db.Prune(ctx, 3, 1000, at(1)))
		require.Equal(t, []string{ids[7], ids[6], ids[5], ids[4], ids[3]}, remaining(),
			"newest is by enqueue order: Q3, finished last, is the oldest finished job")
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

func TestFinishedBound(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		newest int64
		keep   int
		active []int64
		want   int64
	}{
		{"Empty", 0, 10, nil, -10},
		{"FewerThanKept", 5, 10, nil, -5},
		{"AllFinished", 100, 10, nil, 90},
		{"KeepNone", 100, 0, nil, 100},
		{"ActiveBelowWindow", 100, 10, []int64{3, 50, 90}, 90},
		{"ActiveInWindow", 100, 10, []int64{95, 99}, 88},
		{"ActiveRunIntoWindow", 100, 10, []int64{100, 91, 90, 89, 88, 40}, 85},
		{"ActiveUnsorted", 100, 2, []int64{97, 100, 99, 3}, 95},
		{"AllActive", 10, 3, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, -3},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, c.want, finishedBound(c.newest, c.keep, c.active))
		})
	}
}

// TestDB_PruneBatches prunes a log of 100,000 finished jobs down to 1,000
// (and its 100,000 events by ten batches), as after a restart with a
// lowered retention, while another caller enqueues: the prune commits in
// batches of at most pruneJobBatch jobs, each holding the writer briefly,
// stops between batches when its ctx ends, and the WAL stays bounded.
func TestDB_PruneBatches(t *testing.T) {
	t.Parallel()
	const total, keep = 100_000, 1000
	keepEvents := 100_000 - 10*pruneBatch
	start := time.Now()
	f := openFilled(t, scale{jobs: total, guests: 100})
	db := f.db
	t.Logf("filled in %v", time.Since(start))
	count := func(query string) int {
		var n int
		require.NoError(t, db.read.QueryRow(query).Scan(&n))
		return n
	}

	// Two job batches, then ctx ends: exactly 2 × pruneJobBatch jobs are gone.
	ctx, cancel := context.WithCancel(context.Background())
	commits := 0
	stop := func(time.Duration) {
		if commits++; commits == 3 { // expired keys (none), then two batches of jobs
			cancel()
		}
	}
	db.commits.onHold.Store(&stop)
	require.ErrorIs(t, db.Prune(ctx, keep, keep, t0), context.Canceled)
	require.Equal(t, total-2*pruneJobBatch, count(`SELECT COUNT(*) FROM jobs`))
	require.Equal(t, total, count(`SELECT COUNT(*) FROM events`))

	idle := enqueueWaits(t, db, 200, nil)
	var holds latencies
	record := func(d time.Duration) { holds.add(d) }
	db.commits.onHold.Store(&record)
	var walMax atomic.Int64
	pass := func(frames, _ int) { walMax.Store(max(walMax.Load(), int64(frames))) }
	db.ckpt.onPass.Store(&pass)
	done := make(chan struct{})
	waits := make(chan *latencies)
	go func() { waits <- enqueueWaits(t, db, -1, done) }()
	lastEvent := count(`SELECT MAX(id) FROM events`)
	start = time.Now()
	require.NoError(t, db.Prune(context.Background(), keep, keepEvents, t0))
	t.Logf("pruned in %v", time.Since(start))
	close(done)
	busy := <-waits
	db.commits.onHold.Store(nil)
	db.ckpt.onPass.Store(nil)
	n := busy.count()

	require.Equal(t, keep, count(`SELECT COUNT(*) FROM jobs WHERE finished_at IS NOT NULL`))
	require.Equal(t, total-keep+1, count(`SELECT MIN(seq) FROM jobs`), "the newest finished jobs stay")
	require.Equal(t, keep+n+idle.count(), count(`SELECT COUNT(*) FROM jobs`), "every enqueued job stays")
	first := count(`SELECT MIN(id) FROM events`) // enqueues add an event each
	require.True(t, first >= lastEvent-keepEvents+1 && first <= lastEvent+n-keepEvents+1,
		"first event %d after %d enqueues, newest before %d", first, n, lastEvent)

	batches := (total-keep)/pruneJobBatch + 10
	require.GreaterOrEqual(t, holds.count(), batches, "the prune commits in batches")
	t.Logf("writer holds while pruning: %d commits, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms",
		holds.count(), holds.quantile(0.5), holds.quantile(0.9), holds.quantile(0.99), holds.quantile(1))
	t.Logf("enqueue waits: idle p50 %.2f p99 %.2f max %.2f ms; while pruning (%d) p50 %.2f p99 %.2f max %.2f ms; WAL at most %d frames",
		idle.quantile(0.5), idle.quantile(0.99), idle.quantile(1),
		n, busy.quantile(0.5), busy.quantile(0.99), busy.quantile(1), walMax.Load())

	// The target: no write waits more than 5 ms on a prune. A write that
	// arrives during a prune batch joins its commit, so its wait is the
	// rest of that batch: the p99 of the writer holds is held to 5 ms
	// (measured here: p90 about 1.5 ms, p99 3.4 to 3.8 ms; batches of 256
	// jobs gave a p99 of 19 ms, and SQLite's own auto-checkpoint, inside
	// the commits, 20 to 50 ms). make test, like go test ./..., runs every
	// package at once on the machine's cores, and a commit that waits for
	// a CPU holds the writer meanwhile: there the p99 may reach 20 ms (5.3
	// ms seen without -race), but the p90, which such stalls rarely reach
	// and a long batch always does, must stay within 5 ms.
	// BenchmarkPruneStall measures the target itself, on a quiet machine.
	require.LessOrEqual(t, holds.quantile(0.9), 5.0, "p90 writer hold (ms) while pruning")
	require.LessOrEqual(t, holds.quantile(0.99), 20.0, "p99 writer hold (ms) while pruning")
	require.LessOrEqual(t, walMax.Load(), int64(2*walRestartFrames),
		"the WAL restarts once it is walRestartFrames long, under continuous writes too")
}

// enqueueWaits enqueues n jobs one after the other (until done is closed
// when n < 0), a millisecond apart (a steady caller, not one that keeps
// the writer busy), and returns each Enqueue's latency.
func enqueueWaits(t *testing.T, db *DB, n int, done <-chan struct{}) *latencies {
	l := &latencies{}
	for i := 0; n < 0 || i < n; i++ {
		select {
		case <-done:
			return l
		default:
		}
		start := time.Now()
		_, err := db.Enqueue(context.Background(), newJob("guest-00001", nil))
		l.add(time.Since(start))
		if err != nil {
			t.Error(err)
			return l
		}
		time.Sleep(time.Millisecond)
	}
	return l
}
