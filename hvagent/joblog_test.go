package hvagent_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/agenttest"
	"github.com/hvagent/hvagent/internal/testio"
)

// TestAgent_JobEndsAreLogged checks the log lines of the job ends that no
// pipeline's end records: a job canceled while queued and one a guest's
// deletion canceled ("job canceled", info), and jobs Stop's deadline
// interrupted: a start, requeued ("job requeued", info), and a create,
// failed ("job failed", warn, code unavailable).
func TestAgent_JobEndsAreLogged(t *testing.T) {
	t.Parallel()
	buf := &testio.Buffer{}
	logger := zerolog.New(buf).Level(zerolog.InfoLevel)
	env := agenttest.New(t, agenttest.Opts{Logger: &logger})
	ctx := context.Background()
	g, doomed := env.Create(t, nil), env.Create(t, nil)
	env.Sim.SetLatency(2 * time.Second) // the shutdown is still queued when it is canceled

	first := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job
	queued := env.Do(t, hvagent.ActionShutdown, g.ID, hvagent.Request{}).Job
	_, err := env.Agent.CancelJob(ctx, queued.ID)
	require.NoError(t, err)
	del := env.Do(t, hvagent.ActionDelete, doomed.ID, hvagent.Request{}).Job
	behind := env.Do(t, hvagent.ActionStart, doomed.ID, hvagent.Request{}).Job
	require.Equal(t, hvagent.JobComplete, env.Wait(t, del.ID).Status)
	require.Equal(t, hvagent.JobCanceled, env.Wait(t, behind.ID).Status)
	env.Wait(t, first.ID)

	env.Sim.SetLatency(10 * time.Second)
	start := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job
	create := env.Do(t, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 128}}).Job
	for _, id := range []string{start.ID, create.ID} {
		runningStage(t, env, id) // in flight: Stop's deadline interrupts it
	}
	stopCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	require.NoError(t, env.Agent.Stop(stopCtx))

	lines := testio.JSONLines(t, buf.String())
	for _, want := range []map[string]any{
		{"job_id": queued.ID, "action": "shutdown", "guest_id": g.ID, "level": "info", "message": "job canceled",
			"code": "canceled", "error": "canceled"},
		{"job_id": behind.ID, "guest_id": doomed.ID, "level": "info", "message": "job canceled",
			"code": "canceled", "error": "guest deleted"},
		{"job_id": start.ID, "action": "start", "guest_id": g.ID, "level": "info", "message": "job requeued",
			"reason": "interrupted by agent shutdown"},
		{"job_id": create.ID, "action": "create", "level": "warn", "message": hvagent.LogJobFailed,
			"code": "unavailable", "error": "interrupted by agent shutdown"},
	} {
		require.True(t, slices.ContainsFunc(lines, func(l map[string]any) bool { return hasFields(l, want) }),
			"no line with %v in:\n%s", want, buf.String())
	}
}

// hasFields reports whether line has every field of want, with its value.
func hasFields(line, want map[string]any) bool {
	for k, v := range want {
		if line[k] != v {
			return false
		}
	}
	return true
}
