package hvagent_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/internal/agenttest"
	"github.com/hvagent/hvagent/internal/benchkit"
)

// queueLatency is the simulated driver's latency in BenchmarkQueuedActions.
const queueLatency = 20 * time.Millisecond

// queueSize is BenchmarkQueuedActions' guests and jobs per guest: 100 and
// 100; HVAGENT_BENCH_SMALL (set by make test, which runs every benchmark
// once so that none rots) makes it 10 and 10.
func queueSize() (guests, perGuest int) {
	if os.Getenv("HVAGENT_BENCH_SMALL") != "" {
		return 10, 10
	}
	return 100, 100
}

// BenchmarkQueuedActions measures how close the agent comes to the
// concurrency limit of its queues: each of 100 guests has 100 single-stage
// start jobs queued (while the start queue is paused) against the
// simulated driver with 20 ms latency; then the queue is resumed. The
// guests' queues run side by side, each one job at a time, so the limit is
// 100 × 20 ms for all 10,000 jobs; ratio = that limit / the time from the
// resume to the last job's end (1 would be no overhead at all). In-process,
// durability full. It also reports the process's CPU per job during the
// drain (cpu-ms/job).
func BenchmarkQueuedActions(b *testing.B) {
	nGuests, perGuest := queueSize()
	cfg := sim.Config()
	cfg.MaxLoggedJobs = 1_000_000 // no job is pruned before it is waited for
	env := agenttest.New(b, agenttest.Opts{Sim: sim.Options{Latency: queueLatency}, Config: cfg})
	guests := make([]string, nGuests)
	var wg sync.WaitGroup
	for i := range guests {
		wg.Go(func() { guests[i] = env.Create(b, nil).ID })
	}
	wg.Wait()
	ctx := context.Background()
	var drain, enqueue, cpu time.Duration
	for b.Loop() {
		require.NoError(b, env.Agent.PauseQueue(ctx, hvagent.ActionStart))
		began := time.Now()
		ids := queueStarts(b, env.Agent, guests, perGuest)
		enqueue += time.Since(began)
		resumed, c := time.Now(), benchkit.CPUTime(b)
		require.NoError(b, env.Agent.ResumeQueue(ctx, hvagent.ActionStart))
		waitQueues(b, env.Agent, ids)
		cpu += benchkit.CPUTime(b) - c
		drain += lastFinish(b, env.Agent, ids).Sub(resumed)
	}
	limit := time.Duration(b.N*perGuest) * queueLatency
	jobs := float64(b.N * nGuests * perGuest)
	b.ReportMetric(limit.Seconds()/drain.Seconds(), "ratio")
	b.ReportMetric(jobs/drain.Seconds(), "jobs/s")
	b.ReportMetric(jobs/limit.Seconds(), "limit-jobs/s")
	b.ReportMetric(jobs/enqueue.Seconds(), "enqueue-jobs/s")
	// The process's CPU (user and system) per job while it drains, waits
	// included: on 2 CPUs the limit's 5000 jobs/s leave 0.4 ms per job.
	b.ReportMetric(float64(cpu.Microseconds())/1000/jobs, "cpu-ms/job")
}

// queueStarts queues perGuest start jobs on each guest, one client per
// guest, and returns the jobs' IDs, each guest's in the order queued.
func queueStarts(b *testing.B, a *hvagent.Agent, guests []string, perGuest int) [][]string {
	ids := make([][]string, len(guests))
	errs := make([]error, len(guests))
	var wg sync.WaitGroup
	for i, g := range guests {
		wg.Go(func() {
			for range perGuest {
				res, err := a.Do(context.Background(), hvagent.ActionStart, g, hvagent.Request{})
				if err != nil {
					errs[i] = err
					return
				}
				ids[i] = append(ids[i], res.Job.ID)
			}
		})
	}
	wg.Wait()
	for i := range guests {
		require.NoError(b, errs[i])
	}
	return ids
}

// waitQueues waits for the last job of each guest's queue to end: a queue
// runs its jobs one at a time in order, so then all have ended. One wait a
// queue, not one a job, so that the harness takes little of the CPU the
// drain it measures runs on.
func waitQueues(b *testing.B, a *hvagent.Agent, ids [][]string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, q := range ids {
		_, err := a.WaitJob(ctx, q[len(q)-1])
		require.NoError(b, err)
	}
}

// lastFinish checks that every job of ids completed and returns the latest
// FinishedAt.
func lastFinish(b *testing.B, a *hvagent.Agent, ids [][]string) time.Time {
	ctx := context.Background()
	var last time.Time
	for _, q := range ids {
		for _, id := range q {
			j, err := a.Job(ctx, id)
			require.NoError(b, err)
			require.Equal(b, hvagent.JobComplete, j.Status, j.Message)
			if j.FinishedAt.After(last) {
				last = j.FinishedAt
			}
		}
	}
	return last
}
