package qemu

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
	"github.com/hvagent/hvagent/internal/testguest"
)

// bootTimeout bounds a boot of the test guest under TCG (a few seconds on
// an idle machine; the limit is for failures, not speed).
const bootTimeout = 90 * time.Second

// setupGuest returns a bundle whose driver may boot the test guest's
// kernel, and a guest definition of it with one 16 MiB disk.
func setupGuest(t *testing.T) (*testBundle, *subagent.Guest) {
	t.Helper()
	kernel, _ := testguest.Kernel(t)
	b := setupWith(t, func(o *Options) { o.AllowedPaths = []string{filepath.Dir(kernel)} })
	return setupGuestIn(t, b)
}

// setupGuestIn returns b and another test guest definition on its data dir.
func setupGuestIn(t *testing.T, b *testBundle) (*testBundle, *subagent.Guest) {
	t.Helper()
	kernel, initrd := testguest.Kernel(t)
	id := uuid.NewString()
	g := &subagent.Guest{
		ID:     id,
		Memory: testguest.MemoryMiB,
		CPU:    1,
		Boot:   &subagent.Boot{Kernel: kernel, Initrd: initrd, Cmdline: testguest.Cmdline},
		Disks:  []subagent.Disk{{Size: 16, Source: newDisk(t, b.dataDir, id, 0)}},
	}
	return b, g
}

// newDisk creates a 16 MiB qcow2 disk at the layout's place whose first
// line reads "disk of <id>" (the test guest prints it).
func newDisk(t *testing.T, dataDir, id string, n int) string {
	t.Helper()
	p := layout.DiskPath(dataDir, id, n)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
	raw := p + ".raw"
	require.NoError(t, os.WriteFile(raw, []byte("disk of "+id+"\n"), 0o600))
	require.NoError(t, os.Truncate(raw, 16<<20))
	out, err := exec.CommandContext(ctx(t), "qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, p).CombinedOutput()
	require.NoError(t, err, "qemu-img (Debian package qemu-utils): %s", out)
	require.NoError(t, os.Remove(raw))
	return p
}

// consoleText returns the guest's console log.
func consoleText(t *testing.T, d *Driver, g *subagent.Guest) string {
	t.Helper()
	rc, size, err := d.Console(ctx(t), g)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.Equal(t, size, int64(len(b)))
	return string(b)
}

// waitConsole waits until the console shows marker n times in all.
func waitConsole(t *testing.T, d *Driver, g *subagent.Guest, marker string, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		return strings.Count(consoleText(t, d, g), marker) >= n
	}, bootTimeout, 100*time.Millisecond, "console never showed %q %d times; it has:\n%s", marker, n, consoleText(t, d, g))
}

func TestDriver_GuestLifecycle(t *testing.T) {
	t.Parallel()
	b, g := setupGuest(t)
	d := b.driver
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	client := subagent.NewClient(subagent.ClientConfig{URL: srv.URL + subagent.RPCPath, Timeout: callTimeout})

	// Create and start over the sub-agent wire.
	var resp subagent.GuestResponse
	require.NoError(t, client.Call(ctx(t), "QEMU.CreateGuest", &subagent.GuestRequest{Guest: g}, &resp))
	require.Equal(t, StateShutoff, resp.Guest.State)
	require.Equal(t, "vda", resp.Guest.Disks[0].Device)
	g = resp.Guest
	require.NoError(t, client.Call(ctx(t), "QEMU.Start", &subagent.GuestRequest{Guest: g}, &resp))
	require.Equal(t, StateRunning, resp.Guest.State)
	pid := b.pidOf(t, g.ID)
	require.Equal(t, "running", b.qmpStatus(t, g.ID))
	waitConsole(t, d, g, testguest.BootMarker, 1)
	require.Contains(t, consoleText(t, d, g), testguest.DiskPrefix+"vda sectors=32768 first-line=disk of "+g.ID, "disk0 is the guest's vda")

	// The console stream over the wire serves the same log.
	body, _, err := subagent.NewClient(subagent.ClientConfig{URL: srv.URL + ConsolePath}).Stream(ctx(t), &subagent.GuestRequest{Guest: g})
	require.NoError(t, err)
	streamed, err := io.ReadAll(body)
	require.NoError(t, body.Close())
	require.NoError(t, err)
	require.Contains(t, string(streamed), testguest.BootMarker)

	checkMetrics(t, d, g)

	require.Equal(t, StatePaused, mustCall(t, d.Suspend, g).State)
	require.Equal(t, "paused", b.qmpStatus(t, g.ID))
	require.Equal(t, StateRunning, mustCall(t, d.Resume, g).State)
	require.Equal(t, "running", b.qmpStatus(t, g.ID))

	// Reboot: the guest powers off on the ACPI button, then boots again in
	// the same QEMU.
	require.Equal(t, StateRunning, mustCall(t, d.Reboot, g).State)
	require.Contains(t, consoleText(t, d, g), testguest.PoweroffMarker)
	waitConsole(t, d, g, testguest.BootMarker, 2)
	require.Equal(t, pid, b.pidOf(t, g.ID))
	require.Equal(t, "running", b.qmpStatus(t, g.ID))

	// Restart: a hard reset, no power-off.
	require.Equal(t, StateRunning, mustCall(t, d.Restart, g).State)
	waitConsole(t, d, g, testguest.BootMarker, 3)
	require.Equal(t, 1, strings.Count(consoleText(t, d, g), testguest.PoweroffMarker))
	require.Equal(t, pid, b.pidOf(t, g.ID))

	// A new driver (hvagentd restarted) re-attaches and shuts it down.
	require.NoError(t, d.Close())
	d = b.newDriver(t)
	_, err = d.Reconcile(ctx(t))
	require.NoError(t, err)
	require.Equal(t, StateRunning, d.State(g.ID))
	require.Equal(t, StateShutoff, mustCall(t, d.Shutdown, g).State)
	text := consoleText(t, d, g)
	require.Equal(t, 2, strings.Count(text, testguest.PoweroffMarker), "the guest shut down through ACPI; console:\n%s", text[max(0, len(text)-1500):])
	b.requireNoQEMU(t, g.ID)
	require.False(t, b.states.has(g.ID, StateShutoff), "a shutdown by call is not reported through OnState")

	// The guest powering itself off is noticed and reported.
	mustCall(t, d.Start, g)
	waitConsole(t, d, g, testguest.BootMarker, 4)
	pressPowerButton(t, b, g.ID)
	require.Eventually(t, func() bool { return b.states.has(g.ID, StateShutoff) }, eventTimeout, eventPoll)
	require.Equal(t, StateShutoff, d.State(g.ID))
	b.requireNoQEMU(t, g.ID)

	mustCall(t, d.Delete, g)
	require.NoDirExists(t, layout.RunDir(b.dataDir, g.ID))
	require.FileExists(t, g.Disks[0].Source, "disks are the storage driver's")
}

// pressPowerButton presses the guest's ACPI power button from outside the
// driver (through the storage monitor), so the guest powers itself off.
func pressPowerButton(t *testing.T, b *testBundle, id string) {
	t.Helper()
	q, err := dialQMP(ctx(t), filepath.Join(layout.RunDir(b.dataDir, id), layout.StorageSocket))
	require.NoError(t, err)
	defer q.close()
	require.NoError(t, q.run(ctx(t), "system_powerdown", nil, nil))
}

// checkMetrics checks the CPU, disk and NIC metrics of a booted guest.
func checkMetrics(t *testing.T, d *Driver, g *subagent.Guest) {
	t.Helper()
	cpu, err := d.CPUMetrics(ctx(t), g)
	require.NoError(t, err)
	require.Equal(t, "cpu", cpu.Type)
	require.Len(t, cpu.CPU, 1)
	require.Positive(t, cpu.CPU[0].CPUTime, "booting took CPU time")
	require.LessOrEqual(t, cpu.CPU[0].VCPUTime, cpu.CPU[0].CPUTime)

	disk, err := d.DiskMetrics(ctx(t), g)
	require.NoError(t, err)
	require.Contains(t, disk.Disk, "vda")
	require.Positive(t, disk.Disk["vda"].ReadOps, "the guest read its disk")
	require.Positive(t, disk.Disk["vda"].ReadBytes)

	nic, err := d.NicMetrics(ctx(t), g)
	require.NoError(t, err)
	require.Empty(t, nic.Nic)
	withNic := g.Clone()
	withNic.Nics = []subagent.Nic{{Name: "net0"}}
	_, err = d.NicMetrics(ctx(t), withNic)
	require.ErrorIs(t, err, ErrUnsupported)
	require.ErrorContains(t, err, "user-mode networking")
}

func TestDriver_ShutdownDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The bare firmware ignores the power button: the call gives up at its
	// deadline and the guest keeps running.
	g := mustCall(t, b.driver.Start, bareGuest())
	c, cancel := context.WithTimeout(ctx(t), 300*time.Millisecond)
	defer cancel()
	_, err := b.driver.Shutdown(c, g)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "did not shut down")
	require.Equal(t, StateRunning, b.driver.State(g.ID))
	require.Equal(t, "running", b.qmpStatus(t, g.ID))
	mustCall(t, b.driver.Poweroff, g)
	b.requireNoQEMU(t, g.ID)
}

func TestDriver_ThreeGuests(t *testing.T) {
	t.Parallel()
	b, _ := setupGuest(t)
	d := b.driver
	guests := make([]*subagent.Guest, 3)
	for i := range guests {
		_, g := setupGuestIn(t, b)
		guests[i] = g
	}
	errs := make([]error, len(guests))
	var wg sync.WaitGroup
	for i, g := range guests {
		wg.Go(func() { _, errs[i] = d.Start(ctx(t), g) })
	}
	wg.Wait()
	for i, g := range guests {
		require.NoError(t, errs[i])
		require.Equal(t, "running", b.qmpStatus(t, g.ID))
	}
	// Each guest boots from its own disk and has its own console.
	for _, g := range guests {
		waitConsole(t, d, g, testguest.BootMarker, 1)
		text := consoleText(t, d, g)
		require.Contains(t, text, "first-line=disk of "+g.ID)
		require.Equal(t, 1, strings.Count(text, "first-line=disk of "), "console of %s:\n%s", g.ID, text)
	}

	// The first guest powers off while no driver watches: a new driver
	// finds it so, finishes it off and reports it shut off.
	require.NoError(t, d.Close())
	pressPowerButton(t, b, guests[0].ID)
	require.Eventually(t, func() bool { return b.qmpStatus(t, guests[0].ID) == "shutdown" }, bootTimeout, eventPoll)
	d = b.newDriver(t)
	found, err := d.Reconcile(ctx(t))
	require.NoError(t, err)
	require.Len(t, found, 3)
	for _, s := range found {
		want := StateRunning
		if s.ID == guests[0].ID {
			want = StateShutoff
		}
		require.Equal(t, want, s.State, s.ID)
	}
	require.True(t, b.states.has(guests[0].ID, StateShutoff))
	b.requireNoQEMU(t, guests[0].ID)
	require.Contains(t, consoleText(t, d, guests[0]), testguest.PoweroffMarker, "the console was drained before QEMU quit")

	for i, g := range guests {
		wg.Go(func() { _, errs[i] = d.Shutdown(ctx(t), g) })
	}
	wg.Wait()
	for i, g := range guests {
		require.NoError(t, errs[i])
		b.requireNoQEMU(t, g.ID)
		require.Contains(t, consoleText(t, d, g), testguest.PoweroffMarker)
	}
}

func TestDriver_ShutdownWhileBooting(t *testing.T) {
	t.Parallel()
	b, g := setupGuest(t)
	// The guest cannot hear the power button before it has booted; the
	// driver presses it again until the guest reacts.
	mustCall(t, b.driver.Start, g)
	require.Equal(t, StateShutoff, mustCall(t, b.driver.Shutdown, g).State)
	text := consoleText(t, b.driver, g)
	require.Contains(t, text, testguest.BootMarker)
	require.Contains(t, text, testguest.PoweroffMarker)
	b.requireNoQEMU(t, g.ID)
}
