package hvagent_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// TestAgent_JobErrorCode runs jobs that fail when they run and checks the
// error code word each records, with its message unchanged.
func TestAgent_JobErrorCode(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	g := env.Create(t, nil) // shut off
	run := func(action string, req hvagent.Request) *hvagent.Job {
		t.Helper()
		return env.Wait(t, env.Do(t, action, g.ID, req).Job.ID)
	}

	t.Run("WrongStateIsConflict", func(t *testing.T) {
		j := run(hvagent.ActionReboot, hvagent.Request{})
		require.Equal(t, hvagent.JobError, j.Status)
		require.Equal(t, hvagent.ECONFLICT, j.Error)
		require.Contains(t, j.Message, "is not running (state shutoff)")
	})

	t.Run("MissingSnapshotIsNotFound", func(t *testing.T) {
		j := run(hvagent.ActionDeleteSnapshot, hvagent.Request{Snapshot: "nope"})
		require.Equal(t, hvagent.JobError, j.Status)
		require.Equal(t, hvagent.ENOTFOUND, j.Error)
		require.Contains(t, j.Message, "not found")
	})

	t.Run("DuplicateSnapshotIsConflict", func(t *testing.T) {
		require.Equal(t, hvagent.JobComplete, run(hvagent.ActionCreateSnapshot, hvagent.Request{Snapshot: "s1"}).Status)
		j := run(hvagent.ActionCreateSnapshot, hvagent.Request{Snapshot: "s1"})
		require.Equal(t, hvagent.JobError, j.Status)
		require.Equal(t, hvagent.ECONFLICT, j.Error)
		require.Contains(t, j.Message, "already exists")
	})

	t.Run("PlainFailureIsSubagent", func(t *testing.T) {
		env.Sim.FailNext("Sim.Start", "libvirt is down")
		j := run(hvagent.ActionStart, hvagent.Request{})
		require.Equal(t, hvagent.JobError, j.Status)
		require.Equal(t, hvagent.ESUBAGENT, j.Error)
		require.Contains(t, j.Message, "libvirt is down")
	})

	t.Run("CompleteHasNone", func(t *testing.T) {
		j := run(hvagent.ActionStart, hvagent.Request{})
		require.Equal(t, hvagent.JobComplete, j.Status)
		require.Empty(t, j.Error)
		data, err := json.Marshal(j)
		require.NoError(t, err)
		require.NotContains(t, string(data), `"Error"`, "omitted from a job that did not fail")
	})

	t.Run("CanceledJSON", func(t *testing.T) {
		env.Sim.SetLatency(10 * time.Second)
		defer env.Sim.SetLatency(0)
		res := env.Do(t, hvagent.ActionShutdown, g.ID, hvagent.Request{})
		waitStatus(t, env, res.Job.ID, hvagent.JobRunning)
		j, err := env.Agent.CancelJob(context.Background(), res.Job.ID)
		require.NoError(t, err)
		require.Equal(t, hvagent.ECANCELED, j.Error)
		data, err := json.Marshal(j)
		require.NoError(t, err)
		require.Contains(t, string(data), `"Error":"canceled"`)
	})
}

func TestAgent_JobErrorCode_Timeout(t *testing.T) {
	t.Parallel()
	cfg := sim.Config()
	act := cfg.Actions[hvagent.ActionStart]
	act.Timeout = hvagent.Duration{Duration: 500 * time.Millisecond}
	cfg.Actions[hvagent.ActionStart] = act
	env := agenttest.New(t, agenttest.Opts{Config: cfg})
	g := env.Create(t, nil)
	env.Sim.SetLatency(10 * time.Second)
	j := env.Wait(t, env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job.ID)
	require.Equal(t, hvagent.JobError, j.Status)
	require.Equal(t, hvagent.ETIMEOUT, j.Error)
	require.Equal(t, "stage 1/1 Sim.Start (sim) did not finish within the action's timeout (500ms)", j.Message)
}
