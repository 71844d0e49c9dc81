package store

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// attemptError is one entry of the errors column.
type attemptError struct {
	At      string `json:"at"`
	Attempt int    `json:"attempt"`
	Stage   string `json:"stage"`
	Error   string `json:"error"`
}

// attemptErrors reads the errors column of job id.
func attemptErrors(t *testing.T, b *testBundle, id string) []attemptError {
	t.Helper()
	var raw string
	require.NoError(t, b.db.read.QueryRow(`SELECT errors FROM jobs WHERE id = ?`, id).Scan(&raw))
	var out []attemptError
	require.NoError(t, json.Unmarshal([]byte(raw), &out))
	return out
}

func TestDB_Claim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("FIFOPerQueue", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var a, c []string
		for i := range 3 {
			a = append(a, b.enqueue(t, newJob("a", &jobOpts{QueuedAt: ptr(at(2 * i))})).ID)
			c = append(c, b.enqueue(t, newJob("c", &jobOpts{QueuedAt: ptr(at(2*i + 1))})).ID)
		}
		require.Equal(t, a[0], b.run(t, "a", at(10)).ID)
		require.Equal(t, c[0], b.run(t, "c", at(10)).ID)
		require.Equal(t, c[1], b.run(t, "c", at(10)).ID)
		require.Equal(t, a[1], b.run(t, "a", at(10)).ID)
		require.Equal(t, a[2], b.run(t, "a", at(10)).ID)
		require.Equal(t, c[2], b.run(t, "c", at(10)).ID)

		cl, err := b.db.Claim(ctx, "a", at(11), hvagent.ClaimOptions{})
		require.NoError(t, err)
		require.Nil(t, cl)
		cl, err = b.db.Claim(ctx, "unknown", at(11), hvagent.ClaimOptions{})
		require.NoError(t, err)
		require.Nil(t, cl)
	})

	t.Run("ErrQueueHasRunningJob", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		first := b.enqueue(t, newJob("g1", nil))
		second := b.enqueue(t, newJob("g1", nil))
		other := b.enqueue(t, newJob("g2", nil))
		require.Equal(t, first.ID, b.claim(t, "g1", at(1)).ID)

		_, err := b.db.Claim(ctx, "g1", at(2), hvagent.ClaimOptions{})
		requireCode(t, err, hvagent.ECONFLICT)
		require.Contains(t, err.Error(), first.ID)
		j, err := b.db.Job(ctx, second.ID)
		require.NoError(t, err)
		require.Equal(t, hvagent.JobQueued, j.Status)
		require.Equal(t, other.ID, b.claim(t, "g2", at(2)).ID, "another queue is not held")

		_, err = b.db.Requeue(ctx, first.ID, "interrupted", at(3))
		require.NoError(t, err)
		require.Equal(t, first.ID, b.run(t, "g1", at(4)).ID, "a requeued job keeps its place")
		require.Equal(t, second.ID, b.claim(t, "g1", at(5)).ID)
	})

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := newJob("g1", nil)
		b.enqueue(t, n)
		cl, err := b.db.Claim(ctx, "g1", at(5), hvagent.ClaimOptions{})
		require.NoError(t, err)
		require.JSONEq(t, string(n.Request), string(cl.Request))
		j := cl.Job
		require.Equal(t, hvagent.JobRunning, j.Status)
		require.Equal(t, 1, j.Attempt)
		require.Equal(t, at(5), j.StartedAt)
		require.Equal(t, at(5), j.UpdatedAt)
		require.Zero(t, j.Position)

		got, err := b.db.Job(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, j, got)
		ev := b.events(t)
		require.Equal(t, j, ev[len(ev)-1].Job)
		require.Equal(t, at(5), ev[len(ev)-1].At)
	})

	t.Run("AfterRequeue", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.enqueue(t, newJob("g1", nil))
		j := b.claim(t, "g1", at(1))
		_, err := b.db.Advance(ctx, hvagent.JobUpdate{ID: j.ID, At: at(2), Stage: ptr("1/2 a"),
			Progress: &hvagent.Progress{Done: 1, Total: 2}})
		require.NoError(t, err)
		_, err = b.db.Requeue(ctx, j.ID, "interrupted by agent restart", at(3))
		require.NoError(t, err)

		j = b.claim(t, "g1", at(4))
		require.Equal(t, 2, j.Attempt)
		require.Equal(t, at(1), j.StartedAt, "StartedAt is set the first time only")
		require.Empty(t, j.Stage)
		require.Empty(t, j.Message)
		require.True(t, j.StageStartedAt.IsZero())
		require.Nil(t, j.Progress)
		got, err := b.db.Job(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, j, got, "the claim returns the job as stored")
	})
}

func TestDB_Advance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.enqueue(t, newJob("g1", nil))
		id := b.claim(t, "g1", at(1)).ID

		j, err := b.db.Advance(ctx, hvagent.JobUpdate{ID: id, At: at(2), Stage: ptr("1/2 Storage.Fetch")})
		require.NoError(t, err)
		require.Equal(t, "1/2 Storage.Fetch", j.Stage)
		require.Equal(t, at(2), j.StageStartedAt)
		require.Nil(t, j.Progress)

		j, err = b.db.Advance(ctx, hvagent.JobUpdate{ID: id, At: at(3), Progress: &hvagent.Progress{Done: 5, Total: 10}})
		require.NoError(t, err)
		require.Equal(t, "1/2 Storage.Fetch", j.Stage)
		require.Equal(t, at(2), j.StageStartedAt)
		require.Equal(t, at(3), j.UpdatedAt)
		require.Equal(t, &hvagent.Progress{Done: 5, Total: 10}, j.Progress)

		got, err := b.db.Job(ctx, id)
		require.NoError(t, err)
		require.Equal(t, j, got)
		ev := b.events(t)
		require.Len(t, ev, 4)
		require.Equal(t, j, ev[3].Job)
	})

	t.Run("Guest", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.createGuest(t, &hvagent.Guest{ID: "g1", State: "stopped"})
		b.run(t, "g1", at(0))
		b.enqueue(t, newJob("g1", nil))
		id := b.claim(t, "g1", at(1)).ID
		before := len(b.events(t))
		g := &hvagent.Guest{ID: "g1", State: "starting"}

		j, err := b.db.Advance(ctx, hvagent.JobUpdate{ID: id, At: at(2), Stage: ptr("2/2 Sim.Start"), Guest: g})
		require.NoError(t, err)
		ev := b.events(t)
		require.Len(t, ev, before+2, "the guest's event, then the job's")
		require.Equal(t, g, ev[before].Guest)
		require.Equal(t, j, ev[before+1].Job)
		stored, err := b.db.Guest(ctx, "g1")
		require.NoError(t, err)
		require.Equal(t, "starting", stored.State)

		j, err = b.db.Advance(ctx, hvagent.JobUpdate{ID: id, At: at(3), Guest: g})
		require.NoError(t, err)
		ev = b.events(t)
		require.Len(t, ev, before+3, "an unchanged guest has no event")
		require.Equal(t, j, ev[before+2].Job)

		// A guest that is not stored fails the whole write: the job keeps
		// its stage.
		b.enqueue(t, newJob("g9", nil))
		orphan := b.claim(t, "g9", at(4))
		before = len(b.events(t))
		_, err = b.db.Advance(ctx, hvagent.JobUpdate{ID: orphan.ID, At: at(5), Stage: ptr("2/2 Sim.Start"),
			Guest: &hvagent.Guest{ID: "g9"}})
		requireCode(t, err, hvagent.ENOTFOUND)
		got, err := b.db.Job(ctx, orphan.ID)
		require.NoError(t, err)
		require.Equal(t, orphan, got)
		require.Len(t, b.events(t), before)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.db.Advance(ctx, hvagent.JobUpdate{ID: "nope", At: at(1)})
		requireCode(t, err, hvagent.ENOTFOUND)
		require.EqualError(t, err, "job nope not found")
	})

	t.Run("ErrNotRunning", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := b.enqueue(t, newJob("g1", nil))
		_, err := b.db.Advance(ctx, hvagent.JobUpdate{ID: j.ID, At: at(1), Stage: ptr("x")})
		requireCode(t, err, hvagent.ECONFLICT)
		require.EqualError(t, err, "job "+j.ID+" is Queued, not Running")
	})
}

func TestDB_Requeue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("KeepsHead", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		first := b.enqueue(t, newJob("g1", nil))
		second := b.enqueue(t, newJob("g1", nil))
		b.claim(t, "g1", at(1))
		_, err := b.db.Advance(ctx, hvagent.JobUpdate{ID: first.ID, At: at(2), Stage: ptr("2/3 Libvirt.Start")})
		require.NoError(t, err)

		j, err := b.db.Requeue(ctx, first.ID, "interrupted", at(3))
		require.NoError(t, err)
		require.Equal(t, hvagent.JobQueued, j.Status)
		require.Equal(t, "interrupted", j.Message)
		require.Equal(t, 1, j.Position)
		require.Equal(t, at(3), j.UpdatedAt)
		require.Empty(t, j.Stage)
		require.True(t, j.FinishedAt.IsZero())

		s, err := b.db.Job(ctx, second.ID)
		require.NoError(t, err)
		require.Equal(t, 2, s.Position)
		require.Equal(t, first.ID, b.claim(t, "g1", at(4)).ID)

		require.Equal(t, []attemptError{{At: "2024-05-06T07:08:12.123456789Z", Attempt: 1,
			Stage: "2/3 Libvirt.Start", Error: "interrupted"}}, attemptErrors(t, b, first.ID))
	})

	t.Run("ErrNotRunning", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := b.enqueue(t, newJob("g1", nil))
		_, err := b.db.Requeue(ctx, j.ID, "x", at(1))
		requireCode(t, err, hvagent.ECONFLICT)
		_, err = b.db.Requeue(ctx, "nope", "x", at(1))
		requireCode(t, err, hvagent.ENOTFOUND)
	})
}

func TestDB_CancelQueued(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	running := b.enqueue(t, newJob("g1", nil))
	queued := b.enqueue(t, newJob("g1", nil))
	b.claim(t, "g1", at(1))

	j, err := b.db.CancelQueued(ctx, queued.ID, "canceled by tester", at(2))
	require.NoError(t, err)
	require.Equal(t, hvagent.JobCanceled, j.Status)
	require.Equal(t, "canceled by tester", j.Message)
	require.Equal(t, at(2), j.FinishedAt)
	require.Zero(t, j.Position)
	require.Empty(t, attemptErrors(t, b, queued.ID))
	ev := b.events(t)
	require.Equal(t, j, ev[len(ev)-1].Job)

	before := len(b.events(t))
	r, err := b.db.CancelQueued(ctx, running.ID, "canceled by tester", at(3))
	require.NoError(t, err)
	require.Equal(t, hvagent.JobRunning, r.Status)
	require.Equal(t, at(1), r.UpdatedAt)
	require.Len(t, b.events(t), before, "a running job is not changed")

	_, err = b.db.CancelQueued(ctx, queued.ID, "again", at(4))
	requireCode(t, err, hvagent.ECONFLICT)
	_, err = b.db.CancelQueued(ctx, "nope", "x", at(4))
	requireCode(t, err, hvagent.ENOTFOUND)
}
