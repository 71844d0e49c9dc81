package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
)

// simURLConfig writes a config that wires every action to the sim
// sub-agent serving at addr (a separate process) and returns its path.
func simURLConfig(t testing.TB, dir, addr string) string {
	t.Helper()
	cfg := sim.Config()
	for name, s := range cfg.Services {
		s.Builtin, s.URL = "", "http://"+addr
		cfg.Services[name] = s
	}
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	path := filepath.Join(dir, "sim-url.json")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

func TestProcess_SIGTERM(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	p, addr := startDaemonProc(t, dir)
	c := newClient(t, addr)
	ctx := context.Background()
	res, err := c.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 128}})
	require.NoError(t, err)
	require.Equal(t, hvagent.JobComplete, waitJob(t, c, res.Job.ID).Status)
	c.CloseIdleConnections()

	require.Equal(t, 0, p.signal(t, syscall.SIGTERM), p.stderr.String())
	_, ok := p.stderr.find(func(e map[string]any) bool { return e["message"] == "hvagentd stopped" })
	require.True(t, ok, p.stderr.String())
	_, err = os.Stat(filepath.Join(dir, "hvagent.sock"))
	require.ErrorIs(t, err, fs.ErrNotExist)

	// The next daemon on the data dir finds the guest; SIGINT stops it too.
	p, addr = startDaemonProc(t, dir)
	c = newClient(t, addr)
	g, err := c.Guest(ctx, res.Guest.ID)
	require.NoError(t, err)
	require.Equal(t, res.Guest.ID, g.ID)
	c.CloseIdleConnections()
	require.Equal(t, 0, p.signal(t, syscall.SIGINT), p.stderr.String())
}

func TestProcess_SecondDaemonRefused(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	first, _ := startDaemonProc(t, dir)
	out, err := exec.Command(binary(t, "hvagentd"), "--data-dir", dir, "--listen", "127.0.0.1:0").CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 1, exit.ExitCode())
	require.Contains(t, string(out), "hvagentd: open store: database "+filepath.Join(dir, "hvagent.db")+
		" is in use by another hvagent (pid "+strconv.Itoa(first.cmd.Process.Pid)+")")
	require.Equal(t, 0, first.signal(t, syscall.SIGTERM))
}

func TestProcess_SecondSignalForcesExit(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	_, simAddr := startListening(t, binary(t, "hvagentd"), "subagent", "sim", "--listen", "127.0.0.1:0", "--latency", "20s")
	p, addr := startDaemonProc(t, dir, "--config", simURLConfig(t, dir, simAddr), "--shutdown-timeout", "1m")
	c := newClient(t, addr)
	ctx := context.Background()
	res, err := c.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 128}})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		j, err := c.Job(ctx, res.Job.ID)
		require.NoError(t, err)
		return j.Status == hvagent.JobRunning
	}, 10*time.Second, 10*time.Millisecond)
	c.CloseIdleConnections()

	// The graceful stop waits for the running job...
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool {
		_, ok := p.stderr.find(func(e map[string]any) bool { return e["message"] == "stopping: signal received" })
		return ok
	}, 10*time.Second, 10*time.Millisecond)
	select {
	case <-p.exited:
		require.FailNow(t, "exited before the running job ended")
	case <-time.After(200 * time.Millisecond):
	}
	// ...unless a second signal comes.
	start := time.Now()
	require.Equal(t, 1, p.signal(t, syscall.SIGTERM))
	require.Less(t, time.Since(start), 5*time.Second)
	require.Contains(t, p.stderr.String(), "hvagentd: terminated during the graceful stop: forced exit")
	forced, ok := p.stderr.find(func(e map[string]any) bool {
		return e["message"] == "second signal: exiting without finishing the graceful stop"
	})
	require.True(t, ok, p.stderr.String())
	require.Regexp(t, `^\d+(\.\d+)?(ms|s)$`, forced["took"], "how long the stop ran before it was forced")
}

func TestProcess_ConsoleLogToFile(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	f, err := os.Create(filepath.Join(dir, "hvagentd.log"))
	require.NoError(t, err)
	defer f.Close()
	cmd := exec.Command(binary(t, "hvagentd"), "--data-dir", dir, "--listen", "127.0.0.1:0", "--config", simConfig, "--log-format", "console")
	cmd.Stderr = f // a file, not a terminal
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	log := func() string {
		b, err := os.ReadFile(f.Name())
		require.NoError(t, err)
		return string(b)
	}
	require.Eventually(t, func() bool { return strings.Contains(log(), "listener=tcp") }, 20*time.Second, 10*time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		require.NoError(t, err, log())
	case <-time.After(30 * time.Second):
		require.FailNow(t, "no exit after SIGTERM")
	}
	require.Contains(t, log(), "INF hvagentd stopped")
	require.Contains(t, log(), "WRN services using the SIMULATED driver")
	require.NotContains(t, log(), "\x1b[", "no colour codes in a file")
}
