package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/benchkit"
)

// BenchmarkEnqueueClaimFinish measures one job's three transactions.
func BenchmarkEnqueueClaimFinish(b *testing.B) {
	ctx := context.Background()
	db, err := Open(filepath.Join(b.TempDir(), "hvagent.db"), Options{})
	require.NoError(b, err)
	defer func() { require.NoError(b, db.Close()) }()
	for b.Loop() {
		j, err := db.Enqueue(ctx, newJob("g1", nil))
		require.NoError(b, err)
		_, err = db.Claim(ctx, "g1", at(1), hvagent.ClaimOptions{})
		require.NoError(b, err)
		_, _, err = db.Finish(ctx, hvagent.JobEnd{ID: j.ID, At: at(2), Status: hvagent.JobComplete})
		require.NoError(b, err)
	}
}

// BenchmarkRawTx measures three plain write transactions, each inserting a
// row, with the store's writer DSN: the floor of BenchmarkEnqueueClaimFinish.
func BenchmarkRawTx(b *testing.B) {
	ctx := context.Background()
	pool, err := sql.Open("sqlite3", writerDSN(filepath.Join(b.TempDir(), "raw.db"), "FULL"))
	require.NoError(b, err)
	defer func() { require.NoError(b, pool.Close()) }()
	pool.SetMaxOpenConns(1)
	_, err = pool.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT`)
	require.NoError(b, err)
	for b.Loop() {
		for range 3 {
			err := inTx(ctx, pool, func(tx querier) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, "x")
				return err
			})
			require.NoError(b, err)
		}
	}
}

// cycleJobs is how many jobs each caller of BenchmarkJobCycle runs per
// round.
const cycleJobs = 4

// BenchmarkJobCycle measures the store alone on the job path: callers
// concurrent queues, each running its jobs through Enqueue, Claim and
// Finish (with its guest, as the agent does), against the same number of
// serial one-row commits (3 per job) on the store's DSN, in alternating
// rounds. ratio = jobs/s ÷ raw-jobs/s.
func BenchmarkJobCycle(b *testing.B) {
	for _, callers := range []int{8, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			ctx := context.Background()
			db, err := Open(filepath.Join(b.TempDir(), "hvagent.db"), Options{})
			require.NoError(b, err)
			b.Cleanup(func() { require.NoError(b, db.Close()) })
			guests := make([]*hvagent.Guest, callers)
			for i := range guests {
				guests[i] = &hvagent.Guest{ID: fmt.Sprintf("guest-%03d", i), Memory: 256, CPU: 1, State: "running"}
				n := newJob(guests[i].ID, &jobOpts{Action: ptr("create")})
				n.NewGuest = guests[i]
				_, err := db.Enqueue(ctx, n)
				require.NoError(b, err)
				c, err := db.Claim(ctx, guests[i].ID, at(1), hvagent.ClaimOptions{})
				require.NoError(b, err)
				_, _, err = db.Finish(ctx, hvagent.JobEnd{ID: c.Job.ID, Status: hvagent.JobComplete})
				require.NoError(b, err)
			}
			raw := benchkit.RawPool(b, func(path string) (string, error) { return writerDSN(path, "FULL"), nil })
			var tJobs, tRaw, cpu time.Duration
			for b.Loop() {
				c := benchkit.CPUTime(b)
				tJobs += cycleRound(b, db, guests)
				cpu += benchkit.CPUTime(b) - c
				tRaw += benchkit.RawCommits(b, raw, callers*cycleJobs*3)
			}
			jobs := float64(b.N * callers * cycleJobs)
			b.ReportMetric(float64(cpu.Microseconds())/jobs, "cpu-µs/job")
			b.ReportMetric(jobs/tJobs.Seconds(), "jobs/s")
			b.ReportMetric(jobs/tRaw.Seconds(), "raw-jobs/s")
			b.ReportMetric(tRaw.Seconds()/tJobs.Seconds(), "ratio")
		})
	}
}

// cycleLabels are first-stage labels as the agent passes them to Claim.
var cycleLabels = map[string]string{"start": "1/1 start", "stop": "1/1 stop", "create": "1/3 create",
	"reboot": "1/2 stop", "delete": "1/2 stop", "suspend": "1/1 suspend", "resume": "1/1 resume"}

// cycleRound runs cycleJobs jobs on each guest, one goroutine per guest,
// and returns how long they took.
func cycleRound(b *testing.B, db *DB, guests []*hvagent.Guest) time.Duration {
	began := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(guests))
	for _, g := range guests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- cycle(db, g)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(b, err)
	}
	return time.Since(began)
}

// cycle runs cycleJobs start jobs of guest g through the store, as the
// agent does: enqueue, claim, finish with the guest.
func cycle(db *DB, g *hvagent.Guest) error {
	ctx := context.Background()
	for range cycleJobs {
		n := newJob(g.ID, nil)
		n.RequireGuest, n.MaxQueued = true, 1000
		n.Job.QueuedAt = time.Time{}
		if _, err := db.Enqueue(ctx, n); err != nil {
			return err
		}
		c, err := db.Claim(ctx, g.ID, time.Time{}, hvagent.ClaimOptions{FirstStage: cycleLabels})
		if err != nil {
			return err
		}
		_, _, err = db.Finish(ctx, hvagent.JobEnd{ID: c.Job.ID, Status: hvagent.JobComplete, Guest: g})
		if err != nil {
			return err
		}
	}
	return nil
}
