package testguest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hvagent/hvagent/internal/testio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Deadlines: failures, not speed checks (boot takes a few seconds under TCG).
const (
	bootDeadline     = 90 * time.Second
	poweroffDeadline = 60 * time.Second
)

// guest is a test guest running under QEMU with TCG.
type guest struct {
	console *testio.Buffer // everything the serial console printed
	stdin   io.WriteCloser // typed on the serial console
	qmp     string         // QMP unix socket
	started time.Time
	exited  chan error // receives QEMU's exit
}

// boot starts QEMU on the test guest with extra arguments (disks); QEMU is
// killed at cleanup if still running.
func boot(t *testing.T, extra ...string) *guest {
	t.Helper()
	kernel, initrd := Kernel(t)
	dir := t.TempDir()
	g := &guest{console: &testio.Buffer{}, qmp: filepath.Join(dir, "qmp.sock"), exited: make(chan error, 1)}
	args := append([]string{
		"-accel", "tcg", "-nodefaults", "-no-user-config", "-display", "none",
		"-m", fmt.Sprint(MemoryMiB), "-kernel", kernel, "-initrd", initrd, "-append", Cmdline,
		"-chardev", "stdio,id=console,signal=off", "-serial", "chardev:console",
		"-qmp", "unix:" + g.qmp + ",server=on,wait=off",
	}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	cmd.Stdout = g.console
	cmd.Stderr = g.console
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	g.stdin = stdin
	g.started = time.Now()
	require.NoError(t, cmd.Start(), "start qemu-system-x86_64 (Debian package qemu-system-x86)")
	go func() { g.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		_ = stdin.Close()
		select {
		case <-g.exited:
		case <-time.After(10 * time.Second):
			t.Error("qemu did not exit after kill")
		}
	})
	return g
}

// waitFor waits until the console shows line (see HasLine) and returns the
// time it took since boot.
func (g *guest) waitFor(t *testing.T, line string, deadline time.Duration) time.Duration {
	t.Helper()
	timeout := time.After(deadline)
	for {
		if HasLine(g.console.String(), line) {
			return time.Since(g.started)
		}
		select {
		case err := <-g.exited:
			g.exited <- err
			t.Fatalf("qemu exited (%v) before the console printed %q; console:\n%s", err, line, g.console)
		case <-timeout:
			t.Fatalf("no %q on the console within %v; console:\n%s", line, deadline, g.console)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// powerButton presses the ACPI power button through QMP system_powerdown.
func (g *guest) powerButton(t *testing.T) {
	t.Helper()
	conn, err := net.DialTimeout("unix", g.qmp, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	r := bufio.NewReader(conn)
	readReply := func() map[string]json.RawMessage {
		for {
			line, err := r.ReadBytes('\n')
			require.NoError(t, err)
			var msg map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(line, &msg), "QMP sent %q", line)
			if _, ok := msg["event"]; !ok {
				return msg
			}
		}
	}
	require.Contains(t, readReply(), "QMP", "QMP greeting")
	for _, command := range []string{"qmp_capabilities", "system_powerdown"} {
		_, err := fmt.Fprintf(conn, "{\"execute\":%q}\n", command)
		require.NoError(t, err)
		reply := readReply()
		require.Contains(t, reply, "return", "QMP %s: %v", command, reply)
	}
}

// waitExit waits for QEMU to exit by itself and requires a clean exit.
func (g *guest) waitExit(t *testing.T) {
	t.Helper()
	select {
	case err := <-g.exited:
		g.exited <- err
		require.NoError(t, err, "qemu exit; console:\n%s", g.console)
	case <-time.After(poweroffDeadline):
		t.Fatalf("qemu still running %v after the power button; console:\n%s", poweroffDeadline, g.console)
	}
}

func TestKernel_BootsAndPowersOffOnPowerButton(t *testing.T) {
	t.Parallel()
	g := boot(t)
	took := g.waitFor(t, BootMarker, bootDeadline)
	t.Logf("boot marker after %v", took)
	require.NotContains(t, g.console.String(), ErrorPrefix)

	g.powerButton(t)
	g.waitExit(t)
	t.Logf("qemu exited %v after start", time.Since(g.started))
	require.True(t, HasLine(g.console.String(), PoweroffMarker), "console:\n%s", g.console)
}

func TestKernel_ConsoleShell(t *testing.T) {
	t.Parallel()
	g := boot(t)
	g.waitFor(t, BootMarker, bootDeadline)

	// The tty echoes the command as typed; only the shell prints its result.
	_, err := io.WriteString(g.stdin, "echo console-$((6*7))\n")
	require.NoError(t, err)
	g.waitFor(t, "console-42", 30*time.Second)
}

func TestKernel_ReportsDisks(t *testing.T) {
	t.Parallel()
	disk := filepath.Join(t.TempDir(), "disk.raw")
	require.NoError(t, os.WriteFile(disk, []byte("disk-marker-1234\nsecond line\n"), 0o600))
	require.NoError(t, os.Truncate(disk, 4<<20))

	g := boot(t, "-drive", "file="+disk+",format=raw,if=virtio")
	g.waitFor(t, BootMarker, bootDeadline)
	require.True(t, HasLine(g.console.String(), DiskPrefix+"vda sectors=8192 first-line=disk-marker-1234"),
		"console:\n%s", g.console)
}

func TestRepoRoot(t *testing.T) {
	t.Parallel()
	root, err := RepoRoot()
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	require.FileExists(t, filepath.Join(root, "scripts", "guest-image.sh"))
}

func TestHasLine(t *testing.T) {
	t.Parallel()
	out := "a\r\nHVAGENT-TESTGUEST-BOOTED\r\n/ # \x1b[6nconsole-42\r\nx-console-42\n"
	require.True(t, HasLine(out, BootMarker))
	require.True(t, HasLine(out, "console-42"))
	require.False(t, HasLine(out, "console-4"))
	require.False(t, HasLine(out, "HVAGENT"))
}

func TestBuild_Errors(t *testing.T) {
	t.Run("ScriptFails", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(file, nil, 0o600))
		_, err := Build(t.Context(), filepath.Join(file, "testguest"))
		require.ErrorContains(t, err, "build the test guest with ")
		require.ErrorContains(t, err, "exit status")
		require.ErrorContains(t, err, "guest-image: cannot create "+file+", the parent of ", "the script's output is in the error")
	})
	t.Run("NoRepository", func(t *testing.T) {
		t.Chdir(t.TempDir())
		_, err := Build(t.Context(), t.TempDir())
		require.ErrorContains(t, err, "find the repository root: no scripts/guest-image.sh and testdata/guest/init in ")
	})
}
