package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestDB_Job(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	j1 := b.enqueue(t, newJob("g1", nil))
	j2 := b.enqueue(t, newJob("g2", nil))
	j3 := b.enqueue(t, newJob("g1", nil))
	j4 := b.enqueue(t, newJob("g1", nil))
	position := func(id string) int {
		j, err := b.db.Job(ctx, id)
		require.NoError(t, err)
		return j.Position
	}
	require.Equal(t, []int{1, 1, 2, 3}, []int{position(j1.ID), position(j2.ID), position(j3.ID), position(j4.ID)})

	b.claim(t, "g1", at(1))
	_, err := b.db.CancelQueued(ctx, j3.ID, "no", at(2))
	require.NoError(t, err)
	require.Equal(t, []int{0, 1, 0, 1}, []int{position(j1.ID), position(j2.ID), position(j3.ID), position(j4.ID)})

	_, err = b.db.Job(ctx, "nope")
	requireCode(t, err, hvagent.ENOTFOUND)
}

func TestDB_Jobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	var ids []string // in enqueue order
	for i, g := range []string{"g1", "g2", "g1", "g2", "g1"} {
		action := "start"
		if i%2 == 1 {
			action = "stop"
		}
		ids = append(ids, b.enqueue(t, newJob(g, &jobOpts{Action: &action})).ID)
	}
	b.claim(t, "g1", at(1))
	list := func(f hvagent.JobFilter) []string {
		t.Helper()
		jobs, err := b.db.Jobs(ctx, f)
		require.NoError(t, err)
		out := []string{}
		for _, j := range jobs {
			out = append(out, j.ID)
		}
		return out
	}

	require.Equal(t, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}, list(hvagent.JobFilter{}))
	require.Equal(t, []string{ids[4], ids[2], ids[0]}, list(hvagent.JobFilter{GuestID: "g1"}))
	require.Equal(t, []string{ids[3], ids[1]}, list(hvagent.JobFilter{Action: "stop"}))
	require.Equal(t, []string{ids[0]}, list(hvagent.JobFilter{Status: hvagent.JobRunning}))
	require.Equal(t, []string{ids[4], ids[2]}, list(hvagent.JobFilter{GuestID: "g1", Status: hvagent.JobQueued}))
	require.Equal(t, []string{ids[4], ids[3]}, list(hvagent.JobFilter{Limit: 2}))
	require.Equal(t, []string{ids[2], ids[1]}, list(hvagent.JobFilter{Limit: 2, Before: ids[3]}))
	require.Equal(t, []string{ids[2], ids[0]}, list(hvagent.JobFilter{GuestID: "g1", Before: ids[4]}))
	require.Equal(t, []string{}, list(hvagent.JobFilter{Before: ids[0]}))

	jobs, err := b.db.Jobs(ctx, hvagent.JobFilter{GuestID: "g1"})
	require.NoError(t, err)
	require.Equal(t, 2, jobs[0].Position)

	_, err = b.db.Jobs(ctx, hvagent.JobFilter{Limit: -1})
	requireCode(t, err, hvagent.EINVALID)
	_, err = b.db.Jobs(ctx, hvagent.JobFilter{Status: "Done"})
	requireCode(t, err, hvagent.EINVALID)
	_, err = b.db.Jobs(ctx, hvagent.JobFilter{Before: "nope"})
	requireCode(t, err, hvagent.EINVALID)
	require.Contains(t, err.Error(), "nope")
	require.Contains(t, err.Error(), "not in the log (pruned by retention, or never there): start again from the newest page")
}

func TestDB_Jobs_LimitCap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	for range maxLimit + 1 {
		b.enqueue(t, newJob("g1", nil))
	}
	for _, limit := range []int{0, maxLimit + 5} {
		jobs, err := b.db.Jobs(ctx, hvagent.JobFilter{Limit: limit})
		require.NoError(t, err)
		require.Len(t, jobs, maxLimit)
	}
}

func TestDB_RunningJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	none, err := b.db.RunningJobs(ctx)
	require.NoError(t, err)
	require.NotNil(t, none)
	require.Empty(t, none)

	a := b.enqueue(t, newJob("a", nil))
	b.enqueue(t, newJob("a", nil))
	c := b.enqueue(t, newJob("c", nil))
	b.claim(t, "c", at(1))
	b.claim(t, "a", at(2))
	running, err := b.db.RunningJobs(ctx)
	require.NoError(t, err)
	require.Len(t, running, 2)
	require.Equal(t, a.ID, running[0].ID)
	require.Equal(t, c.ID, running[1].ID)
}

func TestDB_QueuedQueues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	q, err := b.db.QueuedQueues(ctx)
	require.NoError(t, err)
	require.NotNil(t, q)
	require.Empty(t, q)

	b.enqueue(t, newJob("b", nil))
	b.enqueue(t, newJob("a", nil))
	b.enqueue(t, newJob("b", nil))
	b.enqueue(t, newJob("c", nil))
	b.enqueue(t, newJob("image:qcow2:x", nil))
	q, err = b.db.QueuedQueues(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"b", "a", "c", "image:qcow2:x"}, q)

	b.claim(t, "b", at(1))
	b.claim(t, "c", at(1))
	q, err = b.db.QueuedQueues(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "image:qcow2:x"}, q)
}
