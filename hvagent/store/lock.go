package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/hvagent/hvagent/hvagent"
)

// fileLock is an exclusive flock on <db>.lock holding the owner's pid. The
// kernel drops it when the process dies, so a crash never leaves it stale.
type fileLock struct {
	f *os.File
}

// acquireLock takes the lock of the database at path without waiting. A
// lock held elsewhere, by this process or another, gives ECONFLICT.
func acquireLock(path string) (*fileLock, error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := lockHolder(f)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &hvagent.Error{
				Code:    hvagent.ECONFLICT,
				Message: fmt.Sprintf("database %s is in use by another hvagent (%s)", path, holder),
				Err:     err,
			}
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if err := writePid(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write lock %s: %w", name, err)
	}
	return &fileLock{f: f}, nil
}

// writePid replaces the lock file's content with this process's pid.
func writePid(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// lockHolder describes the pid recorded in a lock file.
func lockHolder(f *os.File) string {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 64))
	if err != nil {
		return "pid unknown"
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return "pid unknown"
	}
	return "pid " + strconv.Itoa(pid)
}

// release unlocks and closes the lock file. The file stays: removing it
// would let two openers lock two different inodes.
func (l *fileLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := errors.Join(
		syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN),
		l.f.Close(),
	)
	l.f = nil
	if err != nil {
		return fmt.Errorf("release lock: %w", err)
	}
	return nil
}
