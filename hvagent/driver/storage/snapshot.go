package storage

import (
	"context"
	"fmt"
	"slices"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
)

// withState parses a snapshot ID, takes the guest's lock, reads its state
// and runs fn.
func (d *Driver) withState(ctx context.Context, rawID string, fn func(id snapID, st *guestState) (*subagent.SnapshotResponse, error)) (*subagent.SnapshotResponse, error) {
	id, err := parseSnapID(rawID)
	if err != nil {
		return nil, err
	}
	unlock, err := d.guests.lock(ctx, id.guest)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := d.state(ctx, id.guest)
	if err != nil {
		return nil, err
	}
	defer st.close()
	if _, err := st.targets(id); err != nil {
		return nil, err
	}
	return fn(id, st)
}

// ListSnapshots lists the snapshots of "guests/<guest>[/disk-<n>]", oldest
// first: a guest's guest-level snapshots and, with Recursive, those of its
// disks too. Errors: ErrInvalid, ErrNotFound (no such guest disks).
func (d *Driver) ListSnapshots(ctx context.Context, req *subagent.SnapshotRequest) (*subagent.SnapshotResponse, error) {
	return d.withState(ctx, req.ID, func(id snapID, st *guestState) (*subagent.SnapshotResponse, error) {
		if id.name != "" {
			return nil, errorf(ErrInvalid, "list snapshots of %s: give a guest or disk, not a snapshot", id)
		}
		return &subagent.SnapshotResponse{Snapshots: snapshots(st.entries(id, req.Recursive))}, nil
	})
}

// GetSnapshot returns one snapshot. Errors: ErrInvalid, ErrNotFound.
func (d *Driver) GetSnapshot(ctx context.Context, req *subagent.SnapshotRequest) (*subagent.SnapshotResponse, error) {
	return d.withState(ctx, req.ID, func(id snapID, st *guestState) (*subagent.SnapshotResponse, error) {
		e, err := st.lookup(id)
		if err != nil {
			return nil, err
		}
		return &subagent.SnapshotResponse{Snapshots: snapshots([]entry{e})}, nil
	})
}

// lookup finds the snapshot id names.
func (st *guestState) lookup(id snapID) (entry, error) {
	if id.name == "" {
		return entry{}, errorf(ErrInvalid, "%s names no snapshot: want %s@<name>", id, id)
	}
	for _, e := range st.entries(id, false) {
		if e.snap.ID == id.String() {
			return e, nil
		}
	}
	return entry{}, errorf(ErrNotFound, "snapshot %s", id)
}

// CreateSnapshot creates snapshot Dest of a guest (every disk at once) or
// of one disk and returns what it created, the guest-level snapshot first.
// While the guest runs, its QEMU takes the snapshots in one QMP
// transaction (crash-consistent across disks); otherwise qemu-img takes
// them, and a failure removes the ones already taken.
//
// Errors: ErrInvalid (bad ID or name), ErrNotFound (no such guest disks),
// ErrConflict (a snapshot of that name exists).
func (d *Driver) CreateSnapshot(ctx context.Context, req *subagent.SnapshotRequest) (*subagent.SnapshotResponse, error) {
	return d.withState(ctx, req.ID, func(id snapID, st *guestState) (*subagent.SnapshotResponse, error) {
		if id.name != "" {
			return nil, errorf(ErrInvalid, "cannot create a snapshot of snapshot %s", id)
		}
		if req.Dest == "" {
			return nil, errorf(ErrInvalid, "create a snapshot of %s: need a dest (the snapshot name)", id)
		}
		if err := checkSnapshotName(req.Dest); err != nil {
			return nil, err
		}
		id.name = req.Dest
		targets, _ := st.targets(id)
		if id.disk < 0 && st.guestLevel(id.name) {
			return nil, errorf(ErrConflict, "snapshot %s already exists", id)
		}
		for _, n := range targets {
			if _, ok := st.find(n, id.name); ok {
				return nil, errorf(ErrConflict, "snapshot %s@%s already exists", diskEntity(id.guest, n), id.name)
			}
		}
		if err := d.takeSnapshots(ctx, st, targets, id.name); err != nil {
			return nil, fmt.Errorf("create snapshot %s: %w", id, err)
		}
		if id.disk < 0 && !slices.Contains(st.records, id.name) { // a stale record may remain from a manual change
			if err := d.writeRecords(st, append(slices.Clone(st.records), id.name)); err != nil {
				_ = d.dropSnapshots(ctx, st, targets, id.name)
				return nil, fmt.Errorf("create snapshot %s: %w", id, err)
			}
		}
		return d.reread(ctx, st, id)
	})
}

// reread lists the snapshots called id.name of id's entity (and its disks)
// after a change.
func (d *Driver) reread(ctx context.Context, st *guestState, id snapID) (*subagent.SnapshotResponse, error) {
	st.close()
	fresh, err := d.state(ctx, st.guest)
	if err != nil {
		return nil, err
	}
	*st = *fresh
	var out []entry
	for _, e := range st.entries(id, true) {
		if e.info.Name == id.name {
			out = append(out, e)
		}
	}
	return &subagent.SnapshotResponse{Snapshots: snapshots(out)}, nil
}

// takeSnapshots snapshots the target disks: one QMP transaction while the
// guest runs, else qemu-img disk by disk, undone on failure.
func (d *Driver) takeSnapshots(ctx context.Context, st *guestState, targets []int, name string) error {
	if st.q != nil {
		drives := make([]string, len(targets))
		for i, n := range targets {
			drives[i] = layout.DriveID(n)
		}
		return st.q.createSnapshots(drives, name)
	}
	for i, n := range targets {
		if err := d.snapshotOffline(ctx, "c", name, st.disks[n]); err != nil {
			_ = d.dropSnapshots(ctx, st, targets[:i], name)
			return fmt.Errorf("disk %d: %w", n, err)
		}
	}
	return nil
}

// dropSnapshots deletes snapshot name of the target disks, through QMP
// while the guest runs; it goes on after a failure and returns the first.
func (d *Driver) dropSnapshots(ctx context.Context, st *guestState, targets []int, name string) error {
	var first error
	for _, n := range targets {
		var err error
		if st.q != nil {
			err = st.q.deleteSnapshot(layout.DriveID(n), name)
		} else {
			err = d.snapshotOffline(ctx, "d", name, st.disks[n])
		}
		if err != nil && first == nil {
			first = fmt.Errorf("disk %d: %w", n, err)
		}
	}
	return first
}

// DeleteSnapshot deletes a snapshot and returns what it deleted. Deleting
// a guest-level snapshot deletes the snapshot of that name on every disk;
// a disk's snapshot that is part of a guest-level one cannot be deleted
// alone. Works while the guest runs (through QMP).
//
// Errors: ErrInvalid, ErrNotFound, ErrConflict (part of a guest-level
// snapshot).
func (d *Driver) DeleteSnapshot(ctx context.Context, req *subagent.SnapshotRequest) (*subagent.SnapshotResponse, error) {
	return d.withState(ctx, req.ID, func(id snapID, st *guestState) (*subagent.SnapshotResponse, error) {
		if id.name == "" {
			return nil, errorf(ErrInvalid, "%s names no snapshot: want %s@<name>", id, id)
		}
		targets, _ := st.targets(id)
		var present []int
		for _, n := range targets {
			if _, ok := st.find(n, id.name); ok {
				present = append(present, n)
			}
		}
		recorded := slices.Contains(st.records, id.name)
		if len(present) == 0 && !(id.disk < 0 && recorded) {
			return nil, errorf(ErrNotFound, "snapshot %s", id)
		}
		if id.disk >= 0 && st.guestLevel(id.name) {
			return nil, errorf(ErrConflict, "snapshot %s is part of guest-level snapshot guests/%s@%s; delete that one", id, id.guest, id.name)
		}
		gone := st.entries(id, true)
		gone = slices.DeleteFunc(gone, func(e entry) bool { return e.info.Name != id.name })
		if recorded { // the record goes first: a crash leaves disk snapshots, never a phantom
			if err := d.writeRecords(st, slices.DeleteFunc(slices.Clone(st.records), func(s string) bool { return s == id.name })); err != nil {
				return nil, err
			}
		}
		if err := d.dropSnapshots(ctx, st, present, id.name); err != nil {
			return nil, fmt.Errorf("delete snapshot %s: %w", id, err)
		}
		return &subagent.SnapshotResponse{Snapshots: snapshots(gone)}, nil
	})
}

// RollbackSnapshot reverts a stopped guest's disks (or one disk) to a
// snapshot. Newer snapshots of those disks block it unless
// DestroyMoreRecent is set, which deletes them first.
//
// Errors: ErrInvalid, ErrNotFound, ErrConflict (the guest's QEMU is
// running, or newer snapshots exist).
func (d *Driver) RollbackSnapshot(ctx context.Context, req *subagent.SnapshotRequest) (*subagent.SnapshotResponse, error) {
	return d.withState(ctx, req.ID, func(id snapID, st *guestState) (*subagent.SnapshotResponse, error) {
		e, err := st.lookup(id)
		if err != nil {
			return nil, err
		}
		if st.q != nil {
			return nil, errorf(ErrConflict, "guest %s is running; stop it before rolling back to %s", id.guest, id)
		}
		targets, _ := st.targets(id)
		newer := st.newer(targets, id.name)
		if len(newer) > 0 && !req.DestroyMoreRecent {
			return nil, errorf(ErrConflict, "snapshot %s is not the most recent (%s is newer); set destroyMoreRecent to delete newer snapshots", id, newer[0])
		}
		if err := d.destroyNewer(ctx, st, targets, id.name); err != nil {
			return nil, fmt.Errorf("rollback to %s: %w", id, err)
		}
		for _, n := range targets {
			if err := d.snapshotOffline(ctx, "a", id.name, st.disks[n]); err != nil {
				return nil, fmt.Errorf("rollback to %s: disk %d: %w", id, n, err)
			}
		}
		return &subagent.SnapshotResponse{Snapshots: snapshots([]entry{e})}, nil
	})
}

// newer lists the snapshots of the target disks taken after their
// snapshot name.
func (st *guestState) newer(targets []int, name string) []string {
	var out []string
	for _, n := range targets {
		at, _ := st.find(n, name)
		for _, s := range st.infos[n].Snapshots {
			if at.before(s) {
				out = append(out, diskEntity(st.guest, n)+"@"+s.Name)
			}
		}
	}
	return out
}

// destroyNewer deletes the snapshots of the target disks newer than name,
// and the guest-level records they were part of.
func (d *Driver) destroyNewer(ctx context.Context, st *guestState, targets []int, name string) error {
	records := slices.Clone(st.records)
	for _, n := range targets {
		at, _ := st.find(n, name)
		for _, s := range st.infos[n].Snapshots {
			if !at.before(s) {
				continue
			}
			if slices.Contains(records, s.Name) {
				records = slices.DeleteFunc(records, func(r string) bool { return r == s.Name })
				if err := d.writeRecords(st, records); err != nil {
					return err
				}
			}
			if err := d.snapshotOffline(ctx, "d", s.Name, st.disks[n]); err != nil {
				return fmt.Errorf("delete newer snapshot %s@%s: %w", diskEntity(st.guest, n), s.Name, err)
			}
		}
	}
	return nil
}
