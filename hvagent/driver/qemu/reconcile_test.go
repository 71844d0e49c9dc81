package qemu

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
)

// startGuests starts n bare guests at once and returns them running.
func startGuests(t *testing.T, d *Driver, n int) []*subagent.Guest {
	t.Helper()
	guests := make([]*subagent.Guest, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range guests {
		wg.Go(func() {
			guests[i], errs[i] = d.Start(ctx(t), bareGuest())
		})
	}
	wg.Wait()
	for i := range guests {
		require.NoError(t, errs[i])
		require.Equal(t, StateRunning, guests[i].State)
	}
	return guests
}

func TestDriver_Reattach(t *testing.T) {
	t.Parallel()
	b := setup(t)
	guests := startGuests(t, b.driver, 3)
	pids := map[string]int{}
	for _, g := range guests {
		pids[g.ID] = b.pidOf(t, g.ID)
		require.Equal(t, "running", b.qmpStatus(t, g.ID))
	}
	require.Len(t, pids, 3)
	mustCall(t, b.driver.Suspend, guests[1])
	stopped := mustCall(t, b.driver.Start, bareGuest())
	mustCall(t, b.driver.Poweroff, stopped)

	// Closing the driver leaves every QEMU running.
	require.NoError(t, b.driver.Close())
	for _, g := range guests {
		require.Equal(t, pids[g.ID], b.pidOf(t, g.ID))
	}

	// A new driver (hvagentd restarted) knows nothing until it reconciles.
	d := b.newDriver(t)
	require.Equal(t, StateShutoff, d.State(guests[0].ID))
	// A call before Reconcile finds the running QEMU rather than starting a
	// second one on the same disks.
	require.Equal(t, StateRunning, mustCall(t, d.Start, guests[0]).State)
	require.Equal(t, pids[guests[0].ID], b.pidOf(t, guests[0].ID))
	found, err := d.Reconcile(ctx(t))
	require.NoError(t, err)
	want := map[string]string{
		guests[0].ID: StateRunning, guests[1].ID: StatePaused, guests[2].ID: StateRunning,
		stopped.ID: StateShutoff,
	}
	got := map[string]string{}
	for _, s := range found {
		got[s.ID] = s.State
	}
	require.Equal(t, want, got)
	again, err := d.Reconcile(ctx(t))
	require.NoError(t, err)
	require.Equal(t, found, again, "reconcile is repeatable")

	// The new driver manages the guests it re-attached to.
	require.Equal(t, StateRunning, mustCall(t, d.Resume, guests[1]).State)
	require.Equal(t, "running", b.qmpStatus(t, guests[1].ID))
	cpu, err := d.CPUMetrics(ctx(t), guests[0])
	require.NoError(t, err)
	require.Len(t, cpu.CPU, 1)
	mustCall(t, d.Poweroff, guests[0])
	b.requireNoQEMU(t, guests[0].ID)

	// And it follows them: a QEMU killed now is reported crashed.
	require.NoError(t, syscall.Kill(pids[guests[2].ID], syscall.SIGKILL))
	require.Eventually(t, func() bool { return b.states.has(guests[2].ID, StateCrashed) }, eventTimeout, eventPoll)
	require.Equal(t, StateCrashed, d.State(guests[2].ID))
	mustCall(t, d.Delete, guests[1])
	b.requireNoQEMU(t, guests[1].ID)
}

func TestDriver_ReconcileDiedWhileAway(t *testing.T) {
	t.Parallel()
	b := setup(t)
	g := mustCall(t, b.driver.Start, bareGuest())
	pid := b.pidOf(t, g.ID)
	require.NoError(t, b.driver.Close())
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	waitGone(t, pid)

	d := b.newDriver(t)
	found, err := d.Reconcile(ctx(t))
	require.NoError(t, err)
	require.Equal(t, []GuestStatus{{ID: g.ID, State: StateCrashed, Reason: "qemu died while the driver was away"}}, found)
	require.True(t, b.states.has(g.ID, StateCrashed))
	require.Equal(t, StateCrashed, d.State(g.ID))
	b.requireNoQEMU(t, g.ID)
	require.Equal(t, StateRunning, mustCall(t, d.Start, g).State)
	mustCall(t, d.Poweroff, g)
}

func TestDriver_ReconcileReusedPID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// A pidfile naming a live process that is not the guest's QEMU (its PID
	// was reused after a host reboot, say) is a dead guest.
	id := bareGuest().ID
	dir := layout.RunDir(b.dataDir, id)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, layout.PIDFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600))
	found, err := b.driver.Reconcile(ctx(t))
	require.NoError(t, err)
	require.Equal(t, []GuestStatus{{ID: id, State: StateCrashed, Reason: "qemu died while the driver was away"}}, found)
	require.NoFileExists(t, filepath.Join(dir, layout.PIDFile))
	require.NoError(t, syscall.Kill(os.Getpid(), 0), "the unrelated process was left alone")
}

// TestDriver_ReconcileUnreachable: a QEMU that does not answer when a new
// driver re-attaches (stopped) is left out of Reconcile, and Unreachable
// says that it runs: State's shutoff is not the truth then.
func TestDriver_ReconcileUnreachable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	g := mustCall(t, b.driver.Start, bareGuest())
	pid := b.pidOf(t, g.ID)
	require.False(t, b.driver.Unreachable(g.ID), "attached")
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })

	d := b.newDriver(t)
	_, err := d.Reconcile(ctx(t))
	require.Error(t, err, "the stopped QEMU does not answer")
	require.Equal(t, StateShutoff, d.State(g.ID))
	require.True(t, d.Unreachable(g.ID))
	require.False(t, d.Unreachable(testID), "a guest without QEMU")
}
