package testguest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hvagent/hvagent/internal/layout"
)

// KillQEMUs registers a cleanup that kills every QEMU process whose command
// line names dataDir's run root, so that a test never leaves a guest
// running behind it (QEMU outlives the driver on purpose), and removes the
// run root when it lies outside dataDir (a long data dir's run root is
// under the system temp dir). A test that wants to check for leftovers
// uses QEMUs.
func KillQEMUs(t testing.TB, dataDir string) {
	t.Cleanup(func() {
		for _, pid := range QEMUs(dataDir) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(QEMUs(dataDir)) > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if root := layout.RunRoot(dataDir); root != filepath.Join(dataDir, "run") {
			_ = os.RemoveAll(root)
		}
	})
}

// QEMUs returns the PIDs of the live QEMU processes (zombies excluded)
// whose command line names dataDir's run root.
func QEMUs(dataDir string) []int {
	root := []byte(layout.RunRoot(dataDir) + string(filepath.Separator))
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte("qemu-system")) || !bytes.Contains(cmdline, root) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && zombie(stat) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// zombie reports whether a /proc/PID/stat line says the process has
// exited and waits to be reaped.
func zombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}
