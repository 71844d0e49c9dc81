package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestDB_Enqueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := newJob("g1", &jobOpts{Key: ptr("k1")})
		j := b.enqueue(t, n)
		require.Equal(t, &hvagent.Job{
			ID: n.Job.ID, GuestID: "g1", Action: "start", QueuedAt: t0, UpdatedAt: t0,
			Status: hvagent.JobQueued, Position: 1, RequestedBy: "tester", IdempotencyKey: "k1",
		}, j)
		j2 := b.enqueue(t, newJob("g1", nil))
		require.Equal(t, 2, j2.Position)

		ev := b.events(t)
		require.Len(t, ev, 2)
		require.Equal(t, hvagent.EventJobUpdated, ev[0].Type)
		require.Equal(t, t0, ev[0].At)
		require.Equal(t, j, ev[0].Job)
	})

	t.Run("ZeroQueuedAtIsNow", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := b.enqueue(t, newJob("g1", &jobOpts{QueuedAt: &time.Time{}}))
		require.Equal(t, testNow, j.QueuedAt)
		require.Equal(t, testNow, j.UpdatedAt)
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for name, mod := range map[string]func(*hvagent.NewJob){
			"NoJob":      func(n *hvagent.NewJob) { n.Job = nil },
			"NoID":       func(n *hvagent.NewJob) { n.Job.ID = "" },
			"NoGuestID":  func(n *hvagent.NewJob) { n.Job.GuestID = "" },
			"NoAction":   func(n *hvagent.NewJob) { n.Job.Action = "" },
			"NoQueue":    func(n *hvagent.NewJob) { n.Queue = "" },
			"BadRequest": func(n *hvagent.NewJob) { n.Request = json.RawMessage(`{`) },
			"NoGuestIDInNewGuest": func(n *hvagent.NewJob) {
				n.NewGuest = &hvagent.Guest{}
			},
		} {
			n := newJob("g1", nil)
			mod(&n)
			_, err := b.db.Enqueue(ctx, n)
			require.Error(t, err, name)
			requireCode(t, err, hvagent.EINVALID)
		}
		require.Empty(t, b.events(t))
	})

	t.Run("ErrJobExists", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := newJob("g1", nil)
		b.enqueue(t, n)
		_, err := b.db.Enqueue(ctx, n)
		requireCode(t, err, hvagent.ECONFLICT)
		require.EqualError(t, err, "job "+n.Job.ID+" already exists")
	})

	t.Run("ErrGuestExists", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.createGuest(t, &hvagent.Guest{ID: "g1"})
		n := newJob("g1", nil)
		n.NewGuest = &hvagent.Guest{ID: "g1"}
		_, err := b.db.Enqueue(ctx, n)
		requireCode(t, err, hvagent.ECONFLICT)
		require.EqualError(t, err, "guest g1 already exists")
		_, err = b.db.Job(ctx, n.Job.ID)
		requireCode(t, err, hvagent.ENOTFOUND)
	})

	t.Run("RequireGuest", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := newJob("g1", nil)
		n.RequireGuest = true
		_, err := b.db.Enqueue(ctx, n)
		requireCode(t, err, hvagent.ENOTFOUND)
		require.EqualError(t, err, "guest g1 not found")

		b.createGuest(t, &hvagent.Guest{ID: "g1"})
		b.enqueue(t, n)
	})

	t.Run("ErrQueueFull", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		full := func() hvagent.NewJob { n := newJob("g1", nil); n.MaxQueued = 2; return n }
		b.enqueue(t, full())
		b.enqueue(t, full())
		b.enqueue(t, newJob("g2", nil))
		_, err := b.db.Enqueue(ctx, full())
		requireCode(t, err, hvagent.EBUSY)
		require.EqualError(t, err, "queue g1 is full (2 queued jobs)")

		b.claim(t, "g1", at(1)) // a Running job no longer counts
		b.enqueue(t, full())
	})
}

func TestDB_Enqueue_Idempotency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	count := func(t *testing.T, b *testBundle) int {
		jobs, err := b.db.Jobs(ctx, hvagent.JobFilter{})
		require.NoError(t, err)
		return len(jobs)
	}

	t.Run("SameHash", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		first := b.enqueue(t, newJob("g1", &jobOpts{Key: ptr("k")}))
		again := newJob("g1", &jobOpts{Key: ptr("k"), QueuedAt: ptr(at(60))})
		j := b.enqueue(t, again)
		require.Equal(t, first, j)
		require.Equal(t, 1, count(t, b))
		require.Len(t, b.events(t), 1)

		other := newJob("g1", &jobOpts{Key: ptr("k")})
		other.IdemScope = "another caller"
		require.NotEqual(t, first.ID, b.enqueue(t, other).ID, "keys are scoped")
	})

	t.Run("ErrDifferentHash", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.enqueue(t, newJob("g1", &jobOpts{Key: ptr("k")}))
		_, err := b.db.Enqueue(ctx, newJob("g1", &jobOpts{Key: ptr("k"), Hash: ptr("hash-2")}))
		requireCode(t, err, hvagent.ECONFLICT)
		require.EqualError(t, err, "idempotency key reused with a different request")
		require.Equal(t, 1, count(t, b))
	})

	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		first := b.enqueue(t, newJob("g1", &jobOpts{Key: ptr("k"), Expires: ptr(at(10))}))
		later := newJob("g1", &jobOpts{Key: ptr("k"), Hash: ptr("hash-2"), QueuedAt: ptr(at(10))})
		second := b.enqueue(t, later)
		require.NotEqual(t, first.ID, second.ID)
		require.Equal(t, 2, count(t, b))

		// The key now points at the second job.
		again := newJob("g1", &jobOpts{Key: ptr("k"), Hash: ptr("hash-2"), QueuedAt: ptr(at(20))})
		require.Equal(t, second.ID, b.enqueue(t, again).ID)
	})

	t.Run("QueueFullStillReturnsJob", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := newJob("g1", &jobOpts{Key: ptr("k")})
		n.MaxQueued = 1
		first := b.enqueue(t, n)
		again := newJob("g1", &jobOpts{Key: ptr("k")})
		again.MaxQueued = 1
		require.Equal(t, first.ID, b.enqueue(t, again).ID)
	})
}

func TestDB_EnqueueClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := hvagent.ClaimOptions{FirstStage: map[string]string{"start": "1/1 Sim.Start"}}

	// On an idle queue the job is claimed in the enqueue's commit: the
	// caller gets the job as queued, the store holds it Running, and the
	// events say both, in that order.
	t.Run("IdleQueue", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := newJob("g1", nil)
		j, c, err := b.db.EnqueueClaim(ctx, n, o)
		require.NoError(t, err)
		require.Equal(t, hvagent.JobQueued, j.Status)
		require.Equal(t, 1, j.Position)
		require.NotNil(t, c)
		require.Equal(t, n.Job.ID, c.Job.ID)
		require.JSONEq(t, string(n.Request), string(c.Request))
		stored, err := b.db.Job(ctx, n.Job.ID)
		require.NoError(t, err)
		require.Equal(t, c.Job, stored, "the claim is the job as stored")
		require.Equal(t, hvagent.JobRunning, stored.Status)
		require.Equal(t, 1, stored.Attempt)
		require.Equal(t, t0, stored.StartedAt)
		require.Equal(t, "1/1 Sim.Start", stored.Stage)
		ev := b.events(t)
		require.Len(t, ev, 2)
		require.Equal(t, j, ev[0].Job)
		require.Equal(t, stored, ev[1].Job)
	})

	// A queue that holds a Queued or a Running job, or a paused action,
	// leaves the job queued, without an error.
	t.Run("NotIdle", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.enqueue(t, newJob("queued", nil))
		b.enqueue(t, newJob("running", nil))
		b.claim(t, "running", t0)
		for _, tc := range []struct {
			queue string
			o     hvagent.ClaimOptions
		}{{"queued", o}, {"running", o}, {"paused", hvagent.ClaimOptions{Paused: []string{"start"}}}} {
			n := newJob(tc.queue, nil)
			j, c, err := b.db.EnqueueClaim(ctx, n, tc.o)
			require.NoError(t, err, tc.queue)
			require.Nil(t, c, tc.queue)
			stored, err := b.db.Job(ctx, j.ID)
			require.NoError(t, err)
			require.Equal(t, hvagent.JobQueued, stored.Status, tc.queue)
		}
	})

	// A live idempotency key gives the earlier job, claimed no more.
	t.Run("Idempotent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := newJob("g1", &jobOpts{Key: ptr("k1")})
		_, c, err := b.db.EnqueueClaim(ctx, n, o)
		require.NoError(t, err)
		require.NotNil(t, c)
		again := newJob("g1", &jobOpts{Key: ptr("k1")})
		j, c, err := b.db.EnqueueClaim(ctx, again, o)
		require.NoError(t, err)
		require.Nil(t, c)
		require.Equal(t, n.Job.ID, j.ID)
	})
}
