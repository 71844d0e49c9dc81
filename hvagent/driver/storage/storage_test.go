package storage_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/driver/storage"
)

func TestNew(t *testing.T) {
	t.Parallel()

	t.Run("RemovesWorkFiles", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.createGuest(t, guestID)
		left := []string{
			filepath.Join(b.dataDir, "tmp", "export-123.qcow2"),
			filepath.Join(b.dataDir, "images", ".base.json.123"),
			filepath.Join(b.dataDir, "images", "gone.json"),
			filepath.Join(b.dataDir, "guests", guestID, ".snapshots.json.456"),
		}
		for _, p := range left {
			require.NoError(t, os.WriteFile(p, []byte("x"), 0o600))
		}
		b.restart(t)
		for _, p := range left {
			require.NoFileExists(t, p)
		}
		require.DirExists(t, filepath.Join(b.dataDir, "images"))
		require.DirExists(t, filepath.Join(b.dataDir, "guests"))
	})

	t.Run("ErrNoDataDir", func(t *testing.T) {
		t.Parallel()
		_, err := storage.New(storage.Options{})
		require.EqualError(t, err, "storage: a data dir is required: invalid")
	})

	t.Run("ErrRelativeAllowedPath", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "data")
		_, err := storage.New(storage.Options{DataDir: dir, AllowedPaths: []string{"images"}})
		require.EqualError(t, err, `storage: allowed path "images" is not absolute: invalid`)
		require.NoDirExists(t, dir, "nothing is created")
	})
}
