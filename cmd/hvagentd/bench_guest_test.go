package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/layout"
)

// benchHTTP sends raw REST requests to an hvagentd over loopback TCP.
type benchHTTP struct {
	hc   *http.Client
	base string
}

func newBenchHTTP(b *testing.B, addr string) *benchHTTP {
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	b.Cleanup(tr.CloseIdleConnections)
	if sock, ok := strings.CutPrefix(addr, "unix://"); ok {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}
		addr = "localhost"
	}
	return &benchHTTP{hc: &http.Client{Transport: tr, Timeout: 5 * time.Minute}, base: "http://" + addr}
}

// job sends an async request with ?wait= and requires the job it
// answers with to have completed.
func (h *benchHTTP) job(b *testing.B, path, body string) {
	req, err := http.NewRequest(http.MethodPost, h.base+path+"?wait=2m", strings.NewReader(body))
	require.NoError(b, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.hc.Do(req)
	require.NoError(b, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(b, err)
	require.Equal(b, http.StatusOK, resp.StatusCode, "POST %s: %s", path, data)
	var job hvagent.Job
	require.NoError(b, json.Unmarshal(data, &job))
	require.Equal(b, hvagent.JobComplete, job.Status, "POST %s: %s", path, job.Message)
}

// createGuest creates a guest through the daemon and returns its ID.
func (h *benchHTTP) createGuest(b *testing.B, g *hvagent.Guest) string {
	body, err := json.Marshal(g)
	require.NoError(b, err)
	req, err := http.NewRequest(http.MethodPost, h.base+"/guests", bytes.NewReader(body))
	require.NoError(b, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.hc.Do(req)
	require.NoError(b, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(b, err)
	require.Equal(b, http.StatusAccepted, resp.StatusCode, "POST /guests: %s", data)
	var created hvagent.Guest
	require.NoError(b, json.Unmarshal(data, &created))
	var job hvagent.Job
	jobResp, err := h.hc.Get(h.base + "/jobs/" + resp.Header.Get("X-Guest-Job-ID") + "?wait=2m")
	require.NoError(b, err)
	defer jobResp.Body.Close()
	require.NoError(b, json.NewDecoder(jobResp.Body).Decode(&job))
	require.Equal(b, hvagent.JobComplete, job.Status, "create: %s", job.Message)
	return created.ID
}

// median returns the median of d (which it sorts).
func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkGuestStart compares starting a bare guest (no disk, no kernel)
// through hvagentd — POST /guests/{id}/start?wait= on loopback TCP, which
// returns once the job is complete — with starting the same QEMU by hand:
// the command line the driver used (read from the running QEMU, with its
// own run dir and UUID), run until it has daemonized, then a QMP
// handshake, query-status and cont, as the driver does. Each round does
// both, then powers both off (untimed). It reports the medians of both
// sides and of the added time per round.
func BenchmarkGuestStart(b *testing.B) {
	d := startDaemon(b, "--config", "", "--log-level", "error")
	h := newBenchHTTP(b, d.TCPAddr())
	id := h.createGuest(b, &hvagent.Guest{Memory: 128, CPU: 1})
	start, poweroff := "/guests/"+id+"/start", "/guests/"+id+"/poweroff"
	// A first start, untimed, gives the command line to copy.
	h.job(b, start, "")
	direct := newDirectQEMU(b, d.dir, id)
	h.job(b, poweroff, "")

	var daemon, byHand, added []time.Duration
	for b.Loop() {
		t0 := time.Now()
		h.job(b, start, "")
		td := time.Since(t0)
		h.job(b, poweroff, "")
		t0 = time.Now()
		q := direct.start(b)
		th := time.Since(t0)
		q.quit(b)
		daemon, byHand, added = append(daemon, td), append(byHand, th), append(added, td-th)
	}
	b.ReportMetric(ms(median(daemon)), "daemon-ms")
	b.ReportMetric(ms(median(byHand)), "direct-ms")
	b.ReportMetric(ms(median(added)), "added-ms")
}

// directQEMU starts a copy of a guest's QEMU command line by hand.
type directQEMU struct {
	bin  string
	args []string
	dir  string // the copy's run dir
}

// newDirectQEMU reads the command line of guest id's running QEMU and
// rewrites it for a run dir of its own (under the same run root, so the
// daemon's cleanup kills what is left) and a new UUID.
func newDirectQEMU(b *testing.B, dataDir, id string) *directQEMU {
	runDir := layout.RunDir(dataDir, id)
	pid, err := os.ReadFile(filepath.Join(runDir, layout.PIDFile))
	require.NoError(b, err)
	cmdline, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/cmdline")
	require.NoError(b, err)
	args := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
	bin, err := exec.LookPath(args[0])
	require.NoError(b, err)
	other := uuid.NewString()
	q := &directQEMU{bin: bin, dir: layout.RunDir(dataDir, other)}
	for _, a := range args[1:] {
		a = strings.ReplaceAll(a, runDir, q.dir)
		q.args = append(q.args, strings.ReplaceAll(a, id, other))
	}
	require.NotEqual(b, args[1:], q.args, "the command line names neither the run dir nor the guest")
	require.NoError(b, os.MkdirAll(q.dir, 0o700))
	return q
}

// start runs the QEMU until it has daemonized, then connects to its QMP
// monitor, checks its status and lets the guest run.
func (q *directQEMU) start(b *testing.B) *qmpClient {
	_ = os.Remove(filepath.Join(q.dir, layout.MonitorSocket))
	_ = os.Remove(filepath.Join(q.dir, layout.StorageSocket))
	cmd := exec.Command(q.bin, q.args...)
	cmd.Dir = q.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.CombinedOutput()
	require.NoError(b, err, "%s", out)
	c := dialBenchQMP(b, filepath.Join(q.dir, layout.MonitorSocket))
	var st struct {
		Status string `json:"status"`
	}
	c.run(b, "query-status", &st)
	require.Equal(b, "prelaunch", st.Status)
	c.run(b, "cont", nil)
	pid, err := os.ReadFile(filepath.Join(q.dir, layout.PIDFile))
	require.NoError(b, err)
	n, err := strconv.Atoi(strings.TrimSpace(string(pid)))
	require.NoError(b, err)
	// A pidfd sees the exit even though the process is not our child.
	c.pidfd, err = unix.PidfdOpen(n, 0)
	require.NoError(b, err)
	return c
}

// qmpClient is a minimal QMP client for the benchmark's own QEMU.
type qmpClient struct {
	conn  net.Conn
	r     *bufio.Reader
	pidfd int
}

func dialBenchQMP(b *testing.B, path string) *qmpClient {
	conn, err := net.DialTimeout("unix", path, 10*time.Second)
	require.NoError(b, err)
	require.NoError(b, conn.SetDeadline(time.Now().Add(30*time.Second)))
	c := &qmpClient{conn: conn, r: bufio.NewReader(conn)}
	_, err = c.r.ReadBytes('\n') // the greeting
	require.NoError(b, err)
	c.run(b, "qmp_capabilities", nil)
	return c
}

// run executes a command and decodes its return into out (when not nil),
// skipping events.
func (c *qmpClient) run(b *testing.B, command string, out any) {
	_, err := fmt.Fprintf(c.conn, `{"execute":%q}`+"\n", command)
	require.NoError(b, err)
	for {
		line, err := c.r.ReadBytes('\n')
		require.NoError(b, err, "qmp %s", command)
		var m struct {
			Return json.RawMessage `json:"return"`
			Error  json.RawMessage `json:"error"`
		}
		require.NoError(b, json.Unmarshal(line, &m))
		require.Nil(b, m.Error, "qmp %s: %s", command, line)
		if m.Return != nil {
			if out != nil {
				require.NoError(b, json.Unmarshal(m.Return, out))
			}
			return
		}
	}
}

// quit tells QEMU to exit and waits up to 30 s until it has.
func (c *qmpClient) quit(b *testing.B) {
	defer c.conn.Close()
	defer unix.Close(c.pidfd)
	c.run(b, "quit", nil)
	fds := []unix.PollFd{{Fd: int32(c.pidfd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 30_000)
	require.NoError(b, err)
	require.Equal(b, 1, n, "qemu did not quit")
}
