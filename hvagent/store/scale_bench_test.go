package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// latencies collects durations and reports their quantiles in ms.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// count returns how many durations were added.
func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

// quantile returns the q quantile (0..1) in milliseconds, 0 when empty.
func (l *latencies) quantile(q float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	slices.Sort(l.d)
	i := min(int(q*float64(len(l.d))), len(l.d)-1)
	return float64(l.d[i].Microseconds()) / 1000
}

// BenchmarkScaleQueries measures the API's read queries on a store of
// 100,000 finished jobs and 10,000 guests against the same query on a
// store a tenth that size, in alternating calls: ratio = p50(full) /
// p50(reference), 1 when the query's cost does not grow with the log.
func BenchmarkScaleQueries(b *testing.B) {
	fullScale, refScale := benchScales()
	full, ref := openFilled(b, fullScale), openFilled(b, refScale)
	ctx := context.Background()
	queries := []struct {
		name string
		run  func(f *filled) (int, error)
	}{
		{"JobsGuest", func(f *filled) (int, error) {
			jobs, err := f.db.Jobs(ctx, hvagent.JobFilter{GuestID: "guest-00042"})
			return len(jobs), err
		}},
		{"JobsGuestName", func(f *filled) (int, error) {
			jobs, err := f.db.Jobs(ctx, hvagent.JobFilter{GuestName: "name-00042"})
			return len(jobs), err
		}},
		{"JobsAction", func(f *filled) (int, error) {
			jobs, err := f.db.Jobs(ctx, hvagent.JobFilter{Action: "reboot", Limit: 100})
			return len(jobs), err
		}},
		{"JobsActionNoMatch", func(f *filled) (int, error) {
			jobs, err := f.db.Jobs(ctx, hvagent.JobFilter{Action: "migrate"})
			return len(jobs), err
		}},
		{"Job", func(f *filled) (int, error) {
			_, err := f.db.Job(ctx, f.midID)
			return 1, err
		}},
		{"Guests1000", func(f *filled) (int, error) {
			guests, err := f.db.Guests(ctx, hvagent.GuestFilter{Limit: 1000})
			return len(guests), err
		}},
	}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			var lf, lr latencies
			for b.Loop() {
				for _, s := range []struct {
					f *filled
					l *latencies
				}{{full, &lf}, {ref, &lr}} {
					start := time.Now()
					_, err := q.run(s.f)
					s.l.add(time.Since(start))
					require.NoError(b, err)
				}
			}
			b.ReportMetric(lf.quantile(0.5), "p50-ms")
			b.ReportMetric(lf.quantile(0.99), "p99-ms")
			b.ReportMetric(lr.quantile(0.5), "ref-p50-ms")
			if p := lr.quantile(0.5); p > 0 {
				b.ReportMetric(lf.quantile(0.5)/p, "ratio")
			}
		})
	}
}

// BenchmarkPruneStall measures how long a prune holds the writer (every
// commit while Prune runs, BEGIN to the end of COMMIT) and how long an
// Enqueue issued meanwhile waits, on a log of 100,000 finished jobs and
// events. Periodic: each round adds 100 finished jobs, then prunes back
// to 100,000. Lowered: the retention falls to 1,000 (a restart with a
// lower max_logged_jobs). The reference is Enqueue with no prune, in the
// same round: added-ms = p99 wait while pruning − p99 wait idle (the
// maxima are reported too; on a shared machine they measure its load).
func BenchmarkPruneStall(b *testing.B) {
	full, _ := benchScales()
	b.Run("Periodic", func(b *testing.B) {
		f := openFilled(b, full)
		var hold, wait, idle latencies
		for b.Loop() {
			err := f.db.commits.do(context.Background(), func(_ context.Context, tx querier) error {
				return fillJobs(context.Background(), tx, 100, full.guests)
			})
			require.NoError(b, err)
			pruneRound(b, f.db, full.jobs, full.jobs, &hold, &wait, &idle)
		}
		reportPrune(b, &hold, &wait, &idle)
	})
	b.Run("Lowered", func(b *testing.B) {
		var hold, wait, idle latencies
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			f := openFilled(b, full)
			b.StartTimer()
			pruneRound(b, f.db, 1000, 1000, &hold, &wait, &idle)
		}
		reportPrune(b, &hold, &wait, &idle)
	})
}

// pruneRound runs 100 Enqueues with no prune, then Prune(maxJobs,
// maxEvents) with one caller enqueueing meanwhile, recording the writer
// holds of the prune's commits and both sets of Enqueue waits.
func pruneRound(b *testing.B, db *DB, maxJobs, maxEvents int, hold, wait, idle *latencies) {
	ctx := context.Background()
	for range 100 {
		start := time.Now()
		_, err := db.Enqueue(ctx, newJob(fmt.Sprintf("guest-%05d", 1), nil))
		idle.add(time.Since(start))
		require.NoError(b, err)
	}
	var round latencies
	f := func(d time.Duration) { round.add(d) }
	db.commits.onHold.Store(&f)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			start := time.Now()
			_, err := db.Enqueue(ctx, newJob(fmt.Sprintf("guest-%05d", 2), nil))
			wait.add(time.Since(start))
			if err != nil {
				b.Error(err)
				return
			}
		}
	}()
	err := db.Prune(ctx, maxJobs, maxEvents, t0)
	close(done)
	wg.Wait()
	db.commits.onHold.Store(nil)
	require.NoError(b, err)
	round.mu.Lock()
	for _, d := range round.d {
		hold.add(d)
	}
	round.mu.Unlock()
}

// reportPrune reports the writer holds and Enqueue waits of pruneRound.
func reportPrune(b *testing.B, hold, wait, idle *latencies) {
	b.ReportMetric(hold.quantile(0.5), "hold-p50-ms")
	b.ReportMetric(hold.quantile(0.99), "hold-p99-ms")
	b.ReportMetric(hold.quantile(1), "hold-max-ms")
	b.ReportMetric(wait.quantile(0.5), "p50-ms")
	b.ReportMetric(wait.quantile(0.99), "p99-ms")
	b.ReportMetric(wait.quantile(1), "wait-max-ms")
	b.ReportMetric(idle.quantile(0.99), "ref-p99-ms")
	b.ReportMetric(idle.quantile(1), "ref-wait-max-ms")
	b.ReportMetric(wait.quantile(0.99)-idle.quantile(0.99), "added-ms")
}
