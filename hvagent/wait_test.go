package hvagent_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
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
