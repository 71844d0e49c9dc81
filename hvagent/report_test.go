package hvagent_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/agenttest"
)

func TestAgent_ReportGuestState(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	g := env.Create(t, nil)
	page, err := env.Agent.Events(t.Context(), hvagent.EventQuery{After: -1})
	require.NoError(t, err)

	require.NoError(t, env.Agent.ReportGuestState(t.Context(), g.ID, "crashed", "qemu exited"))
	got, err := env.Agent.Guest(t.Context(), g.ID)
	require.NoError(t, err)
	require.Equal(t, "crashed", got.State)
	next, err := env.Agent.Events(t.Context(), hvagent.EventQuery{After: page.Cursor, Wait: 5 * time.Second})
	require.NoError(t, err)
	require.Len(t, next.Events, 1)
	require.Equal(t, hvagent.EventGuestUpdated, next.Events[0].Type)
	require.Equal(t, "crashed", next.Events[0].Guest.State)

	err = env.Agent.ReportGuestState(t.Context(), "00000000-0000-0000-0000-000000000000", "crashed", "")
	require.Equal(t, hvagent.ENOTFOUND, hvagent.ErrorCode(err))
}

func TestAgent_ReportProgress(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	g := env.Create(t, nil)
	env.Sim.SetLatency(time.Minute)
	res := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{})
	require.Eventually(t, func() bool {
		j, err := env.Agent.Job(t.Context(), res.Job.ID)
		return err == nil && j.Status == hvagent.JobRunning
	}, 10*time.Second, 5*time.Millisecond)

	require.NoError(t, env.Agent.ReportProgress(t.Context(), res.Job.ID, 512, 2048))
	j, err := env.Agent.Job(t.Context(), res.Job.ID)
	require.NoError(t, err)
	require.Equal(t, &hvagent.Progress{Done: 512, Total: 2048}, j.Progress)

	created, err := env.Agent.Jobs(t.Context(), hvagent.JobFilter{GuestID: g.ID, Action: hvagent.ActionCreate})
	require.NoError(t, err)
	err = env.Agent.ReportProgress(t.Context(), created[0].ID, 1, 2)
	require.Equal(t, hvagent.ECONFLICT, hvagent.ErrorCode(err), "a finished job takes no progress")
	_, err = env.Agent.CancelJob(t.Context(), res.Job.ID)
	require.NoError(t, err)
}
