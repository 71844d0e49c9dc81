package main

import (
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/internal/testguest"
)

// TestQEMU_DaemonRestart restarts the hvagentd process while a guest runs,
// once after SIGTERM and once after SIGKILL: the guest's QEMU goes on, and
// the next hvagentd manages it.
func TestQEMU_DaemonRestart(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	p, addr := startDaemonProc(t, dir, "--config", "")
	h := newQEMUHost(t, dir, addr)
	id := h.create(8)
	h.ok(http.MethodPost, "/guests/"+id+"/start", "")
	h.waitConsole(id, testguest.BootMarker, 1)
	pid := h.requireRunning(id)

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		h.c.CloseIdleConnections()
		h.a.hc.CloseIdleConnections()
		code := p.signal(t, sig)
		if sig == syscall.SIGTERM {
			require.Equal(t, 0, code, p.stderr.String())
		}
		require.Equal(t, []int{pid}, testguest.QEMUs(dir), "the guest outlives hvagentd (%s)", sig)

		p, addr = startDaemonProc(t, dir, "--config", "")
		h = newQEMUHost(t, dir, addr)
		require.Equal(t, pid, h.requireRunning(id), "after %s", sig)
		require.Contains(t, h.console(id), testguest.BootMarker, "the console log survives (%s)", sig)
	}

	// The re-attached guest is managed: reboot (same QEMU), then shutdown.
	h.ok(http.MethodPost, "/guests/"+id+"/reboot", "")
	h.waitConsole(id, testguest.BootMarker, 2)
	require.Equal(t, pid, h.requireRunning(id))
	h.ok(http.MethodPost, "/guests/"+id+"/shutdown", "")
	h.requireState(id, "shutoff")
	h.requireNoQEMU()
}

// TestQEMU_ChangedWhileDown changes guests while no hvagentd runs: one
// powers itself off, one's QEMU is killed, one stays paused. The next
// hvagentd finds each as it is.
func TestQEMU_ChangedWhileDown(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	p, addr := startDaemonProc(t, dir, "--config", "")
	h := newQEMUHost(t, dir, addr)
	off, killed, paused := h.create(8), h.create(8), h.create(8)
	for _, id := range []string{off, killed, paused} {
		h.ok(http.MethodPost, "/guests/"+id+"/start", "")
	}
	for _, id := range []string{off, killed, paused} {
		h.waitConsole(id, testguest.BootMarker, 1)
	}
	h.ok(http.MethodPost, "/guests/"+paused+"/suspend", "")
	pausedPID, killedPID := h.qemuPID(paused), h.qemuPID(killed)
	h.c.CloseIdleConnections()
	h.a.hc.CloseIdleConnections()
	require.Equal(t, -1, p.signal(t, syscall.SIGKILL))

	h.qmp(off, "system_powerdown")
	// QEMU (-no-shutdown) stays, stopped, once the guest powered off.
	require.Eventually(t, func() bool { return h.qmpStatus(off) == "shutdown" }, qemuWait, 50*time.Millisecond)
	require.NoError(t, syscall.Kill(killedPID, syscall.SIGKILL))
	require.Eventually(t, func() bool { return !slices.Contains(testguest.QEMUs(dir), killedPID) }, 10*time.Second, 20*time.Millisecond)

	_, addr = startDaemonProc(t, dir, "--config", "")
	h = newQEMUHost(t, dir, addr)
	require.Eventually(t, func() bool { return h.guest(off).State == "shutoff" && len(testguest.QEMUs(dir)) == 1 },
		10*time.Second, 50*time.Millisecond, "the guest that powered off is shutoff, its QEMU gone")
	require.Contains(t, []string{"crashed", "shutoff"}, h.guest(killed).State)
	h.requireState(paused, "paused")
	require.Equal(t, "paused", h.qmpStatus(paused))
	require.Equal(t, []int{pausedPID}, testguest.QEMUs(dir))

	h.ok(http.MethodPost, "/guests/"+paused+"/resume", "")
	require.Equal(t, pausedPID, h.requireRunning(paused))
	h.ok(http.MethodPost, "/guests/"+killed+"/start", "")
	h.waitConsole(killed, testguest.BootMarker, 2)
	h.ok(http.MethodPost, "/guests/"+off+"/start", "")
	h.waitConsole(off, testguest.BootMarker, 2)
}
