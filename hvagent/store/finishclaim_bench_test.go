package store

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/benchkit"
)

// BenchmarkFinishClaim measures the writer's serial time for the end of a
// job that claims the next one of its queue (Store.FinishClaim, with the
// job's guest, as the agent records a single-stage start job), one at a
// time on one queue, durability normal so that no fsync is timed:
// hold-µs/job is how long each FinishClaim held the writer, from BEGIN to
// the end of COMMIT. Enqueues between them are not counted in it;
// cpu-µs/job, the process's CPU per iteration, counts them.
func BenchmarkFinishClaim(b *testing.B) {
	ctx := context.Background()
	db, err := Open(filepath.Join(b.TempDir(), "hvagent.db"), Options{Durability: DurabilityNormal})
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, db.Close()) })
	g := &hvagent.Guest{ID: "guest-1", Memory: 256, CPU: 1, State: "running"}
	n := newJob(g.ID, nil)
	n.NewGuest = g
	_, err = db.Enqueue(ctx, n)
	require.NoError(b, err)
	o := hvagent.ClaimOptions{FirstStage: cycleLabels}
	c, err := db.Claim(ctx, g.ID, time.Time{}, o)
	require.NoError(b, err)
	var hold atomic.Int64
	var counting atomic.Bool
	f := func(d time.Duration) {
		if counting.Load() {
			hold.Add(int64(d))
		}
	}
	db.commits.onHold.Store(&f)
	defer db.commits.onHold.Store(nil)
	cpu := benchkit.CPUTime(b)
	for b.Loop() {
		_, err := db.Enqueue(ctx, newJob(g.ID, nil))
		require.NoError(b, err)
		counting.Store(true)
		end, err := db.FinishClaim(ctx, hvagent.JobEnd{ID: c.Job.ID, Status: hvagent.JobComplete, Guest: g}, g.ID, o)
		counting.Store(false)
		require.NoError(b, err)
		require.NotNil(b, end.Next)
		c = end.Next
	}
	b.ReportMetric(float64((benchkit.CPUTime(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/job")
	b.ReportMetric(float64(hold.Load())/1e3/float64(b.N), "hold-µs/job")
}
