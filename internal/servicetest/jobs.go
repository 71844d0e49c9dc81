package servicetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func testJobs(t *testing.T, b *bundle) {
	ctx := t.Context()
	g1 := b.create(t, nil)
	b.run(t, hvagent.ActionStart, g1.ID, hvagent.Request{})
	g2 := b.create(t, nil)
	failed := b.wait(t, b.do(t, hvagent.ActionResume, g2.ID, hvagent.Request{}).Job.ID)
	require.Equal(t, hvagent.JobError, failed.Status, "resume of a guest that is not paused")

	all, err := b.svc.Jobs(ctx, hvagent.JobFilter{})
	require.NoError(t, err)
	require.Equal(t, []string{"resume", "create", "start", "create"}, jobActions(all), "newest first")
	require.Equal(t, failed.ID, all[0].ID)

	for _, tc := range []struct {
		name string
		f    hvagent.JobFilter
		want []string // job IDs
	}{
		{"Guest", hvagent.JobFilter{GuestID: g1.ID}, []string{all[2].ID, all[3].ID}},
		{"Action", hvagent.JobFilter{Action: hvagent.ActionCreate}, []string{all[1].ID, all[3].ID}},
		{"Status", hvagent.JobFilter{Status: hvagent.JobError}, []string{failed.ID}},
		{"GuestAndStatus", hvagent.JobFilter{GuestID: g2.ID, Status: hvagent.JobComplete}, []string{all[1].ID}},
		{"Limit", hvagent.JobFilter{Limit: 2}, []string{all[0].ID, all[1].ID}},
		{"Before", hvagent.JobFilter{Before: all[1].ID}, []string{all[2].ID, all[3].ID}},
		{"BeforeAndLimit", hvagent.JobFilter{Before: all[0].ID, Limit: 1}, []string{all[1].ID}},
		{"None", hvagent.JobFilter{Status: hvagent.JobCanceled}, []string{}},
	} {
		jobs, err := b.svc.Jobs(ctx, tc.f)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, jobIDs(jobs), tc.name)
	}
	for name, f := range map[string]hvagent.JobFilter{
		"ErrLimit":  {Limit: -1},
		"ErrStatus": {Status: "Done"},
		"ErrBefore": {Before: uuid.NewString()},
	} {
		_, err := b.svc.Jobs(ctx, f)
		require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err), "%s: %v", name, err)
	}

	one, err := b.svc.Job(ctx, failed.ID)
	require.NoError(t, err)
	require.Equal(t, failed.ID, one.ID)
	require.Equal(t, g2.ID, one.GuestID)
	require.Equal(t, hvagent.JobError, one.Status)
	require.NotEmpty(t, one.Message)
}

func jobActions(jobs []*hvagent.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.Action
	}
	return out
}

func jobIDs(jobs []*hvagent.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func testCancelJob(t *testing.T, b *bundle) {
	ctx := t.Context()
	g := b.create(t, nil)
	require.NoError(t, b.svc.PauseQueue(ctx, hvagent.ActionStart))
	res := b.do(t, hvagent.ActionStart, g.ID, hvagent.Request{})
	require.Equal(t, hvagent.JobQueued, res.Job.Status)

	job, err := b.svc.CancelJob(ctx, res.Job.ID)
	require.NoError(t, err)
	require.Equal(t, res.Job.ID, job.ID)
	require.Equal(t, hvagent.JobCanceled, job.Status)
	require.False(t, job.FinishedAt.IsZero())
	_, err = b.svc.CancelJob(ctx, res.Job.ID)
	requireCode(t, hvagent.ECONFLICT, err)
	got, err := b.svc.Job(ctx, res.Job.ID)
	require.NoError(t, err)
	require.Equal(t, hvagent.JobCanceled, got.Status)

	require.NoError(t, b.svc.ResumeQueue(ctx, ""))
	b.run(t, hvagent.ActionStart, g.ID, hvagent.Request{})
	_, err = b.svc.CancelJob(ctx, uuid.NewString())
	requireCode(t, hvagent.ENOTFOUND, err)
}

func testWaitJob(t *testing.T, b *bundle) {
	g := b.create(t, nil)
	require.NoError(t, b.svc.PauseQueue(t.Context(), ""))
	id := b.do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job.ID

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	job, err := b.svc.WaitJob(ctx, id)
	requireCode(t, hvagent.ETIMEOUT, err)
	require.NotNil(t, job, "the job as it is when the wait ends")
	require.Equal(t, hvagent.JobQueued, job.Status)

	ctx, cancel = context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	job, err = b.svc.WaitJob(ctx, id)
	requireCode(t, hvagent.ECANCELED, err)
	require.NotNil(t, job)
	require.Equal(t, hvagent.JobQueued, job.Status)

	done := make(chan *hvagent.Job, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		job, _ := b.svc.WaitJob(ctx, id)
		done <- job
	}()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, b.svc.ResumeQueue(t.Context(), ""))
	job = <-done
	require.NotNil(t, job)
	require.Equal(t, hvagent.JobComplete, job.Status, "a waiter wakes when the job ends")

	_, err = b.svc.WaitJob(t.Context(), uuid.NewString())
	requireCode(t, hvagent.ENOTFOUND, err)
}

func testPauseResume(t *testing.T, b *bundle) {
	ctx := t.Context()
	g := b.create(t, nil)
	require.NoError(t, b.svc.PauseQueue(ctx, hvagent.ActionStart))
	start := b.do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job
	behind := b.do(t, hvagent.ActionShutdown, g.ID, hvagent.Request{}).Job
	h, err := b.svc.Health(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{hvagent.ActionStart}, h.Paused)
	time.Sleep(100 * time.Millisecond)
	stats, err := b.svc.QueueStats(ctx)
	require.NoError(t, err)
	i := slices.IndexFunc(stats, func(s hvagent.QueueStat) bool { return s.Queue == g.ID })
	require.GreaterOrEqual(t, i, 0, "the paused guest's queue is listed: %+v", stats)
	require.Equal(t, 2, stats[i].Queued)
	require.Equal(t, 0, stats[i].Running)
	require.False(t, stats[i].OldestQueuedAt.IsZero())
	for _, id := range []string{start.ID, behind.ID} {
		j, err := b.svc.Job(ctx, id)
		require.NoError(t, err)
		require.Equal(t, hvagent.JobQueued, j.Status, "paused jobs stay queued and hold their queue")
	}
	require.NoError(t, b.svc.PauseQueue(ctx, ""))
	h, err = b.svc.Health(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"*", hvagent.ActionStart}, h.Paused)

	require.NoError(t, b.svc.ResumeQueue(ctx, ""))
	h, err = b.svc.Health(ctx)
	require.NoError(t, err)
	require.Empty(t, h.Paused)
	b.complete(t, start.ID)
	b.complete(t, behind.ID)
	requireCode(t, hvagent.EINVALID, b.svc.PauseQueue(ctx, "nope"))
	requireCode(t, hvagent.EINVALID, b.svc.ResumeQueue(ctx, "nope"))
}

func testHealth(t *testing.T, b *bundle) {
	h, err := b.svc.Health(t.Context())
	require.NoError(t, err)
	require.Equal(t, "ok", h.Status)
	require.Equal(t, hvagent.Version, h.Version)
	require.Equal(t, []string{"sim"}, h.Builtins)
	require.True(t, h.Simulated)
	require.NotNil(t, h.Paused)
	require.Empty(t, h.Paused)
}
