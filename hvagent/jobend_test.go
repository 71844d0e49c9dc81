package hvagent_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/store"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/agenttest"
	"github.com/hvagent/hvagent/internal/testio"
)

// errDisk is the failure the fault-injecting stores return.
var errDisk = errors.New("disk I/O error")

// failFinish returns a WrapStore whose Finish fails while fail returns true.
func failFinish(fail func(e hvagent.JobEnd) bool) func(*store.DB) hvagent.Store {
	return func(db *store.DB) hvagent.Store {
		return &agenttest.Store{Store: db, FinishFunc: func(ctx context.Context, e hvagent.JobEnd) (*hvagent.Job, []string, error) {
			if fail(e) {
				return nil, nil, errDisk
			}
			return db.Finish(ctx, e)
		}}
	}
}

// requireStatus requires job id to have status s in st.
func requireStatus(t *testing.T, st hvagent.Store, id string, s hvagent.JobStatus) *hvagent.Job {
	t.Helper()
	j, err := st.Job(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, s, j.Status, "job %s: %s", id, j.Message)
	return j
}

// transitions returns, from the event log, each claim and end of the given
// jobs in the order they were committed, as "<name> <status>".
func transitions(t *testing.T, st hvagent.Store, names map[string]string) []string {
	t.Helper()
	evs, err := st.Events(context.Background(), 0, 0)
	require.NoError(t, err)
	var out []string
	for _, ev := range evs {
		if ev.Job == nil || names[ev.Job.ID] == "" || ev.Job.Status == hvagent.JobQueued {
			continue
		}
		out = append(out, names[ev.Job.ID]+" "+string(ev.Job.Status))
	}
	return out
}

// simCalls returns the log of d for guest as "<method> <job name> <attempt>".
func simCalls(d *sim.Driver, guest string, names map[string]string) []string {
	var out []string
	for _, c := range d.Log() {
		if c.GuestID == guest && names[c.JobID] != "" {
			out = append(out, c.Method+" "+names[c.JobID]+" "+strconv.Itoa(c.Attempt))
		}
	}
	return out
}

func TestAgent_FinishFails(t *testing.T) {
	t.Parallel()

	t.Run("RetriedWhileTheQueueHolds", func(t *testing.T) {
		t.Parallel()
		var failures atomic.Int32
		var logs testio.Buffer
		env := agenttest.New(t, agenttest.Opts{Log: &logs, WrapStore: failFinish(func(hvagent.JobEnd) bool {
			return failures.Add(-1) >= 0
		})})
		g := env.Create(t, nil)
		env.Sim.SetLatency(50 * time.Millisecond) // the shutdown is queued before the start ends
		failures.Store(3)
		start := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job
		shutdown := env.Do(t, hvagent.ActionShutdown, g.ID, hvagent.Request{}).Job

		require.Equal(t, hvagent.JobComplete, env.Wait(t, shutdown.ID).Status)
		require.Equal(t, 1, requireStatus(t, env.Store, start.ID, hvagent.JobComplete).Attempt)
		names := map[string]string{start.ID: "start", shutdown.ID: "shutdown"}
		require.Equal(t, []string{"start Running", "start Complete", "shutdown Running", "shutdown Complete"},
			transitions(t, env.Store, names), "the shutdown started before the start's end was recorded")
		require.Equal(t, []string{"Sim.Start start 1", "Sim.Shutdown shutdown 1"}, simCalls(env.Sim, g.ID, names))
		got, err := env.Agent.Guest(context.Background(), g.ID)
		require.NoError(t, err)
		require.Equal(t, sim.StateShutoff, got.State)

		log := logs.String()
		for _, want := range []string{
			`"level":"warn"`, `"error":"disk I/O error"`, `"attempt":3`, `"retry_in":"200ms"`,
			`"job_id":"` + start.ID + `"`, "its queue holds until it is recorded",
			"recorded job end after retries",
		} {
			require.Contains(t, log, want)
		}
	})

	// The first job's end is never recorded; Stop leaves it Running and the
	// next start recovers it by its on_interrupt policy, before the shutdown
	// queued behind it runs: the guest ends as the user last asked.
	for name, tc := range map[string]struct {
		prep, first string // prep runs before the store breaks
		want        hvagent.JobStatus
		calls       []string
		transitions []string
	}{
		"Requeue": {
			first: hvagent.ActionStart, want: hvagent.JobComplete,
			calls:       []string{"Sim.Start first 1", "Sim.Start first 2", "Sim.Shutdown shutdown 1"},
			transitions: []string{"first Running", "first Running", "first Complete", "shutdown Running", "shutdown Complete"},
		},
		"Fail": {
			prep: hvagent.ActionStart, first: hvagent.ActionReboot, want: hvagent.JobError,
			calls:       []string{"Sim.Reboot first 1", "Sim.Shutdown shutdown 1"},
			transitions: []string{"first Running", "first Error", "shutdown Running", "shutdown Complete"},
		},
	} {
		t.Run("HoldsThroughRestart"+name, func(t *testing.T) {
			t.Parallel()
			d := sim.New(sim.Options{})
			srv := httptest.NewServer(d.Handler())
			t.Cleanup(srv.Close)
			dir := t.TempDir()
			var broken atomic.Bool
			var failed atomic.Int32
			env := agenttest.New(t, agenttest.Opts{Dir: dir, Config: remoteSimConfig(srv.URL), WrapStore: failFinish(func(hvagent.JobEnd) bool {
				if broken.Load() {
					failed.Add(1)
				}
				return broken.Load()
			})})
			g := env.Create(t, nil)
			if tc.prep != "" {
				require.Equal(t, hvagent.JobComplete, env.Wait(t, env.Do(t, tc.prep, g.ID, hvagent.Request{}).Job.ID).Status)
			}
			broken.Store(true)
			first := env.Do(t, tc.first, g.ID, hvagent.Request{}).Job
			shutdown := env.Do(t, hvagent.ActionShutdown, g.ID, hvagent.Request{}).Job
			require.Eventually(t, func() bool { return failed.Load() >= 3 }, 10*time.Second, time.Millisecond)
			requireStatus(t, env.Store, first.ID, hvagent.JobRunning)
			requireStatus(t, env.Store, shutdown.ID, hvagent.JobQueued)

			// Stop's deadline ends the retries: the end was never recorded,
			// so the job stays Running for recovery at the next start.
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			require.NoError(t, env.Agent.Stop(ctx))
			requireStatus(t, env.Store, first.ID, hvagent.JobRunning)
			requireStatus(t, env.Store, shutdown.ID, hvagent.JobQueued)
			require.NoError(t, env.Agent.Close())
			require.NoError(t, env.Store.Close())

			env = agenttest.New(t, agenttest.Opts{Dir: dir, Config: remoteSimConfig(srv.URL)})
			require.Equal(t, hvagent.JobComplete, env.Wait(t, shutdown.ID).Status)
			j := requireStatus(t, env.Store, first.ID, tc.want)
			if tc.want == hvagent.JobError {
				require.Equal(t, "interrupted by agent restart", j.Message)
				require.Equal(t, hvagent.EUNAVAILABLE, j.Error)
			}
			names := map[string]string{first.ID: "first", shutdown.ID: "shutdown"}
			require.Equal(t, tc.calls, simCalls(d, g.ID, names))
			require.Equal(t, tc.transitions, transitions(t, env.Store, names))
			simGuest, ok := d.Guest(g.ID)
			require.True(t, ok)
			require.Equal(t, sim.StateShutoff, simGuest.State)
			got, err := env.Agent.Guest(context.Background(), g.ID)
			require.NoError(t, err)
			require.Equal(t, sim.StateShutoff, got.State)
		})
	}

	// A full disk is a failure to write, not a refusal: the end is retried
	// until space returns and recorded as it was, and the queue goes on.
	t.Run("DiskFullIsRetried", func(t *testing.T) {
		t.Parallel()
		var full atomic.Int32
		env := agenttest.New(t, agenttest.Opts{WrapStore: func(db *store.DB) hvagent.Store {
			return &agenttest.Store{Store: db, FinishFunc: func(ctx context.Context, e hvagent.JobEnd) (*hvagent.Job, []string, error) {
				if full.Add(-1) >= 0 {
					return nil, nil, hvagent.Errorf(hvagent.EUNAVAILABLE, "the database disk is full: nothing was written; free space and retry")
				}
				return db.Finish(ctx, e)
			}}
		}})
		g := env.Create(t, nil)
		full.Store(3)
		start := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job
		reboot := env.Do(t, hvagent.ActionReboot, g.ID, hvagent.Request{}).Job
		j := env.Wait(t, start.ID)
		require.Equal(t, hvagent.JobComplete, j.Status, "%s", j.Message)
		require.Equal(t, hvagent.JobComplete, env.Wait(t, reboot.ID).Status, "the queue went on")
		got, err := env.Agent.Guest(context.Background(), g.ID)
		require.NoError(t, err)
		require.Equal(t, sim.StateRunning, got.State)
	})

	t.Run("RefusedEndIsRecordedAsInternal", func(t *testing.T) {
		t.Parallel()
		var armed atomic.Bool // fail the next Complete end once
		env := agenttest.New(t, agenttest.Opts{WrapStore: func(db *store.DB) hvagent.Store {
			return &agenttest.Store{Store: db, FinishFunc: func(ctx context.Context, e hvagent.JobEnd) (*hvagent.Job, []string, error) {
				if e.Status == hvagent.JobComplete && armed.CompareAndSwap(true, false) {
					return nil, nil, hvagent.Errorf(hvagent.EINVALID, "finish job: invalid value")
				}
				return db.Finish(ctx, e)
			}}
		}})
		g := env.Create(t, nil)
		armed.Store(true)
		start := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job
		reboot := env.Do(t, hvagent.ActionReboot, g.ID, hvagent.Request{}).Job
		j := env.Wait(t, start.ID)
		require.Equal(t, hvagent.JobError, j.Status)
		require.Equal(t, "internal error: the job's outcome could not be recorded", j.Message)
		require.Equal(t, hvagent.JobComplete, env.Wait(t, reboot.ID).Status, "the queue went on")
	})
}

func TestAgent_PanicIsInternal(t *testing.T) {
	t.Parallel()
	var bad atomic.Value
	bad.Store("")
	env := agenttest.New(t, agenttest.Opts{WrapStore: func(db *store.DB) hvagent.Store {
		return &agenttest.Store{Store: db, GuestFunc: func(ctx context.Context, id string) (*hvagent.Guest, error) {
			if job, _ := subagent.CallInfo(ctx); job != "" && id == bad.Load() {
				panic("agent bug")
			}
			return db.Guest(ctx, id)
		}}
	}})
	g, other := env.Create(t, nil), env.Create(t, nil)
	bad.Store(g.ID)
	job := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job
	j := env.Wait(t, job.ID)
	require.Equal(t, hvagent.JobError, j.Status)
	require.Equal(t, "internal error", j.Message, "a panic of the agent is not a sub-agent's failure")
	for _, id := range []string{g.ID, other.ID} { // the agent and the guest's queue go on
		bad.Store("")
		job := env.Do(t, hvagent.ActionStart, id, hvagent.Request{}).Job
		require.Equal(t, hvagent.JobComplete, env.Wait(t, job.ID).Status)
	}
}

func TestAgent_StageRecordFails(t *testing.T) {
	t.Parallel()
	var armed atomic.Bool
	cfg := sim.Config()
	cfg.Actions[hvagent.ActionStart] = hvagent.ActionConfig{Stages: []hvagent.StageConfig{
		{Service: sim.ConfigService, Method: "Sim.Start"},
		{Service: sim.ConfigService, Method: "Sim.Reboot"},
	}}
	env := agenttest.New(t, agenttest.Opts{Config: cfg, WrapStore: func(db *store.DB) hvagent.Store {
		return &agenttest.Store{Store: db, AdvanceFunc: func(ctx context.Context, u hvagent.JobUpdate) (*hvagent.Job, error) {
			if armed.CompareAndSwap(true, false) {
				return nil, errDisk
			}
			return db.Advance(ctx, u)
		}}
	}})
	g := env.Create(t, nil)
	armed.Store(true)
	job := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job
	j := env.Wait(t, job.ID)
	require.Equal(t, hvagent.JobError, j.Status)
	require.Equal(t, "internal error", j.Message, "the store's words stay in the log")
	names := map[string]string{job.ID: "start"}
	require.Equal(t, []string{"Sim.Start start 1"}, simCalls(env.Sim, g.ID, names), "stage 2 ran without its record")
	// Stage 1 started the guest: the failed stage record did not lose that.
	got, err := env.Agent.Guest(context.Background(), g.ID)
	require.NoError(t, err)
	require.Equal(t, sim.StateRunning, got.State)
}

func TestAgent_LogsFailedJob(t *testing.T) {
	t.Parallel()
	log := &testio.Buffer{}
	env := agenttest.New(t, agenttest.Opts{Log: log})
	g := env.Create(t, nil)
	env.Sim.FailNext("Sim.Start", "no bootable disk")
	res := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{})
	require.Equal(t, hvagent.JobError, env.Wait(t, res.Job.ID).Status)

	var entry map[string]any
	require.Eventually(t, func() bool {
		for line := range strings.SplitSeq(log.String(), "\n") {
			if json.Unmarshal([]byte(line), &entry) == nil && entry["message"] == "job failed" {
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "no failed job logged at warn level: %s", log.String())
	require.Equal(t, "warn", entry["level"])
	require.Equal(t, res.Job.ID, entry["job_id"])
	require.Equal(t, hvagent.ActionStart, entry["action"])
	require.Equal(t, g.ID, entry["guest_id"])
	require.Equal(t, string(hvagent.JobError), entry["status"])
	require.Equal(t, hvagent.ESUBAGENT, entry["code"])
	require.Contains(t, entry["error"], "no bootable disk")
	require.Equal(t, "1/1 Sim.Start", entry["stage"])
	require.Equal(t, "sim", entry["service"])
	require.Regexp(t, `^\d+(\.\d+)?(µs|ms|s)$`, entry["took"])
	require.NotContains(t, log.String(), `"job complete"`, "successful jobs are debug")
}
