package store

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hvagent/hvagent/hvagent"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is the base time of the tests; testNow is what Options.Now returns.
var (
	t0      = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	testNow = t0.Add(time.Hour)
)

// testBundle is one test's store.
type testBundle struct {
	db   *DB
	path string
}

// setup opens a fresh store in a temporary directory, closed at cleanup.
func setup(t *testing.T) *testBundle {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "hvagent.db")
	db, err := Open(path, Options{Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return &testBundle{db: db, path: path}
}

// at returns t0 plus n seconds.
func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

// jobOpts adjust newJob; nil fields keep the defaults.
type jobOpts struct {
	Action   *string
	Queue    *string
	QueuedAt *time.Time
	Key      *string
	Hash     *string
	Expires  *time.Time
}

// newJob returns a start job for guest on the guest's queue, queued at t0.
func newJob(guest string, o *jobOpts) hvagent.NewJob {
	if o == nil {
		o = &jobOpts{}
	}
	n := hvagent.NewJob{
		Job: &hvagent.Job{
			ID: uuid.NewString(), GuestID: guest, Action: "start",
			QueuedAt: t0, RequestedBy: "tester",
		},
		Queue:   guest,
		Request: json.RawMessage(`{"guest":"` + guest + `"}`),
	}
	if o.Action != nil {
		n.Job.Action = *o.Action
	}
	if o.Queue != nil {
		n.Queue = *o.Queue
	}
	if o.QueuedAt != nil {
		n.Job.QueuedAt = *o.QueuedAt
	}
	if o.Key != nil {
		n.Job.IdempotencyKey = *o.Key
		n.IdemScope = "tester POST /guests/" + guest + "/start"
		n.IdemHash = "hash-1"
		n.IdemExpires = t0.Add(24 * time.Hour)
	}
	if o.Hash != nil {
		n.IdemHash = *o.Hash
	}
	if o.Expires != nil {
		n.IdemExpires = *o.Expires
	}
	return n
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// enqueue commits n and returns its job.
func (b *testBundle) enqueue(t *testing.T, n hvagent.NewJob) *hvagent.Job {
	t.Helper()
	j, err := b.db.Enqueue(context.Background(), n)
	require.NoError(t, err)
	return j
}

// claim claims the head of queue, which must exist.
func (b *testBundle) claim(t *testing.T, queue string, when time.Time) *hvagent.Job {
	t.Helper()
	c, err := b.db.Claim(context.Background(), queue, when, hvagent.ClaimOptions{})
	require.NoError(t, err)
	require.NotNil(t, c, "queue %s is empty", queue)
	return c.Job
}

// run claims the head of queue, which must exist, and ends it Complete
// a second later.
func (b *testBundle) run(t *testing.T, queue string, when time.Time) *hvagent.Job {
	t.Helper()
	j := b.claim(t, queue, when)
	_, _, err := b.db.Finish(context.Background(), hvagent.JobEnd{ID: j.ID, At: when.Add(time.Second), Status: hvagent.JobComplete})
	require.NoError(t, err)
	return j
}

// createGuest stores a guest through a create job and returns the job.
func (b *testBundle) createGuest(t *testing.T, g *hvagent.Guest) *hvagent.Job {
	t.Helper()
	n := newJob(g.ID, &jobOpts{Action: ptr("create")})
	n.NewGuest = g
	return b.enqueue(t, n)
}

// events returns every retained event.
func (b *testBundle) events(t *testing.T) []*hvagent.Event {
	t.Helper()
	ev, err := b.db.Events(context.Background(), 0, 0)
	require.NoError(t, err)
	return ev
}

// requireCode requires err to be an *hvagent.Error with code.
func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	require.Error(t, err)
	var he *hvagent.Error
	require.ErrorAs(t, err, &he, "error %v is not an *hvagent.Error", err)
	require.Equal(t, code, he.Code, "error %v", err)
}
