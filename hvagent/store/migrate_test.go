package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// rawDB opens the database at path with the store's writer settings but
// none of its checks, as another program (or an older hvagent) would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	pool, err := sql.Open("sqlite3", writerDSN(path, "FULL"))
	require.NoError(t, err)
	pool.SetMaxOpenConns(1)
	t.Cleanup(func() { require.NoError(t, pool.Close()) })
	return pool
}

// requireUniqueViolation requires err to be SQLite's own refusal of a
// duplicate in a unique index.
func requireUniqueViolation(t *testing.T, err error) {
	t.Helper()
	var se sqlite3.Error
	require.ErrorAs(t, err, &se, "error %v is not an SQLite error", err)
	require.Equal(t, sqlite3.ErrConstraintUnique, se.ExtendedCode, "error %v", err)
	require.Contains(t, err.Error(), "jobs.queue")
}

func TestSchema_OneRunningJobPerQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	first := b.enqueue(t, newJob("g1", nil))
	second := b.enqueue(t, newJob("g1", nil))
	other := b.enqueue(t, newJob("g2", nil))
	b.claim(t, "g1", at(1))
	raw := rawDB(t, b.path)
	setRunning := func(id string) error {
		_, err := raw.ExecContext(ctx, `UPDATE jobs SET status = 'Running', started_at = 1 WHERE id = ?`, id)
		return err
	}

	t.Run("ErrSecondRunningJob", func(t *testing.T) {
		requireUniqueViolation(t, setRunning(second.ID))
		_, err := raw.ExecContext(ctx, `INSERT INTO jobs (id, queue, guest_id, action, status, queued_at, updated_at)
			VALUES (?, 'g1', 'g1', 'start', 'Running', 1, 1)`, uuid.NewString())
		requireUniqueViolation(t, err)
		j, err := b.db.Job(ctx, second.ID)
		require.NoError(t, err)
		require.Equal(t, hvagent.JobQueued, j.Status)
	})
	t.Run("OtherQueue", func(t *testing.T) {
		require.NoError(t, setRunning(other.ID))
	})
	t.Run("AfterTheFirstEnded", func(t *testing.T) {
		_, _, err := b.db.Finish(ctx, hvagent.JobEnd{ID: first.ID, At: at(2), Status: hvagent.JobComplete})
		require.NoError(t, err)
		require.NoError(t, setRunning(second.ID))
	})
}

// oldJob is a jobs row written before migration 0002.
type oldJob struct {
	queue, status string
	started       bool
}

// openAt0001 creates a database at path with only the first migration
// applied and the given jobs in it, in order, and returns their IDs.
func openAt0001(t *testing.T, path string, jobs []oldJob) []string {
	t.Helper()
	ctx := context.Background()
	raw := rawDB(t, path)
	_, err := raw.ExecContext(ctx, createMigrations)
	require.NoError(t, err)
	require.NoError(t, migrateFile(ctx, raw, "migrations/0001_init.sql"))
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = uuid.NewString()
		var started, attempt int64
		var finished sql.NullInt64
		if j.started {
			started, attempt = int64(i+1), 1
		}
		if hvagent.JobStatus(j.status).Final() {
			finished = sql.NullInt64{Int64: int64(i + 1), Valid: true}
		}
		_, err := raw.ExecContext(ctx, `INSERT INTO jobs (id, queue, guest_id, action, status, attempt,
			queued_at, started_at, updated_at, finished_at, stage) VALUES (?, ?, ?, 'start', ?, ?, 1, ?, 1, ?, '1/1 Sim.Start')`,
			ids[i], j.queue, j.queue, j.status, attempt, started, finished)
		require.NoError(t, err)
	}
	require.NoError(t, raw.Close())
	return ids
}

func TestMigrate_0002EndsStaleRunningJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hvagent.db")
	ids := openAt0001(t, path, []oldJob{
		// g1: the bug of old agents: the start stayed Running while the
		// shutdown queued behind it ran; then a reboot was claimed.
		{queue: "g1", status: "Running", started: true},  // 0: stale
		{queue: "g1", status: "Complete", started: true}, // 1
		{queue: "g1", status: "Running", started: true},  // 2: kept, newest claimed
		{queue: "g1", status: "Queued"},                  // 3
		// g2: two Running jobs; the older one is stale.
		{queue: "g2", status: "Running", started: true}, // 4: stale
		{queue: "g2", status: "Running", started: true}, // 5: kept
		// g3: a later job canceled while queued never ran: not stale.
		{queue: "g3", status: "Running", started: true}, // 6: kept
		{queue: "g3", status: "Canceled"},               // 7
		// g4: the bug without a second Running job: nothing to index, but the
		// start must not be requeued behind the shutdown that already ran.
		{queue: "g4", status: "Running", started: true},  // 8: stale
		{queue: "g4", status: "Complete", started: true}, // 9
	})
	db, err := Open(path, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })

	const msg = "outcome unknown: the end of this job was not recorded and later jobs of its queue ran"
	for _, i := range []int{0, 4, 8} {
		j, err := db.Job(ctx, ids[i])
		require.NoError(t, err)
		require.Equal(t, hvagent.JobError, j.Status, "job %d", i)
		require.Equal(t, msg, j.Message)
		require.WithinDuration(t, time.Now(), j.FinishedAt, time.Minute)
		require.Equal(t, j.FinishedAt, j.UpdatedAt)
		errs := attemptErrors(t, &testBundle{db: db}, ids[i])
		require.Len(t, errs, 1)
		require.Equal(t, attemptError{At: errs[0].At, Attempt: 1, Stage: "1/1 Sim.Start", Error: msg}, errs[0])
		_, err = time.Parse(time.RFC3339Nano, errs[0].At)
		require.NoError(t, err)
	}
	running, err := db.RunningJobs(ctx)
	require.NoError(t, err)
	var got []string
	for _, j := range running {
		got = append(got, j.ID)
	}
	require.ElementsMatch(t, []string{ids[2], ids[5], ids[6]}, got)
	for _, i := range []int{1, 3, 7, 9} {
		j, err := db.Job(ctx, ids[i])
		require.NoError(t, err)
		require.NotEqual(t, hvagent.JobError, j.Status, "job %d", i)
	}
	_, err = db.Claim(ctx, "g1", at(1), hvagent.ClaimOptions{})
	requireCode(t, err, hvagent.ECONFLICT)
}

func TestMigrate_0008IndexesLiveJobsOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hvagent.db")
	ids := openAt0001(t, path, []oldJob{
		{queue: "g2", status: "Complete", started: true}, // 0
		{queue: "g2", status: "Queued"},                  // 1: g2's head, the oldest Queued job
		{queue: "g1", status: "Running", started: true},  // 2
		{queue: "g1", status: "Queued"},                  // 3
		{queue: "g1", status: "Queued"},                  // 4
		{queue: "g3", status: "Canceled"},                // 5
		{queue: "g3", status: "Error", started: true},    // 6
	})
	db, err := Open(path, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })

	var old int
	var def, cols string
	require.NoError(t, db.read.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM sqlite_schema WHERE name = 'jobs_queue_status_seq'`).Scan(&old))
	require.Zero(t, old, "the old queue index is dropped")
	require.NoError(t, db.read.QueryRowContext(ctx, `SELECT sql,
		(SELECT group_concat(name, ',') FROM pragma_index_info('jobs_queue_live'))
		FROM sqlite_schema WHERE name = 'jobs_queue_live'`).Scan(&def, &cols))
	require.Equal(t, "queue,seq,status", cols)
	require.True(t, strings.HasSuffix(def, `WHERE status = 'Queued' OR status = 'Running'`), def)

	queues, err := db.QueuedQueues(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"g2", "g1"}, queues, "in the order of their oldest Queued job; g3 has none")
	j, err := db.Job(ctx, ids[4])
	require.NoError(t, err)
	require.Equal(t, 2, j.Position, "behind the other Queued job of g1, not counting its Running one")

	_, err = db.Claim(ctx, "g1", at(1), hvagent.ClaimOptions{})
	requireCode(t, err, hvagent.ECONFLICT) // g1's job 2 runs
	c, err := db.Claim(ctx, "g2", at(1), hvagent.ClaimOptions{})
	require.NoError(t, err)
	require.Equal(t, ids[1], c.Job.ID)
	end, err := db.FinishClaim(ctx, hvagent.JobEnd{ID: ids[2], Status: hvagent.JobComplete, At: at(2)}, "g1", hvagent.ClaimOptions{})
	require.NoError(t, err)
	require.Equal(t, ids[3], end.Next.Job.ID)
}
