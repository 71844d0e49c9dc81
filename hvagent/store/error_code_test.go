package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestDB_Finish_ErrorCode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		status hvagent.JobStatus
		code   string
		want   string
	}{
		{"Conflict", hvagent.JobError, hvagent.ECONFLICT, hvagent.ECONFLICT},
		{"NotFound", hvagent.JobError, hvagent.ENOTFOUND, hvagent.ENOTFOUND},
		{"ErrorDefault", hvagent.JobError, "", hvagent.EINTERNAL},
		{"CanceledDefault", hvagent.JobCanceled, "", hvagent.ECANCELED},
		{"Complete", hvagent.JobComplete, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			id := b.enqueue(t, newJob("g1", nil)).ID
			b.claim(t, "g1", at(1))
			j, _, err := b.db.Finish(ctx, hvagent.JobEnd{ID: id, At: at(2), Status: tt.status, Code: tt.code, Message: "m"})
			require.NoError(t, err)
			require.Equal(t, tt.want, j.Error)
			got, err := b.db.Job(ctx, id)
			require.NoError(t, err)
			require.Equal(t, j, got)
			jobs, err := b.db.Jobs(ctx, hvagent.JobFilter{})
			require.NoError(t, err)
			require.Equal(t, tt.want, jobs[0].Error)
			ev := b.events(t)
			require.Equal(t, tt.want, ev[len(ev)-1].Job.Error, "the event carries the code")
		})
	}

	t.Run("ErrCompleteWithCode", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.enqueue(t, newJob("g1", nil)).ID
		_, _, err := b.db.Finish(ctx, hvagent.JobEnd{ID: id, At: at(1), Status: hvagent.JobComplete, Code: hvagent.ECONFLICT})
		requireCode(t, err, hvagent.EINVALID)
		j, err := b.db.Job(ctx, id)
		require.NoError(t, err)
		require.Equal(t, hvagent.JobQueued, j.Status)
	})

	t.Run("CancelQueued", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.enqueue(t, newJob("g1", nil)).ID
		j, err := b.db.CancelQueued(ctx, id, "canceled", at(1))
		require.NoError(t, err)
		require.Equal(t, hvagent.JobCanceled, j.Status)
		require.Equal(t, hvagent.ECANCELED, j.Error)
	})
}

func TestSchema_ErrorCodeOnlyWhenFailed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	queued := b.enqueue(t, newJob("g1", nil))
	done := b.enqueue(t, newJob("g2", nil))
	_, _, err := b.db.Finish(ctx, hvagent.JobEnd{ID: done.ID, At: at(1), Status: hvagent.JobComplete})
	require.NoError(t, err)
	raw := rawDB(t, b.path)
	for _, id := range []string{queued.ID, done.ID} {
		_, err := raw.ExecContext(ctx, `UPDATE jobs SET error_code = 'conflict' WHERE id = ?`, id)
		var se sqlite3.Error
		require.ErrorAs(t, err, &se)
		require.Equal(t, sqlite3.ErrConstraintCheck, se.ExtendedCode, "error %v", err)
	}
}

func TestMigrate_0003BackfillsErrorCodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hvagent.db")
	raw := rawDB(t, path)
	_, err := raw.ExecContext(ctx, createMigrations)
	require.NoError(t, err)
	for _, f := range []string{"0001_init.sql", "0002_one_running_per_queue.sql"} {
		require.NoError(t, migrateFile(ctx, raw, "migrations/"+f))
	}
	rows := []struct{ status, message, want string }{
		{"Canceled", "guest deleted", hvagent.ECANCELED},
		{"Error", "interrupted by agent restart", hvagent.EUNAVAILABLE},
		{"Error", "interrupted by agent shutdown", hvagent.EUNAVAILABLE},
		{"Error", "timed out in stage 1/1 Sim.Start (sim)", hvagent.ETIMEOUT},
		{"Error", "Sim.Reboot: guest g1 is not running (state shutoff)", ""},
		{"Complete", "", ""},
		{"Queued", "", ""},
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = uuid.NewString()
		finished := any(nil)
		if hvagent.JobStatus(r.status).Final() {
			finished = 1
		}
		_, err := raw.ExecContext(ctx, `INSERT INTO jobs (id, queue, guest_id, action, status, message,
			queued_at, updated_at, finished_at) VALUES (?, ?, ?, 'start', ?, ?, 1, 1, ?)`,
			ids[i], "q"+ids[i], "g1", r.status, r.message, finished)
		require.NoError(t, err)
	}
	require.NoError(t, raw.Close())

	db, err := Open(path, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	for i, r := range rows {
		j, err := db.Job(ctx, ids[i])
		require.NoError(t, err)
		require.Equal(t, r.want, j.Error, "job %d: %s %q", i, r.status, r.message)
		require.Equal(t, r.message, j.Message, "messages are kept")
	}
}
