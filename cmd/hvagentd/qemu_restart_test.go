package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/testguest"
)

// TestQEMU_ThreeGuestsRestart runs three guests at once on the hvagentd
// process and restarts it, once after SIGTERM and once after SIGKILL:
// their QEMUs go on, and the next hvagentd manages them. While the second
// one is down, guests change: one powers itself off, one's QEMU is killed,
// one stays paused; the next hvagentd finds each as it is.
func TestQEMU_ThreeGuestsRestart(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	p, addr := startDaemonProc(t, dir, "--config", "")
	h := newQEMUHost(t, dir, addr)
	ids := h.concurrently(http.MethodPost, []string{"/guests", "/guests", "/guests"}, diskGuest(h, 8))
	main, off, killed := ids[0], ids[1], ids[2]
	h.concurrently(http.MethodPost, []string{"/guests/" + main + "/start", "/guests/" + off + "/start", "/guests/" + killed + "/start"}, "")
	pids := map[string]int{}
	for _, id := range ids {
		h.waitConsole(id, testguest.BootMarker, 1)
		pids[id] = h.requireRunning(id)
	}
	require.ElementsMatch(t, []int{pids[main], pids[off], pids[killed]}, testguest.QEMUs(dir), "one QEMU per guest")

	// SIGTERM: everything goes on as it was.
	p, h = restartDaemon(t, p, h, syscall.SIGTERM)
	for _, id := range ids {
		require.Equal(t, pids[id], h.requireRunning(id), "after SIGTERM")
		require.Contains(t, h.console(id), testguest.BootMarker, "the console log survives")
	}

	// SIGKILL, and changes while no hvagentd runs.
	h.ok(http.MethodPost, "/guests/"+main+"/suspend", "")
	_, h = restartDaemon(t, p, h, syscall.SIGKILL, func() {
		h.qmp(off, "system_powerdown")
		// QEMU (-no-shutdown) stays, stopped, once the guest powered off.
		require.Eventually(t, func() bool { return h.qmpStatus(off) == "shutdown" }, qemuWait, 50*time.Millisecond)
		require.NoError(t, syscall.Kill(pids[killed], syscall.SIGKILL))
		require.Eventually(t, func() bool { return !slices.Contains(testguest.QEMUs(dir), pids[killed]) },
			10*time.Second, 20*time.Millisecond)
	})
	require.Eventually(t, func() bool { return h.guest(off).State == "shutoff" && len(testguest.QEMUs(dir)) == 1 },
		30*time.Second, 50*time.Millisecond, "the guest that powered off is shutoff, its QEMU gone")
	require.Equal(t, "crashed", h.guest(killed).State)
	h.requireState(main, "paused")
	require.Equal(t, "paused", h.qmpStatus(main))
	require.Equal(t, []int{pids[main]}, testguest.QEMUs(dir))

	// The re-attached guest is managed: resume, reboot (same QEMU), shutdown.
	h.ok(http.MethodPost, "/guests/"+main+"/resume", "")
	require.Equal(t, pids[main], h.requireRunning(main))
	h.ok(http.MethodPost, "/guests/"+main+"/reboot", "")
	h.waitConsole(main, testguest.BootMarker, 2)
	require.Equal(t, pids[main], h.requireRunning(main))
	h.ok(http.MethodPost, "/guests/"+main+"/shutdown", "")
	h.requireState(main, "shutoff")
	h.requireNoQEMU()

	for _, id := range ids {
		h.ok(http.MethodDelete, "/guests/"+id, "")
		h.requireGone(id)
	}
}

// diskGuest is the create body of a test guest with one blank disk of
// diskMB.
func diskGuest(h *qemuHost, diskMB int) string {
	return fmt.Sprintf(`{"memory": %d, "cpu": 1, "disks": [{"size": %d}], "boot": %s}`, testguest.MemoryMiB, diskMB, h.boot)
}

// concurrently sends one async request per path at once (without waiting)
// and waits for every job to complete; it returns their guest IDs.
func (h *qemuHost) concurrently(method string, paths []string, body string) []string {
	h.t.Helper()
	var jobs []string
	for _, path := range paths {
		r := h.a.want(http.StatusAccepted, method, path, body)
		jobs = append(jobs, r.header.Get("X-Guest-Job-ID"))
	}
	var ids []string
	for i, id := range jobs {
		job := h.waitJob(id)
		require.Equal(h.t, hvagent.JobComplete, job.Status, "%s %s: %s", method, paths[i], job.Message)
		ids = append(ids, job.GuestID)
	}
	return ids
}

// restartDaemon stops hvagentd with sig, runs whileDown, and starts it
// again on the same data dir; the guests' QEMUs must outlive it.
func restartDaemon(t *testing.T, p *proc, h *qemuHost, sig syscall.Signal, whileDown ...func()) (*proc, *qemuHost) {
	t.Helper()
	before := testguest.QEMUs(h.dir)
	h.c.CloseIdleConnections()
	h.a.hc.CloseIdleConnections()
	code := p.signal(t, sig)
	if sig == syscall.SIGTERM {
		require.Equal(t, 0, code, p.stderr.String())
	}
	require.ElementsMatch(t, before, testguest.QEMUs(h.dir), "the guests outlive hvagentd (%s)", sig)
	for _, f := range whileDown {
		f()
	}
	p, addr := startDaemonProc(t, h.dir, "--config", "")
	return p, newQEMUHost(t, h.dir, addr)
}

// TestQEMU_KilledDuringShutdown kills hvagentd while a shutdown job waits
// for a booting guest to react to the power button: the next hvagentd
// runs the job again and the guest ends shut off.
func TestQEMU_KilledDuringShutdown(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	p, addr := startDaemonProc(t, dir, "--config", "")
	h := newQEMUHost(t, dir, addr)
	id := h.create(8)
	h.ok(http.MethodPost, "/guests/"+id+"/start", "")
	// Pressed before the guest armed it, the power button goes unheard:
	// the driver presses it again until the guest powers off.
	r := h.a.want(http.StatusAccepted, http.MethodPost, "/guests/"+id+"/shutdown", "")
	jobID := r.header.Get("X-Guest-Job-ID")
	require.Eventually(t, func() bool {
		j, err := h.c.Job(t.Context(), jobID)
		require.NoError(t, err)
		return j.Status == hvagent.JobRunning
	}, 10*time.Second, 10*time.Millisecond)

	_, h = restartDaemon(t, p, h, syscall.SIGKILL)
	job := h.waitJob(jobID)
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
	require.Equal(t, 2, job.Attempt, "run again after the kill")
	h.requireState(id, "shutoff")
	h.requireNoQEMU()
	require.Contains(t, h.console(id), testguest.PoweroffMarker)
}

// TestQEMU_Autostart: a guest created with autostart is not started by its
// create; the next hvagentd starts it. One whose QEMU was killed while no
// hvagentd ran is reported crashed, then started too. A guest without
// autostart stays as it was.
func TestQEMU_Autostart(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	p, addr := startDaemonProc(t, dir, "--config", "")
	h := newQEMUHost(t, dir, addr)
	auto := fmt.Sprintf(`{"memory": %d, "cpu": 1, "disks": [{"size": 8}], "boot": %s, "autostart": true}`,
		testguest.MemoryMiB, h.boot)
	stopped := h.ok(http.MethodPost, "/guests", auto).GuestID
	crashed := h.ok(http.MethodPost, "/guests", auto).GuestID
	plain := h.create(8)
	require.True(t, h.guest(stopped).Autostart)
	h.requireState(stopped, "shutoff")
	h.ok(http.MethodPost, "/guests/"+crashed+"/start", "")
	pid := h.requireRunning(crashed)

	_, h = restartDaemon(t, p, h, syscall.SIGKILL, func() {
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		require.Eventually(t, func() bool { return !slices.Contains(testguest.QEMUs(dir), pid) },
			10*time.Second, 20*time.Millisecond)
	})
	for _, id := range []string{stopped, crashed} {
		require.Eventually(t, func() bool { return h.guest(id).State == "running" }, qemuWait, 50*time.Millisecond,
			"autostart guest %s not started by the new hvagentd", id)
		require.NotEqual(t, pid, h.requireRunning(id))
		h.waitConsole(id, testguest.BootMarker, 1)
	}
	h.requireState(plain, "shutoff")
	require.Len(t, testguest.QEMUs(dir), 2)

	ctx := context.Background()
	page, err := h.c.Events(ctx, hvagent.EventQuery{After: 0})
	require.NoError(t, err)
	states := []string{}
	for _, e := range page.Events {
		if e.Type == hvagent.EventGuestUpdated && e.Guest != nil && e.Guest.ID == crashed {
			states = append(states, e.Guest.State)
		}
	}
	require.Contains(t, states, "crashed", "the killed guest is reported crashed before its autostart")
	require.Equal(t, "running", states[len(states)-1])

	for _, id := range []string{stopped, crashed, plain} {
		h.ok(http.MethodDelete, "/guests/"+id, "")
		h.requireGone(id)
	}
	h.requireNoQEMU()
}

// TestQEMU_UnreachableAtRestart: a guest whose QEMU runs but does not
// answer when hvagentd starts (stopped) keeps its stored state, rather
// than being recorded shut off; once it answers, it is managed again.
func TestQEMU_UnreachableAtRestart(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	p, addr := startDaemonProc(t, dir, "--config", "")
	h := newQEMUHost(t, dir, addr)
	id := h.create(8)
	h.ok(http.MethodPost, "/guests/"+id+"/start", "")
	pid := h.requireRunning(id)
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	_, h = restartDaemon(t, p, h, syscall.SIGTERM, func() { require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP)) })
	h.requireState(id, "running")
	require.NoError(t, syscall.Kill(pid, syscall.SIGCONT))
	h.ok(http.MethodPost, "/guests/"+id+"/poweroff", "")
	h.requireState(id, "shutoff")
	h.requireNoQEMU()
	h.ok(http.MethodDelete, "/guests/"+id, "")
}
