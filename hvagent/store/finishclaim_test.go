package store

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestDB_FinishClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	first := hvagent.ClaimOptions{FirstStage: map[string]string{"start": "1/1 Sim.Start"}}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.enqueue(t, newJob("g1", nil)).ID
		next := b.enqueue(t, newJob("g1", nil)).ID
		other := b.enqueue(t, newJob("g2", nil)).ID
		b.claim(t, "g1", at(1))
		before := len(b.events(t))

		end, err := b.db.FinishClaim(ctx, hvagent.JobEnd{ID: id, At: at(3), Status: hvagent.JobComplete,
			Result: json.RawMessage(`{"id":"g1"}`)}, "g1", first)
		require.NoError(t, err)
		require.Empty(t, end.Canceled)
		require.Equal(t, hvagent.JobComplete, end.Job.Status)
		require.Equal(t, at(3), end.Job.FinishedAt)
		require.JSONEq(t, `{"id":"g1"}`, string(end.Job.Result))
		require.NotNil(t, end.Next)
		c := end.Next.Job
		require.Equal(t, next, c.ID)
		require.Equal(t, hvagent.JobRunning, c.Status)
		require.Equal(t, 1, c.Attempt)
		require.Equal(t, at(3), c.StartedAt)
		require.Equal(t, "1/1 Sim.Start", c.Stage)
		require.Equal(t, at(3), c.StageStartedAt)
		require.JSONEq(t, `{"guest":"g1"}`, string(end.Next.Request))

		for _, j := range []*hvagent.Job{end.Job, c} {
			got, err := b.db.Job(ctx, j.ID)
			require.NoError(t, err)
			require.Equal(t, j, got)
		}
		ev := b.events(t)
		require.Len(t, ev, before+2, "one event per transition, in one commit")
		require.Equal(t, end.Job, ev[before].Job)
		require.Equal(t, c, ev[before+1].Job)
		o, err := b.db.Job(ctx, other)
		require.NoError(t, err)
		require.Equal(t, hvagent.JobQueued, o.Status, "another queue is not touched")
	})

	t.Run("EmptyQueue", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.enqueue(t, newJob("g1", nil)).ID
		b.claim(t, "g1", at(1))
		end, err := b.db.FinishClaim(ctx, hvagent.JobEnd{ID: id, At: at(2), Status: hvagent.JobError,
			Code: hvagent.ESUBAGENT, Message: "boom"}, "g1", first)
		require.NoError(t, err)
		require.Nil(t, end.Next)
		require.Equal(t, hvagent.JobError, end.Job.Status)
		require.Equal(t, hvagent.ESUBAGENT, end.Job.Error)
	})

	t.Run("Paused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.enqueue(t, newJob("g1", nil)).ID
		next := b.enqueue(t, newJob("g1", nil)).ID
		b.claim(t, "g1", at(1))
		end, err := b.db.FinishClaim(ctx, hvagent.JobEnd{ID: id, At: at(2), Status: hvagent.JobComplete},
			"g1", hvagent.ClaimOptions{Paused: []string{"start"}})
		require.NoError(t, err)
		require.Nil(t, end.Next, "a paused job holds its queue")
		j, err := b.db.Job(ctx, next)
		require.NoError(t, err)
		require.Equal(t, hvagent.JobQueued, j.Status)
		require.Equal(t, 1, j.Position)
	})

	t.Run("DeleteGuest", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.createGuest(t, &hvagent.Guest{ID: "g1", State: hvagent.StateShutoff})
		b.run(t, "g1", at(1))
		del := b.enqueue(t, newJob("g1", &jobOpts{Action: ptr("delete")})).ID
		queued := b.enqueue(t, newJob("g1", nil)).ID
		b.claim(t, "g1", at(3))
		end, err := b.db.FinishClaim(ctx, hvagent.JobEnd{ID: del, At: at(4), Status: hvagent.JobComplete,
			DeleteGuest: true}, "g1", first)
		require.NoError(t, err)
		require.Nil(t, end.Next)
		require.Equal(t, []string{queued}, end.Canceled)
	})

	t.Run("ErrOtherQueue", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.enqueue(t, newJob("g1", nil)).ID
		other := b.enqueue(t, newJob("g2", nil)).ID
		b.claim(t, "g1", at(1))
		before := len(b.events(t))
		_, err := b.db.FinishClaim(ctx, hvagent.JobEnd{ID: id, At: at(2), Status: hvagent.JobComplete}, "g2", first)
		requireCode(t, err, hvagent.EINVALID)
		requireStatus(t, b, id, hvagent.JobRunning)
		requireStatus(t, b, other, hvagent.JobQueued)
		require.Len(t, b.events(t), before, "nothing is written")
	})

	t.Run("ErrFinished", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.enqueue(t, newJob("g1", nil)).ID
		next := b.enqueue(t, newJob("g1", nil)).ID
		b.run(t, "g1", at(1))
		_, err := b.db.FinishClaim(ctx, hvagent.JobEnd{ID: id, At: at(3), Status: hvagent.JobComplete}, "g1", first)
		requireCode(t, err, hvagent.ECONFLICT)
		requireStatus(t, b, next, hvagent.JobQueued)
	})

	t.Run("ErrClaimUndoesEnd", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		running := b.enqueue(t, newJob("g1", nil)).ID
		queued := b.enqueue(t, newJob("g1", nil)).ID
		b.enqueue(t, newJob("g1", nil))
		b.claim(t, "g1", at(1))
		before := len(b.events(t))
		// Ending the Queued job succeeds, but its queue still has a Running
		// job when the claim comes to the next one: the claim fails, and so
		// does the whole write.
		_, err := b.db.FinishClaim(ctx, hvagent.JobEnd{ID: queued, At: at(2), Status: hvagent.JobCanceled}, "g1", first)
		requireCode(t, err, hvagent.ECONFLICT)
		require.Contains(t, err.Error(), running)
		requireStatus(t, b, queued, hvagent.JobQueued)
		requireStatus(t, b, running, hvagent.JobRunning)
		require.Len(t, b.events(t), before, "nothing is written")
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.enqueue(t, newJob("g1", nil)).ID
		_, err := b.db.FinishClaim(ctx, hvagent.JobEnd{ID: id, At: at(1), Status: hvagent.JobRunning}, "g1", first)
		requireCode(t, err, hvagent.EINVALID)
		_, err = b.db.FinishClaim(ctx, hvagent.JobEnd{ID: "nope", At: at(1), Status: hvagent.JobComplete}, "g1", first)
		requireCode(t, err, hvagent.ENOTFOUND)
	})
}

// requireStatus requires job id to have status s.
func requireStatus(t *testing.T, b *testBundle, id string, s hvagent.JobStatus) {
	t.Helper()
	j, err := b.db.Job(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, s, j.Status)
}
