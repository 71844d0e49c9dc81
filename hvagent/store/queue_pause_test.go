package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDB_QueuePauses: pauses are kept until resumed, across a reopen of
// the store; "*" resumes them all.
func TestDB_QueuePauses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hvagent.db")
	db, err := Open(path, Options{})
	require.NoError(t, err)
	paused, err := db.PausedActions(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{}, paused, "none at first, and never nil")
	require.NoError(t, db.PauseQueue(ctx, "start", at(1)))
	require.NoError(t, db.PauseQueue(ctx, "start", at(2)), "pausing twice is pausing")
	require.NoError(t, db.PauseQueue(ctx, "reboot", at(3)))
	require.NoError(t, db.ResumeQueue(ctx, "shutdown"), "resuming what is not paused changes nothing")
	requirePaused(t, db, "reboot", "start")

	require.NoError(t, db.Close())
	db, err = Open(path, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	requirePaused(t, db, "reboot", "start")
	require.NoError(t, db.ResumeQueue(ctx, "reboot"))
	require.NoError(t, db.PauseQueue(ctx, "*", at(4)))
	requirePaused(t, db, "*", "start")
	require.NoError(t, db.ResumeQueue(ctx, "*"))
	requirePaused(t, db)
	require.Error(t, db.PauseQueue(ctx, "", at(5)), "an empty action is refused by the table")
}

// requirePaused requires the store's paused actions to be want, in order.
func requirePaused(t *testing.T, db *DB, want ...string) {
	t.Helper()
	got, err := db.PausedActions(context.Background())
	require.NoError(t, err)
	require.Equal(t, append([]string{}, want...), got)
}
