package rest_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/benchkit"
)

// benchService answers the calls of the job path at once, with a guest and
// a job shaped like the agent's, so that a benchmark through it measures
// the REST client and handler alone. Other methods panic (nil embedded
// Service).
type benchService struct {
	hvagent.Service
	guest *hvagent.Guest
	job   *hvagent.Job // as queued
	done  *hvagent.Job // as finished
}

func newBenchService() *benchService {
	now := time.Now().UTC()
	g := &hvagent.Guest{ID: "0b0e7c1c-4a38-4c1e-9d53-5a4f7d1e2b3c", Name: "web1", State: "running",
		Memory: 256, CPU: 1, Disks: []hvagent.Disk{{Size: 1024}}}
	result, _ := json.Marshal(g)
	job := &hvagent.Job{ID: "5e2f6d7a-8b9c-4d0e-a1f2-3b4c5d6e7f80", GuestID: g.ID, GuestName: g.Name,
		Action: hvagent.ActionStart, QueuedAt: now, UpdatedAt: now, Status: hvagent.JobQueued, RequestedBy: "local"}
	done := *job
	done.Status, done.Stage, done.StartedAt, done.StageStartedAt = hvagent.JobComplete, "start", now, now
	done.FinishedAt, done.Attempt, done.Result = now, 1, result
	return &benchService{guest: g, job: job, done: &done}
}

func (s *benchService) Do(_ context.Context, action, _ string, _ hvagent.Request) (*hvagent.Result, error) {
	if kind, _ := hvagent.KindOf(action); kind == hvagent.Info {
		return &hvagent.Result{Body: json.RawMessage(`{"cpus":[{"time":1234567890}]}`)}, nil
	}
	g, j := *s.guest, *s.job
	return &hvagent.Result{Guest: &g, Job: &j}, nil
}

func (s *benchService) Job(context.Context, string) (*hvagent.Job, error) {
	j := *s.job
	return &j, nil
}

func (s *benchService) WaitJob(context.Context, string) (*hvagent.Job, error) {
	j := *s.done
	return &j, nil
}

// BenchmarkClientHandler measures what the REST wire costs per call of the
// job path — rest.Client to the handler over loopback TCP, keep-alive, a
// service that answers at once: "do" is Client.Do of a guest action
// (what a caller of the job path queues), "wait" is Client.WaitJob of a
// finished job, "info" an info action (a guest's CPU metrics: what
// BenchmarkInfoAction of hvagentd adds to a sub-agent call, less the
// agent's part). Time and allocations per op are both sides' together (one
// process); cpu-µs/op is the process's CPU time per op.
func BenchmarkClientHandler(b *testing.B) {
	svc := newBenchService()
	srv := httptest.NewServer(rest.NewHandler(svc, rest.HandlerOptions{}))
	b.Cleanup(srv.Close)
	client := rest.NewClient(srv.URL)
	b.Cleanup(client.CloseIdleConnections)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		call func() error
	}{
		{"do", func() error {
			res, err := client.Do(ctx, hvagent.ActionStart, svc.guest.ID, hvagent.Request{})
			if err == nil && (res.Job == nil || res.Job.ID != svc.job.ID) {
				b.Fatalf("Do: job %+v", res.Job)
			}
			return err
		}},
		{"info", func() error {
			res, err := client.Do(ctx, hvagent.ActionCPUMetrics, svc.guest.ID, hvagent.Request{})
			if err == nil && len(res.Body) == 0 {
				b.Fatal("Do: no body")
			}
			return err
		}},
		{"wait", func() error {
			j, err := client.WaitJob(ctx, svc.job.ID)
			if err == nil && j.Status != hvagent.JobComplete {
				b.Fatalf("WaitJob: status %s", j.Status)
			}
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			require.NoError(b, bc.call()) // the connection is open
			c0 := benchkit.CPUTime(b)
			for b.Loop() {
				if err := bc.call(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((benchkit.CPUTime(b)-c0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
