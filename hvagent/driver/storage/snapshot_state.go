package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
	"github.com/hvagent/hvagent/internal/namerule"
)

// snapshotNamePattern is what a snapshot name must match (the original's
// rule, bounded in length).
var snapshotNamePattern = namerule.MustCompile(`^[a-zA-Z0-9_\-:.]+$`, 1, 128)

// allDigits matches names qemu-img would take for a snapshot's numeric ID.
var allDigits = regexp.MustCompile(`^[0-9]+$`)

// snapID is a parsed snapshot ID, "guests/<guest>[/disk-<n>][@<name>]".
type snapID struct {
	guest string
	disk  int // -1 for the guest level
	name  string
}

const snapIDForm = "guests/<guest>[/disk-<n>][@<name>]"

// parseSnapID parses id and checks its guest and name.
func parseSnapID(id string) (snapID, error) {
	entity, name, hasName := strings.Cut(id, "@")
	rest, ok := strings.CutPrefix(entity, "guests/")
	guest, disk, hasDisk := strings.Cut(rest, "/")
	s := snapID{guest: guest, disk: -1, name: name}
	if !ok || checkGuestID(guest) != nil {
		return s, errorf(ErrInvalid, "snapshot id %q: want %s", id, snapIDForm)
	}
	if hasDisk {
		n, isDisk := strings.CutPrefix(disk, "disk-")
		v, err := strconv.ParseUint(n, 10, 16)
		if !isDisk || err != nil || (len(n) > 1 && n[0] == '0') {
			return s, errorf(ErrInvalid, "snapshot id %q: want %s", id, snapIDForm)
		}
		s.disk = int(v)
	}
	if hasName {
		if err := checkSnapshotName(name); err != nil {
			return s, err
		}
	}
	return s, nil
}

func checkSnapshotName(name string) error {
	if !snapshotNamePattern.MatchString(name) {
		return errorf(ErrInvalid, "snapshot name %q: use 1-128 letters, digits and _ - : .", name)
	}
	if allDigits.MatchString(name) {
		return errorf(ErrInvalid, "snapshot name %q: a name must not be all digits (qcow2 snapshot IDs are)", name)
	}
	return nil
}

// entity is the ID without the name.
func (s snapID) entity() string {
	if s.disk < 0 {
		return "guests/" + s.guest
	}
	return diskEntity(s.guest, s.disk)
}

func (s snapID) String() string {
	if s.name == "" {
		return s.entity()
	}
	return s.entity() + "@" + s.name
}

// guestState is what the driver knows of one guest's disks and snapshots.
type guestState struct {
	guest string
	disks []string     // disk files by index
	infos []*imageInfo // their image info, snapshots included
	// records are the names of the guest-level snapshots.
	records []string
	// q is the storage QMP monitor of the guest's running QEMU; nil when
	// the guest is not running.
	q *qmpConn
}

// close releases the QMP connection, if any. It may be called again.
func (st *guestState) close() {
	if st.q != nil {
		st.q.Close()
		st.q = nil
	}
}

// state reads a guest's disks, their snapshots (through QMP while it runs)
// and its guest-level records. The caller holds the guest's lock and
// closes the state.
func (d *Driver) state(ctx context.Context, guest string) (*guestState, error) {
	disks, err := d.guestDisks(guest)
	if err != nil {
		return nil, err
	}
	st := &guestState{guest: guest, disks: disks, infos: make([]*imageInfo, len(disks))}
	if st.records, err = d.readRecords(guest); err != nil {
		return nil, err
	}
	if st.q, err = d.dialQMP(ctx, guest); err != nil {
		return nil, err
	}
	if st.q == nil {
		for n, disk := range disks {
			if st.infos[n], err = d.info(ctx, disk, "qcow2", true); err != nil {
				return nil, fmt.Errorf("guest %s: disk %d: %w", guest, n, err)
			}
		}
		return st, nil
	}
	live, err := st.q.images()
	if err != nil {
		st.close()
		return nil, fmt.Errorf("guest %s: %w", guest, err)
	}
	for n := range disks {
		if st.infos[n] = live[layout.DriveID(n)]; st.infos[n] == nil {
			st.close()
			return nil, fmt.Errorf("guest %s: disk %d is not attached to its running QEMU as drive %s", guest, n, layout.DriveID(n))
		}
	}
	return st, nil
}

// find returns disk n's snapshot called name.
func (st *guestState) find(n int, name string) (snapshotInfo, bool) {
	for _, s := range st.infos[n].Snapshots {
		if s.Name == name {
			return s, true
		}
	}
	return snapshotInfo{}, false
}

// targets are the disks a snapshot ID concerns: all for the guest level.
func (st *guestState) targets(id snapID) ([]int, error) {
	if id.disk < 0 {
		all := make([]int, len(st.disks))
		for i := range all {
			all[i] = i
		}
		return all, nil
	}
	if id.disk >= len(st.disks) {
		return nil, errorf(ErrNotFound, "guest %s has no disk %d", st.guest, id.disk)
	}
	return []int{id.disk}, nil
}

// guestLevel reports whether name is a complete guest-level snapshot: it is
// recorded and every disk has it.
func (st *guestState) guestLevel(name string) bool {
	if !slices.Contains(st.records, name) {
		return false
	}
	for n := range st.disks {
		if _, ok := st.find(n, name); !ok {
			return false
		}
	}
	return true
}

// entry is a snapshot as listed, with its creation time for ordering.
type entry struct {
	snap subagent.Snapshot
	info snapshotInfo
}

// entries lists the snapshots of the entity of id (with recursive, a guest
// entity's disks' too), oldest first.
func (st *guestState) entries(id snapID, recursive bool) []entry {
	var out []entry
	if id.disk < 0 {
		var total uint64
		for _, info := range st.infos {
			total += sizeMB(info.VirtualSize)
		}
		for _, name := range st.records {
			if st.guestLevel(name) {
				s, _ := st.find(0, name)
				out = append(out, entry{subagent.Snapshot{ID: "guests/" + st.guest + "@" + name, Size: total}, s})
			}
		}
	}
	for n, info := range st.infos {
		if (id.disk < 0 && !recursive) || (id.disk >= 0 && id.disk != n) {
			continue
		}
		for _, s := range info.Snapshots {
			out = append(out, entry{subagent.Snapshot{ID: diskEntity(st.guest, n) + "@" + s.Name, Size: sizeMB(info.VirtualSize)}, s})
		}
	}
	slices.SortStableFunc(out, func(a, b entry) int {
		switch {
		case a.info.before(b.info):
			return -1
		case b.info.before(a.info):
			return 1
		}
		if ga, gb := !strings.Contains(a.snap.ID, "/disk-"), !strings.Contains(b.snap.ID, "/disk-"); ga != gb {
			if ga {
				return -1 // a guest-level snapshot before its disks'
			}
			return 1
		}
		return strings.Compare(a.snap.ID, b.snap.ID)
	})
	return out
}

func snapshots(es []entry) []*subagent.Snapshot {
	out := make([]*subagent.Snapshot, len(es))
	for i := range es {
		s := es[i].snap
		out[i] = &s
	}
	return out
}

// recordsPath is the file of a guest's guest-level snapshot names.
func (d *Driver) recordsPath(guest string) string {
	return filepath.Join(layout.GuestDir(d.dataDir, guest), "snapshots.json")
}

type recordsFile struct {
	Snapshots []string `json:"snapshots"`
}

func (d *Driver) readRecords(guest string) ([]string, error) {
	b, err := os.ReadFile(d.recordsPath(guest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("guest %s: snapshots: %w", guest, err)
	}
	var f recordsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("guest %s: snapshots: %w", guest, err)
	}
	return f.Snapshots, nil
}

// writeRecords replaces the guest-level snapshot names.
func (d *Driver) writeRecords(st *guestState, names []string) error {
	b, err := json.Marshal(recordsFile{Snapshots: append([]string{}, names...)})
	if err == nil {
		err = writeFileAtomic(d.recordsPath(st.guest), b)
	}
	if err != nil {
		return fmt.Errorf("guest %s: record snapshots: %w", st.guest, err)
	}
	st.records = names
	return nil
}
