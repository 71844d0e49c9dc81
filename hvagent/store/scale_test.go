package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

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
// it with the same jobs per guest; -short or HVAGENT_BENCH_SMALL (make
// test) divides both by ten again.
func benchScales() (full, ref scale) {
	full, ref = scale{jobs: 100_000, guests: 10_000}, scale{jobs: 10_000, guests: 1_000}
	if testing.Short() || os.Getenv("HVAGENT_BENCH_SMALL") != "" {
		full, ref = ref, scale{jobs: 1_000, guests: 100}
	}
	return full, ref
}

// filled is a store filled by fillStore, with the ID of a job in the
// middle of its log.
type filled struct {
	db    *DB
	midID string
}

// openFilled opens a store in a temporary directory with durability normal
// (the figures are about the writer's work, not the disk's fsync), fills it
// to s and reopens it.
func openFilled(tb testing.TB, s scale) *filled {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "hvagent.db")
	db, err := Open(path, Options{Durability: DurabilityNormal})
	require.NoError(tb, err)
	require.NoError(tb, errors.Join(fillStore(context.Background(), db, s), db.Close()))
	// Reopened, as after a restart: closing checkpointed the fill's WAL
	// into the database, which would otherwise weigh on the first commits.
	db, err = Open(path, Options{Durability: DurabilityNormal})
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, db.Close()) })
	f := &filled{db: db}
	require.NoError(tb, db.read.QueryRow(`SELECT id FROM jobs WHERE seq = ?`, max(s.jobs/2, 1)).Scan(&f.midID))
	return f
}

// fillStore writes s.guests guests "guest-N" (named "name-N", two metadata
// keys) and s.jobs Complete jobs with their events by direct inserts, in
// one transaction.
func fillStore(ctx context.Context, db *DB, s scale) error {
	return db.commits.do(ctx, func(_ context.Context, tx querier) error {
		if err := fillGuests(ctx, tx, s.guests); err != nil {
			return err
		}
		return fillJobs(ctx, tx, s.jobs, s.guests)
	})
}

// fillGuests inserts n guests with names and metadata.
func fillGuests(ctx context.Context, tx querier, n int) error {
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

// fillJobs inserts n Complete jobs and their events in two statements,
// spread over guests guest-0… in turn and over scaleActions; their IDs are
// UUID-shaped.
func fillJobs(ctx context.Context, tx querier, n, guests int) error {
	actions, err := json.Marshal(scaleActions)
	if err != nil {
		return err
	}
	base := t0.UnixNano()
	_, err = tx.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1)
		INSERT INTO jobs (id, queue, guest_id, guest_name, action, status, requested_by,
			queued_at, started_at, updated_at, finished_at, request, result)
		SELECT lower(format('%s-%s-4%s-a%s-%s', hex(randomblob(4)), hex(randomblob(2)), substr(hex(randomblob(2)), 2),
				substr(hex(randomblob(2)), 2), hex(randomblob(6)))),
			format('guest-%05d', i % ?2), format('guest-%05d', i % ?2), format('name-%05d', i % ?2),
			?3 ->> (i % json_array_length(?3)), 'Complete', 'tester', ?4 + i * 1000000, ?4 + i * 1000000,
			?4 + i * 1000000, ?4 + i * 1000000, json_object('guest', format('guest-%05d', i % ?2)), '{"ok":true}'
		FROM n`, n, max(guests, 1), string(actions), base)
	if err != nil {
		return fmt.Errorf("insert jobs: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO events (type, at, payload)
		SELECT 'job.updated', finished_at, json_object('id', id, 'guest', guest_id, 'action', action, 'status', status)
		FROM jobs WHERE seq > (SELECT COALESCE(MAX(seq), 0) FROM jobs) - ? ORDER BY seq`, n)
	if err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	return nil
}
