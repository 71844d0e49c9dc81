package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hvagent/hvagent/internal/layout"
)

// errNoProcess means a guest's pidfile names no live QEMU of that guest.
var errNoProcess = errors.New("no qemu process")

// process is a QEMU process that is not our child (it daemonized), watched
// through a pidfd.
type process struct {
	pid int

	mu    sync.Mutex
	pidfd int // readable once the process exits; -1 once closed
}

// readPIDFile returns the PID in a guest's pidfile; errNoProcess when there
// is no pidfile.
func readPIDFile(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, layout.PIDFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, errNoProcess
	}
	if err != nil {
		return 0, fmt.Errorf("read pidfile: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pidfile %s holds %q, not a PID", filepath.Join(dir, layout.PIDFile), b)
	}
	return pid, nil
}

// openProcess opens the QEMU of guest id with the given PID, after checking
// through /proc that the PID is alive and is a QEMU started with
// "-uuid <id>" (a PID may have been reused since the pidfile was written).
// It returns errNoProcess when it is not.
func openProcess(pid int, id string) (*process, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.ESRCH) {
		return nil, errNoProcess
	}
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	p := &process{pid: pid, pidfd: fd}
	// Check after opening the pidfd: the pidfd then refers to the process
	// whose cmdline we read, even if it exits and its PID is reused.
	if !isGuestQEMU(pid, id) || p.exited() {
		p.close()
		return nil, errNoProcess
	}
	return p, nil
}

// isGuestQEMU reports whether /proc/<pid> is a live process whose command
// line carries "-uuid <id>".
func isGuestQEMU(pid int, id string) bool {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(cmdline) == 0 { // a zombie has an empty cmdline
		return false
	}
	return bytes.Contains(cmdline, []byte("\x00-uuid\x00"+id+"\x00"))
}

// exited reports whether the process has exited.
// A closed process counts as exited.
func (p *process) exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pidfd < 0 {
		return true
	}
	fds := []unix.PollFd{{Fd: int32(p.pidfd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0
}

// wait waits until the process exits or ctx ends.
func (p *process) wait(ctx context.Context) error {
	for !p.exited() {
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for qemu %d to exit: %w", p.pid, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// kill sends SIGKILL to the process (through its pidfd, so never to a
// process that reused the PID).
func (p *process) kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pidfd < 0 {
		return nil
	}
	err := unix.PidfdSendSignal(p.pidfd, unix.SIGKILL, nil, 0)
	if err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill qemu %d: %w", p.pid, err)
	}
	return nil
}

// close releases the pidfd; the process keeps running.
func (p *process) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pidfd >= 0 {
		_ = unix.Close(p.pidfd)
		p.pidfd = -1
	}
}
