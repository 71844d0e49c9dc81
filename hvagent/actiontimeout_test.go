package hvagent_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// TestAgent_ActionTimeoutDefaults checks the time a job's first stage is
// given: an image fetch runs as long as its data flows (no deadline unless
// its action sets a timeout), any other action within 10 minutes.
func TestAgent_ActionTimeoutDefaults(t *testing.T) {
	t.Parallel()
	fetch := hvagent.Request{Image: &hvagent.ImageRequest{ID: "debian-12", Source: "https://example.invalid/d.qcow2"}}
	containerFetch := hvagent.Request{Image: &hvagent.ImageRequest{ID: "nginx", Type: "container"}}
	for _, tc := range []struct {
		name, action string // action: the action configured
		req          hvagent.Request
		set          time.Duration // the action's timeout in the config, 0 for none
		want         time.Duration // the stage's Timeout, 0 for no deadline
	}{
		{"FetchImage", hvagent.ActionFetchImage, fetch, 0, 0},
		{"ContainerFetchImage", "containerFetchImage", containerFetch, 0, 0},
		{"FetchImageConfigured", hvagent.ActionFetchImage, fetch, 5 * time.Minute, 5 * time.Minute},
		{"Start", hvagent.ActionStart, hvagent.Request{}, 0, 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := sim.Config()
			act, ok := cfg.Actions[tc.action]
			require.True(t, ok, tc.action)
			act.Timeout = hvagent.Duration{Duration: tc.set}
			cfg.Actions[tc.action] = act
			env := agenttest.New(t, agenttest.Opts{Config: cfg})
			guest := ""
			if tc.action == hvagent.ActionStart {
				guest = env.Create(t, nil).ID
			}
			env.Sim.SetLatency(time.Minute)
			job := env.Do(t, tc.action, guest, tc.req).Job
			st := runningStage(t, env, job.ID)
			if tc.want == 0 {
				require.Zero(t, st.Timeout, "no deadline")
			} else {
				require.InDelta(t, tc.want, st.Timeout, float64(5*time.Second))
			}
			_, err := env.Agent.CancelJob(context.Background(), job.ID)
			require.NoError(t, err)
			require.Equal(t, hvagent.JobCanceled, env.Wait(t, job.ID).Status)
		})
	}
}

// runningStage waits for the stage of job to run and returns it.
func runningStage(t *testing.T, env *agenttest.Env, job string) hvagent.RunningStage {
	t.Helper()
	var st hvagent.RunningStage
	require.Eventually(t, func() bool {
		for _, s := range env.Agent.RunningStages() {
			if s.JobID == job {
				st = s
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond)
	return st
}
