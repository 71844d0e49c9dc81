package store

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireModes checks that the database at path and its -wal, -shm and
// .lock files exist with mode 0600.
func requireModes(t *testing.T, path string) {
	t.Helper()
	for _, name := range []string{path, path + "-wal", path + "-shm", path + ".lock"} {
		fi, err := os.Stat(name)
		require.NoError(t, err, name)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), name)
	}
}

func TestOpen_FileModes(t *testing.T) {
	t.Parallel()

	t.Run("New", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.enqueue(t, newJob("g1", nil)) // a write: the -wal and -shm exist
		requireModes(t, b.path)
	})

	t.Run("ExistingWideModesNarrowed", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "state", "hvagent.db")
		db, err := Open(path, Options{})
		require.NoError(t, err)
		require.NoError(t, db.Close())
		for _, name := range []string{path, path + "-wal", path + "-shm", path + ".lock"} {
			if _, err := os.Stat(name); err == nil {
				require.NoError(t, os.Chmod(name, 0o644))
			}
		}
		db, err = Open(path, Options{})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, db.Close()) })
		_, err = db.write.Exec(`PRAGMA user_version`)
		require.NoError(t, err)
		requireModes(t, path)
	})
}
