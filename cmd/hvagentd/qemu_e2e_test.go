package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/layout"
	"github.com/hvagent/hvagent/internal/testguest"
)

// These tests drive hvagentd's embedded default (the built-in QEMU and
// storage drivers) through the REST API, booting the tiny test guest under
// TCG. A boot takes a few seconds; the limits below are for failures, not
// speed.
const (
	// qemuWait is the ?wait= of an async request and the bound of a wait
	// for the console.
	qemuWait = 90 * time.Second
	// testguestDir is where a test puts the test guest's kernel and initrd
	// under the data dir (boot files must lie under <data_dir>/images).
	testguestDir = "images/testguest"
)

// qemuHost is an hvagentd on the embedded default, seen through REST.
type qemuHost struct {
	t    *testing.T
	dir  string
	c    *rest.Client
	a    *api
	boot string // the "boot" JSON of the test guest
}

// startQEMUHost runs an in-process hvagentd on the embedded default with
// the test guest's kernel staged in its data dir.
func startQEMUHost(t *testing.T) *qemuHost {
	t.Helper()
	d := startDaemon(t, "--config", "")
	return newQEMUHost(t, d.dir, d.TCPAddr())
}

// newQEMUHost stages the test guest's files in dir (once) and returns the
// view of the hvagentd at addr.
func newQEMUHost(t *testing.T, dir, addr string) *qemuHost {
	t.Helper()
	requireQEMU(t)
	kernel, initrd := stageTestguest(t, dir)
	hc := httpClient(t)
	hc.Timeout = qemuWait + 30*time.Second
	boot, err := json.Marshal(hvagent.Boot{Kernel: kernel, Initrd: initrd, Cmdline: testguest.Cmdline})
	require.NoError(t, err)
	return &qemuHost{t: t, dir: dir, c: newClient(t, addr), a: &api{t: t, hc: hc, base: "http://" + addr}, boot: string(boot)}
}

// requireQEMU fails the test, naming the Debian packages, when QEMU or
// qemu-img is missing: these tests never skip.
func requireQEMU(t *testing.T) {
	t.Helper()
	for bin, pkg := range map[string]string{"qemu-system-x86_64": "qemu-system-x86", "qemu-img": "qemu-utils"} {
		_, err := exec.LookPath(bin)
		require.NoError(t, err, "the QEMU end-to-end tests need %s (Debian package %s)", bin, pkg)
	}
}

// stageTestguest hard-links (or copies) the test guest's kernel and initrd
// into <dir>/images/testguest and returns their paths there.
func stageTestguest(t *testing.T, dir string) (kernel, initrd string) {
	t.Helper()
	srcKernel, srcInitrd := testguest.Kernel(t)
	dst := filepath.Join(dir, testguestDir)
	require.NoError(t, os.MkdirAll(dst, 0o700))
	for _, src := range []string{srcKernel, srcInitrd} {
		p := filepath.Join(dst, filepath.Base(src))
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if os.Link(src, p) == nil {
			continue
		}
		b, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, b, 0o600))
	}
	return filepath.Join(dst, filepath.Base(srcKernel)), filepath.Join(dst, filepath.Base(srcInitrd))
}

// run sends an async request with ?wait= and returns the final job,
// requiring it to have ended.
func (h *qemuHost) run(method, path, body string) *hvagent.Job {
	h.t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	r := h.a.want(http.StatusOK, method, path+sep+"wait="+qemuWait.String(), body)
	var job hvagent.Job
	r.decode(h.t, &job)
	require.True(h.t, job.Status.Final(), "%s %s: job %s still %s after %v", method, path, job.ID, job.Status, qemuWait)
	return &job
}

// waitJob waits for a job to end and returns it.
func (h *qemuHost) waitJob(id string) *hvagent.Job {
	h.t.Helper()
	var job hvagent.Job
	h.a.want(http.StatusOK, http.MethodGet, "/jobs/"+id+"?wait="+qemuWait.String(), "").decode(h.t, &job)
	require.True(h.t, job.Status.Final(), "job %s still %s after %v", id, job.Status, qemuWait)
	return &job
}

// ok runs an async request and requires its job to complete.
func (h *qemuHost) ok(method, path, body string) *hvagent.Job {
	h.t.Helper()
	job := h.run(method, path, body)
	require.Equal(h.t, hvagent.JobComplete, job.Status, "%s %s: %s (%s)", method, path, job.Message, job.Error)
	return job
}

// create creates a test guest with one blank disk of diskMB and returns
// its ID.
func (h *qemuHost) create(diskMB int) string {
	h.t.Helper()
	job := h.ok(http.MethodPost, "/guests", diskGuest(h, diskMB))
	require.NotEmpty(h.t, job.GuestID)
	return job.GuestID
}

// guest returns the guest as the API has it.
func (h *qemuHost) guest(id string) *hvagent.Guest {
	h.t.Helper()
	var g hvagent.Guest
	h.a.want(http.StatusOK, http.MethodGet, "/guests/"+id, "").decode(h.t, &g)
	return &g
}

// requireState requires the guest's state to be state.
func (h *qemuHost) requireState(id, state string) {
	h.t.Helper()
	require.Equal(h.t, state, h.guest(id).State, "guest %s", id)
}

// console returns the guest's console log through the API.
func (h *qemuHost) console(id string) string {
	h.t.Helper()
	return string(h.a.want(http.StatusOK, http.MethodGet, "/guests/"+id+"/console", "").body)
}

// waitConsole waits until the guest's console shows marker n times.
func (h *qemuHost) waitConsole(id, marker string, n int) {
	h.t.Helper()
	var text string
	require.Eventually(h.t, func() bool {
		text = h.console(id)
		return strings.Count(text, marker) >= n
	}, qemuWait, 100*time.Millisecond, "guest %s: console never showed %q %d times; it has:\n%s", id, marker, n, text)
}

// qemuPID returns the PID of the one QEMU of guest id, requiring that
// exactly one runs.
func (h *qemuHost) qemuPID(id string) int {
	h.t.Helper()
	var pids []int
	for _, pid := range testguest.QEMUs(h.dir) {
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(cmdline), id) {
			pids = append(pids, pid)
		}
	}
	require.Len(h.t, pids, 1, "QEMUs of guest %s", id)
	return pids[0]
}

// qmpStatus asks the guest's QEMU for its run state (query-status).
func (h *qemuHost) qmpStatus(id string) string {
	h.t.Helper()
	var status struct {
		Status string `json:"status"`
	}
	require.NoError(h.t, json.Unmarshal(h.qmp(id, "query-status"), &status))
	return status.Status
}

// qmp runs a QMP command without arguments on the guest's QEMU and returns
// its result. It uses the storage monitor, which no one holds while no
// storage job runs (QMP serves one client per socket).
func (h *qemuHost) qmp(id, command string) json.RawMessage {
	h.t.Helper()
	conn, err := net.DialTimeout("unix", filepath.Join(layout.RunDir(h.dir, id), layout.StorageSocket), 5*time.Second)
	require.NoError(h.t, err)
	defer conn.Close()
	require.NoError(h.t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	dec := json.NewDecoder(bufio.NewReader(conn))
	var greeting struct{ QMP json.RawMessage }
	require.NoError(h.t, dec.Decode(&greeting))
	require.NotEmpty(h.t, greeting.QMP, "QMP greeting")
	var result json.RawMessage
	for _, cmd := range []string{"qmp_capabilities", command} {
		_, err := fmt.Fprintf(conn, `{"execute": %q}`+"\n", cmd)
		require.NoError(h.t, err)
		for {
			var msg struct {
				Return json.RawMessage `json:"return"`
				Error  json.RawMessage `json:"error"`
			}
			require.NoError(h.t, dec.Decode(&msg))
			require.Empty(h.t, msg.Error, cmd)
			if msg.Return != nil { // events have neither
				result = msg.Return
				break
			}
		}
	}
	return result
}

// requireNoQEMU requires that no QEMU of the data dir runs.
func (h *qemuHost) requireNoQEMU() {
	h.t.Helper()
	require.Empty(h.t, testguest.QEMUs(h.dir), "QEMUs left running")
}

// requireRunning requires the guest running in API state, process and QMP,
// and returns its QEMU's PID.
func (h *qemuHost) requireRunning(id string) int {
	h.t.Helper()
	h.requireState(id, "running")
	pid := h.qemuPID(id)
	require.Equal(h.t, "running", h.qmpStatus(id))
	return pid
}

// requireGone requires that no file or directory under the data dir (or
// the run root, when it lies elsewhere) is the guest's: none is named with
// its ID, and neither its disk dir nor its run dir exists.
func (h *qemuHost) requireGone(id string) {
	h.t.Helper()
	for _, root := range []string{h.dir, layout.RunRoot(h.dir)} {
		err := filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			require.NotContains(h.t, path, id, "a file of the deleted guest is left")
			return nil
		})
		require.NoError(h.t, err)
	}
	for _, p := range []string{layout.GuestDir(h.dir, id), layout.RunDir(h.dir, id)} {
		_, err := os.Stat(p)
		require.ErrorIs(h.t, err, fs.ErrNotExist, p)
	}
}

func TestQEMU_Lifecycle(t *testing.T) {
	t.Parallel()
	h := startQEMUHost(t)

	id := h.create(16)
	h.requireState(id, "shutoff")
	h.requireNoQEMU()
	_, err := os.Stat(layout.DiskPath(h.dir, id, 0))
	require.NoError(t, err, "the storage driver made disk 0")

	h.ok(http.MethodPost, "/guests/"+id+"/start", "")
	pid := h.requireRunning(id)
	h.waitConsole(id, testguest.BootMarker, 1)
	require.Contains(t, h.console(id), testguest.DiskPrefix+"vda sectors=32768 ", "the 16 MB blank disk is the guest's vda")

	// An online guest-level snapshot: QEMU goes on running.
	h.ok(http.MethodPost, "/guests/"+id+"/snapshots", `{"dest": "s1"}`)
	var snaps []*hvagent.Snapshot
	h.a.want(http.StatusOK, http.MethodGet, "/guests/"+id+"/snapshots", "").decode(t, &snaps)
	var snapIDs []string
	for _, s := range snaps {
		snapIDs = append(snapIDs, s.ID)
	}
	require.Equal(t, []string{"guests/" + id + "@s1", "guests/" + id + "/disk-0@s1"}, snapIDs, "the guest's and its disk's, as ZFS lists them")
	require.Equal(t, pid, h.requireRunning(id))

	// ACPI shutdown: the guest powers itself off and QEMU exits.
	h.ok(http.MethodPost, "/guests/"+id+"/shutdown", "")
	h.requireState(id, "shutoff")
	h.requireNoQEMU()
	require.Contains(t, h.console(id), testguest.PoweroffMarker)

	h.ok(http.MethodPost, "/guests/"+id+"/start", "")
	require.NotEqual(t, pid, h.requireRunning(id), "a new QEMU")
	h.waitConsole(id, testguest.BootMarker, 2)

	h.ok(http.MethodPost, "/guests/"+id+"/poweroff", "")
	h.requireState(id, "shutoff")
	h.requireNoQEMU()

	job := h.ok(http.MethodDelete, "/guests/"+id, "")
	require.Equal(t, "delete", job.Action)
	h.a.want(http.StatusNotFound, http.MethodGet, "/guests/"+id, "")
	h.requireGone(id)
}

func TestQEMU_CrashReported(t *testing.T) {
	t.Parallel()
	h := startQEMUHost(t)
	id := h.create(8)
	h.ok(http.MethodPost, "/guests/"+id+"/start", "")
	pid := h.requireRunning(id)
	h.waitConsole(id, testguest.BootMarker, 1)

	ctx := context.Background()
	page, err := h.c.Events(ctx, hvagent.EventQuery{After: -1}) // no events: just the cursor
	require.NoError(t, err)
	cursor := page.Cursor
	proc, err := os.FindProcess(pid)
	require.NoError(t, err)
	require.NoError(t, proc.Kill())
	killed := time.Now()

	deadline := killed.Add(10 * time.Second)
	for found := false; !found; {
		wait := time.Until(deadline)
		require.Positive(t, wait, "no guest.updated event with state crashed within 10 s of the kill")
		page, err := h.c.Events(ctx, hvagent.EventQuery{After: cursor, Wait: wait})
		require.NoError(t, err)
		for _, e := range page.Events {
			found = found || e.Type == hvagent.EventGuestUpdated && e.Guest != nil && e.Guest.ID == id && e.Guest.State == "crashed"
		}
		cursor = page.Cursor
	}
	t.Logf("crash reported %v after the kill", time.Since(killed).Round(time.Millisecond))
	h.requireState(id, "crashed")
	h.requireNoQEMU()

	// A crashed guest starts again.
	h.ok(http.MethodPost, "/guests/"+id+"/start", "")
	h.requireRunning(id)
	h.ok(http.MethodPost, "/guests/"+id+"/poweroff", "")
}

// TestQEMU_PoweroffOverrulesShutdown: a guest with no operating system
// (the BIOS alone) ignores the power button, so its shutdown would run
// until its timeout; a poweroff queued behind it cancels it and stops the
// guest at once.
func TestQEMU_PoweroffOverrulesShutdown(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	_, addr := startDaemonProc(t, dir, "--config", "")
	h := newQEMUHost(t, dir, addr)
	id := h.ok(http.MethodPost, "/guests", fmt.Sprintf(`{"memory": %d, "disks": [{"size": 8}]}`, testguest.MemoryMiB)).GuestID
	h.ok(http.MethodPost, "/guests/"+id+"/start", "")
	h.requireRunning(id)

	shutdown := h.a.want(http.StatusAccepted, http.MethodPost, "/guests/"+id+"/shutdown", "").header.Get("X-Guest-Job-ID")
	require.Eventually(t, func() bool {
		var j hvagent.Job
		h.a.want(http.StatusOK, http.MethodGet, "/jobs/"+shutdown, "").decode(t, &j)
		return j.Status == hvagent.JobRunning
	}, 10*time.Second, 20*time.Millisecond, "the shutdown runs")
	time.Sleep(500 * time.Millisecond) // the button is pressed; the BIOS ignores it
	began := time.Now()
	poweroff := h.ok(http.MethodPost, "/guests/"+id+"/poweroff", "")
	t.Logf("poweroff done %v after it was asked", time.Since(began).Round(time.Millisecond))
	job := h.waitJob(shutdown)
	require.Equal(t, hvagent.JobCanceled, job.Status)
	require.Equal(t, "overruled by poweroff job "+poweroff.ID+"; outcome of stage 1/1 QEMU.Shutdown unknown", job.Message)
	h.requireState(id, "shutoff")
	h.requireNoQEMU()
	h.ok(http.MethodDelete, "/guests/"+id, "")
}
