package main

import (
	"net/http"
	"syscall"
	"testing"

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
