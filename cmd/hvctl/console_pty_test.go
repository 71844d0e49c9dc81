package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/testguest"
	"github.com/hvagent/hvagent/internal/testio"
)

// consoleWait bounds each wait of the console test (boot, output, exit).
const consoleWait = 90 * time.Second

// openPTY opens a pseudo-terminal pair: master for the test, slave for
// the program under test.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = master.Close() })
	var n int
	require.NoError(t, control(master, func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
			return err
		}
		var err error
		n, err = unix.IoctlGetInt(fd, unix.TIOCGPTN) // ptsname
		return err
	}))
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = slave.Close() })
	return master, slave
}

// control runs fn on f's descriptor without making it blocking (so that
// a Read stays interruptible by Close).
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// canonical reports whether the terminal is in canonical mode with echo,
// as a shell leaves it (raw mode turns both off).
func canonical(t *testing.T, f *os.File) bool {
	t.Helper()
	var tio *unix.Termios
	require.NoError(t, control(f, func(fd int) error {
		var err error
		tio, err = unix.IoctlGetTermios(fd, unix.TCGETS)
		return err
	}))
	return tio.Lflag&unix.ICANON != 0 && tio.Lflag&unix.ECHO != 0
}

// startQEMUDaemon starts hvagentd on dir with the embedded default (the
// QEMU and storage drivers) and waits until it answers on its socket.
func startQEMUDaemon(t *testing.T, dir string) *daemon {
	t.Helper()
	d := &daemon{done: make(chan error, 1)}
	d.cmd = exec.Command(hvagentdBin, "--config", "", "--data-dir", dir, "--listen", "off", "--log-level", "warn")
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
	require.Eventually(t, func() bool {
		r := hvctlExec(t, "--data-dir", dir, "version", "-o", "json")
		var v versionInfo
		return r.code == exitOK && json.Unmarshal([]byte(r.out), &v) == nil && v.Agent != nil
	}, 15*time.Second, 50*time.Millisecond, "hvagentd did not answer\n%s", &d.logs)
	return d
}

// copyToImages copies a boot file into dir's images directory, where the
// QEMU driver accepts boot files, and returns its new path.
func copyToImages(t *testing.T, dir, src string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	dst := filepath.Join(dir, "images", filepath.Base(src))
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o700))
	require.NoError(t, os.WriteFile(dst, data, 0o600))
	return dst
}

// ptyRun is the hvctl binary running on a pseudo-terminal.
type ptyRun struct {
	cmd           *exec.Cmd
	master, slave *os.File
	screen        testio.Buffer // what the terminal shows
	exited        chan error    // hvctl's exit
	copied        chan struct{} // closed when the slave is closed everywhere
}

// startOnPTY starts hvctl with args on a new pseudo-terminal (its stdin,
// stdout, stderr and controlling terminal).
func startOnPTY(t *testing.T, args ...string) *ptyRun {
	t.Helper()
	p := &ptyRun{exited: make(chan error, 1), copied: make(chan struct{})}
	p.master, p.slave = openPTY(t)
	p.cmd = exec.Command(hvctlBin, args...)
	p.cmd.Env = append(cleanEnv(), "TERM=dumb")
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = p.slave, p.slave, p.slave
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	require.NoError(t, p.cmd.Start())
	go func() { p.exited <- p.cmd.Wait() }()
	go func() {
		defer close(p.copied)
		_, _ = io.Copy(&p.screen, p.master) // ends with EIO once the slave is closed everywhere
	}()
	return p
}

// wait waits for hvctl to exit (killing it after consoleWait).
func (p *ptyRun) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.exited:
		return err
	case <-time.After(consoleWait):
		_ = p.cmd.Process.Kill()
		t.Fatalf("hvctl did not exit; the terminal shows:\n%q", p.screen.String())
		return nil
	}
}

// TestE2E_ConsoleOverPTY attaches `hvctl guest console` on a pseudo-terminal
// to the test guest under a real hvagentd: a typed command's output shows,
// Ctrl-] detaches with exit 0, the terminal is restored and the guest runs on.
func TestE2E_ConsoleOverPTY(t *testing.T) {
	t.Parallel()
	if e2eSkip != "" {
		t.Skip(e2eSkip)
	}
	dir := t.TempDir()
	testguest.KillQEMUs(t, dir)
	kernel, initrd := testguest.Kernel(t)
	d := startQEMUDaemon(t, dir)
	at := []string{"--data-dir", dir}

	r := hvctlExec(t, append(at, "guest", "create", "--name", "con1", "--memory", strconv.Itoa(testguest.MemoryMiB), "--cpu", "1",
		"--kernel", copyToImages(t, dir, kernel), "--initrd", copyToImages(t, dir, initrd), "--cmdline", testguest.Cmdline, "--wait")...)
	require.Equal(t, exitOK, r.code, r.errOut)
	// A guest that does not run cannot be attached to; the log is offered.
	p := startOnPTY(t, append(at, "guest", "console", "con1")...)
	err := p.wait(t)
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, exitConflict, ee.ExitCode())
	require.True(t, canonical(t, p.slave), "the terminal was left as it was")
	require.NoError(t, p.slave.Close())
	<-p.copied
	require.Contains(t, p.screen.String(), "not running")
	require.Contains(t, p.screen.String(), "use --tail N or -f")

	r = hvctlExec(t, append(at, "guest", "start", "con1", "--wait")...)
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Eventually(t, func() bool {
		r := hvctlExec(t, append(at, "guest", "console", "con1")...)
		return testguest.HasLine(r.out, testguest.BootMarker)
	}, consoleWait, 200*time.Millisecond, "the guest did not boot\n%s", &d.logs)
	qemus := testguest.QEMUs(dir)
	require.Len(t, qemus, 1)

	p = startOnPTY(t, append(at, "guest", "console", "con1")...)
	master, slave, screen := p.master, p.slave, &p.screen
	waitScreen := func(what string, ok func(string) bool) {
		t.Helper()
		require.Eventually(t, func() bool { return ok(screen.String()) }, consoleWait, 20*time.Millisecond,
			"the terminal never showed %s; it shows:\n%q\nhvagentd:\n%s", what, screen.String(), &d.logs)
	}

	waitScreen("the attach notice", func(s string) bool { return strings.Contains(s, "Ctrl-] detaches") })
	require.False(t, canonical(t, slave), "hvctl puts the terminal in raw mode")
	_, err = master.Write([]byte("echo console-$((6*7))\r"))
	require.NoError(t, err)
	waitScreen("the command's output", func(s string) bool { return testguest.HasLine(s, "console-42") })

	_, err = master.Write([]byte{0x1d}) // Ctrl-]
	require.NoError(t, err)
	require.NoError(t, p.wait(t), "hvctl exits 0 on detach; the terminal shows:\n%q", screen.String())
	require.True(t, canonical(t, slave), "the terminal is restored")
	require.NoError(t, slave.Close())
	<-p.copied
	require.Contains(t, screen.String(), "detached")

	// The guest runs on, in the same QEMU, and its log kept the session.
	r = hvctlExec(t, append(at, "guest", "show", "con1", "-o", "json")...)
	require.Equal(t, exitOK, r.code, r.errOut)
	var g hvagent.Guest
	require.NoError(t, json.Unmarshal([]byte(r.out), &g))
	require.Equal(t, hvagent.StateRunning, g.State)
	require.Equal(t, qemus, testguest.QEMUs(dir))
	require.NoError(t, syscall.Kill(qemus[0], 0))
	r = hvctlExec(t, append(at, "guest", "console", "con1", "--tail", "3")...)
	require.Equal(t, exitOK, r.code, r.errOut)
	require.True(t, testguest.HasLine(r.out, "console-42"), r.out)

	r = hvctlExec(t, append(at, "guest", "delete", "con1", "--wait")...)
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Empty(t, testguest.QEMUs(dir))
	d.stop(t)
}
