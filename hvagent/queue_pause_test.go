package hvagent_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/host"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// TestAgent_PauseSurvivesRestart: an operator who paused a queue for
// maintenance finds it paused after the agent restarts; the job queued
// behind the pause stays queued until the resume.
func TestAgent_PauseSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	d := sim.New(sim.Options{})
	h := openSimHost(t, dir, d)
	g, err := h.Agent.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 128}})
	require.NoError(t, err)
	_, err = h.Agent.WaitJob(ctx, g.Job.ID)
	require.NoError(t, err)
	require.NoError(t, h.Agent.PauseQueue(ctx, hvagent.ActionStart))
	start, err := h.Agent.Do(ctx, hvagent.ActionStart, g.Guest.ID, hvagent.Request{})
	require.NoError(t, err)
	require.NoError(t, h.Close(ctx))

	h = openSimHost(t, dir, d)
	t.Cleanup(func() { require.NoError(t, h.Close(ctx)) })
	health, err := h.Agent.Health(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{hvagent.ActionStart}, health.Paused, "the pause outlived the agent")
	time.Sleep(100 * time.Millisecond)
	j, err := h.Agent.Job(ctx, start.Job.ID)
	require.NoError(t, err)
	require.Equal(t, hvagent.JobQueued, j.Status, "the paused job stays queued after the restart")

	require.NoError(t, h.Agent.ResumeQueue(ctx, hvagent.ActionStart))
	j, err = h.Agent.WaitJob(ctx, start.Job.ID)
	require.NoError(t, err)
	require.Equal(t, hvagent.JobComplete, j.Status)
	health, err = h.Agent.Health(ctx)
	require.NoError(t, err)
	require.Empty(t, health.Paused)
}

// TestAgent_ResumeOneWhileAllPaused: resuming one action while every
// action is paused is refused, naming what to do, rather than doing
// nothing.
func TestAgent_ResumeOneWhileAllPaused(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	require.NoError(t, env.Agent.PauseQueue(ctx, ""))
	err := env.Agent.ResumeQueue(ctx, hvagent.ActionStart)
	require.Equal(t, hvagent.ECONFLICT, hvagent.ErrorCode(err), "%v", err)
	require.ErrorContains(t, err, "every action is paused")
	h, err := env.Agent.Health(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"*"}, h.Paused)
	require.NoError(t, env.Agent.ResumeQueue(ctx, ""))
}

// openSimHost opens and starts an agent on dir driven by d, as hvagentd
// assembles its own.
func openSimHost(t *testing.T, dir string, d *sim.Driver) *host.Host {
	t.Helper()
	cfg := sim.Config()
	cfg.DataDir, cfg.Host, cfg.Logger = dir, agenttest.TestHost, agenttest.Logger(t)
	h, err := host.Open(t.Context(), host.Options{Config: cfg, Builtins: map[string]http.Handler{"sim": d.Handler()}})
	require.NoError(t, err)
	require.NoError(t, h.Start(context.Background()))
	return h
}
