package hvagent_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/store"
	"github.com/hvagent/hvagent/internal/agenttest"
)

func TestMain(m *testing.M) {
	if crashChild() {
		return
	}
	goleak.VerifyTestMain(m)
}

func TestAgent_QueueIsFIFOAndSerialPerGuest(t *testing.T) {
	t.Parallel()
	p, url := newProbe(t, 2*time.Millisecond)
	env := agenttest.New(t, agenttest.Opts{Config: probeConfig(url)})
	// Guest 0 gets 50 jobs, the 19 others 5 each, all queued at once.
	const guests = 20
	ids := make([]string, guests)
	for i := range ids {
		ids[i] = env.Create(t, nil).ID
	}
	want := map[string][]string{}
	var last []string
	for round := range 50 {
		for i, id := range ids {
			if i > 0 && round >= 5 {
				continue
			}
			res := env.Do(t, hvagent.ActionReboot, id, hvagent.Request{})
			want[id] = append(want[id], res.Job.ID)
			last = append(last, res.Job.ID)
		}
	}
	for _, id := range last {
		require.Equal(t, hvagent.JobComplete, env.Wait(t, id).Status)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	require.Zero(t, p.overlaps, "two jobs of one guest overlapped")
	require.Greater(t, p.maxConc, 1, "guests did not run concurrently")
	for _, id := range ids {
		require.Equal(t, want[id], p.order[id][1:], "jobs of guest %s ran out of order", id) // [0] is create
	}
}

func TestAgent_Lifecycle(t *testing.T) {
	t.Parallel()
	t.Run("ErrNotStarted", func(t *testing.T) {
		t.Parallel()
		env := agenttest.New(t, agenttest.Opts{NoStart: true})
		_, err := env.Agent.Do(context.Background(), hvagent.ActionListImages, "", hvagent.Request{})
		require.Equal(t, hvagent.EUNAVAILABLE, hvagent.ErrorCode(err))
	})
	t.Run("ErrStartTwice", func(t *testing.T) {
		t.Parallel()
		env := agenttest.New(t, agenttest.Opts{})
		require.Equal(t, hvagent.ECONFLICT, hvagent.ErrorCode(env.Agent.Start(context.Background())))
	})
	t.Run("StopIsIdempotent", func(t *testing.T) {
		t.Parallel()
		env := agenttest.New(t, agenttest.Opts{})
		require.NoError(t, env.Agent.Stop(context.Background()))
		require.NoError(t, env.Agent.Stop(context.Background()))
		_, err := env.Agent.Do(context.Background(), hvagent.ActionListImages, "", hvagent.Request{})
		require.Equal(t, hvagent.EUNAVAILABLE, hvagent.ErrorCode(err))
	})
	t.Run("ErrSecondAgentOnDataDir", func(t *testing.T) {
		t.Parallel()
		env := agenttest.New(t, agenttest.Opts{})
		_, err := store.Open(env.Store.Path(), store.Options{})
		require.Equal(t, hvagent.ECONFLICT, hvagent.ErrorCode(err))
		require.Contains(t, err.Error(), "in use")
	})
	t.Run("ErrNoStore", func(t *testing.T) {
		t.Parallel()
		_, err := hvagent.New(sim.Config())
		require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
	})
}

func TestAgent_StopLeavesQueuedJobsQueued(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	g := env.Create(t, nil)
	env.Sim.SetLatency(time.Second)
	var ids []string
	for range 5 {
		ids = append(ids, env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job.ID)
	}
	waitStatus(t, env, ids[0], hvagent.JobRunning)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.NoError(t, env.Agent.Stop(ctx))
	for _, id := range ids { // start requeues on interrupt: the first one is back in the queue
		j, err := env.Store.Job(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, hvagent.JobQueued, j.Status, id)
	}
	j, err := env.Store.Job(context.Background(), ids[0])
	require.NoError(t, err)
	require.Equal(t, 1, j.Position)
}

func TestAgent_Cancel(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	g := env.Create(t, nil)
	env.Sim.SetLatency(10 * time.Second)
	running := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job
	queued := env.Do(t, hvagent.ActionReboot, g.ID, hvagent.Request{}).Job
	// Running in the store is not enough: the cancel must find its stage's
	// call in flight.
	require.Eventually(t, func() bool {
		s := env.Agent.RunningStages()
		return len(s) == 1 && s[0].JobID == running.ID
	}, 10*time.Second, time.Millisecond)
	ctx := context.Background()

	j, err := env.Agent.CancelJob(ctx, queued.ID)
	require.NoError(t, err)
	require.Equal(t, hvagent.JobCanceled, j.Status)
	require.Equal(t, hvagent.ECANCELED, j.Error)

	j, err = env.Agent.CancelJob(ctx, running.ID)
	require.NoError(t, err)
	require.Equal(t, hvagent.JobCanceled, j.Status)
	require.Equal(t, "canceled; outcome of stage 1/1 Sim.Start unknown", j.Message)
	require.Equal(t, hvagent.ECANCELED, j.Error)

	_, err = env.Agent.CancelJob(ctx, running.ID)
	require.Equal(t, hvagent.ECONFLICT, hvagent.ErrorCode(err))
	_, err = env.Agent.CancelJob(ctx, "00000000-0000-0000-0000-000000000000")
	require.Equal(t, hvagent.ENOTFOUND, hvagent.ErrorCode(err))
}

func TestAgent_Create(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		g := env.Create(t, &hvagent.Guest{ID: "6F1C5B2E-8E0B-4B7C-9A43-2E4C1D9B7A10", Memory: 512, Metadata: map[string]string{"k": "v"}})
		require.Equal(t, "6f1c5b2e-8e0b-4b7c-9a43-2e4c1d9b7a10", g.ID)
		require.Equal(t, hvagent.StateShutoff, g.State)
		require.Equal(t, map[string]string{"k": "v"}, g.Metadata)
	})
	t.Run("ErrDuplicate", func(t *testing.T) {
		g := env.Create(t, nil)
		_, err := env.Agent.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{ID: g.ID}})
		require.Equal(t, hvagent.ECONFLICT, hvagent.ErrorCode(err))
	})
	for name, g := range map[string]*hvagent.Guest{
		"ErrBadUUID":     {ID: "not-a-uuid"},
		"ErrDiskNoSize":  {Disks: []hvagent.Disk{{Bus: "virtio"}}},
		"ErrKernelPath":  {Boot: &hvagent.Boot{Kernel: "/etc/shadow"}},
		"ErrNoContainer": {Type: "container"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := env.Agent.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: g})
			require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err), "%v", err)
		})
	}
	t.Run("ErrUnknownAction", func(t *testing.T) {
		_, err := env.Agent.Do(ctx, "explode", "", hvagent.Request{})
		require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
	})
	t.Run("ErrUnknownGuest", func(t *testing.T) {
		_, err := env.Agent.Do(ctx, hvagent.ActionReboot, "00000000-0000-0000-0000-000000000001", hvagent.Request{})
		require.Equal(t, hvagent.ENOTFOUND, hvagent.ErrorCode(err))
	})
	t.Run("Container", func(t *testing.T) {
		env.FetchImage(t, hvagent.ContainerGuestType, "img")
		res := env.Do(t, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Type: "container", Image: "img"}})
		require.Equal(t, "containerCreate", res.Job.Action)
		require.Equal(t, hvagent.JobComplete, env.Wait(t, res.Job.ID).Status)
		res = env.Do(t, hvagent.ActionStart, res.Guest.ID, hvagent.Request{})
		require.Equal(t, "containerStart", res.Job.Action)
	})
}

func TestAgent_DeleteCancelsJobsBehindIt(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	g := env.Create(t, nil)
	env.Sim.SetLatency(100 * time.Millisecond)
	del := env.Do(t, hvagent.ActionDelete, g.ID, hvagent.Request{}).Job
	behind := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job
	require.Equal(t, hvagent.JobComplete, env.Wait(t, del.ID).Status)
	j := env.Wait(t, behind.ID)
	require.Equal(t, hvagent.JobCanceled, j.Status)
	require.Equal(t, "guest deleted", j.Message)
	_, err := env.Agent.Guest(context.Background(), g.ID)
	require.Equal(t, hvagent.ENOTFOUND, hvagent.ErrorCode(err))
	jobs, err := env.Agent.Jobs(context.Background(), hvagent.JobFilter{GuestID: g.ID})
	require.NoError(t, err)
	require.Len(t, jobs, 3, "job history survives the guest")
	_, err = env.Agent.Do(context.Background(), hvagent.ActionStart, g.ID, hvagent.Request{})
	require.Equal(t, hvagent.ENOTFOUND, hvagent.ErrorCode(err))
}

func TestAgent_Metadata(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	m, err := env.Agent.PatchMetadata(ctx, map[string]string{"a": "1", "b": "2"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "1", "b": "2"}, m)
	m, err = env.Agent.PatchMetadata(ctx, map[string]string{"a": ""})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"b": "2"}, m)
	_, err = env.Agent.PatchMetadata(ctx, map[string]string{"": "x"})
	require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))

	g := env.Create(t, nil)
	gm, err := env.Agent.GuestMetadata(ctx, g.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]string{}, gm)
	gm, err = env.Agent.PatchGuestMetadata(ctx, g.ID, map[string]string{"owner": "ops"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"owner": "ops"}, gm)
	env.Wait(t, env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job.ID)
	got, err := env.Agent.Guest(ctx, g.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"owner": "ops"}, got.Metadata, "a stage never overwrites metadata")
	require.Equal(t, hvagent.StateRunning, got.State)
}

func TestAgent_Idempotency(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	g := env.Create(t, nil)
	req := hvagent.Request{IdempotencyKey: "k1"}
	first := env.Do(t, hvagent.ActionStart, g.ID, req).Job
	again := env.Do(t, hvagent.ActionStart, g.ID, req).Job
	require.Equal(t, first.ID, again.ID)
	_, err := env.Agent.Do(context.Background(), hvagent.ActionCreateSnapshot, g.ID, hvagent.Request{IdempotencyKey: "k1", Snapshot: "s", IdemScope: hvagent.ActionStart + " " + g.ID})
	require.Equal(t, hvagent.ECONFLICT, hvagent.ErrorCode(err))

	create := hvagent.Request{Guest: &hvagent.Guest{Memory: 128}, IdempotencyKey: "c1"}
	r1 := env.Do(t, hvagent.ActionCreate, "", create)
	r2 := env.Do(t, hvagent.ActionCreate, "", create)
	require.Equal(t, r1.Job.ID, r2.Job.ID)
	require.Equal(t, r1.Guest.ID, r2.Guest.ID)
}

func TestAgent_DryRun(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	g := env.Create(t, nil)
	res := env.Do(t, hvagent.ActionReboot, g.ID, hvagent.Request{DryRun: true})
	require.Nil(t, res.Job)
	require.Len(t, res.Pipeline, 1)
	require.Equal(t, "Sim.Reboot", res.Pipeline[0].Method)
	jobs, err := env.Agent.Jobs(context.Background(), hvagent.JobFilter{GuestID: g.ID})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
}

// waitStatus polls until job id has status s.
func waitStatus(t *testing.T, env *agenttest.Env, id string, s hvagent.JobStatus) {
	t.Helper()
	require.Eventually(t, func() bool {
		j, err := env.Store.Job(context.Background(), id)
		return err == nil && j.Status == s
	}, 10*time.Second, 5*time.Millisecond)
}
