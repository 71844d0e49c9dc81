package qemu

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
)

func TestMain(m *testing.M) {
	// The driver's QEMUs are real processes: without the emulator every
	// test would fail obscurely, so say what is missing once.
	if _, err := exec.LookPath(DefaultBinary); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %s not found in PATH: install the Debian packages qemu-system-x86 and qemu-utils (make deps)\n", DefaultBinary)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m)
}

// Deadlines of the tests: failure limits, not speed checks.
const (
	callTimeout  = 60 * time.Second
	eventTimeout = 10 * time.Second
	eventPoll    = 20 * time.Millisecond
)

// waitGone waits until process pid has exited (a zombie counts).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	require.Eventually(t, func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		return err != nil || len(b) == 0
	}, eventTimeout, eventPoll, "process %d did not exit", pid)
}

// stateEvent is one OnState call.
type stateEvent struct{ id, state, reason string }

// stateLog records OnState calls.
type stateLog struct {
	mu     sync.Mutex
	events []stateEvent
}

func (l *stateLog) record(id, state, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, stateEvent{id, state, reason})
}

// has reports whether guest id was reported in state.
func (l *stateLog) has(id, state string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if e.id == id && e.state == state {
			return true
		}
	}
	return false
}

type testBundle struct {
	dataDir string
	opts    Options
	driver  *Driver
	states  *stateLog
}

// setup returns a driver on a fresh data dir. At cleanup every QEMU the
// test left running is killed and the driver closed.
func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupWith(t, func(*Options) {})
}

// setupWith is setup with options changed by edit.
func setupWith(t *testing.T, edit func(*Options)) *testBundle {
	t.Helper()
	dir := t.TempDir()
	states := &stateLog{}
	logger := zerolog.New(zerolog.NewTestWriter(t))
	b := &testBundle{
		dataDir: dir,
		states:  states,
		opts:    Options{DataDir: dir, Logger: logger, OnState: states.record},
	}
	edit(&b.opts)
	b.driver = b.newDriver(t)
	t.Cleanup(func() { killAll(t, dir) })
	return b
}

// newDriver opens another driver on the bundle's data dir (as after a
// restart); it is closed at cleanup.
func (b *testBundle) newDriver(t *testing.T) *Driver {
	t.Helper()
	d, err := New(t.Context(), b.opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	return d
}

// killAll kills every QEMU with a pidfile under dataDir's run root.
func killAll(_ testing.TB, dataDir string) {
	root := layout.RunRoot(dataDir)
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		pid, err := readPIDFile(filepath.Join(root, e.Name()))
		if err != nil {
			continue
		}
		if p, err := openProcess(pid, e.Name()); err == nil {
			_ = p.kill()
			ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
			_ = p.wait(ctx)
			cancel()
			p.close()
		}
		removeGuestTaps(e.Name())
	}
	if root != filepath.Join(dataDir, "run") {
		_ = os.RemoveAll(root)
	}
}

// ctx returns a context bounded by callTimeout.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), callTimeout)
	t.Cleanup(cancel)
	return c
}

// bareGuest returns a guest with no disk and no kernel: QEMU runs its
// firmware, which finds nothing to boot, and that is enough to test the
// process side of every action.
func bareGuest() *subagent.Guest {
	return &subagent.Guest{ID: uuid.NewString(), Memory: 32, CPU: 1}
}

// mustCall runs a guest method and returns the guest it reports.
func mustCall(t *testing.T, fn func(context.Context, *subagent.Guest) (*subagent.Guest, error), g *subagent.Guest) *subagent.Guest {
	t.Helper()
	out, err := fn(ctx(t), g)
	require.NoError(t, err)
	require.Equal(t, g.ID, out.ID)
	return out
}

// pidOf returns the PID in guest id's pidfile, requiring a live QEMU of
// that guest.
func (b *testBundle) pidOf(t *testing.T, id string) int {
	t.Helper()
	pid, err := readPIDFile(layout.RunDir(b.dataDir, id))
	require.NoError(t, err)
	require.True(t, isGuestQEMU(pid, id), "pid %d is not the QEMU of guest %s", pid, id)
	return pid
}

// requireNoQEMU requires that guest id has no pidfile and that no process
// carries its -uuid.
func (b *testBundle) requireNoQEMU(t *testing.T, id string) {
	t.Helper()
	_, err := readPIDFile(layout.RunDir(b.dataDir, id))
	require.ErrorIs(t, err, errNoProcess)
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		pid, _ := strconv.Atoi(filepath.Base(p))
		require.False(t, isGuestQEMU(pid, id), "QEMU of guest %s still runs as pid %d", id, pid)
	}
}

// qmpStatus asks the guest's QEMU for its run status over the storage
// monitor, independently of the driver's connection.
func (b *testBundle) qmpStatus(t *testing.T, id string) string {
	t.Helper()
	q, err := dialQMP(ctx(t), filepath.Join(layout.RunDir(b.dataDir, id), layout.StorageSocket))
	require.NoError(t, err)
	defer q.close()
	var st struct {
		Status string `json:"status"`
	}
	require.NoError(t, q.run(ctx(t), "query-status", nil, &st))
	return st.Status
}
