package storage

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// maxDownloadRequest bounds the JSON body of a download request.
const maxDownloadRequest = 1 << 20

// export is one disk's exported snapshot, ready to stream.
type export struct {
	name string // file name in a guest-level tar: disk<N>.qcow2
	path string
	size int64
	at   time.Time
}

// serveDownload streams a snapshot, the body being a SnapshotRequest whose
// ID names it: a disk's snapshot as one qcow2 file, a guest-level snapshot
// as a tar of every disk's (disk0.qcow2, disk1.qcow2, …). Each disk is
// exported to a temporary qcow2 (while the guest runs too: the snapshot
// does not change), streamed with Content-Length, and removed. A refused
// download answers 400, 404 or 409 with the error's code in the
// X-Hvagent-Error-Code header (see subagent.WriteError), 500 otherwise.
func (d *Driver) serveDownload(w http.ResponseWriter, r *http.Request) {
	var req subagent.SnapshotRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxDownloadRequest)).Decode(&req); err != nil {
		subagent.WriteError(w, 0, errorf(ErrInvalid, "decode request: %v", err))
		return
	}
	exports, guestLevel, err := d.exportSnapshot(r.Context(), req.ID)
	defer func() {
		for _, e := range exports {
			_ = os.Remove(e.path)
		}
	}()
	if err != nil {
		if r.Context().Err() == nil {
			d.opts.Logger.Debug().Err(err).Str("snapshot", req.ID).Msg("download refused")
			subagent.WriteError(w, 0, err)
		}
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if !guestLevel {
		w.Header().Set("Content-Length", strconv.FormatInt(exports[0].size, 10))
		w.WriteHeader(http.StatusOK)
		err = copyFile(w, exports[0].path)
	} else {
		w.Header().Set("Content-Type", "application/x-tar")
		w.Header().Set("Content-Length", strconv.FormatInt(tarSize(exports), 10))
		w.WriteHeader(http.StatusOK)
		err = writeTar(w, exports)
	}
	if err != nil {
		d.opts.Logger.Debug().Err(err).Str("snapshot", req.ID).Msg("download ended early")
	}
}

// exportSnapshot exports the disks of snapshot rawID to work files under
// the guest's lock. The caller removes the files it returns, also on error.
func (d *Driver) exportSnapshot(ctx context.Context, rawID string) ([]export, bool, error) {
	id, err := parseSnapID(rawID)
	if err != nil {
		return nil, false, err
	}
	if id.disk >= 0 && id.name != "" {
		exports, err := d.exportDisk(ctx, id)
		return exports, false, err
	}
	var exports []export
	_, err = d.withState(ctx, rawID, func(id snapID, st *guestState) (*subagent.SnapshotResponse, error) {
		if _, err := st.lookup(id); err != nil {
			return nil, err
		}
		st.close() // the export needs no monitor; the guest's lock stays held
		targets, _ := st.targets(id)
		for _, n := range targets {
			s, _ := st.find(n, id.name)
			e, err := d.convertSnapshot(ctx, id, n, st.disks[n])
			if e.path != "" {
				e.at = time.Unix(s.DateSec, 0)
				exports = append(exports, e)
			}
			if err != nil {
				return nil, err
			}
		}
		return &subagent.SnapshotResponse{}, nil
	})
	return exports, id.disk < 0, err
}

// exportDisk exports disk snapshot id under the guest's lock without
// reading the guest's snapshots first (a qemu-img info, or a QMP query
// while it runs, per download): qemu-img convert looks the snapshot up
// itself, and only when it fails is the state read, to answer a missing
// snapshot with ErrNotFound as a lookup would.
func (d *Driver) exportDisk(ctx context.Context, id snapID) ([]export, error) {
	unlock, err := d.guests.lock(ctx, id.guest)
	if err != nil {
		return nil, err
	}
	defer unlock()
	disks, err := d.guestDisks(id.guest)
	if err != nil {
		return nil, err
	}
	if id.disk >= len(disks) {
		return nil, errorf(ErrNotFound, "guest %s has no disk %d", id.guest, id.disk)
	}
	e, err := d.convertSnapshot(ctx, id, id.disk, disks[id.disk])
	var exports []export
	if e.path != "" {
		exports = append(exports, e)
	}
	if err == nil || ctx.Err() != nil {
		return exports, err
	}
	st, serr := d.state(ctx, id.guest)
	if serr != nil {
		return exports, err
	}
	defer st.close()
	if _, lerr := st.lookup(id); lerr != nil {
		return exports, lerr
	}
	return exports, err
}

// convertSnapshot exports snapshot id.name of disk n (file path) to a new
// work file with qemu-img convert. The export it returns has a path once
// the file exists (also on error: the caller removes it).
func (d *Driver) convertSnapshot(ctx context.Context, id snapID, n int, path string) (export, error) {
	e := export{name: "disk" + strconv.Itoa(n) + ".qcow2"}
	f, err := os.CreateTemp(d.tmpDir(), "export-*.qcow2")
	if err != nil {
		return e, err
	}
	e.path = f.Name()
	_ = f.Close()
	if _, err := d.qemuImg(ctx, "convert", "-U", "-f", "qcow2", "-O", "qcow2", "-l", "snapshot.name="+id.name, path, e.path); err != nil {
		return e, fmt.Errorf("export %s@%s: %w", diskEntity(id.guest, n), id.name, err)
	}
	fi, err := os.Stat(e.path)
	if err != nil {
		return e, err
	}
	e.size = fi.Size()
	return e, nil
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// tarHeader is the tar header of an export.
func tarHeader(e export) *tar.Header {
	return &tar.Header{Name: e.name, Mode: 0o644, Size: e.size, ModTime: e.at, Typeflag: tar.TypeReg}
}

// tarSize is the exact length of the tar writeTar writes.
func tarSize(exports []export) int64 {
	var n int64
	for _, e := range exports {
		var c countWriter
		_ = tar.NewWriter(&c).WriteHeader(tarHeader(e))
		n += int64(c) + (e.size+511)/512*512
	}
	return n + 1024 // the two zero blocks that end an archive
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// writeTar writes a tar of the exports to w.
func writeTar(w io.Writer, exports []export) error {
	tw := tar.NewWriter(w)
	for _, e := range exports {
		if err := tw.WriteHeader(tarHeader(e)); err != nil {
			return err
		}
		if err := copyFile(tw, e.path); err != nil {
			return err
		}
	}
	return tw.Close()
}
