package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// scaleActions are the actions of filled jobs, in turn; "migrate" is never
// used, so a filter on it matches nothing.
var scaleActions = []string{"start", "stop", "reboot", "create", "snapshot", "resize", "shutdown", "delete"}

// scale is the size of a filled store.
type scale struct {
	jobs   int // finished jobs, each with one job.updated event
	guests int // guests, each named, jobs spread over them in turn
}

// benchScales are the size the issue measures (100,000 jobs, 10,000
// guests) and the reference that benchmarks compare it with, a tenth of
// it with the same jobs per guest; -short divides both by ten again.
func benchScales() (full, ref scale) {
	full, ref = scale{jobs: 100_000, guests: 10_000}, scale{jobs: 10_000, guests: 1_000}
	if testing.Short() {
		full, ref = ref, scale{jobs: 1_000, guests: 100}
	}
	return full, ref
}

// filled is a store filled by fillStore, with the IDs it wrote.
type filled struct {
	db     *DB
	jobIDs []string // in seq order
}

// openFilled opens a store in a temporary directory with durability normal
// (the figures are about the writer's work, not the disk's fsync) and
// fills it to s.
func openFilled(tb testing.TB, s scale) *filled {
	tb.Helper()
	db, err := Open(filepath.Join(tb.TempDir(), "hvagent.db"), Options{Durability: DurabilityNormal})
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, db.Close()) })
	ids, err := fillStore(context.Background(), db, s)
	require.NoError(tb, err)
	return &filled{db: db, jobIDs: ids}
}

// fillStore writes s.guests guests "guest-N" (named "name-N", two metadata
// keys) and s.jobs Complete jobs with their events by direct inserts, in
// one transaction with prepared statements, and returns the job IDs in
// seq order.
func fillStore(ctx context.Context, db *DB, s scale) ([]string, error) {
	ids := newIDs(s.jobs)
	err := db.commits.write(ctx, func(tx *sql.Tx) error {
		if err := fillGuests(ctx, tx, s.guests); err != nil {
			return err
		}
		return fillJobs(ctx, tx, ids, s.guests)
	})
	return ids, err
}

// fillGuests inserts n guests with names and metadata.
func fillGuests(ctx context.Context, tx *sql.Tx, n int) error {
	g, err := tx.PrepareContext(ctx, `INSERT INTO guests (id, name, data, created_at, updated_at,
		metadata_keys, metadata_bytes) VALUES (?, ?, ?, 1, 1, 2, 20)`)
	if err != nil {
		return err
	}
	defer g.Close()
	m, err := tx.PrepareContext(ctx, `INSERT INTO guest_metadata (guest_id, key, value) VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	defer m.Close()
	for i := range n {
		id := fmt.Sprintf("guest-%05d", i)
		data := fmt.Sprintf(`{"id":%q,"state":"running","memory":1024,"cpu":2}`, id)
		if _, err := g.ExecContext(ctx, id, fmt.Sprintf("name-%05d", i), data); err != nil {
			return fmt.Errorf("insert guest %s: %w", id, err)
		}
		for _, kv := range [][2]string{{"owner", "team-a"}, {"tier", "gold"}} {
			if _, err := m.ExecContext(ctx, id, kv[0], kv[1]); err != nil {
				return fmt.Errorf("insert metadata of %s: %w", id, err)
			}
		}
	}
	return nil
}

// fillJobs inserts a Complete job and its event for each of ids, spread
// over guests guest-0… in turn and over scaleActions.
func fillJobs(ctx context.Context, tx *sql.Tx, ids []string, guests int) error {
	j, err := tx.PrepareContext(ctx, `INSERT INTO jobs (id, queue, guest_id, guest_name, action,
		status, requested_by, queued_at, started_at, updated_at, finished_at, request, result)
		VALUES (?, ?, ?, ?, ?, 'Complete', 'tester', ?, ?, ?, ?, ?, '{"ok":true}')`)
	if err != nil {
		return err
	}
	defer j.Close()
	e, err := tx.PrepareContext(ctx, `INSERT INTO events (type, at, payload) VALUES ('job.updated', ?, ?)`)
	if err != nil {
		return err
	}
	defer e.Close()
	base := t0.UnixNano()
	for i, id := range ids {
		guest := fmt.Sprintf("guest-%05d", i%max(guests, 1))
		name := fmt.Sprintf("name-%05d", i%max(guests, 1))
		action := scaleActions[i%len(scaleActions)]
		ts := base + int64(i)*int64(time.Millisecond)
		if _, err := j.ExecContext(ctx, id, guest, guest, name, action, ts, ts, ts, ts,
			`{"guest":"`+guest+`"}`); err != nil {
			return fmt.Errorf("insert job %d: %w", i, err)
		}
		payload := fmt.Sprintf(`{"id":%q,"guest":%q,"action":%q,"status":"Complete"}`, id, guest, action)
		if _, err := e.ExecContext(ctx, ts, payload); err != nil {
			return fmt.Errorf("insert event %d: %w", i, err)
		}
	}
	return nil
}

// newIDs returns n new job IDs.
func newIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	return ids
}
