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

	t.Run("GuestEvents", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.createGuest(t, &hvagent.Guest{ID: "g1", Name: "web", State: "stopped"})
		b.run(t, "g1", at(0))
		ids := []string{b.enqueue(t, newJob("g1", nil)).ID, b.enqueue(t, newJob("g1", nil)).ID,
			b.enqueue(t, newJob("g1", nil)).ID}
		b.claim(t, "g1", at(1))
		running := &hvagent.Guest{ID: "g1", State: "running", Metadata: map[string]string{"ignored": "x"}}
		before := len(b.events(t))

		end, err := b.db.FinishClaim(ctx, hvagent.JobEnd{ID: ids[0], At: at(2), Status: hvagent.JobComplete,
			Guest: running}, "g1", first)
		require.NoError(t, err)
		ev := b.events(t)
		require.Len(t, ev, before+3, "the guest's event, the end's, the claim's")
		require.Equal(t, hvagent.EventGuestUpdated, ev[before].Type)
		require.Equal(t, &hvagent.Guest{ID: "g1", Name: "web", State: "running"}, ev[before].Guest,
			"the guest as stored: its name column, no metadata")
		require.Equal(t, end.Job, ev[before+1].Job)
		require.Equal(t, end.Next.Job, ev[before+2].Job)
		for i := range 3 {
			require.Equal(t, ev[before].ID+int64(i), ev[before+i].ID)
		}
		g, err := b.db.Guest(ctx, "g1")
		require.NoError(t, err)
		require.Equal(t, "running", g.State)
		var updated int64
		require.NoError(t, b.db.read.QueryRow(`SELECT updated_at FROM guests WHERE id = 'g1'`).Scan(&updated))
		require.Equal(t, nanos(at(2)), updated)

		// The same guest again: nothing to write, no guest event.
		end, err = b.db.FinishClaim(ctx, hvagent.JobEnd{ID: ids[1], At: at(3), Status: hvagent.JobComplete,
			Guest: running}, "g1", first)
		require.NoError(t, err)
		ev = b.events(t)
		require.Len(t, ev, before+5)
		require.Equal(t, end.Job, ev[before+3].Job)
		require.Equal(t, end.Next.Job, ev[before+4].Job)
		require.NoError(t, b.db.read.QueryRow(`SELECT updated_at FROM guests WHERE id = 'g1'`).Scan(&updated))
		require.Equal(t, nanos(at(2)), updated, "an unchanged guest is not rewritten")

		// A job whose guest is not stored: the whole write fails.
		orphan := b.enqueue(t, newJob("g9", nil)).ID
		b.claim(t, "g9", at(4))
		before = len(b.events(t))
		_, err = b.db.FinishClaim(ctx, hvagent.JobEnd{ID: orphan, At: at(5), Status: hvagent.JobComplete,
			Guest: &hvagent.Guest{ID: "g9"}}, "g9", first)
		requireCode(t, err, hvagent.ENOTFOUND)
		j, err := b.db.Job(ctx, orphan)
		require.NoError(t, err)
		require.Equal(t, hvagent.JobRunning, j.Status)
		require.Len(t, b.events(t), before)
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
