package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestDB_GuestNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("CreateAndFind", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.createGuest(t, &hvagent.Guest{ID: "g1", Name: "web1", Memory: 64})
		require.Equal(t, "web1", job.GuestName, "the create job carries the name")
		got, err := b.db.GuestByName(ctx, "web1")
		require.NoError(t, err)
		require.Equal(t, &hvagent.Guest{ID: "g1", Name: "web1", Memory: 64}, got)
		got, err = b.db.Guest(ctx, "g1")
		require.NoError(t, err)
		require.Equal(t, "web1", got.Name)

		var data string
		require.NoError(t, b.db.read.QueryRow(`SELECT data FROM guests WHERE id = 'g1'`).Scan(&data))
		require.NotContains(t, data, "web1", "the name lives in its own column only")

		_, err = b.db.GuestByName(ctx, "web2")
		requireCode(t, err, hvagent.ENOTFOUND)
		require.EqualError(t, err, `guest "web2" not found`)
	})

	t.Run("ErrDuplicateOnCreate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.createGuest(t, &hvagent.Guest{ID: "g1", Name: "web1"})
		n := newJob("g2", &jobOpts{Action: ptr("create")})
		n.NewGuest = &hvagent.Guest{ID: "g2", Name: "web1"}
		_, err := b.db.Enqueue(ctx, n)
		requireCode(t, err, hvagent.ECONFLICT)
		require.EqualError(t, err, `guest name "web1" is taken by guest g1`)
		_, err = b.db.Guest(ctx, "g2")
		requireCode(t, err, hvagent.ENOTFOUND)
	})

	t.Run("Filter", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.createGuest(t, &hvagent.Guest{ID: "g1", Name: "web1"})
		b.createGuest(t, &hvagent.Guest{ID: "g2", Name: "web2"})
		b.createGuest(t, &hvagent.Guest{ID: "g3"})
		got, err := b.db.Guests(ctx, hvagent.GuestFilter{Name: "web2"})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, "g2", got[0].ID)
		got, err = b.db.Guests(ctx, hvagent.GuestFilter{Name: "web3"})
		require.NoError(t, err)
		require.Empty(t, got)
		got, err = b.db.Guests(ctx, hvagent.GuestFilter{})
		require.NoError(t, err)
		require.Len(t, got, 3, "guests without a name are listed too")
	})

	t.Run("StageCannotRename", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.createGuest(t, &hvagent.Guest{ID: "g1", Name: "web1"})
		j := b.claim(t, "g1", at(1))
		_, _, err := b.db.Finish(ctx, hvagent.JobEnd{ID: j.ID, At: at(2), Status: hvagent.JobComplete,
			Guest: &hvagent.Guest{ID: "g1", Name: "evil", State: hvagent.StateShutoff}})
		require.NoError(t, err)
		got, err := b.db.Guest(ctx, "g1")
		require.NoError(t, err)
		require.Equal(t, "web1", got.Name)
		require.Equal(t, hvagent.StateShutoff, got.State)
	})
}

func TestDB_RenameGuest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		create := b.createGuest(t, &hvagent.Guest{ID: "g1", Name: "web1"})
		b.run(t, "g1", at(1))
		before := len(b.events(t))
		g, err := b.db.RenameGuest(ctx, "g1", "db1", at(5))
		require.NoError(t, err)
		require.Equal(t, "db1", g.Name)
		evs := b.events(t)
		require.Len(t, evs, before+1)
		ev := evs[len(evs)-1]
		require.Equal(t, hvagent.EventGuestUpdated, ev.Type)
		require.Equal(t, "db1", ev.Guest.Name)

		job, err := b.db.Job(ctx, create.ID)
		require.NoError(t, err)
		require.Equal(t, "db1", job.GuestName, "a guest's jobs carry its new name")
		jobs, err := b.db.Jobs(ctx, hvagent.JobFilter{GuestName: "db1"})
		require.NoError(t, err)
		require.Len(t, jobs, 1)
		_, err = b.db.GuestByName(ctx, "web1")
		requireCode(t, err, hvagent.ENOTFOUND)

		_, err = b.db.RenameGuest(ctx, "g1", "db1", at(6))
		require.NoError(t, err)
		require.Len(t, b.events(t), before+1, "the same name writes nothing")

		g, err = b.db.RenameGuest(ctx, "g1", "", at(7))
		require.NoError(t, err)
		require.Empty(t, g.Name)
		job, err = b.db.Job(ctx, create.ID)
		require.NoError(t, err)
		require.Empty(t, job.GuestName)
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.createGuest(t, &hvagent.Guest{ID: "g1", Name: "web1"})
		b.createGuest(t, &hvagent.Guest{ID: "g2", Name: "web2"})
		_, err := b.db.RenameGuest(ctx, "g2", "web1", at(1))
		requireCode(t, err, hvagent.ECONFLICT)
		require.EqualError(t, err, `guest name "web1" is taken by guest g1`)
		_, err = b.db.RenameGuest(ctx, "nope", "web3", at(1))
		requireCode(t, err, hvagent.ENOTFOUND)
		_, err = b.db.RenameGuest(ctx, "g1", "Web_1", at(1))
		requireCode(t, err, hvagent.EINVALID)
		g, err := b.db.Guest(ctx, "g2")
		require.NoError(t, err)
		require.Equal(t, "web2", g.Name, "a refused rename changes nothing")
	})
}

// TestGuestNameSchema checks that SQLite itself refuses duplicate names and
// values that are not guest names, whatever the program checks first.
func TestGuestNameSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	insert := func(id, name string) error {
		_, err := b.db.write.ExecContext(ctx, `INSERT INTO guests (id, name, data, created_at, updated_at)
			VALUES (?, ?, '{}', 0, 0)`, id, name)
		return err
	}
	require.NoError(t, insert("g1", "web1"))
	err := insert("g2", "web1")
	var se sqlite3.Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, sqlite3.ErrConstraintUnique, se.ExtendedCode, "error %v", err)
	require.Contains(t, err.Error(), "guests.name")
	_, err = b.db.write.ExecContext(ctx, `INSERT INTO guests (id, data, created_at, updated_at)
		VALUES ('g3', '{}', 0, 0), ('g4', '{}', 0, 0)`)
	require.NoError(t, err, "any number of guests have no name")

	for _, good := range []string{"a", "0", "web-1", "1-2-3", strings.Repeat("x", 63), "deadbeef-dead-beef-dead-beefdeadbee"} {
		require.NoError(t, insert(uuid.NewString(), good), good)
		require.NoError(t, hvagent.ValidateGuestName(good), good)
	}
	for _, bad := range []string{"", "-web", "web-", "Web1", "web_1", "web.1", "wéb", strings.Repeat("x", 64),
		uuid.NewString(), strings.ReplaceAll(uuid.NewString(), "-", "")} {
		err := insert(uuid.NewString(), bad)
		require.ErrorAs(t, err, &se, "%q", bad)
		require.Equal(t, sqlite3.ErrConstraintCheck, se.ExtendedCode, "%q", bad)
		requireCode(t, hvagent.ValidateGuestName(bad), hvagent.EINVALID)
	}
}

func TestMigrate_0004KeepsGuestsAndJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hvagent.db")
	raw := rawDB(t, path)
	_, err := raw.ExecContext(ctx, createMigrations)
	require.NoError(t, err)
	for _, f := range []string{"0001_init.sql", "0002_one_running_per_queue.sql", "0003_job_error_code.sql"} {
		require.NoError(t, migrateFile(ctx, raw, "migrations/"+f))
	}
	jobID := uuid.NewString()
	_, err = raw.ExecContext(ctx, `INSERT INTO guests (id, data, metadata, created_at, updated_at)
		VALUES ('g1', '{"id":"g1","state":"running"}', '{"k":"v"}', 1, 1)`)
	require.NoError(t, err)
	_, err = raw.ExecContext(ctx, `INSERT INTO jobs (id, queue, guest_id, action, status, queued_at, updated_at, finished_at)
		VALUES (?, 'g1', 'g1', 'start', 'Complete', 1, 1, 1)`, jobID)
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	db, err := Open(path, Options{Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	g, err := db.Guest(ctx, "g1")
	require.NoError(t, err)
	require.Equal(t, &hvagent.Guest{ID: "g1", State: "running", Metadata: map[string]string{"k": "v"}}, g, "an old guest has no name")
	j, err := db.Job(ctx, jobID)
	require.NoError(t, err)
	require.Empty(t, j.GuestName)
	_, err = db.RenameGuest(ctx, "g1", "web1", at(1))
	require.NoError(t, err)
	j, err = db.Job(ctx, jobID)
	require.NoError(t, err)
	require.Equal(t, "web1", j.GuestName)
}
