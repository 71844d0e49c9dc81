// Package testguest gives tests hvagent's tiny bootable test guest: a Debian
// cloud kernel and a busybox initramfs built by scripts/guest-image.sh from
// the recipe in testdata/guest.
//
// Booted under QEMU (TCG is enough) with Cmdline and the serial port as the
// console, the guest prints on the serial console:
//
//	HVAGENT-TESTGUEST-DISK vda sectors=<n> first-line=<text>   one line per virtio disk
//	HVAGENT-TESTGUEST-BOOTED                                    (BootMarker) ready
//
// then runs an interactive shell there (type "echo hi" and read "hi"; see
// HasLine). An
// ACPI power button press (QMP system_powerdown) makes it print
// PoweroffMarker and power off, so QEMU exits by itself.
//
// The image is built once into a cache shared by every test run of the user
// (os.UserCacheDir()/hvagent-testguest) and rebuilt only when the recipe, the
// kernel package or busybox changes; concurrent test binaries wait for each
// other's build instead of building twice.
package testguest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Lines the guest prints on its serial console.
const (
	// BootMarker is printed once the guest is up: disks reported, the power
	// button armed and the console shell about to start.
	BootMarker = "HVAGENT-TESTGUEST-BOOTED"
	// PoweroffMarker is printed when the power button was pressed, just
	// before the guest powers off.
	PoweroffMarker = "HVAGENT-TESTGUEST-POWEROFF"
	// DiskPrefix starts the line printed for each virtio disk, followed by
	// "<dev> sectors=<512-byte sectors> first-line=<the printable part of the
	// first line of the disk's first 4 KiB>".
	DiskPrefix = "HVAGENT-TESTGUEST-DISK "
	// ErrorPrefix starts a line reporting a boot step that failed (a kernel
	// module that did not load, a power button nobody listens to).
	ErrorPrefix = "HVAGENT-TESTGUEST-ERROR"
)

// Cmdline is the kernel command line to boot the guest with: the console on
// the first serial port, only kernel warnings and worse printed there, and
// the boot work a test guest does not need skipped (crypto self-tests, the
// timer and TSC checks, PS/2 mouse probing, speculation mitigations), which
// saves about a tenth of the boot's CPU time under TCG.
const Cmdline = "console=ttyS0 quiet cryptomgr.notests no_timer_check tsc=reliable i8042.noaux i8042.nopnp mitigations=off"

// MemoryMiB is the guest memory the image is tested with. 80 MiB boots too;
// 64 MiB does not.
const MemoryMiB = 128

// buildTimeout bounds one run of the build script, download included.
const buildTimeout = 10 * time.Minute

// built memoizes the image of this test binary: Kernel runs the script once.
var built struct {
	mu             sync.Mutex
	kernel, initrd string
}

// Kernel returns the paths of the test guest's kernel and initramfs, building
// them first when the cache does not hold an up-to-date image. It fails the
// test (it never skips) when the image cannot be built, for instance when
// the Debian packages cannot be downloaded. The files are shared: do not
// modify them.
func Kernel(t testing.TB) (kernel, initrd string) {
	t.Helper()
	built.mu.Lock()
	defer built.mu.Unlock()
	if built.kernel == "" {
		dir, err := Build(t.Context(), CacheDir())
		if err != nil {
			t.Fatalf("testguest: %v", err)
		}
		built.kernel, built.initrd = filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initrd.img")
	}
	return built.kernel, built.initrd
}

// CacheDir is where Kernel keeps the image: os.UserCacheDir()/hvagent-testguest,
// or a per-user directory under os.TempDir() when there is no cache dir.
func CacheDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "hvagent-testguest")
	}
	return filepath.Join(os.TempDir(), "hvagent-testguest-"+strconv.Itoa(os.Getuid()))
}

// Build runs scripts/guest-image.sh, found from the working directory up, to
// build (or find up to date) the image in dir, and returns dir. The script
// takes a lock on dir, so concurrent builds of the same dir run one at a
// time. The error carries the script's output.
func Build(ctx context.Context, dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	script := filepath.Join(root, "scripts", "guest-image.sh")
	cmd := exec.CommandContext(ctx, script, dir)
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return "", fmt.Errorf("build the test guest with %s: no result within %v:\n%s", script, buildTimeout, stderr.String())
	}
	if err != nil {
		return "", fmt.Errorf("build the test guest with %s: %w:\n%s", script, err, stderr.String())
	}
	if got := strings.TrimSpace(string(out)); got != dir {
		return "", fmt.Errorf("build the test guest with %s: printed %q, want %q", script, got, dir)
	}
	for _, f := range []string{"vmlinuz", "initrd.img"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return "", fmt.Errorf("build the test guest with %s: %w", script, err)
		}
	}
	return dir, nil
}

// shellQuery is the cursor position query busybox's shell sends after each
// prompt.
const shellQuery = "\x1b[6n"

// HasLine reports whether console output holds line as a whole line,
// ignoring carriage returns and what precedes the shell's cursor position
// query on the line (the prompt): after typing "echo hi", HasLine(out, "hi").
func HasLine(console, line string) bool {
	for l := range strings.SplitSeq(console, "\n") {
		l = strings.TrimRight(l, "\r")
		if i := strings.LastIndex(l, shellQuery); i >= 0 {
			l = l[i+len(shellQuery):]
		}
		if l == line {
			return true
		}
	}
	return false
}

// RepoRoot returns the hvagent repository holding the working directory: the
// nearest directory, from the working directory up, with
// scripts/guest-image.sh and the recipe testdata/guest/init.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if isRepoRoot(dir) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", errors.New("find the repository root: no scripts/guest-image.sh and testdata/guest/init in " + wd + " or above")
		}
	}
}

func isRepoRoot(dir string) bool {
	for _, f := range []string{"scripts/guest-image.sh", "testdata/guest/init"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}
