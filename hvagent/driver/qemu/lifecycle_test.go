package qemu

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
)

func TestDriver_BareLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	d := b.driver
	g := bareGuest()

	created := mustCall(t, d.CreateGuest, g)
	require.Equal(t, StateShutoff, created.State)
	require.Equal(t, uint(32), created.Memory)

	// Actions that need a running guest refuse a stopped one.
	for name, fn := range map[string]func(*subagent.Guest) error{
		"Suspend": func(g *subagent.Guest) error { _, err := d.Suspend(ctx(t), g); return err },
		"Restart": func(g *subagent.Guest) error { _, err := d.Restart(ctx(t), g); return err },
		"Reboot":  func(g *subagent.Guest) error { _, err := d.Reboot(ctx(t), g); return err },
	} {
		err := fn(created)
		require.ErrorIs(t, err, ErrNotRunning, name)
		require.EqualError(t, err, "guest "+g.ID+" is not running (state shutoff)", name)
	}
	_, err := d.Resume(ctx(t), created)
	require.ErrorIs(t, err, ErrNotPaused)

	// Stopping a stopped guest is fine.
	require.Equal(t, StateShutoff, mustCall(t, d.Poweroff, created).State)
	require.Equal(t, StateShutoff, mustCall(t, d.Shutdown, created).State)

	started := mustCall(t, d.Start, created)
	require.Equal(t, StateRunning, started.State)
	pid := b.pidOf(t, g.ID)
	require.Equal(t, "running", b.qmpStatus(t, g.ID))
	require.Equal(t, StateRunning, d.State(g.ID))
	require.Equal(t, StateRunning, mustCall(t, d.Start, started).State, "start of a running guest")
	require.Equal(t, pid, b.pidOf(t, g.ID), "a second start launched another QEMU")

	require.Equal(t, StatePaused, mustCall(t, d.Suspend, started).State)
	require.Equal(t, "paused", b.qmpStatus(t, g.ID))
	require.Equal(t, StatePaused, mustCall(t, d.Suspend, started).State, "suspend of a paused guest")
	require.Equal(t, StatePaused, mustCall(t, d.Restart, started).State, "a reset keeps a paused guest paused")
	require.Equal(t, StateRunning, mustCall(t, d.Resume, started).State)
	require.Equal(t, "running", b.qmpStatus(t, g.ID))
	require.Equal(t, StateRunning, mustCall(t, d.Resume, started).State, "resume of a running guest")
	require.Equal(t, StateRunning, mustCall(t, d.Restart, started).State)
	require.Equal(t, pid, b.pidOf(t, g.ID), "a reset keeps the QEMU process")

	// Suspended guests start by resuming.
	mustCall(t, d.Suspend, started)
	require.Equal(t, StateRunning, mustCall(t, d.Start, started).State)
	require.Equal(t, pid, b.pidOf(t, g.ID))

	require.Equal(t, StateShutoff, mustCall(t, d.Poweroff, started).State)
	b.requireNoQEMU(t, g.ID)
	require.NoFileExists(t, layout.RunDir(b.dataDir, g.ID)+"/"+layout.MonitorSocket)
	require.NoFileExists(t, layout.RunDir(b.dataDir, g.ID)+"/"+layout.StorageSocket)
	require.Equal(t, StateShutoff, d.State(g.ID))
	require.False(t, b.states.has(g.ID, StateShutoff), "a poweroff by call is not reported through OnState")

	// It starts again in a new QEMU, and delete removes it and its files.
	mustCall(t, d.Start, started)
	require.NotEqual(t, 0, b.pidOf(t, g.ID))
	require.Equal(t, StateShutoff, mustCall(t, d.Delete, started).State)
	b.requireNoQEMU(t, g.ID)
	require.NoDirExists(t, layout.RunDir(b.dataDir, g.ID))
	mustCall(t, d.Delete, started) // an unknown guest is fine
}

func TestDriver_Crash(t *testing.T) {
	t.Parallel()
	b := setup(t)
	d := b.driver
	g := mustCall(t, d.Start, bareGuest())
	pid := b.pidOf(t, g.ID)

	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(t, func() bool { return b.states.has(g.ID, StateCrashed) }, eventTimeout, eventPoll,
		"a killed QEMU is reported crashed")
	require.Equal(t, StateCrashed, d.State(g.ID))
	b.requireNoQEMU(t, g.ID)
	_, err := d.Suspend(ctx(t), g)
	require.EqualError(t, err, "guest "+g.ID+" is not running (state crashed)")
	_, err = os.Stat(layout.RunDir(b.dataDir, g.ID) + "/" + layout.PIDFile)
	require.ErrorIs(t, err, os.ErrNotExist, "the stale pidfile is removed")

	// A crashed guest starts again.
	require.Equal(t, StateRunning, mustCall(t, d.Start, g).State)
	require.Equal(t, StateRunning, d.State(g.ID))
	require.Equal(t, StateShutoff, mustCall(t, d.Poweroff, g).State)
}

func TestDriver_StoppedFromOutside(t *testing.T) {
	t.Parallel()
	b := setup(t)
	d := b.driver
	g := mustCall(t, d.Start, bareGuest())
	// SIGTERM makes QEMU shut down in order (SHUTDOWN reason host-signal).
	// Its exit can take seconds on a loaded machine: wait up to 3 event
	// timeouts.
	require.NoError(t, syscall.Kill(b.pidOf(t, g.ID), syscall.SIGTERM))
	require.Eventually(t, func() bool { return b.states.has(g.ID, StateShutoff) }, 3*eventTimeout, eventPoll)
	require.False(t, b.states.has(g.ID, StateCrashed))
	require.Equal(t, StateShutoff, d.State(g.ID))

	// A pause from outside the driver (another QMP client) is noticed too.
	g = mustCall(t, d.Start, g)
	q, err := dialQMP(ctx(t), layout.RunDir(b.dataDir, g.ID)+"/"+layout.StorageSocket)
	require.NoError(t, err)
	require.NoError(t, q.run(ctx(t), "stop", nil, nil))
	q.close()
	require.Eventually(t, func() bool { return b.states.has(g.ID, StatePaused) }, eventTimeout, eventPoll)
	require.Equal(t, StatePaused, d.State(g.ID))
	mustCall(t, d.Poweroff, g)
}

func TestDriver_StartFails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	g := bareGuest()
	g.Memory = 1 << 20 // 1 TiB: QEMU cannot allocate it
	_, err := b.driver.Start(ctx(t), g)
	require.Error(t, err)
	require.Contains(t, err.Error(), "start qemu")
	b.requireNoQEMU(t, g.ID)
	require.Equal(t, StateShutoff, b.driver.State(g.ID))
}

// TestDriver_PoweroffOfStoppedQEMU: a QEMU that answers nothing (SIGSTOP)
// is still powered off, within the driver's own bounds (a few exitWaits),
// not the call's deadline: QEMU is killed and the guest is shut off.
func TestDriver_PoweroffOfStoppedQEMU(t *testing.T) {
	t.Parallel()
	b := setup(t)
	d := b.driver
	g := mustCall(t, d.Start, bareGuest())
	pid := b.pidOf(t, g.ID)
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	began := time.Now()
	require.Equal(t, StateShutoff, mustCall(t, d.Poweroff, g).State)
	require.Less(t, time.Since(began), 4*exitWait)
	waitGone(t, pid)
	b.requireNoQEMU(t, g.ID)
	require.Equal(t, StateShutoff, d.State(g.ID))
}

// TestDriver_StartOfHungQEMU: a QEMU whose daemonizing child hangs in its
// start (it holds the output pipes) does not hold Start past its call's
// deadline by more than exitWait. A stand-in binary plays that QEMU.
func TestDriver_StartOfHungQEMU(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stub := filepath.Join(dir, "qemu-system-x86_64")
	childPID := filepath.Join(dir, "child.pid")
	script := "#!/bin/sh\nsleep 60 &\necho $! > " + childPID + "\nexec sleep 60\n"
	require.NoError(t, os.WriteFile(stub, []byte(script), 0o700))
	t.Cleanup(func() {
		if data, err := os.ReadFile(childPID); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	b := setupWith(t, func(o *Options) { o.Binary = stub })
	c, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	began := time.Now()
	_, err := b.driver.Start(c, bareGuest())
	require.Error(t, err)
	require.Less(t, time.Since(began), time.Second+3*exitWait, "Start waited for the hung child")
}

// TestDriver_ShutdownWhileKilled: a QEMU killed while its guest is asked
// to shut down (a guest that ignores the power button) is a crash, not a
// shutdown: the call fails and the guest stays crashed.
func TestDriver_ShutdownWhileKilled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	d := b.driver
	g := mustCall(t, d.Start, bareGuest()) // the BIOS alone ignores the button
	pid := b.pidOf(t, g.ID)
	done := make(chan error, 1)
	go func() {
		_, err := d.Shutdown(ctx(t), g)
		done <- err
	}()
	time.Sleep(time.Second) // the button is pressed
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	select {
	case err := <-done:
		require.ErrorContains(t, err, "did not shut down: its qemu exited unexpectedly (crashed)")
	case <-time.After(callTimeout):
		require.FailNow(t, "the shutdown did not end")
	}
	require.Equal(t, StateCrashed, d.State(g.ID))
	require.True(t, b.states.has(g.ID, StateCrashed))
}
