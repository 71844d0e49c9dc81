package storage

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOpenBeneath: a path that was checked under dir, and whose directory
// has since become a symlink that leads out of dir (swapped in between the
// check and the open), is not opened; one inside dir is.
func TestOpenBeneath(t *testing.T) {
	t.Parallel()
	dir, outside := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "f.img"), []byte("secret"), 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "real"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "real", "f.img"), []byte("ok"), 0o600))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "sub")))
	require.NoError(t, os.Symlink("real", filepath.Join(dir, "inner")))

	_, err := openBeneath(dir, filepath.Join(dir, "sub", "f.img"))
	require.Error(t, err, "a symlink out of the directory is not followed")
	for _, p := range []string{filepath.Join(dir, "real", "f.img"), filepath.Join(dir, "inner", "f.img")} {
		f, err := openBeneath(dir, p)
		require.NoError(t, err, p)
		require.NoError(t, f.Close())
	}
}

// TestDriver_FileSourceFIFO: a FIFO under an allowed directory is refused
// at once as not a regular file; the fetch does not wait for a writer.
func TestDriver_FileSourceFIFO(t *testing.T) {
	t.Parallel()
	d := &Driver{allowed: []string{t.TempDir()}}
	fifo := filepath.Join(d.allowed[0], "hang.fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	done := make(chan error, 1)
	go func() {
		_, _, err := d.openFile("x", "file://"+fifo)
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "is not a regular file")
	case <-time.After(5 * time.Second):
		require.FailNow(t, "the open of a FIFO waits for a writer")
	}
}
