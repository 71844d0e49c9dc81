// Package acceptance runs scenario scripts (testdata/scripts/*.txtar)
// against the real hvctl and hvagentd binaries, built once by TestMain.
// hvagentd runs the simulation (testdata/sim.json) or the embedded default
// on each script's own data dir, listening only on loopback.
//
// Besides testscript's own commands (exec, stdout, stderr, env, stdin...),
// a script has:
//
//	start-agent [-default] [flags]  start hvagentd on $HVAGENT_DATA_DIR and wait until it serves
//	stop-agent                      stop it with SIGTERM; it must exit 0
//	status N program [args]         run hvctl or hvagentd; the exit code must be N
//	interrupt N PATTERN program ... SIGINT once stderr shows PATTERN; the exit code must be N
//	stdout2env NAME                 set $NAME to the last stdout, trimmed
//	http METHOD PATH [BODY]         one request to the socket, as curl would: "HTTP <status>" and the body
//	gencert CERT KEY                a self-signed certificate for 127.0.0.1, for --tls-cert/--tls-key
//
// and the environment $SIM (the simulation's config), $PORT (a free
// loopback port hvagentd's --listen uses) and $HVAGENT_DATA_DIR ($WORK/data).
package acceptance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/testio"
)

// binDir holds the binaries built by TestMain.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hvagent-acceptance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := buildBinaries(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
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
func buildBinaries(dir string) error {
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, pkg := range []string{"../cmd/hvctl", "../cmd/hvagentd"} {
		wg.Go(func() {
			out, err := exec.Command("go", "build", "-o", dir, pkg).CombinedOutput()
			if err != nil {
				errs[i] = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func TestScripts(t *testing.T) {
	t.Parallel()
	sim, err := filepath.Abs(filepath.Join("..", "testdata", "sim.json"))
	require.NoError(t, err)
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "scripts"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup:               func(env *testscript.Env) error { return setupEnv(env, sim) },
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"start-agent": cmdStartAgent,
			"stop-agent":  cmdStopAgent,
			"status":      cmdStatus,
			"interrupt":   cmdInterrupt,
			"stdout2env":  cmdStdout2Env,
			"http":        cmdHTTP,
			"gencert":     cmdGenCert,
		},
	})
}

// setupEnv gives a script the binaries on PATH, its own data dir
// ($HVAGENT_DATA_DIR), the simulation's config ($SIM) and a free loopback
// port ($PORT) for hvagentd's TCP listener.
func setupEnv(env *testscript.Env, sim string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	env.Setenv("PATH", binDir+string(os.PathListSeparator)+env.Getenv("PATH"))
	env.Setenv("HOME", env.WorkDir)
	env.Setenv("HVAGENT_DATA_DIR", filepath.Join(env.WorkDir, "data"))
	env.Setenv("SIM", sim)
	env.Setenv("PORT", port)
	slot := &agentSlot{}
	env.Values[agentKey{}] = slot
	env.Defer(slot.kill)
	return nil
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
}

// agentKey is the key of the script's *agentSlot.
type agentKey struct{}

// agentSlot holds the script's running hvagentd, if any.
type agentSlot struct {
	a *agent
}

// kill ends the slot's hvagentd, if running (at the script's end).
func (s *agentSlot) kill() {
	if s.a != nil {
		_ = s.a.cmd.Process.Kill()
		<-s.a.done
		s.a = nil
	}
}

// slotOf returns the script's agent slot.
func slotOf(ts *testscript.TestScript) *agentSlot {
	return ts.Value(agentKey{}).(*agentSlot)
}

// agentReadyTimeout bounds hvagentd's start; agentStopTimeout its stop.
const (
	agentReadyTimeout = 20 * time.Second
	agentStopTimeout  = 30 * time.Second
)

// agent is one hvagentd started by a script.
type agent struct {
	cmd  *exec.Cmd
	done chan error
	log  string
}

// cmdStartAgent starts hvagentd on $HVAGENT_DATA_DIR with the simulation,
// TCP on 127.0.0.1:$PORT, and waits until it serves its socket. Arguments
// are added to hvagentd's; "-default" first runs the embedded default
// instead of the simulation. Its log goes to $WORK/hvagentd.log.
//
//	start-agent [-default] [hvagentd flags...]
func cmdStartAgent(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! start-agent")
	}
	slot := slotOf(ts)
	if slot.a != nil {
		ts.Fatalf("hvagentd is already running")
	}
	dataDir := ts.Getenv("HVAGENT_DATA_DIR")
	flags := []string{"--data-dir", dataDir, "--listen", "127.0.0.1:" + ts.Getenv("PORT"), "--log-level", "warn"}
	if len(args) > 0 && args[0] == "-default" {
		args = args[1:]
	} else {
		flags = append(flags, "--config", ts.Getenv("SIM"))
	}
	slot.a = startAgent(ts, append(flags, args...))
	if err := waitReady(slot.a, "unix://"+filepath.Join(dataDir, "hvagent.sock")); err != nil {
		slot.kill()
		ts.Fatalf("%v", err)
	}
}

// startAgent starts hvagentd with args.
func startAgent(ts *testscript.TestScript, args []string) *agent {
	logPath := ts.MkAbs("hvagentd.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	ts.Check(err)
	cmd := exec.Command(filepath.Join(binDir, "hvagentd"), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = scriptEnv(ts)
	ts.Check(cmd.Start())
	_ = logFile.Close()
	a := &agent{cmd: cmd, done: make(chan error, 1), log: logPath}
	go func() { a.done <- cmd.Wait() }()
	return a
}

// scriptEnv is the environment of programs started outside exec: the
// script's variables that hvctl and hvagentd read.
func scriptEnv(ts *testscript.TestScript) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "HVAGENT_DATA_DIR", "HVAGENT_ADDR", "HVAGENT_TOKEN"} {
		if v := ts.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// waitReady waits until hvagentd answers its health check at addr.
func waitReady(a *agent, addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), agentReadyTimeout)
	defer cancel()
	c := rest.NewClient(addr)
	defer c.CloseIdleConnections()
	for {
		if h, err := c.Health(ctx); err == nil && h.Status == "ok" {
			return nil
		}
		select {
		case err := <-a.done:
			a.done <- err
			return fmt.Errorf("hvagentd exited before serving (%v):\n%s", err, readLog(a))
		case <-ctx.Done():
			return fmt.Errorf("hvagentd did not serve %s within %s:\n%s", addr, agentReadyTimeout, readLog(a))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// readLog returns hvagentd's log so far.
func readLog(a *agent) string {
	b, err := os.ReadFile(a.log)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// cmdStopAgent stops hvagentd with SIGTERM and waits for it to exit 0
// (with !, for it to fail).
//
//	stop-agent
func cmdStopAgent(ts *testscript.TestScript, neg bool, _ []string) {
	slot := slotOf(ts)
	if slot.a == nil {
		ts.Fatalf("hvagentd is not running")
	}
	a := slot.a
	ts.Check(a.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-a.done:
		slot.a = nil
		if (err != nil) != neg {
			ts.Fatalf("hvagentd exited with %v:\n%s", err, readLog(a))
		}
	case <-time.After(agentStopTimeout):
		ts.Fatalf("hvagentd did not stop within %s", agentStopTimeout)
	}
}

// cmdStatus runs a program (found on the script's PATH) like exec and requires its exit code to be N;
// stdout and stderr are kept for the next checks.
//
//	status N program [args...]
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := exitCode(ts, ts.Exec(args[1], args[2:]...))
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// exitCode is the exit code of a finished command's error.
func exitCode(ts *testscript.TestScript, err error) int {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			ts.Fatalf("killed by %v", ws.Signal())
		}
		return exit.ExitCode()
	}
	ts.Fatalf("%v", err)
	return -1
}

// cmdStdout2Env sets the environment variable NAME to the last command's
// stdout without its surrounding white space.
//
//	stdout2env NAME
func cmdStdout2Env(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: stdout2env NAME")
	}
	ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile("stdout")))
}

// interruptTimeout bounds waiting for the pattern of cmdInterrupt and for
// the program's exit after SIGINT.
const interruptTimeout = 20 * time.Second

// cmdInterrupt starts a program (hvctl or hvagentd), sends it SIGINT once its stderr contains
// PATTERN (a plain string) and requires its exit code to be N; its stdout
// and stderr are kept for the next checks.
//
//	interrupt N PATTERN program [args...]
func cmdInterrupt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: interrupt N PATTERN program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	var stdout, stderr testio.Buffer
	cmd := exec.Command(filepath.Join(binDir, args[2]), args[3:]...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = scriptEnv(ts)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	ts.Check(cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(interruptTimeout)
	for !strings.Contains(stderr.String(), args[1]) {
		select {
		case err := <-done:
			ts.Fatalf("%s ended before printing %q (%v):\n%s", args[2], args[1], err, stderr.String())
		case <-deadline:
			_ = cmd.Process.Kill()
			<-done
			ts.Fatalf("%s did not print %q within %s:\n%s", args[2], args[1], interruptTimeout, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	ts.Check(cmd.Process.Signal(os.Interrupt))
	select {
	case err = <-done:
	case <-deadline:
		_ = cmd.Process.Kill()
		<-done
		ts.Fatalf("%s did not exit after SIGINT within %s", args[2], interruptTimeout)
	}
	_, _ = fmt.Fprint(ts.Stdout(), stdout.String())
	_, _ = fmt.Fprint(ts.Stderr(), stderr.String())
	if got := exitCode(ts, err); got != want {
		ts.Fatalf("%s exited %d, want %d", args[2], got, want)
	}
}
