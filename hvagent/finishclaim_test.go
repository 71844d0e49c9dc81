package hvagent_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/store"
	"github.com/hvagent/hvagent/internal/agenttest"
	"github.com/hvagent/hvagent/internal/testio"
)

// queueJobs queues start, reboot and shutdown on a new guest of env while
// the simulation is slow, so that the last two wait behind the first, and
// returns them with their names.
func queueJobs(t *testing.T, env *agenttest.Env) (string, []string, map[string]string) {
	t.Helper()
	g := env.Create(t, nil)
	env.Sim.SetLatency(50 * time.Millisecond)
	var ids []string
	names := map[string]string{}
	for _, a := range []string{hvagent.ActionStart, hvagent.ActionReboot, hvagent.ActionShutdown} {
		id := env.Do(t, a, g.ID, hvagent.Request{}).Job.ID
		ids, names[id] = append(ids, id), a
	}
	return g.ID, ids, names
}

func TestAgent_FinishClaim(t *testing.T) {
	t.Parallel()

	// A job's end claims the next job of its queue in the same commit:
	// one FinishClaim per job with a successor, each claiming it.
	t.Run("OneCommitBetweenJobs", func(t *testing.T) {
		t.Parallel()
		var claimed, alone atomic.Int32
		env := agenttest.New(t, agenttest.Opts{WrapStore: func(db *store.DB) hvagent.Store {
			return &agenttest.Store{Store: db,
				FinishClaimFunc: func(ctx context.Context, e hvagent.JobEnd, queue string, o hvagent.ClaimOptions) (*hvagent.Ended, error) {
					end, err := db.FinishClaim(ctx, e, queue, o)
					if err == nil && end.Next != nil {
						claimed.Add(1)
					}
					return end, err
				},
				ClaimFunc: func(ctx context.Context, queue string, at time.Time, o hvagent.ClaimOptions) (*hvagent.Claim, error) {
					c, err := db.Claim(ctx, queue, at, o)
					if err == nil && c != nil && c.Job.Action != hvagent.ActionCreate {
						alone.Add(1)
					}
					return c, err
				}}
		}})
		guest, ids, names := queueJobs(t, env)
		require.Equal(t, hvagent.JobComplete, env.Wait(t, ids[2]).Status)
		require.Equal(t, []string{"start Running", "start Complete", "reboot Running", "reboot Complete",
			"shutdown Running", "shutdown Complete"}, transitions(t, env.Store, names))
		require.Equal(t, int32(1), alone.Load(), "only the first job is claimed alone")
		require.Equal(t, int32(2), claimed.Load())
		require.Equal(t, []string{"Sim.Start start 1", "Sim.Reboot reboot 1", "Sim.Shutdown shutdown 1"},
			simCalls(env.Sim, guest, names))
	})

	// When the merged write fails, the end is recorded alone and the next
	// job is claimed on its own: nothing is lost, the order holds.
	t.Run("FailureFallsBack", func(t *testing.T) {
		t.Parallel()
		var failed atomic.Int32
		env := agenttest.New(t, agenttest.Opts{WrapStore: func(db *store.DB) hvagent.Store {
			return &agenttest.Store{Store: db,
				FinishClaimFunc: func(context.Context, hvagent.JobEnd, string, hvagent.ClaimOptions) (*hvagent.Ended, error) {
					failed.Add(1)
					return nil, errDisk
				}}
		}})
		guest, ids, names := queueJobs(t, env)
		require.Equal(t, hvagent.JobComplete, env.Wait(t, ids[2]).Status)
		for _, id := range ids {
			require.Equal(t, 1, requireStatus(t, env.Store, id, hvagent.JobComplete).Attempt)
		}
		require.Equal(t, []string{"start Running", "start Complete", "reboot Running", "reboot Complete",
			"shutdown Running", "shutdown Complete"}, transitions(t, env.Store, names))
		require.GreaterOrEqual(t, failed.Load(), int32(2))
		require.Equal(t, []string{"Sim.Start start 1", "Sim.Reboot reboot 1", "Sim.Shutdown shutdown 1"},
			simCalls(env.Sim, guest, names))
	})

	// A paused action holds the job behind a running one: its end does not
	// claim it (the claim is in the end's commit, before Wait returns).
	t.Run("PausedHolds", func(t *testing.T) {
		t.Parallel()
		env := agenttest.New(t, agenttest.Opts{Sim: sim.Options{}})
		ctx := context.Background()
		require.NoError(t, env.Agent.PauseQueue(ctx, hvagent.ActionReboot))
		_, ids, _ := queueJobs(t, env)
		require.Equal(t, hvagent.JobComplete, env.Wait(t, ids[0]).Status)
		requireStatus(t, env.Store, ids[1], hvagent.JobQueued)
		requireStatus(t, env.Store, ids[2], hvagent.JobQueued)
		require.NoError(t, env.Agent.ResumeQueue(ctx, hvagent.ActionReboot))
		require.Equal(t, hvagent.JobComplete, env.Wait(t, ids[2]).Status)
		requireStatus(t, env.Store, ids[1], hvagent.JobComplete)
	})
}

// PauseQueue returns only once a claim that read the paused actions before
// it has committed: no job of the action starts after PauseQueue returned
// (a worker's claim used to read the set, then commit with the old one).
func TestAgent_PauseWaitsForClaimInFlight(t *testing.T) {
	t.Parallel()
	inClaim, release := make(chan struct{}), make(chan struct{})
	var blocking atomic.Bool
	env := agenttest.New(t, agenttest.Opts{WrapStore: func(db *store.DB) hvagent.Store {
		return &agenttest.Store{Store: db,
			ClaimFunc: func(ctx context.Context, queue string, at time.Time, o hvagent.ClaimOptions) (*hvagent.Claim, error) {
				if blocking.CompareAndSwap(true, false) {
					close(inClaim)
					<-release
				}
				return db.Claim(ctx, queue, at, o)
			}}
	}})
	g := env.Create(t, nil)
	blocking.Store(true)
	id := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job.ID
	<-inClaim

	paused := make(chan error, 1)
	go func() { paused <- env.Agent.PauseQueue(context.Background(), hvagent.ActionStart) }()
	select {
	case err := <-paused:
		close(release)
		t.Fatalf("PauseQueue returned (%v) while a claim made before it was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-paused)
	require.Equal(t, hvagent.JobComplete, env.Wait(t, id).Status, "the claim made before the pause runs its job")
	require.NoError(t, env.Agent.ResumeQueue(context.Background(), hvagent.ActionStart))
}

// claimCounter counts the claims a store makes alone (Claim) and with an
// enqueue (EnqueueClaim).
type claimCounter struct {
	hvagent.Store
	alone, atEnqueue atomic.Int32
	calls            atomic.Int32 // of Claim, whatever it found
}

func (s *claimCounter) Claim(ctx context.Context, queue string, at time.Time, o hvagent.ClaimOptions) (*hvagent.Claim, error) {
	s.calls.Add(1)
	c, err := s.Store.Claim(ctx, queue, at, o)
	if c != nil {
		s.alone.Add(1)
	}
	return c, err
}

func (s *claimCounter) EnqueueClaim(ctx context.Context, n hvagent.NewJob, o hvagent.ClaimOptions) (*hvagent.Job, *hvagent.Claim, error) {
	j, c, err := s.Store.EnqueueClaim(ctx, n, o)
	if c != nil {
		s.atEnqueue.Add(1)
	}
	return j, c, err
}

// An action on an idle queue is claimed in its enqueue's commit and run
// by the worker its Do starts; a paused action is left queued, and
// claimed alone once resumed. Creates, each on the queue of a new guest,
// whose worker the Do starts (TestAgent_ClaimHandedToWorker has one that
// runs already).
func TestAgent_ClaimAtEnqueue(t *testing.T) {
	t.Parallel()
	var st *claimCounter
	env := agenttest.New(t, agenttest.Opts{WrapStore: func(db *store.DB) hvagent.Store {
		st = &claimCounter{Store: db}
		return st
	}})
	create := func() *hvagent.Job {
		g := &hvagent.Guest{Memory: 256, CPU: 1, Disks: []hvagent.Disk{{Size: 1024}}}
		return env.Do(t, hvagent.ActionCreate, "", hvagent.Request{Guest: g}).Job
	}
	queued := create()
	require.Equal(t, hvagent.JobQueued, queued.Status, "Do answers with the job as queued")
	j := env.Wait(t, queued.ID)
	require.Equal(t, hvagent.JobComplete, j.Status, j.Message)
	require.Equal(t, j.QueuedAt, j.StartedAt, "claimed in the commit that queued it")
	require.Equal(t, int32(1), st.atEnqueue.Load())
	require.Zero(t, st.alone.Load())
	names := map[string]string{queued.ID: "create"}
	require.Equal(t, []string{"create Running", "create Complete"}, transitions(t, env.Store, names))
	require.Equal(t, []string{"Sim.CreateGuest create 1"}, simCalls(env.Sim, j.GuestID, names))

	ctx := context.Background()
	require.NoError(t, env.Agent.PauseQueue(ctx, hvagent.ActionCreate))
	paused := create()
	requireStatus(t, env.Store, paused.ID, hvagent.JobQueued)
	require.NoError(t, env.Agent.ResumeQueue(ctx, hvagent.ActionCreate))
	require.Equal(t, hvagent.JobComplete, env.Wait(t, paused.ID).Status)
	require.Equal(t, int32(1), st.atEnqueue.Load())
	require.Equal(t, int32(1), st.alone.Load(), "the paused create, claimed once resumed")
}

// endGate holds the worker of queue, once, right after the end of a job
// that claimed nothing after it, until open: the queue is idle in the store
// while its worker is still registered. With aloneEnd, a FinishClaim of the
// queue fails without writing, so the agent records the end alone (Finish),
// where the gate then holds the worker.
type endGate struct {
	*claimCounter
	aloneEnd  bool
	queue     atomic.Pointer[string]
	ended     chan struct{}
	release   chan struct{}
	gateOnce  sync.Once
	openOnce  sync.Once
	failedEnd atomic.Bool
}

// gatedQueue starts an agent whose store is an endGate on the queue of a
// new guest, and returns them with the guest's ID. The gate opens when the
// test ends, so that a failed test still stops its agent.
func gatedQueue(t *testing.T, aloneEnd bool, log io.Writer) (*agenttest.Env, *endGate, string) {
	t.Helper()
	st := &endGate{aloneEnd: aloneEnd, ended: make(chan struct{}), release: make(chan struct{})}
	env := agenttest.New(t, agenttest.Opts{Log: log, WrapStore: func(db *store.DB) hvagent.Store {
		st.claimCounter = &claimCounter{Store: db}
		return st
	}})
	t.Cleanup(st.open) // before the agent stops
	g := env.Create(t, nil)
	st.queue.Store(&g.ID)
	return env, st, g.ID
}

// open lets the held worker go on.
func (s *endGate) open() { s.openOnce.Do(func() { close(s.release) }) }

// hold holds the caller, once, until open.
func (s *endGate) hold() {
	s.gateOnce.Do(func() {
		close(s.ended)
		<-s.release
	})
}

func (s *endGate) gated(queue string) bool {
	q := s.queue.Load()
	return q != nil && *q == queue
}

func (s *endGate) FinishClaim(ctx context.Context, e hvagent.JobEnd, queue string, o hvagent.ClaimOptions) (*hvagent.Ended, error) {
	if s.aloneEnd && s.gated(queue) {
		s.failedEnd.Store(true)
		return nil, errors.New("end gate: FinishClaim refused")
	}
	ended, err := s.claimCounter.FinishClaim(ctx, e, queue, o)
	if err == nil && ended.Next == nil && s.gated(queue) {
		s.hold()
	}
	return ended, err
}

func (s *endGate) Finish(ctx context.Context, e hvagent.JobEnd) (*hvagent.Job, []string, error) {
	job, canceled, err := s.claimCounter.Finish(ctx, e)
	if err == nil && s.failedEnd.Load() {
		s.hold()
	}
	return job, canceled, err
}

// An action queued while its queue's worker is still finishing the job
// before (that job ended, with nothing to claim after it) is claimed in
// its enqueue's commit too, and handed to that worker. An action queued
// behind it is claimed by the handed job's end.
func TestAgent_ClaimHandedToWorker(t *testing.T) {
	t.Parallel()
	env, st, g := gatedQueue(t, false, nil)
	start := env.Do(t, hvagent.ActionStart, g, hvagent.Request{}).Job
	<-st.ended // the start ended; its worker is held
	requireStatus(t, env.Store, start.ID, hvagent.JobComplete)
	atEnqueue, alone := st.atEnqueue.Load(), st.alone.Load()

	reboot := env.Do(t, hvagent.ActionReboot, g, hvagent.Request{}).Job
	require.Equal(t, atEnqueue+1, st.atEnqueue.Load(), "claimed at its enqueue")
	requireStatus(t, env.Store, reboot.ID, hvagent.JobRunning)
	shutdown := env.Do(t, hvagent.ActionShutdown, g, hvagent.Request{}).Job
	requireStatus(t, env.Store, shutdown.ID, hvagent.JobQueued)
	st.open()
	j := env.Wait(t, reboot.ID)
	require.Equal(t, hvagent.JobComplete, j.Status, j.Message)
	require.Equal(t, j.QueuedAt, j.StartedAt)
	require.Equal(t, hvagent.JobComplete, env.Wait(t, shutdown.ID).Status)
	require.Equal(t, atEnqueue+1, st.atEnqueue.Load())
	require.Equal(t, alone, st.alone.Load(), "the shutdown is claimed by the reboot's end")
	names := map[string]string{start.ID: "start", reboot.ID: "reboot", shutdown.ID: "shutdown"}
	require.Equal(t, []string{"Sim.Start start 1", "Sim.Reboot reboot 1", "Sim.Shutdown shutdown 1"},
		simCalls(env.Sim, g, names))
}

// When a job's end was recorded alone (no next claim with it), its worker
// reads the queue itself; a job handed to it meanwhile holds the queue, and
// that read is not an error: the worker runs the handed job, then the one
// queued behind it.
func TestAgent_ClaimMeetsHandedJob(t *testing.T) {
	t.Parallel()
	var logs testio.Buffer
	env, st, g := gatedQueue(t, true, &logs)
	env.Do(t, hvagent.ActionStart, g, hvagent.Request{})
	<-st.ended // the start ended, recorded alone; its worker is held
	reboot := env.Do(t, hvagent.ActionReboot, g, hvagent.Request{}).Job
	requireStatus(t, env.Store, reboot.ID, hvagent.JobRunning)
	shutdown := env.Do(t, hvagent.ActionShutdown, g, hvagent.Request{}).Job
	calls := st.calls.Load()
	st.open()
	require.Equal(t, hvagent.JobComplete, env.Wait(t, reboot.ID).Status)
	require.Equal(t, hvagent.JobComplete, env.Wait(t, shutdown.ID).Status)
	require.Greater(t, st.calls.Load(), calls, "the worker read its queue")
	require.NotContains(t, logs.String(), "claim job")
}

// A worker whose job's end looked for the next job and found none does not
// read its queue again before it leaves: a job queued since would have been
// handed to it.
func TestAgent_NoClaimAfterEmptyEnd(t *testing.T) {
	t.Parallel()
	env, st, g := gatedQueue(t, false, nil)
	env.Do(t, hvagent.ActionStart, g, hvagent.Request{})
	<-st.ended
	calls := st.calls.Load()
	st.open()
	require.Never(t, func() bool { return st.calls.Load() != calls }, 200*time.Millisecond, 5*time.Millisecond,
		"the worker read its queue after an end that found it empty")
}
