package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestOpen(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		fi, err := os.Stat(filepath.Dir(b.path))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
		require.FileExists(t, b.path)
		pid, err := os.ReadFile(b.path + ".lock")
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("%d\n", os.Getpid()), string(pid))

		var names []string
		rows, err := b.db.read.Query(`SELECT name FROM migrations ORDER BY name`)
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var n string
			require.NoError(t, rows.Scan(&n))
			names = append(names, n)
		}
		require.NoError(t, rows.Err())
		require.Equal(t, []string{"0001_init.sql", "0002_one_running_per_queue.sql", "0003_job_error_code.sql", "0004_guest_names.sql", "0005_guest_metadata.sql",
			"0006_query_indexes.sql", "0007_guest_metadata_rev.sql", "0008_live_queue_index.sql", "0009_queue_pauses.sql"}, names)
	})

	t.Run("ErrInUse", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := Open(b.path, Options{})
		requireCode(t, err, hvagent.ECONFLICT)
		want := fmt.Sprintf("database %s is in use by another hvagent (pid %d)", b.path, os.Getpid())
		require.Equal(t, want, err.Error())

		require.NoError(t, b.db.Close())
		db, err := Open(b.path, Options{})
		require.NoError(t, err)
		require.NoError(t, db.Close())
	})

	t.Run("Reopen", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "hvagent.db")
		db, err := Open(path, Options{})
		require.NoError(t, err)
		_, err = db.PatchMetadata(context.Background(), map[string]string{"a": "1"}, hvagent.MetadataLimits{})
		require.NoError(t, err)
		require.NoError(t, db.Close())
		require.NoError(t, db.Close(), "a second Close is a no-op")

		db, err = Open(path, Options{})
		require.NoError(t, err)
		defer func() { require.NoError(t, db.Close()) }()
		m, err := db.Metadata(context.Background())
		require.NoError(t, err)
		require.Equal(t, map[string]string{"a": "1"}, m)
	})

	t.Run("Durability", func(t *testing.T) {
		t.Parallel()
		for durability, want := range map[string]int{"": 2, "full": 2, "normal": 1} {
			db, err := Open(filepath.Join(t.TempDir(), "hvagent.db"), Options{Durability: durability})
			require.NoError(t, err)
			var got int
			require.NoError(t, db.write.QueryRow(`PRAGMA synchronous`).Scan(&got))
			var mode string
			require.NoError(t, db.write.QueryRow(`PRAGMA journal_mode`).Scan(&mode))
			require.NoError(t, db.Close())
			require.Equal(t, want, got, "durability %q", durability)
			require.Equal(t, "wal", mode)
		}
	})

	t.Run("ErrDurability", func(t *testing.T) {
		t.Parallel()
		_, err := Open(filepath.Join(t.TempDir(), "hvagent.db"), Options{Durability: "fast"})
		requireCode(t, err, hvagent.EINVALID)
	})

	t.Run("ErrEmptyPath", func(t *testing.T) {
		t.Parallel()
		_, err := Open("", Options{})
		requireCode(t, err, hvagent.EINVALID)
	})

	t.Run("OddPath", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "a dir?#%", "hvagent.db")
		db, err := Open(path, Options{})
		require.NoError(t, err)
		require.NoError(t, db.Close())
		require.FileExists(t, path)
	})
}

func TestDB_ReadPoolIsReadOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.db.read.Exec(`INSERT INTO hypervisor_metadata (key, value) VALUES ('k', 'v')`)
	var se sqlite3.Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, sqlite3.ErrReadonly, se.Code)
}

func TestSchema_Checks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := b.enqueue(t, newJob("g1", nil))
	for name, stmt := range map[string]string{
		"UnknownStatus":     `UPDATE jobs SET status = 'Bogus' WHERE id = ?`,
		"FinalNoFinishedAt": `UPDATE jobs SET status = 'Complete' WHERE id = ?`,
		"LiveFinishedAt":    `UPDATE jobs SET finished_at = 1 WHERE id = ?`,
		"ResultNotJSON":     `UPDATE jobs SET result = 'nope' WHERE id = ?`,
		"HalfProgress":      `UPDATE jobs SET progress_done = 1 WHERE id = ?`,
	} {
		_, err := b.db.write.Exec(stmt, j.ID)
		require.True(t, isConstraint(err, sqlite3.ErrConstraintCheck), "%s: %v", name, err)
	}
	_, err := b.db.write.Exec(`UPDATE jobs SET status = 'Complete', finished_at = 1 WHERE id = ?`, j.ID)
	require.NoError(t, err)
}

func TestInTx(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	insert := func(tx querier, key string) {
		_, err := tx.ExecContext(context.Background(), `INSERT INTO hypervisor_metadata (key, value) VALUES (?, 'v')`, key)
		require.NoError(t, err)
	}

	boom := errors.New("boom")
	err := inTx(ctx, b.db.write, func(tx querier) error { insert(tx, "err"); return boom })
	require.ErrorIs(t, err, boom)
	require.Panics(t, func() {
		_ = inTx(ctx, b.db.write, func(tx querier) error { insert(tx, "panic"); panic("boom") })
	})
	require.NoError(t, inTx(ctx, b.db.write, func(tx querier) error { insert(tx, "ok"); return nil }))

	m, err := b.db.Metadata(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"ok": "v"}, m)
}

func TestTimes_ZeroRoundTrip(t *testing.T) {
	t.Parallel()
	require.Equal(t, int64(0), nanos(time.Time{}))
	require.True(t, fromNanos(0).IsZero())
	local := time.Date(2024, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))
	require.Equal(t, local.UTC(), fromNanos(nanos(local)))

	b := setup(t)
	j := b.enqueue(t, newJob("g1", nil))
	got, err := b.db.Job(context.Background(), j.ID)
	require.NoError(t, err)
	require.True(t, got.StartedAt.IsZero())
	require.True(t, got.StageStartedAt.IsZero())
	require.True(t, got.FinishedAt.IsZero())
	require.Equal(t, t0, got.QueuedAt)
	require.Equal(t, time.UTC, got.QueuedAt.Location())

	ev := b.events(t)
	require.Len(t, ev, 1)
	require.Equal(t, got, ev[0].Job)
	raw, err := json.Marshal(got)
	require.NoError(t, err)
	require.Equal(t, 3, strings.Count(string(raw), `"0001-01-01T00:00:00Z"`), string(raw))
}
