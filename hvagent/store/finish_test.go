package store

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestDB_Finish(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Complete", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.enqueue(t, newJob("g1", nil)).ID
		b.claim(t, "g1", at(1))
		_, err := b.db.Advance(ctx, hvagent.JobUpdate{ID: id, At: at(2), Stage: ptr("1/1 x")})
		require.NoError(t, err)
		j, canceled, err := b.db.Finish(ctx, hvagent.JobEnd{ID: id, At: at(3),
			Status: hvagent.JobComplete, Result: json.RawMessage(`{"id":"g1"}`)})
		require.NoError(t, err)
		require.Empty(t, canceled)
		require.Equal(t, hvagent.JobComplete, j.Status)
		require.Empty(t, j.Error)
		require.Equal(t, at(3), j.FinishedAt)
		require.Equal(t, at(3), j.UpdatedAt)
		require.Equal(t, "1/1 x", j.Stage)
		require.JSONEq(t, `{"id":"g1"}`, string(j.Result))
		require.Empty(t, attemptErrors(t, b, id))

		got, err := b.db.Job(ctx, id)
		require.NoError(t, err)
		require.Equal(t, j, got)
		ev := b.events(t)
		require.Equal(t, j, ev[len(ev)-1].Job)
	})

	t.Run("Error", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.enqueue(t, newJob("g1", nil)).ID
		b.claim(t, "g1", at(1))
		_, err := b.db.Advance(ctx, hvagent.JobUpdate{ID: id, At: at(2), Stage: ptr("1/1 x")})
		require.NoError(t, err)
		j, _, err := b.db.Finish(ctx, hvagent.JobEnd{ID: id, At: at(3), Status: hvagent.JobError, Message: "disk full"})
		require.NoError(t, err)
		require.Equal(t, hvagent.JobError, j.Status)
		require.Equal(t, "disk full", j.Message)
		require.Nil(t, j.Result)
		require.Equal(t, []attemptError{{At: "2024-05-06T07:08:12.123456789Z", Attempt: 1,
			Stage: "1/1 x", Error: "disk full"}}, attemptErrors(t, b, id))
	})

	t.Run("QueuedJob", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.enqueue(t, newJob("g1", nil)).ID
		j, _, err := b.db.Finish(ctx, hvagent.JobEnd{ID: id, At: at(1), Status: hvagent.JobCanceled, Message: "no"})
		require.NoError(t, err)
		require.Equal(t, hvagent.JobCanceled, j.Status)
		require.True(t, j.StartedAt.IsZero())
	})

	t.Run("ErrFinished", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.enqueue(t, newJob("g1", nil)).ID
		_, _, err := b.db.Finish(ctx, hvagent.JobEnd{ID: id, At: at(1), Status: hvagent.JobCanceled})
		require.NoError(t, err)
		_, _, err = b.db.Finish(ctx, hvagent.JobEnd{ID: id, At: at(2), Status: hvagent.JobComplete})
		requireCode(t, err, hvagent.ECONFLICT)
		require.EqualError(t, err, "job "+id+" is Canceled, not Queued or Running")
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.enqueue(t, newJob("g1", nil)).ID
		for _, s := range []hvagent.JobStatus{hvagent.JobRunning, hvagent.JobQueued, "", "Done"} {
			_, _, err := b.db.Finish(ctx, hvagent.JobEnd{ID: id, At: at(1), Status: s})
			requireCode(t, err, hvagent.EINVALID)
		}
		_, _, err := b.db.Finish(ctx, hvagent.JobEnd{ID: id, At: at(1), Status: hvagent.JobComplete,
			Result: json.RawMessage(`not json`)})
		requireCode(t, err, hvagent.EINVALID)
		_, _, err = b.db.Finish(ctx, hvagent.JobEnd{ID: "nope", At: at(1), Status: hvagent.JobComplete})
		requireCode(t, err, hvagent.ENOTFOUND)
	})
}

func TestDB_Finish_DeleteGuest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	guest := &hvagent.Guest{ID: "g1", State: hvagent.StateShutoff, Metadata: map[string]string{"a": "1"}}
	create := b.createGuest(t, guest)
	del := b.enqueue(t, newJob("g1", &jobOpts{Action: ptr("delete")}))
	behind1 := b.enqueue(t, newJob("g1", nil))
	other := b.enqueue(t, newJob("g2", nil))
	behind2 := b.enqueue(t, newJob("g1", nil))
	_, _, err := b.db.Finish(ctx, hvagent.JobEnd{ID: create.ID, At: at(1), Status: hvagent.JobComplete})
	require.NoError(t, err)
	require.Equal(t, del.ID, b.claim(t, "g1", at(2)).ID)
	before := len(b.events(t))

	j, canceled, err := b.db.Finish(ctx, hvagent.JobEnd{ID: del.ID, At: at(3),
		Status: hvagent.JobComplete, DeleteGuest: true})
	require.NoError(t, err)
	require.Equal(t, hvagent.JobComplete, j.Status)
	require.Equal(t, []string{behind1.ID, behind2.ID}, canceled)

	_, err = b.db.Guest(ctx, "g1")
	requireCode(t, err, hvagent.ENOTFOUND)
	for _, id := range canceled {
		c, err := b.db.Job(ctx, id)
		require.NoError(t, err)
		require.Equal(t, hvagent.JobCanceled, c.Status)
		require.Equal(t, "guest deleted", c.Message)
		require.Equal(t, hvagent.ECANCELED, c.Error)
		require.Equal(t, at(3), c.FinishedAt)
	}
	o, err := b.db.Job(ctx, other.ID)
	require.NoError(t, err)
	require.Equal(t, hvagent.JobQueued, o.Status)

	ev := b.events(t)[before:]
	require.Len(t, ev, 4)
	require.Equal(t, del.ID, ev[0].Job.ID)
	require.Equal(t, hvagent.EventGuestDeleted, ev[1].Type)
	require.Equal(t, &hvagent.Guest{ID: "g1", State: hvagent.StateShutoff}, ev[1].Guest, "events carry no metadata")
	var rows int
	require.NoError(t, b.db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM guest_metadata`).Scan(&rows))
	require.Zero(t, rows, "a deleted guest's metadata goes with it")
	require.Equal(t, behind1.ID, ev[2].Job.ID)
	require.Equal(t, hvagent.JobCanceled, ev[2].Job.Status)
	require.Equal(t, behind2.ID, ev[3].Job.ID)

	jobs, err := b.db.Jobs(ctx, hvagent.JobFilter{GuestID: "g1"})
	require.NoError(t, err)
	require.Len(t, jobs, 4, "the guest's job history is kept")
}
