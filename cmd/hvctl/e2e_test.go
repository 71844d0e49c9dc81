package main

import (
	"bytes"
	"encoding/json"
	"fmt"
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
)

// Binaries built by TestMain for the end-to-end tests.
var (
	hvctlBin, hvagentdBin string
	// e2eSkip says why the end-to-end tests cannot run, when they cannot.
	e2eSkip string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hvctl-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildBinaries(dir)
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// buildBinaries builds hvctl and hvagentd into dir, at the same time.
func buildBinaries(dir string) {
	hvctlBin, hvagentdBin = filepath.Join(dir, "hvctl"), filepath.Join(dir, "hvagentd")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, b := range [][2]string{{hvctlBin, "."}, {hvagentdBin, "../hvagentd"}} {
		wg.Go(func() {
			out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput()
			if err != nil {
				errs[i] = fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
			}
		})
	}
	wg.Wait()
	if err := errs[0]; err != nil {
		e2eSkip = "cannot build hvctl: " + err.Error()
	} else if err := errs[1]; err != nil {
		e2eSkip = "cmd/hvagentd does not build yet, so there is no daemon to test against: " + err.Error()
	}
}

// cleanEnv is the environment without HVAGENT_* variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HVAGENT_") {
			env = append(env, kv)
		}
	}
	return env
}

// result is one run of the hvctl binary.
type result struct {
	code        int
	out, errOut string
}

// hvctlExec runs the hvctl binary with args.
func hvctlExec(t testing.TB, args ...string) result {
	t.Helper()
	cmd := exec.Command(hvctlBin, args...)
	cmd.Env = cleanEnv()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{out: out.String(), errOut: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return r
}

// daemon is a running hvagentd.
type daemon struct {
	cmd  *exec.Cmd
	logs testio.Buffer
	done chan error
}

// startDaemon starts hvagentd on dir with the simulation config and waits
// until it answers.
func startDaemon(t testing.TB, dir string) *daemon {
	t.Helper()
	d := &daemon{done: make(chan error, 1)}
	d.cmd = exec.Command(hvagentdBin, "--config", filepath.Join("..", "..", "testdata", "sim.json"),
		"--data-dir", dir, "--listen", "off", "--log-level", "warn")
	d.cmd.Env = cleanEnv()
	d.cmd.Stderr = &d.logs
	require.NoError(t, d.cmd.Start())
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := hvctlExec(t, "--data-dir", dir, "version", "-o", "json")
		var v versionInfo
		if r.code == exitOK && json.Unmarshal([]byte(r.out), &v) == nil && v.Agent != nil {
			return d
		}
		select {
		case err := <-d.done:
			d.done <- err
			t.Fatalf("hvagentd exited: %v\n%s", err, d.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hvagentd did not answer: %s\n%s", r.errOut, d.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop stops hvagentd gracefully and waits for it to exit.
func (d *daemon) stop(t testing.TB) {
	t.Helper()
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("hvagentd: %v\n%s", err, d.logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("hvagentd did not stop\n%s", d.logs.String())
	}
}

func TestE2E_Daemon(t *testing.T) {
	t.Parallel()
	if e2eSkip != "" {
		t.Skip(e2eSkip)
	}
	dir := t.TempDir()
	d := startDaemon(t, dir)
	at := []string{"--data-dir", dir}

	r := hvctlExec(t, append(at, "guest", "create", "--memory", "256", "--cpu", "1", "--disk", "size=1024",
		"--nic", "network=br0", "--metadata", "owner=e2e", "--wait", "-o", "json")...)
	require.Equal(t, exitOK, r.code, r.errOut)
	var created hvagent.Job
	require.NoError(t, json.Unmarshal([]byte(r.out), &created), r.out)
	require.Equal(t, hvagent.JobComplete, created.Status, created.Message)
	require.Equal(t, hvagent.ActionCreate, created.Action)
	id := created.GuestID
	require.Contains(t, r.errOut, "create: Complete", "progress goes to stderr")

	r = hvctlExec(t, append(at, "guest", "start", id, "--wait")...)
	require.Equal(t, exitOK, r.code, r.errOut)
	r = hvctlExec(t, append(at, "guest", "reboot", id, "--wait")...)
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Regexp(t, `(?m)reboot\s+Complete\s+1/1 Sim.Reboot`, r.out)

	r = hvctlExec(t, append(at, "job", "list", "-o", "json")...)
	require.Equal(t, exitOK, r.code, r.errOut)
	var jobs []hvagent.Job
	require.NoError(t, json.Unmarshal([]byte(r.out), &jobs))
	require.Len(t, jobs, 3)
	for i, action := range []string{"reboot", "start", "create"} {
		require.Equal(t, action, jobs[i].Action, "newest first")
		require.Equal(t, hvagent.JobComplete, jobs[i].Status)
		require.Equal(t, id, jobs[i].GuestID)
	}

	unknown := "7c1f0e2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
	r = hvctlExec(t, append(at, "guest", "show", unknown)...)
	require.Equal(t, exitNotFound, r.code)
	require.Equal(t, 1, strings.Count(r.errOut, "\n"), r.errOut)
	require.True(t, strings.HasPrefix(r.errOut, "hvctl: ") && strings.Contains(r.errOut, unknown), r.errOut)
	require.Empty(t, r.out)

	r = hvctlExec(t, append(at, "guest", "list", "--bogus")...)
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.errOut, "hvctl: unknown flag: --bogus\nUsage: hvctl guest list [flags]\n")

	r = hvctlExec(t, append(at, "--local", "guest", "list")...)
	require.Equal(t, exitConflict, r.code, "--local is refused while hvagentd runs")
	require.Regexp(t, `^hvctl: --local refused: database \S+ is in use by another hvagent \(pid \d+\); run without --local to go through hvagentd\n$`, r.errOut)

	d.stop(t)

	r = hvctlExec(t, append(at, "guest", "list")...)
	require.Equal(t, exitUnavailable, r.code, r.errOut)
	r = hvctlExec(t, append(at, "--local", "guest", "list", "-o", "json")...)
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Empty(t, r.errOut, "the daemon's config.json is used")
	var guests []hvagent.Guest
	require.NoError(t, json.Unmarshal([]byte(r.out), &guests))
	require.Len(t, guests, 1)
	require.Equal(t, id, guests[0].ID)
	require.Equal(t, hvagent.StateRunning, guests[0].State)
	require.Equal(t, map[string]string{"owner": "e2e"}, guests[0].Metadata)
}
