package storage_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/driver/storage"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
)

// testQEMU is a bare QEMU (no machine, no CPU) with the guest's disks
// attached as drives disk<N>, its storage QMP monitor where the driver
// looks for it, and a second monitor for the test.
type testQEMU struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when QEMU has exited
	mon  string
}

// startQEMU starts QEMU on the guest's disks and waits until both monitors
// accept connections. It is killed at the end of the test.
func startQEMU(t *testing.T, b *testBundle, disks int) *testQEMU {
	t.Helper()
	bin, err := exec.LookPath("qemu-system-x86_64")
	require.NoError(t, err, "the tests need qemu-system-x86 installed")
	runDir := layout.RunDir(b.dataDir, guestID)
	require.NoError(t, os.MkdirAll(runDir, 0o750))
	q := &testQEMU{done: make(chan struct{}), mon: filepath.Join(runDir, "test.sock")}
	args := []string{
		"-machine", "none", "-accel", "tcg", "-nodefaults", "-display", "none",
		"-qmp", "unix:" + filepath.Join(runDir, layout.StorageSocket) + ",server=on,wait=off",
		"-qmp", "unix:" + q.mon + ",server=on,wait=off",
	}
	for n := range disks {
		args = append(args, "-drive", fmt.Sprintf("file=%s,if=none,id=%s,format=qcow2", diskPath(b, n), layout.DriveID(n)))
	}
	q.cmd = exec.Command(bin, args...)
	q.cmd.Stderr = os.Stderr
	require.NoError(t, q.cmd.Start())
	go func() { _ = q.cmd.Wait(); close(q.done) }()
	t.Cleanup(func() {
		q.stop(t)
		// A long data dir's run root lies under the temp dir, outside it.
		if root := layout.RunRoot(b.dataDir); root != filepath.Join(b.dataDir, "run") {
			_ = os.RemoveAll(root)
		}
	})
	require.Eventually(t, func() bool {
		c, err := net.Dial("unix", q.mon)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	}, 10*time.Second, 10*time.Millisecond)
	return q
}

// stop kills QEMU and waits for it to exit.
func (q *testQEMU) stop(t *testing.T) {
	t.Helper()
	select {
	case <-q.done:
		return
	default:
	}
	_ = q.cmd.Process.Kill()
	select {
	case <-q.done:
	case <-time.After(10 * time.Second):
		t.Error("QEMU did not exit")
	}
}

// hmp runs a human monitor command through the test's monitor.
func (q *testQEMU) hmp(t *testing.T, cmd string) string {
	t.Helper()
	c, err := net.Dial("unix", q.mon)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	r := bufio.NewReader(c)
	_, err = r.ReadString('\n') // greeting
	require.NoError(t, err)
	enc := json.NewEncoder(c)
	var reply struct {
		Return any `json:"return"`
		Error  any `json:"error"`
	}
	for _, msg := range []map[string]any{
		{"execute": "qmp_capabilities"},
		{"execute": "human-monitor-command", "arguments": map[string]string{"command-line": cmd}},
	} {
		require.NoError(t, enc.Encode(msg))
		for reply.Return == nil && reply.Error == nil {
			line, err := r.ReadString('\n')
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal([]byte(line), &reply))
		}
		require.Nil(t, reply.Error)
		if s, ok := reply.Return.(string); ok {
			return s
		}
		reply.Return = nil
	}
	return ""
}

func TestDriver_Online(t *testing.T) {
	t.Parallel()
	b := twoDisks(t)
	q := startQEMU(t, b, 2)
	ctx := testCtx(t)

	// A snapshot through QMP: qemu-img could not write the locked file.
	require.Equal(t, []string{gid + "@live", disk0 + "@live", disk1 + "@live"}, b.snapshot(t, gid, "live"))
	require.Contains(t, run(t, "qemu-img", "snapshot", "-U", "-l", diskPath(b, 1)), "live")
	require.Equal(t, []string{disk0 + "@d0"}, b.snapshot(t, disk0, "d0"))
	q.hmp(t, `qemu-io disk0 "write -P 0xdd 0 64k"`)
	require.Equal(t, []string{gid + "@live", disk0 + "@live", disk1 + "@live", disk0 + "@d0"}, b.list(t, gid, true))

	_, err := b.driver.RollbackSnapshot(ctx, &subagent.SnapshotRequest{ID: gid + "@live", DestroyMoreRecent: true})
	require.EqualError(t, err, "guest "+guestID+" is running; stop it before rolling back to "+gid+"@live: conflict")
	require.ErrorIs(t, err, storage.ErrConflict)
	_, err = b.driver.DeleteGuestsDisks(ctx, &subagent.GuestRequest{Guest: &subagent.Guest{ID: guestID}})
	require.EqualError(t, err, "guest "+guestID+" is running; stop it before deleting its disks: conflict")

	// A download of a running guest's snapshot is the snapshot's state.
	srv := newDownloadServer(t, b)
	out := srv.download(t, disk0+"@d0")
	run(t, "qemu-img", "check", out)
	require.True(t, hasPattern(t, out, "qcow2", 0xaa, 0))
	tarFiles := srv.downloadTar(t, gid+"@live")
	require.Len(t, tarFiles, 2)

	resp, err := b.driver.DeleteSnapshot(ctx, &subagent.SnapshotRequest{ID: gid + "@live", Recursive: true})
	require.NoError(t, err)
	require.Len(t, resp.Snapshots, 3)
	require.Equal(t, []string{disk0 + "@d0"}, b.list(t, gid, true))
	for n := range 2 {
		require.NotContains(t, run(t, "qemu-img", "snapshot", "-U", "-l", diskPath(b, n)), "live")
	}

	// Stopped, the guest rolls back offline.
	q.stop(t)
	_, err = b.driver.RollbackSnapshot(ctx, &subagent.SnapshotRequest{ID: disk0 + "@d0"})
	require.NoError(t, err)
	require.True(t, hasPattern(t, diskPath(b, 0), "qcow2", 0xaa, 0))
	require.Equal(t, []string{disk0 + "@d0"}, b.list(t, gid, true))
}

func TestDriver_OnlineDiskNotAttached(t *testing.T) {
	t.Parallel()
	b := twoDisks(t)
	startQEMU(t, b, 1)
	_, err := b.driver.CreateSnapshot(testCtx(t), &subagent.SnapshotRequest{ID: gid, Dest: "s"})
	require.EqualError(t, err, "guest "+guestID+": disk 1 is not attached to its running QEMU as drive disk1")
	require.Empty(t, run(t, "qemu-img", "snapshot", "-U", "-l", diskPath(b, 0)), "nothing is taken")
}
