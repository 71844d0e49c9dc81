package hvagent_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/store"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// TestAgent_WaitJobEndedContext: a wait whose context has already ended
// still reads the job: a final job is returned without error, a live one
// as it is, with the context's error.
func TestAgent_WaitJobEndedContext(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	g := env.Create(t, nil)
	done := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job
	require.Equal(t, hvagent.JobComplete, env.Wait(t, done.ID).Status)
	require.NoError(t, env.Agent.PauseQueue(t.Context(), hvagent.ActionShutdown))
	queued := env.Do(t, hvagent.ActionShutdown, g.ID, hvagent.Request{}).Job

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	job, err := env.Agent.WaitJob(ctx, done.ID)
	require.NoError(t, err, "a final job is final whatever the context")
	require.Equal(t, hvagent.JobComplete, job.Status)

	job, err = env.Agent.WaitJob(ctx, queued.ID)
	require.Equal(t, hvagent.ECANCELED, hvagent.ErrorCode(err))
	require.NotNil(t, job, "the job as it is when the wait ends")
	require.Equal(t, hvagent.JobQueued, job.Status)

	_, err = env.Agent.WaitJob(ctx, "00000000-0000-0000-0000-000000000000")
	require.Equal(t, hvagent.ENOTFOUND, hvagent.ErrorCode(err))
}

// BenchmarkWaitJobFinished measures Agent.WaitJob of a finished job on a
// context that never ends and on one that can (a REST request's always
// can): the point read of the job costs the same on both.
func BenchmarkWaitJobFinished(b *testing.B) {
	env := agenttest.New(b, agenttest.Opts{})
	g := env.Create(b, nil)
	id := env.Do(b, hvagent.ActionStart, g.ID, hvagent.Request{}).Job.ID
	require.Equal(b, hvagent.JobComplete, env.Wait(b, id).Status)
	cancellable, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"background", context.Background()}, {"cancellable", cancellable}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if j, err := env.Agent.WaitJob(c.ctx, id); err != nil || j.Status != hvagent.JobComplete {
					b.Fatalf("job %v, error %v", j, err)
				}
			}
		})
	}
}

// TestAgent_CancelOfJustClaimedJob: a cancel of a job claimed but not yet
// registered by its worker is kept for the worker even when the caller
// stops waiting for its end first (a client timeout, a dropped
// connection): the job ends Canceled, not Complete.
func TestAgent_CancelOfJustClaimedJob(t *testing.T) {
	t.Parallel()
	var armed atomic.Bool
	claimed := make(chan string, 1)
	env := agenttest.New(t, agenttest.Opts{WrapStore: func(db *store.DB) hvagent.Store {
		return &agenttest.Store{Store: db, ClaimFunc: func(ctx context.Context, q string, at time.Time, o hvagent.ClaimOptions) (*hvagent.Claim, error) {
			c, err := db.Claim(ctx, q, at, o)
			if c != nil && armed.CompareAndSwap(true, false) {
				claimed <- c.Job.ID
				time.Sleep(300 * time.Millisecond) // the worker is slow to run what it claimed
			}
			return c, err
		}}
	}})
	g := env.Create(t, nil)
	armed.Store(true)
	start := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job
	require.Equal(t, start.ID, <-claimed)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := env.Agent.CancelJob(ctx, start.ID)
	require.Error(t, err, "the caller gave up waiting for the end")
	j := env.Wait(t, start.ID)
	require.Equal(t, hvagent.JobCanceled, j.Status, "the accepted cancel was lost: %s", j.Message)
}
