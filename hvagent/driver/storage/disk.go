package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
	"github.com/hvagent/hvagent/internal/namerule"
)

// MaxDiskSize is the largest blank disk in MB (16 TiB).
const MaxDiskSize = 16 << 20

// guestIDPattern is what a guest ID must match: it names a directory.
var guestIDPattern = namerule.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`, 1, 128)

func checkGuestID(id string) error {
	if id == "" {
		return errorf(ErrInvalid, "need a guest id")
	}
	if !guestIDPattern.MatchString(id) {
		return errorf(ErrInvalid, "guest id %q: use letters, digits, _ - and . only", id)
	}
	return nil
}

// diskSpec is what one disk of a CreateGuestDisks request becomes.
type diskSpec struct {
	path  string
	image *imageMeta // nil for a blank disk
	size  uint64     // MB
}

// CreateGuestDisks creates the guest's disks as <data_dir>/guests/<id>/
// disk<N>.qcow2: an overlay whose backing file is the image when the
// disk's Image is set (its Size becomes the image's), else a blank disk of
// Size MB. It sets each disk's Source to its file and Volume to its
// snapshot entity ("guests/<id>/disk-<n>"). A disk whose file exists is
// kept as it is, so a retried call succeeds. Every disk is checked before
// any is created, and on failure the disks this call created are removed.
//
// Errors: ErrInvalid (no guest ID, a disk with neither image nor size, a
// size over MaxDiskSize), ErrNotFound (an image).
func (d *Driver) CreateGuestDisks(ctx context.Context, req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
	if req.Guest == nil {
		return nil, errorf(ErrInvalid, "need a guest")
	}
	g := *req.Guest
	if err := checkGuestID(g.ID); err != nil {
		return nil, err
	}
	unlock, err := d.guests.lock(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	d.images.RLock()
	defer d.images.RUnlock()
	specs, err := d.diskSpecs(&g)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(layout.GuestDir(d.dataDir, g.ID), 0o750); err != nil {
		return nil, fmt.Errorf("guest %s: %w", g.ID, err)
	}
	var created []string
	g.Disks = append([]subagent.Disk(nil), g.Disks...)
	for i, spec := range specs {
		if _, err := os.Stat(spec.path); err != nil {
			if err := d.createDisk(ctx, spec); err != nil {
				for _, p := range created {
					_ = os.Remove(p)
				}
				return nil, fmt.Errorf("guest %s: disk %d: %w", g.ID, i, err)
			}
			created = append(created, spec.path)
		}
		g.Disks[i].Source = spec.path
		g.Disks[i].Volume = diskEntity(g.ID, i)
		g.Disks[i].Size = spec.size
	}
	return &subagent.GuestResponse{Guest: &g}, nil
}

// diskEntity is the snapshot entity of a guest's disk n.
func diskEntity(guest string, n int) string {
	return "guests/" + guest + "/disk-" + strconv.Itoa(n)
}

// diskSpecs checks every disk of g.
func (d *Driver) diskSpecs(g *subagent.Guest) ([]diskSpec, error) {
	specs := make([]diskSpec, len(g.Disks))
	for i, disk := range g.Disks {
		spec := diskSpec{path: layout.DiskPath(d.dataDir, g.ID, i), size: disk.Size}
		switch {
		case disk.Image != "":
			if !imageIDPattern.MatchString(disk.Image) {
				return nil, errorf(ErrInvalid, "guest %s: disk %d: image id %q", g.ID, i, disk.Image)
			}
			m, err := d.readImage(disk.Image)
			if err != nil {
				return nil, fmt.Errorf("guest %s: disk %d: %w", g.ID, i, err)
			}
			spec.image, spec.size = m, m.Size
		case disk.Size == 0:
			return nil, errorf(ErrInvalid, "guest %s: disk %d needs an image or a size", g.ID, i)
		case disk.Size > MaxDiskSize:
			return nil, errorf(ErrInvalid, "guest %s: disk %d: size %d MB is more than %d MB", g.ID, i, disk.Size, MaxDiskSize)
		}
		specs[i] = spec
	}
	return specs, nil
}

// createDisk creates one disk file through a work file, so a crash never
// leaves a half-made disk in the guest's dir.
func (d *Driver) createDisk(ctx context.Context, spec diskSpec) error {
	tmp := filepath.Join(d.tmpDir(), "disk-"+strings.ReplaceAll(strings.TrimPrefix(spec.path, d.dataDir), "/", "_"))
	args := []string{"create", "-q", "-f", "qcow2"}
	if spec.image != nil {
		args = append(args, "-b", d.imagePath(spec.image.ID), "-F", "qcow2", tmp)
	} else {
		args = append(args, tmp, strconv.FormatUint(spec.size, 10)+"M")
	}
	if _, err := d.qemuImg(ctx, args...); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := syncFile(tmp); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, spec.path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(spec.path))
}

// DeleteGuestsDisks removes every disk and snapshot of the guest (its whole
// directory) and returns the guest without disks. A guest without disks is
// fine, so a repeated call succeeds. Errors: ErrInvalid, ErrConflict (the
// guest's QEMU is running).
func (d *Driver) DeleteGuestsDisks(ctx context.Context, req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
	if req.Guest == nil {
		return nil, errorf(ErrInvalid, "need a guest")
	}
	g := *req.Guest
	if err := checkGuestID(g.ID); err != nil {
		return nil, err
	}
	unlock, err := d.guests.lock(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	q, err := d.dialQMP(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	if q != nil {
		q.Close()
		return nil, errorf(ErrConflict, "guest %s is running; stop it before deleting its disks", g.ID)
	}
	if err := os.RemoveAll(layout.GuestDir(d.dataDir, g.ID)); err != nil {
		return nil, fmt.Errorf("guest %s: delete disks: %w", g.ID, err)
	}
	g.Disks = []subagent.Disk{}
	return &subagent.GuestResponse{Guest: &g}, nil
}

// guestDisks returns the disk files of a guest, by index, or an error
// wrapping ErrNotFound when it has none.
func (d *Driver) guestDisks(guest string) ([]string, error) {
	var disks []string
	for n := 0; ; n++ {
		p := layout.DiskPath(d.dataDir, guest, n)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("guest %s: %w", guest, err)
		}
		disks = append(disks, p)
	}
	if len(disks) == 0 {
		return nil, errorf(ErrNotFound, "guest %s has no disks", guest)
	}
	return disks, nil
}

// qcow2Magic starts every qcow2 file.
var qcow2Magic = []byte{'Q', 'F', 'I', 0xfb}

// qcow2Backing reads the backing file name from a qcow2 header; "" when
// there is none.
func qcow2Backing(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var hdr [20]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return "", fmt.Errorf("%s: read qcow2 header: %w", path, err)
	}
	if string(hdr[:4]) != string(qcow2Magic) {
		return "", fmt.Errorf("%s: not a qcow2 file", path)
	}
	off := binary.BigEndian.Uint64(hdr[8:16])
	size := binary.BigEndian.Uint32(hdr[16:20])
	if off == 0 || size == 0 {
		return "", nil
	}
	if size > 4096 {
		return "", fmt.Errorf("%s: backing file name of %d bytes", path, size)
	}
	name := make([]byte, size)
	if _, err := f.ReadAt(name, int64(off)); err != nil {
		return "", fmt.Errorf("%s: read backing file name: %w", path, err)
	}
	return string(name), nil
}
