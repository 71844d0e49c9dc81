package hvagent_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/store"
	"github.com/hvagent/hvagent/internal/agenttest"
	"github.com/hvagent/hvagent/internal/testio"
)

// requireUnavailable requires the agent to refuse work.
func requireUnavailable(t *testing.T, a *hvagent.Agent) {
	t.Helper()
	_, err := a.Do(context.Background(), hvagent.ActionListImages, "", hvagent.Request{})
	require.Equal(t, hvagent.EUNAVAILABLE, hvagent.ErrorCode(err), "%v", err)
}

// enqueueRaw commits a job of action for a guest no driver knows, straight
// into the store, as a previous process would have left it.
func enqueueRaw(t *testing.T, db *store.DB, action string) *hvagent.Job {
	t.Helper()
	guest := uuid.NewString()
	j, err := db.Enqueue(context.Background(), hvagent.NewJob{
		Job:   &hvagent.Job{ID: uuid.NewString(), GuestID: guest, Action: action, QueuedAt: time.Now()},
		Queue: guest,
	})
	require.NoError(t, err)
	return j
}

// runningRaw leaves a job of action Running in the store, as a process
// killed mid-job would.
func runningRaw(t *testing.T, db *store.DB, action string) *hvagent.Job {
	t.Helper()
	j := enqueueRaw(t, db, action)
	c, err := db.Claim(context.Background(), j.GuestID, time.Now(), hvagent.ClaimOptions{})
	require.NoError(t, err)
	require.Equal(t, j.ID, c.Job.ID)
	return c.Job
}

func TestAgent_StartStopConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for range 10 {
		env := agenttest.New(t, agenttest.Opts{NoStart: true})
		enqueueRaw(t, env.Store, hvagent.ActionReboot) // Start wakes a worker for it
		var (
			wg                sync.WaitGroup
			startErr, stopErr error
		)
		wg.Go(func() { startErr = env.Agent.Start(ctx) })
		wg.Go(func() { stopErr = env.Agent.Stop(ctx) })
		wg.Wait()
		require.NoError(t, stopErr)
		if startErr != nil { // Stop came while Start was recovering
			require.Equal(t, hvagent.EUNAVAILABLE, hvagent.ErrorCode(startErr), "%v", startErr)
		}
		// Whichever came first, a Stop now leaves the agent stopped for good.
		require.NoError(t, env.Agent.Stop(ctx))
		requireUnavailable(t, env.Agent)
		require.Equal(t, hvagent.ECONFLICT, hvagent.ErrorCode(env.Agent.Start(ctx)))
	}
}

func TestAgent_Stop(t *testing.T) {
	t.Parallel()

	t.Run("SecondStopReturnsWhenStopped", func(t *testing.T) {
		t.Parallel()
		env := agenttest.New(t, agenttest.Opts{})
		g := env.Create(t, nil)
		env.Sim.SetLatency(10 * time.Second)
		job := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job
		waitStatus(t, env, job.ID, hvagent.JobRunning)

		first := make(chan error, 1)
		go func() { first <- env.Agent.Stop(context.Background()) }() // grants the job all the time it needs
		require.Eventually(t, func() bool {
			h, err := env.Agent.Health(context.Background())
			return err == nil && h.Status == "stopping"
		}, 10*time.Second, time.Millisecond)
		// A second Stop waits like the first, and its deadline cuts the grace
		// period short for both.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		require.NoError(t, env.Agent.Stop(ctx))
		j := requireStatus(t, env.Store, job.ID, hvagent.JobQueued) // start requeues on interrupt
		require.Equal(t, "interrupted by agent shutdown", j.Message)
		require.NoError(t, <-first)
		requireUnavailable(t, env.Agent)
	})

	t.Run("DuringStartWaitsForIt", func(t *testing.T) {
		t.Parallel()
		entered := make(chan struct{})
		var recoveryEnded atomic.Bool
		env := agenttest.New(t, agenttest.Opts{NoStart: true, WrapStore: func(db *store.DB) hvagent.Store {
			return &agenttest.Store{Store: db, RunningJobsFunc: func(ctx context.Context) ([]*hvagent.Job, error) {
				close(entered)
				<-ctx.Done() // a recovery that only Stop's deadline ends
				recoveryEnded.Store(true)
				return nil, ctx.Err()
			}}
		}})
		started := make(chan error, 1)
		go func() { started <- env.Agent.Start(context.Background()) }()
		<-entered
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		require.NoError(t, env.Agent.Stop(ctx))
		require.True(t, recoveryEnded.Load(), "Stop returned while Start was still recovering")
		err := <-started
		require.Equal(t, hvagent.EUNAVAILABLE, hvagent.ErrorCode(err), "%v", err)
		require.Equal(t, hvagent.ECONFLICT, hvagent.ErrorCode(env.Agent.Start(context.Background())))
		requireUnavailable(t, env.Agent)
	})
}

func TestAgent_StartFails(t *testing.T) {
	t.Parallel()
	for name, wrap := range map[string]func(db *store.DB, failed *atomic.Bool) *agenttest.Store{
		"Recovery": func(db *store.DB, failed *atomic.Bool) *agenttest.Store {
			return &agenttest.Store{Store: db, RunningJobsFunc: func(ctx context.Context) ([]*hvagent.Job, error) {
				if failed.CompareAndSwap(false, true) {
					return nil, errDisk
				}
				return db.RunningJobs(ctx)
			}}
		},
		"QueuedQueues": func(db *store.DB, failed *atomic.Bool) *agenttest.Store {
			return &agenttest.Store{Store: db, QueuedQueuesFunc: func(ctx context.Context) ([]string, error) {
				if failed.CompareAndSwap(false, true) {
					return nil, errDisk
				}
				return db.QueuedQueues(ctx)
			}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var failed atomic.Bool
			env := agenttest.New(t, agenttest.Opts{NoStart: true, WrapStore: func(db *store.DB) hvagent.Store {
				return wrap(db, &failed)
			}})
			interrupted := runningRaw(t, env.Store, hvagent.ActionReboot) // reboot fails on interrupt
			queued := enqueueRaw(t, env.Store, hvagent.ActionReboot)

			err := env.Agent.Start(ctx)
			require.ErrorIs(t, err, errDisk)
			require.Equal(t, hvagent.EINTERNAL, hvagent.ErrorCode(err))
			requireUnavailable(t, env.Agent)
			h, err := env.Agent.Health(ctx)
			require.NoError(t, err)
			require.Equal(t, "starting", h.Status)
			requireStatus(t, env.Store, queued.ID, hvagent.JobQueued)
			require.NoError(t, env.Agent.Stop(ctx)) // nothing runs: a no-op

			require.NoError(t, env.Agent.Start(ctx))
			j := requireStatus(t, env.Store, interrupted.ID, hvagent.JobError)
			require.Equal(t, "interrupted by agent restart", j.Message)
			require.True(t, env.Wait(t, queued.ID).Status.Final(), "the queued job ran")
			env.Create(t, nil)
		})
	}
}

func TestAgent_StartCtxIsAHardStop(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{NoStart: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(t, env.Agent.Start(ctx))
	g := env.Create(t, nil)
	env.Sim.SetLatency(10 * time.Second)
	job := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job
	waitStatus(t, env, job.ID, hvagent.JobRunning)

	cancel()
	waitStatus(t, env, job.ID, hvagent.JobQueued) // start requeues on interrupt
	requireUnavailable(t, env.Agent)
	require.NoError(t, env.Agent.Stop(context.Background()))
	j := requireStatus(t, env.Store, job.ID, hvagent.JobQueued)
	require.Equal(t, 1, j.Attempt, "the interrupted job was claimed again after the hard stop")
}

func TestAgent_StopLogsAbandonedJobs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want string
	}{
		{"Deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, "stopping: deadline reached; running jobs abandoned, the next start recovers them by their on_interrupt policy"},
		{"NoGracePeriod", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, "stopping without a grace period: 1 running job abandoned; the next start recovers them by their on_interrupt policy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log := &testio.Buffer{}
			env := agenttest.New(t, agenttest.Opts{Log: log})
			g := env.Create(t, nil)
			env.Sim.SetLatency(10 * time.Second)
			job := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job
			waitStatus(t, env, job.ID, hvagent.JobRunning)
			// The job's stage is in flight once the simulation has its
			// call: the worker has registered it as running by then.
			require.Eventually(t, func() bool {
				return slices.ContainsFunc(env.Sim.Log(), func(c sim.Call) bool { return c.JobID == job.ID })
			}, 10*time.Second, 5*time.Millisecond)
			ctx, cancel := tt.ctx()
			defer cancel()
			require.NoError(t, env.Agent.Stop(ctx))
			require.Contains(t, log.String(), `"level":"warn","jobs":1`)
			require.Contains(t, log.String(), `"message":"`+tt.want+`"`)
		})
	}
}
