// Package layout is where the built-in qemu and storage drivers keep a
// guest's files under the data dir. Both drivers use it, so that a disk the
// storage driver created is the one QEMU opens, and the storage driver finds
// the QMP socket of a running guest for online snapshots.
//
//	<data_dir>/images/<id>.qcow2             disk images (storage)
//	<data_dir>/guests/<guest id>/disk<N>.qcow2 guest disks (storage)
//	<data_dir>/run/<guest id>/               one running QEMU (qemu driver):
//	    qemu.pid  qmp.sock  qmp-storage.sock  console.log
//
// A unix socket path must fit in 108 bytes, so when <data_dir> is too long
// the run dir moves to a short directory under the system temp dir (under
// /tmp when that one is too long too), named by a hash of the data dir.
package layout

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// File names inside a guest's run dir.
const (
	// PIDFile holds the QEMU process ID.
	PIDFile = "qemu.pid"
	// MonitorSocket is the QMP socket the qemu driver keeps connected (for
	// events and the SHUTDOWN reason).
	MonitorSocket = "qmp.sock"
	// StorageSocket is a second QMP monitor of the same QEMU, for the
	// storage driver's short connections (QMP serves one client per
	// socket).
	StorageSocket = "qmp-storage.sock"
	// ConsoleLog is the serial console's size-capped log.
	ConsoleLog = "console.log"
)

// maxSocketPath is the longest unix socket path, the terminating NUL of
// sockaddr_un.sun_path excluded.
const maxSocketPath = 107

// ImagesDir is the directory of disk images.
func ImagesDir(dataDir string) string { return filepath.Join(dataDir, "images") }

// GuestDir is the directory of one guest's disks.
func GuestDir(dataDir, guestID string) string {
	return filepath.Join(dataDir, "guests", guestID)
}

// DiskPath is the qcow2 file of a guest's disk n (0-based).
func DiskPath(dataDir, guestID string, n int) string {
	return filepath.Join(GuestDir(dataDir, guestID), "disk"+strconv.Itoa(n)+".qcow2")
}

// DriveID is the QEMU drive (block device) ID of disk n, as QMP commands
// such as blockdev-snapshot-internal-sync name it.
func DriveID(n int) string { return "disk" + strconv.Itoa(n) }

// RunRoot is the parent of every guest's run dir: <data_dir>/run, or,
// when socket paths under it would be too long, hvagent-<hash of the data
// dir> under the system temp dir, or under /tmp when that is too long too.
func RunRoot(dataDir string) string {
	sum := sha256.Sum256([]byte(dataDir))
	short := "hvagent-" + hex.EncodeToString(sum[:6])
	for _, root := range []string{filepath.Join(dataDir, "run"), filepath.Join(os.TempDir(), short)} {
		if socketsFit(root) {
			return root
		}
	}
	return filepath.Join("/tmp", short)
}

// socketsFit reports whether the socket paths of a run dir under root,
// <root>/<36-character guest ID>/qmp-storage.sock the longest, fit.
func socketsFit(root string) bool {
	return len(root)+1+36+1+len(StorageSocket) <= maxSocketPath
}

// MakeRunDir creates the run dir of guest guestID (mode 0700) and returns
// it. Its root must be a directory of this user's that no one else may
// write (a root under the shared temp dir has a name anyone can predict):
// otherwise another local user could put things in place of the guest's
// sockets.
func MakeRunDir(dataDir, guestID string) (string, error) {
	root := RunRoot(dataDir)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", err
	}
	fi, err := os.Lstat(root)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return "", fmt.Errorf("run dir root %s is not a directory", root)
	case fi.Mode().Perm()&0o022 != 0:
		return "", fmt.Errorf("run dir root %s may be written by others (mode %v)", root, fi.Mode().Perm())
	case !ok || int(st.Uid) != os.Getuid():
		return "", fmt.Errorf("run dir root %s belongs to another user", root)
	}
	dir := RunDir(dataDir, guestID)
	return dir, os.MkdirAll(dir, 0o700)
}

// RunDir is the directory of one guest's running QEMU.
func RunDir(dataDir, guestID string) string {
	return filepath.Join(RunRoot(dataDir), guestID)
}

// OpenBeneath opens the file rel under dir for reading, through an
// os.Root of dir, so that nothing outside dir is opened whatever symlink
// is swapped into the path after a caller checked it, and without
// blocking, so that a FIFO opens at once (callers refuse what is not a
// regular file) instead of waiting for a writer.
func OpenBeneath(dir, rel string) (*os.File, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
