package hvagent_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
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
// rest.Client and the REST handler served as hvagentd serves it (a
// rest.SyncServer), in rounds that alternate with the same workload
// in-process: over a unix socket, the way hvctl reaches hvagentd by
// default, and over loopback TCP. ratio = REST jobs/s over the unix
// socket ÷ in-process jobs/s; tcp-ratio the same over TCP. Each side goes
// first in turn.
func BenchmarkJobPathREST(b *testing.B) {
	for _, callers := range benchCallers {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			env, guests := jobEnv(b, callers)
			sides := []*jobSide{
				{svc: serveREST(b, env.Agent, "unix")},
				{svc: serveREST(b, env.Agent, "tcp")},
				{svc: env.Agent},
			}
			for i := 0; b.Loop(); i++ {
				for k := range sides {
					sides[(i+k)%len(sides)].run(b, guests)
				}
			}
			unix, tcp, local := sides[0], sides[1], sides[2]
			jobs := float64(b.N * len(guests) * perCaller(callers))
			b.ReportMetric(jobs/unix.took.Seconds(), "rest-jobs/s")
			b.ReportMetric(jobs/tcp.took.Seconds(), "tcp-jobs/s")
			b.ReportMetric(jobs/local.took.Seconds(), "jobs/s")
			b.ReportMetric(float64(unix.cpu.Microseconds())/jobs, "rest-cpu-µs/job")
			b.ReportMetric(float64(local.cpu.Microseconds())/jobs, "cpu-µs/job")
			b.ReportMetric(local.took.Seconds()/unix.took.Seconds(), "ratio")
			b.ReportMetric(local.took.Seconds()/tcp.took.Seconds(), "tcp-ratio")
		})
	}
}

// jobSide is one side of BenchmarkJobPathREST: a Service and the time
// and process CPU its rounds took.
type jobSide struct {
	svc       hvagent.Service
	took, cpu time.Duration
}

func (s *jobSide) run(b *testing.B, guests []string) {
	c := benchkit.CPUTime(b)
	s.took += runJobs(b, s.svc, guests)
	s.cpu += benchkit.CPUTime(b) - c
}

// serveREST serves a's REST handler with a rest.SyncServer on a unix
// socket or a loopback TCP port, as hvagentd serves its listeners, and
// returns a client of it. Both are closed when the benchmark ends.
func serveREST(b *testing.B, a *hvagent.Agent, network string) *rest.Client {
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(b.TempDir(), "hvagent.sock")
	}
	ln, err := net.Listen(network, addr)
	require.NoError(b, err)
	srv := rest.NewSyncServer(&http.Server{Handler: rest.NewHandler(a, rest.HandlerOptions{}),
		ReadHeaderTimeout: 10 * time.Second})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(rest.Listener(ln)) }()
	url := "http://" + ln.Addr().String()
	if network == "unix" {
		url = "unix://" + addr
	}
	client := rest.NewClient(url)
	b.Cleanup(func() {
		client.CloseIdleConnections()
		require.NoError(b, srv.Close())
		require.ErrorIs(b, <-done, http.ErrServerClosed)
	})
	return client
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

// BenchmarkIdleAction measures one action at a time on an idle guest, as
// an operator runs them (hvctl guest start --wait): Do of a start, then
// WaitJob until it ended, in process, simulated driver without latency,
// durability full. Reported: action-ms, from Do to the job's end seen.
func BenchmarkIdleAction(b *testing.B) {
	env, guests := jobEnv(b, 1)
	ctx := context.Background()
	began := time.Now()
	for b.Loop() {
		require.NoError(b, queueAndWait(ctx, env.Agent, guests[0], 1))
	}
	b.ReportMetric(float64(time.Since(began).Microseconds())/1000/float64(b.N), "action-ms")
}
