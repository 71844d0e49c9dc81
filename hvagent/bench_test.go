package hvagent_test

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
	"github.com/hvagent/hvagent/hvagent/store"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// txPerJob is what one single-stage job commits on its way from enqueue to
// Complete: Enqueue, Claim (which records the stage label), Finish.
const txPerJob = 3

// roundJobs is how many jobs one benchmark round runs on each side.
const roundJobs = 40

// BenchmarkJobPath compares, side by side in alternating rounds so both
// see the same machine load, the agent's enqueue → Complete path (in-process
// simulation, no latency, one stage, 8 guests each driven by its own client)
// with its floor: txPerJob
// plain write transactions per job on the store's own DSN. It reports the
// jobs/s of both and raw/jobs = T_raw/T_jobs (1 would mean the agent adds
// nothing to the commits it must make).
func BenchmarkJobPath(b *testing.B) {
	env := agenttest.New(b, agenttest.Opts{})
	guests := make([]string, 8)
	for i := range guests {
		guests[i] = env.Create(b, nil).ID
	}
	raw := openRaw(b)
	var tJobs, tRaw time.Duration
	for b.Loop() {
		tJobs += runJobs(b, env, guests)
		tRaw += runRaw(b, raw)
	}
	jobs := float64(b.N * roundJobs)
	b.ReportMetric(jobs/tJobs.Seconds(), "jobs/s")
	b.ReportMetric(jobs/tRaw.Seconds(), "raw-jobs/s")
	b.ReportMetric(tRaw.Seconds()/tJobs.Seconds(), "raw/jobs")
}

// runJobs queues roundJobs start jobs, one client per guest queueing its
// share one request at a time, and waits for them all.
func runJobs(b *testing.B, env *agenttest.Env, guests []string) time.Duration {
	ctx := context.Background()
	began := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(guests))
	for _, g := range guests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- queueAndWait(ctx, env.Agent, g, roundJobs/len(guests))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(b, err)
	}
	return time.Since(began)
}

// queueAndWait queues n start jobs on guest and waits until each completed.
func queueAndWait(ctx context.Context, a *hvagent.Agent, guest string, n int) error {
	ids := make([]string, 0, n)
	for range n {
		res, err := a.Do(ctx, hvagent.ActionStart, guest, hvagent.Request{})
		if err != nil {
			return err
		}
		ids = append(ids, res.Job.ID)
	}
	for _, id := range ids {
		j, err := a.WaitJob(ctx, id)
		if err != nil {
			return err
		}
		if j.Status != hvagent.JobComplete {
			return fmt.Errorf("job %s: %s %s", id, j.Status, j.Message)
		}
	}
	return nil
}

// openRaw opens a scratch database with the store's writer DSN.
func openRaw(b *testing.B) *sql.DB {
	dsn, err := store.WriterDSN(filepath.Join(b.TempDir(), "raw.db"), "full")
	require.NoError(b, err)
	pool, err := sql.Open("sqlite3", dsn)
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, pool.Close()) })
	pool.SetMaxOpenConns(1)
	_, err = pool.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT`)
	require.NoError(b, err)
	return pool
}

// runRaw commits roundJobs × txPerJob one-row transactions.
func runRaw(b *testing.B, pool *sql.DB) time.Duration {
	began := time.Now()
	for range roundJobs * txPerJob {
		tx, err := pool.Begin()
		require.NoError(b, err)
		_, err = tx.Exec(`INSERT INTO t (v) VALUES (?)`, "a job-sized row of text")
		require.NoError(b, err)
		require.NoError(b, tx.Commit())
	}
	return time.Since(began)
}
