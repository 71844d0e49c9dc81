package hvagent_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/hvagent/store"
	"github.com/hvagent/hvagent/internal/agenttest"
	"github.com/hvagent/hvagent/internal/benchkit"
)

// txPerJob is what one single-stage job commits on its way from enqueue to
// Complete: Enqueue, Claim (which records the stage label), Finish.
const txPerJob = 3

// roundJobs is about how many jobs one benchmark round runs on each side
// (fewer with -short): each caller queues roundJobs/callers of them, at
// least 2.
const roundJobs = 256

// benchCallers are the caller counts of the job path benchmarks.
var benchCallers = []int{8, 64}

// perCaller is how many jobs each of callers queues in a round.
func perCaller(callers int) int {
	if testing.Short() {
		return 2
	}
	return max(2, roundJobs/callers)
}

// BenchmarkJobPath compares, side by side in alternating rounds so that
// both see the same machine load, the agent's durable enqueue → Complete
// path (in-process, simulated driver without latency, one stage; each
// caller drives its own guest, queueing its jobs one request at a time and
// then waiting for them) with serial one-row commits of the same
// txPerJob transactions per job on the store's own DSN. ratio = jobs/s ÷
// raw-jobs/s: above 1 the agent's group commit makes its callers more
// durable jobs per second than one commit per transaction could.
func BenchmarkJobPath(b *testing.B) {
	for _, callers := range benchCallers {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			env, guests := jobEnv(b, callers)
			raw := benchkit.RawPool(b, func(path string) (string, error) { return store.WriterDSN(path, "full") })
			var tJobs, tRaw time.Duration
			for b.Loop() {
				tJobs += runJobs(b, env.Agent, guests)
				tRaw += benchkit.RawCommits(b, raw, len(guests)*perCaller(callers)*txPerJob)
			}
			jobs := float64(b.N * len(guests) * perCaller(callers))
			b.ReportMetric(jobs/tJobs.Seconds(), "jobs/s")
			b.ReportMetric(jobs/tRaw.Seconds(), "raw-jobs/s")
			b.ReportMetric(tRaw.Seconds()/tJobs.Seconds(), "ratio")
		})
	}
}

// BenchmarkJobPathREST runs the workload of BenchmarkJobPath through
// rest.Client and the REST handler over loopback TCP, alternating rounds
// with the same workload in-process. ratio = REST jobs/s ÷ in-process
// jobs/s.
func BenchmarkJobPathREST(b *testing.B) {
	for _, callers := range benchCallers {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			env, guests := jobEnv(b, callers)
			srv := httptest.NewServer(rest.NewHandler(env.Agent, rest.HandlerOptions{}))
			b.Cleanup(srv.Close)
			client := rest.NewClient(srv.URL)
			b.Cleanup(client.CloseIdleConnections)
			var tREST, tLocal, cREST, cLocal time.Duration
			rest := func() {
				c := benchkit.CPUTime(b)
				tREST += runJobs(b, client, guests)
				cREST += benchkit.CPUTime(b) - c
			}
			for i := 0; b.Loop(); i++ { // each side goes first every other round
				if i%2 == 0 {
					rest()
				}
				c := benchkit.CPUTime(b)
				tLocal += runJobs(b, env.Agent, guests)
				cLocal += benchkit.CPUTime(b) - c
				if i%2 == 1 {
					rest()
				}
			}
			jobs := float64(b.N * len(guests) * perCaller(callers))
			b.ReportMetric(jobs/tREST.Seconds(), "rest-jobs/s")
			b.ReportMetric(jobs/tLocal.Seconds(), "jobs/s")
			b.ReportMetric(float64(cREST.Microseconds())/jobs, "rest-cpu-µs/job")
			b.ReportMetric(float64(cLocal.Microseconds())/jobs, "cpu-µs/job")
			b.ReportMetric(tLocal.Seconds()/tREST.Seconds(), "ratio")
		})
	}
}

// jobEnv starts an agent with callers guests, created concurrently.
func jobEnv(b *testing.B, callers int) (*agenttest.Env, []string) {
	env := agenttest.New(b, agenttest.Opts{})
	guests := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range guests {
		wg.Go(func() { guests[i], errs[i] = createGuest(env.Agent) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(b, err)
	}
	return env, guests
}

// createGuest creates a guest and waits until its create job completed.
func createGuest(a *hvagent.Agent) (string, error) {
	ctx := context.Background()
	g := &hvagent.Guest{Memory: 256, CPU: 1, Disks: []hvagent.Disk{{Size: 1024}}}
	res, err := a.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: g})
	if err != nil {
		return "", err
	}
	j, err := a.WaitJob(ctx, res.Job.ID)
	if err != nil {
		return "", err
	}
	if j.Status != hvagent.JobComplete {
		return "", fmt.Errorf("create job %s: %s %s", j.ID, j.Status, j.Message)
	}
	return res.Guest.ID, nil
}

// runJobs runs perCaller start jobs on each guest, one caller per guest,
// and returns how long they took.
func runJobs(b *testing.B, svc hvagent.Service, guests []string) time.Duration {
	ctx := context.Background()
	began := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(guests))
	for _, g := range guests {
		wg.Go(func() { errs <- queueAndWait(ctx, svc, g, perCaller(len(guests))) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(b, err)
	}
	return time.Since(began)
}

// queueAndWait queues n start jobs on guest and waits until each completed.
func queueAndWait(ctx context.Context, svc hvagent.Service, guest string, n int) error {
	ids := make([]string, 0, n)
	for range n {
		res, err := svc.Do(ctx, hvagent.ActionStart, guest, hvagent.Request{})
		if err != nil {
			return err
		}
		ids = append(ids, res.Job.ID)
	}
	for _, id := range ids {
		j, err := svc.WaitJob(ctx, id)
		if err != nil {
			return err
		}
		if j.Status != hvagent.JobComplete {
			return fmt.Errorf("job %s: %s %s", id, j.Status, j.Message)
		}
	}
	return nil
}
