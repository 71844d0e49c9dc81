package hvagent_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/agenttest"
)

func TestAgent_Collector(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(env.Agent.Collector()))
	g := env.Create(t, nil)
	env.Sim.SetLatency(time.Second)
	start := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{})
	env.Do(t, hvagent.ActionReboot, g.ID, hvagent.Request{})
	waitStatus(t, env, start.Job.ID, hvagent.JobRunning)

	want := `
# HELP hvagent_jobs_finished_total Jobs that reached a final status since start, by action and status.
# TYPE hvagent_jobs_finished_total counter
hvagent_jobs_finished_total{action="create",status="Complete"} 1
# HELP hvagent_queue_depth Queued jobs per queue (guest ID or image key).
# TYPE hvagent_queue_depth gauge
hvagent_queue_depth{queue="` + g.ID + `"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "hvagent_jobs_finished_total", "hvagent_queue_depth"))
	n, err := testutil.GatherAndCount(reg, "hvagent_stage_duration_seconds")
	require.NoError(t, err)
	require.Equal(t, 1, n)
}
