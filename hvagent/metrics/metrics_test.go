package metrics_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/metrics"
	"github.com/hvagent/hvagent/internal/agenttest"
)

func TestMetrics_Collector(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	cfg := sim.Config()
	cfg.Observer = m
	env := agenttest.New(t, agenttest.Opts{Config: cfg})
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m.Collector(env.Agent)))
	g := env.Create(t, nil)
	env.Sim.SetLatency(time.Second)
	start := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{})
	env.Do(t, hvagent.ActionReboot, g.ID, hvagent.Request{})
	require.Eventually(t, func() bool {
		j, err := env.Store.Job(context.Background(), start.Job.ID)
		return err == nil && j.Status == hvagent.JobRunning
	}, 10*time.Second, 5*time.Millisecond)

	want := `
# HELP hvagent_jobs_finished_total Jobs that reached a final status since start, by action and status.
# TYPE hvagent_jobs_finished_total counter
hvagent_jobs_finished_total{action="create",status="Complete"} 1
# HELP hvagent_queue_depth Queued jobs per queue (guest ID or image key).
# TYPE hvagent_queue_depth gauge
hvagent_queue_depth{queue="` + g.ID + `"} 1
# HELP hvagent_queue_running Running jobs per queue (0 or 1).
# TYPE hvagent_queue_running gauge
hvagent_queue_running{queue="` + g.ID + `"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "hvagent_jobs_finished_total", "hvagent_queue_depth", "hvagent_queue_running"))
	n, err := testutil.GatherAndCount(reg, "hvagent_stage_duration_seconds")
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestMetrics_StageFailure(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.StageCalled("libvirt", "Libvirt.Start", 3*time.Millisecond, "transport")
	m.StageCalled("libvirt", "Libvirt.Start", time.Millisecond, "")
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m.Collector(failingQueues{})))
	want := `
# HELP hvagent_queue_scrape_error 1 when the job log could not be read for this scrape.
# TYPE hvagent_queue_scrape_error gauge
hvagent_queue_scrape_error 1
# HELP hvagent_subagent_errors_total Failed sub-agent calls, by service, method and kind (transport, http, method, null_result, decode).
# TYPE hvagent_subagent_errors_total counter
hvagent_subagent_errors_total{kind="transport",method="Libvirt.Start",service="libvirt"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "hvagent_queue_scrape_error", "hvagent_subagent_errors_total"))
}

// failingQueues is a QueueSource whose job log cannot be read.
type failingQueues struct{}

func (failingQueues) QueueStats(context.Context) ([]hvagent.QueueStat, error) {
	return nil, errors.New("database is locked")
}

func (failingQueues) RunningStages() []hvagent.RunningStage { return nil }

// gauge returns the value of the unlabelled gauge name gathered from reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			require.Len(t, mf.GetMetric(), 1)
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	require.Failf(t, "no such metric", "%s", name)
	return 0
}

func TestMetrics_OldestRunningStage(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	cfg := sim.Config()
	cfg.Observer = m
	env := agenttest.New(t, agenttest.Opts{Config: cfg})
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m.Collector(env.Agent)))
	g := env.Create(t, nil)
	require.Zero(t, gauge(t, reg, "hvagent_oldest_running_stage_seconds"), "no stage runs")

	env.Sim.SetLatency(time.Minute)
	job := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job
	require.Eventually(t, func() bool { return len(env.Agent.RunningStages()) == 1 }, 10*time.Second, time.Millisecond)
	first := gauge(t, reg, "hvagent_oldest_running_stage_seconds")
	require.Positive(t, first)
	require.Eventually(t, func() bool { return gauge(t, reg, "hvagent_oldest_running_stage_seconds") > first },
		10*time.Second, 5*time.Millisecond, "the age grows while the stage runs")
	require.Zero(t, gauge(t, reg, "hvagent_abandoned_stages"))

	_, err := env.Agent.CancelJob(context.Background(), job.ID)
	require.NoError(t, err)
	require.Zero(t, gauge(t, reg, "hvagent_oldest_running_stage_seconds"), "the canceled job's stage returned")
}

// stages is a QueueSource with given running stages and no queues.
type stages []hvagent.RunningStage

func (stages) QueueStats(context.Context) ([]hvagent.QueueStat, error) {
	return []hvagent.QueueStat{}, nil
}

func (s stages) RunningStages() []hvagent.RunningStage { return s }

func TestMetrics_AbandonedStages(t *testing.T) {
	t.Parallel()
	now := time.Now()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(metrics.New().Collector(stages{
		{JobID: "a", StartedAt: now.Add(-3 * time.Hour), Abandoned: true},
		{JobID: "b", StartedAt: now.Add(-2 * time.Hour), Abandoned: true},
		{JobID: "c", StartedAt: now.Add(-time.Hour)},
		{JobID: "d", StartedAt: now.Add(-time.Minute)},
	})))
	require.Equal(t, 2.0, gauge(t, reg, "hvagent_abandoned_stages"))
	age := gauge(t, reg, "hvagent_oldest_running_stage_seconds")
	require.GreaterOrEqual(t, age, 3600.0, "the oldest stage that is not abandoned")
	require.Less(t, age, 7200.0)
}
