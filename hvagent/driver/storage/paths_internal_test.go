package storage

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

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
