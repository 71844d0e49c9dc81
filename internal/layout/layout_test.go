package layout

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRunRoot checks that a guest's sockets fit in a unix socket path
// whatever the data dir and the system temp dir, and that a data dir keeps
// its run root.
func TestRunRoot(t *testing.T) {
	long := "/" + strings.Repeat("d", 150)
	for _, tc := range []struct {
		name, dataDir, tmp, want string
	}{
		{"UnderDataDir", "/var/lib/hvagent", "/tmp", "/var/lib/hvagent/run"},
		{"UnderTempDir", long, "/var/tmp", "/var/tmp/hvagent-"},
		{"UnderTmp", long, "/" + strings.Repeat("t", 72), "/tmp/hvagent-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("TMPDIR", tc.tmp)
			root := RunRoot(tc.dataDir)
			require.True(t, strings.HasPrefix(root, tc.want), root)
			require.Equal(t, root, RunRoot(tc.dataDir), "the same data dir, the same root")
			sock := filepath.Join(RunDir(tc.dataDir, strings.Repeat("a", 36)), StorageSocket)
			require.LessOrEqual(t, len(sock), maxSocketPath, sock)
		})
	}
	require.NotEqual(t, RunRoot(long), RunRoot(long+"x"), "data dirs of their own")
}

// TestMakeRunDir checks that a guest's run dir is made private, and that a
// root others may write is refused.
func TestMakeRunDir(t *testing.T) {
	dataDir := t.TempDir()
	id := strings.Repeat("b", 36)
	dir, err := MakeRunDir(dataDir, id)
	require.NoError(t, err)
	require.Equal(t, RunDir(dataDir, id), dir)
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	open := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(open, "run"), 0o777))
	require.NoError(t, os.Chmod(filepath.Join(open, "run"), 0o777)) // past the umask
	_, err = MakeRunDir(open, id)
	require.ErrorContains(t, err, "may be written by others")
	require.NoDirExists(t, RunDir(open, id))
}

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

	_, err := OpenBeneath(dir, filepath.Join("sub", "f.img"))
	require.Error(t, err, "a symlink out of the directory is not followed")
	for _, rel := range []string{filepath.Join("real", "f.img"), filepath.Join("inner", "f.img")} {
		f, err := OpenBeneath(dir, rel)
		require.NoError(t, err, rel)
		require.NoError(t, f.Close())
	}

	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	f, err := OpenBeneath(dir, "fifo")
	require.NoError(t, err, "a FIFO opens at once, without a writer")
	require.NoError(t, f.Close())
}
