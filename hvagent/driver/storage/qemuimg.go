package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// imageInfo is the part of qemu-img info's JSON (and of QMP's ImageInfo)
// the driver reads.
type imageInfo struct {
	Format         string         `json:"format"`
	VirtualSize    int64          `json:"virtual-size"`
	BackingFile    string         `json:"backing-filename"`
	FullBacking    string         `json:"full-backing-filename"`
	Snapshots      []snapshotInfo `json:"snapshots"`
	FormatSpecific struct {
		Data struct {
			DataFile string `json:"data-file"`
		} `json:"data"`
	} `json:"format-specific"`
}

// snapshotInfo is one internal snapshot of a qcow2 file.
type snapshotInfo struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	DateSec int64  `json:"date-sec"`
	DateNs  int64  `json:"date-nsec"`
}

// before orders snapshots by creation: date, then qcow2 ID.
func (s snapshotInfo) before(o snapshotInfo) bool {
	if s.DateSec != o.DateSec {
		return s.DateSec < o.DateSec
	}
	if s.DateNs != o.DateNs {
		return s.DateNs < o.DateNs
	}
	a, _ := strconv.Atoi(s.ID)
	b, _ := strconv.Atoi(o.ID)
	return a < b
}

// qemuImg runs qemu-img with args and returns its stdout. A failure's
// error carries qemu-img's stderr; one that says another process holds the
// image's lock wraps ErrConflict.
func (d *Driver) qemuImg(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, d.opts.QemuImg, args...)
	cmd.WaitDelay = 5 * time.Second // bounds Wait after a kill, should output pipes stay open
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("qemu-img %s: %w", args[0], ctxErr)
	}
	msg := strings.TrimSpace(stderr.String())
	if msg == "" {
		msg = err.Error()
	}
	msg = strings.ReplaceAll(strings.TrimPrefix(msg, "qemu-img: "), "\n", "; ")
	if strings.Contains(msg, "Failed to get") && strings.Contains(msg, "lock") {
		return nil, errorf(ErrConflict, "qemu-img %s: the disk is in use by another process (%s)", args[0], msg)
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		return nil, fmt.Errorf("run %s: %w", d.opts.QemuImg, err)
	}
	return nil, fmt.Errorf("qemu-img %s: %s", args[0], msg)
}

// info reads a file's image info; share reads it while another process
// (a running QEMU) has it open. format, when set, skips probing.
func (d *Driver) info(ctx context.Context, path, format string, share bool) (*imageInfo, error) {
	args := []string{"info", "--output=json"}
	if format != "" {
		args = append(args, "-f", format)
	}
	if share {
		args = append(args, "-U")
	}
	out, err := d.qemuImg(ctx, append(args, path)...)
	if err != nil {
		return nil, err
	}
	var info imageInfo
	if err := json.Unmarshal(out, &info); err != nil {
		return nil, fmt.Errorf("qemu-img info %s: decode: %w", path, err)
	}
	return &info, nil
}

// snapshotOffline runs "qemu-img snapshot -<op> name path" on a disk no
// QEMU has open (op is c, d or a).
func (d *Driver) snapshotOffline(ctx context.Context, op, name, path string) error {
	_, err := d.qemuImg(ctx, "snapshot", "-"+op, name, path)
	return err
}
