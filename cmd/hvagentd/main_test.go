package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hvagent/hvagent/internal/testio"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/testguest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if bins.dir != "" {
			_ = os.RemoveAll(bins.dir)
		}
	}))
}

// bins are the programs the end-to-end tests run, built once per test run.
var bins struct {
	once sync.Once
	dir  string
	err  error
}

// binary returns the path of a built program: "hvagentd", "hvctl" or
// "test-rpc-service".
func binary(t testing.TB, name string) string {
	t.Helper()
	bins.once.Do(func() {
		if bins.dir, bins.err = os.MkdirTemp("", "hvagentd-bin-"); bins.err != nil {
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			bins.err = fmt.Errorf("the go command is needed to build the programs under test: %w", err)
			return
		}
		cmd := exec.Command(goTool, "build", "-o", bins.dir+"/", "github.com/hvagent/hvagent/cmd/hvagentd",
			"github.com/hvagent/hvagent/cmd/hvctl", "github.com/hvagent/hvagent/examples/test-rpc-service")
		if out, err := cmd.CombinedOutput(); err != nil {
			bins.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	require.NoError(t, bins.err)
	return filepath.Join(bins.dir, name)
}

// tempDir returns a short temporary directory (unix socket paths are
// limited to 108 bytes), removed when the test ends.
func tempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hvd")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// logBuffer collects a process's JSON log lines.
type logBuffer struct{ testio.Buffer }

// find returns the first JSON log line for which match is true.
func (b *logBuffer) find(match func(map[string]any) bool) (map[string]any, bool) {
	for line := range strings.SplitSeq(b.String(), "\n") {
		if entry, ok := parseLogLine(line); ok && match(entry) {
			return entry, true
		}
	}
	return nil, false
}

// parseLogLine decodes a JSON log line.
func parseLogLine(line string) (map[string]any, bool) {
	var entry map[string]any
	return entry, json.Unmarshal([]byte(line), &entry) == nil
}

// proc is a program started by a test.
type proc struct {
	cmd    *exec.Cmd
	stderr *logBuffer
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// startProc starts bin with args and kills it when the test ends.
func startProc(t testing.TB, bin string, args ...string) (*proc, io.Reader) {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), stderr: &logBuffer{}, exited: make(chan struct{})}
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("%s stderr:\n%s", filepath.Base(bin), p.stderr.String())
		}
	})
	return p, stdout
}

// startListening starts a program that prints "listening on <addr>" first
// and returns it with the address.
func startListening(t testing.TB, bin string, args ...string) (*proc, string) {
	t.Helper()
	p, stdout := startProc(t, bin, args...)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "%s printed no address: %s", bin, p.stderr.String())
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	require.True(t, ok, "first line %q", line)
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return p, addr
}

// startDaemonProc starts the hvagentd binary with args on dataDir,
// listening on a free loopback port, and returns it with its TCP address.
func startDaemonProc(t testing.TB, dataDir string, args ...string) (*proc, string) {
	t.Helper()
	testguest.KillQEMUs(t, dataDir)
	args = append([]string{"--data-dir", dataDir, "--listen", "127.0.0.1:0"}, withConfig(args)...)
	p, _ := startProc(t, binary(t, "hvagentd"), args...)
	var addr string
	require.Eventually(t, func() bool {
		select {
		case <-p.exited:
			require.FailNow(t, "hvagentd exited", "%v: %s", p.err, p.stderr.String())
		default:
		}
		entry, ok := p.stderr.find(func(e map[string]any) bool { return e["message"] == "listening" && e["listener"] == "tcp" })
		if ok {
			addr, _ = entry["addr"].(string)
		}
		return ok
	}, 20*time.Second, 10*time.Millisecond)
	return p, addr
}

// signal sends sig to the process and waits up to 30 s for it to exit; it
// returns the exit code.
func (p *proc) signal(t testing.TB, sig syscall.Signal) int {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		require.FailNow(t, "no exit after signal", "%s", sig)
	}
	return p.cmd.ProcessState.ExitCode()
}

// newClient returns a client of addr that closes its connections when the
// test ends.
func newClient(t testing.TB, addr string) *rest.Client {
	t.Helper()
	c := rest.NewClient(addr)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// httpClient returns a plain HTTP client that closes its connections when
// the test ends.
func httpClient(t testing.TB) *http.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// waitJob waits up to 30 s for a job to end and returns it.
func waitJob(t testing.TB, svc hvagent.Service, id string) *hvagent.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	job, err := svc.WaitJob(ctx, id)
	require.NoError(t, err)
	return job
}
