package storage_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hvagent/hvagent/hvagent/driver/storage"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const guestID = "6f3c1a52-8d0e-4c1b-9f7a-2b1d3e4f5a60"

type testBundle struct {
	driver  *storage.Driver
	dataDir string
	opts    storage.Options
}

// setup returns a driver on a fresh data dir; change opts before New with
// mod.
func setup(t *testing.T, mod func(*storage.Options)) *testBundle {
	t.Helper()
	opts := storage.Options{DataDir: t.TempDir(), Logger: zerolog.New(zerolog.NewTestWriter(t))}
	if mod != nil {
		mod(&opts)
	}
	d, err := storage.New(opts)
	require.NoError(t, err)
	return &testBundle{driver: d, dataDir: opts.DataDir, opts: opts}
}

// restart returns a new driver on the same data dir.
func (b *testBundle) restart(t *testing.T) {
	t.Helper()
	d, err := storage.New(b.opts)
	require.NoError(t, err)
	b.driver = d
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// run runs a command and returns its combined output, failing the test on
// error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), out)
	return string(out)
}

// writePattern fills [off, off+64k) of a qcow2 disk with byte p.
func writePattern(t *testing.T, path string, p byte, off int) {
	t.Helper()
	run(t, "qemu-io", "-f", "qcow2", "-c", patternCmd("write", p, off), path)
}

// hasPattern reports whether [off, off+64k) of an image holds byte p.
func hasPattern(t *testing.T, path, format string, p byte, off int) bool {
	t.Helper()
	out := run(t, "qemu-io", "-r", "-U", "-f", format, "-c", patternCmd("read", p, off), path)
	return strings.Contains(out, "read 65536/65536") && !strings.Contains(out, "verification failed")
}

func patternCmd(op string, p byte, off int) string {
	return fmt.Sprintf("%s -P 0x%02x %d 64k", op, p, off)
}

// makeImage writes a small qcow2 image (16 MB, pattern 0x11 at 0) to dir
// and returns its path.
func makeImage(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	run(t, "qemu-img", "create", "-q", "-f", "qcow2", p, "16M")
	writePattern(t, p, 0x11, 0)
	return p
}

// createGuest creates the guest's disks: one blank disk per size (MB).
func (b *testBundle) createGuest(t *testing.T, id string, disks ...subagent.Disk) *subagent.Guest {
	t.Helper()
	resp, err := b.driver.CreateGuestDisks(testCtx(t), &subagent.GuestRequest{Guest: &subagent.Guest{ID: id, Disks: disks}})
	require.NoError(t, err)
	return resp.Guest
}

// files lists the files under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

func diskPath(b *testBundle, n int) string { return layout.DiskPath(b.dataDir, guestID, n) }
