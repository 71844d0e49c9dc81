package hvagent_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/agenttest"
	"github.com/hvagent/hvagent/internal/testio"
)

const (
	msgHalfTimeout = "stage running past half its timeout"
	msgAbandoned   = "stage abandoned: it did not return when its job ended"
)

// stuckObserver blocks the stage of method in StageCalled until released:
// an in-process part of a stage that ignores the stage's context.
type stuckObserver struct {
	method  string
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func newStuckObserver(method string) *stuckObserver {
	return &stuckObserver{method: method, entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func (o *stuckObserver) StageCalled(_, method string, _ time.Duration, _ string) {
	if method == o.method {
		o.entered <- struct{}{}
		<-o.release
	}
}

func (o *stuckObserver) JobFinished(string, hvagent.JobStatus) {}

func (o *stuckObserver) unblock() { o.once.Do(func() { close(o.release) }) }

// withTimeout sets the timeout of action in cfg.
func withTimeout(cfg *hvagent.Config, action string, d time.Duration) {
	act := cfg.Actions[action]
	act.Timeout = hvagent.Duration{Duration: d}
	cfg.Actions[action] = act
}

// countLines counts the log lines of a job with message msg.
func countLines(log, jobID, msg string) int {
	n := 0
	for line := range strings.Lines(log) {
		if strings.Contains(line, `"job_id":"`+jobID+`"`) && strings.Contains(line, msg) {
			n++
		}
	}
	return n
}

func TestAgent_StageIgnoringCtxIsAbandoned(t *testing.T) {
	t.Parallel()
	env, obs, log := stuckEnv(t)
	g := env.Create(t, nil)

	job := env.Do(t, hvagent.ActionShutdown, g.ID, hvagent.Request{}).Job
	j := env.Wait(t, job.ID)
	require.Equal(t, hvagent.JobError, j.Status)
	require.Equal(t, hvagent.ETIMEOUT, j.Error)
	require.Equal(t, "stage 1/1 Sim.Shutdown (sim) did not finish within the action's timeout (500ms)", j.Message)

	// The stage still runs, abandoned; its guest's queue has moved on.
	stages := env.Agent.RunningStages()
	require.Len(t, stages, 1)
	require.Equal(t, job.ID, stages[0].JobID)
	require.Equal(t, g.ID, stages[0].GuestID)
	require.Equal(t, "1/1 Sim.Shutdown", stages[0].Stage)
	require.True(t, stages[0].Abandoned)
	next := env.Wait(t, env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job.ID)
	require.Equal(t, hvagent.JobComplete, next.Status, next.Message)

	require.Equal(t, 1, countLines(log.String(), job.ID, msgHalfTimeout), log.String())
	require.Equal(t, 1, countLines(log.String(), job.ID, msgAbandoned), log.String())
	require.Contains(t, log.String(), `"timeout":"`)

	obs.unblock()
	require.Eventually(t, func() bool { return len(env.Agent.RunningStages()) == 0 }, 10*time.Second, 5*time.Millisecond)
}

// stuckEnv returns an agent whose shutdown stage blocks, ignoring its ctx,
// until obs.unblock, with a shutdown timeout of 500ms, and its log.
func stuckEnv(t *testing.T) (*agenttest.Env, *stuckObserver, *testio.Buffer) {
	t.Helper()
	obs := newStuckObserver("Sim.Shutdown")
	cfg := sim.Config()
	cfg.Observer = obs
	withTimeout(cfg, hvagent.ActionShutdown, 500*time.Millisecond)
	log := &testio.Buffer{}
	env := agenttest.New(t, agenttest.Opts{Config: cfg, Log: log})
	t.Cleanup(obs.unblock) // runs before the agent's own cleanup
	return env, obs, log
}

func TestAgent_StopWaitsForAbandonedStages(t *testing.T) {
	t.Parallel()

	t.Run("Returns", func(t *testing.T) {
		t.Parallel()
		env, obs, log := stuckEnv(t)
		g := env.Create(t, nil)
		job := env.Do(t, hvagent.ActionShutdown, g.ID, hvagent.Request{}).Job
		require.Equal(t, hvagent.ETIMEOUT, env.Wait(t, job.ID).Error)
		go func() {
			time.Sleep(100 * time.Millisecond)
			obs.unblock()
		}()
		require.NoError(t, env.Agent.Stop(context.Background()))
		require.Empty(t, env.Agent.RunningStages(), "Stop returned before the abandoned stage")
		require.NotContains(t, log.String(), "left behind")
	})

	t.Run("LeftBehind", func(t *testing.T) {
		t.Parallel()
		env, _, log := stuckEnv(t)
		g := env.Create(t, nil)
		job := env.Do(t, hvagent.ActionShutdown, g.ID, hvagent.Request{}).Job
		require.Equal(t, hvagent.ETIMEOUT, env.Wait(t, job.ID).Error)
		require.NoError(t, env.Agent.Stop(context.Background()))
		require.Len(t, env.Agent.RunningStages(), 1)
		require.Equal(t, 1, countLines(log.String(), job.ID, "stopping: abandoned stage still running; left behind"), log.String())
	})
}

func TestAgent_StageHonouringCtxIsNotAbandoned(t *testing.T) {
	t.Parallel()
	cfg := sim.Config()
	withTimeout(cfg, hvagent.ActionShutdown, 500*time.Millisecond)
	log := &testio.Buffer{}
	env := agenttest.New(t, agenttest.Opts{Config: cfg, Log: log})
	g := env.Create(t, nil)
	env.Sim.SetLatency(time.Minute) // the simulation honours ctx
	job := env.Do(t, hvagent.ActionShutdown, g.ID, hvagent.Request{}).Job
	j := env.Wait(t, job.ID)
	require.Equal(t, hvagent.ETIMEOUT, j.Error)
	require.Equal(t, "stage 1/1 Sim.Shutdown (sim) did not finish within the action's timeout (500ms)", j.Message)
	require.Empty(t, env.Agent.RunningStages(), "the stage returned on its ctx before the job ended")
	require.Equal(t, 1, countLines(log.String(), job.ID, msgHalfTimeout), log.String())
	require.Zero(t, countLines(log.String(), job.ID, msgAbandoned), log.String())
}

// stuckDriver is an in-process driver whose Stuck.Reboot blocks, ignoring
// its context, until released.
func stuckDriver(release <-chan struct{}) http.Handler {
	s := subagent.NewServer()
	subagent.Handle(s, "Stuck.Reboot", func(_ context.Context, req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
		<-release
		return &subagent.GuestResponse{Guest: req.Guest}, nil
	})
	return s
}

func TestAgent_BuiltinIgnoringCtx(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	cfg := sim.Config()
	// Built in under the qemu driver's name, which the simulation does not use.
	cfg.Builtins = map[string]http.Handler{"qemu": stuckDriver(release)}
	cfg.Services["stuck"] = hvagent.ServiceConfig{Builtin: "qemu"}
	cfg.Actions[hvagent.ActionReboot] = hvagent.ActionConfig{Timeout: hvagent.Duration{Duration: 500 * time.Millisecond},
		Stages: []hvagent.StageConfig{{Service: "sim", Method: "Sim.Start"}, {Service: "stuck", Method: "Stuck.Reboot"}}}
	log := &testio.Buffer{}
	env := agenttest.New(t, agenttest.Opts{Config: cfg, Log: log})
	t.Cleanup(func() { close(release) })
	g := env.Create(t, nil)

	j := env.Wait(t, env.Do(t, hvagent.ActionReboot, g.ID, hvagent.Request{}).Job.ID)
	require.Equal(t, hvagent.JobError, j.Status)
	require.Equal(t, hvagent.ETIMEOUT, j.Error)
	require.Equal(t, "stage 2/2 Stuck.Reboot (stuck) did not finish within the action's timeout (500ms)", j.Message)
	next := env.Wait(t, env.Do(t, hvagent.ActionShutdown, g.ID, hvagent.Request{}).Job.ID)
	require.Equal(t, hvagent.JobComplete, next.Status, next.Message)

	// The driver's call goes on although the agent gave up on it: Stop
	// waits for it a while, then says it leaves it behind.
	require.NoError(t, env.Agent.Stop(context.Background()))
	require.Contains(t, log.String(), `"builtin":"qemu","calls":1,"message":"stopping: calls of an in-process driver still running after their caller gave up; left behind"`)
}

func TestAgent_CancelAbandonsStageIgnoringCtx(t *testing.T) {
	t.Parallel()
	obs := newStuckObserver("Sim.Shutdown")
	cfg := sim.Config()
	cfg.Observer = obs
	log := &testio.Buffer{}
	env := agenttest.New(t, agenttest.Opts{Config: cfg, Log: log})
	t.Cleanup(obs.unblock)
	g := env.Create(t, nil)
	job := env.Do(t, hvagent.ActionShutdown, g.ID, hvagent.Request{}).Job
	<-obs.entered
	j, err := env.Agent.CancelJob(context.Background(), job.ID)
	require.NoError(t, err)
	require.Equal(t, hvagent.JobCanceled, j.Status)
	require.Equal(t, "canceled; outcome of stage 1/1 Sim.Shutdown unknown", j.Message)
	require.Equal(t, 1, countLines(log.String(), job.ID, msgAbandoned), log.String())
	next := env.Wait(t, env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job.ID)
	require.Equal(t, hvagent.JobComplete, next.Status, next.Message)
}

// panicObserver panics when a stage of method reports its call.
type panicObserver struct{ method string }

func (o panicObserver) StageCalled(_, method string, _ time.Duration, _ string) {
	if method == o.method {
		panic("observer bug")
	}
}

func (panicObserver) JobFinished(string, hvagent.JobStatus) {}

func TestAgent_StagePanicIsAnInternalError(t *testing.T) {
	t.Parallel()
	cfg := sim.Config()
	cfg.Observer = panicObserver{method: "Sim.Shutdown"}
	env := agenttest.New(t, agenttest.Opts{Config: cfg})
	g := env.Create(t, nil)
	j := env.Wait(t, env.Do(t, hvagent.ActionShutdown, g.ID, hvagent.Request{}).Job.ID)
	require.Equal(t, hvagent.JobError, j.Status)
	require.Equal(t, hvagent.EINTERNAL, j.Error)
	require.Equal(t, "internal error", j.Message)
	next := env.Wait(t, env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job.ID)
	require.Equal(t, hvagent.JobComplete, next.Status, next.Message)
}
