package sim

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// DefaultSnapshotSize is the size in MB of a snapshot created without a
// "size" arg.
const DefaultSnapshotSize = 1

// snapshotName is what a snapshot name (CreateSnapshot's dest) must match.
var snapshotName = regexp.MustCompile(`^[a-zA-Z0-9_\-:\.]+$`)

// simSnapshot is a snapshot with the entity it belongs to
// ("guests/<guest>[/disk-<n>]") and its creation order.
type simSnapshot struct {
	subagent.Snapshot
	entity string
	seq    int64
}

// splitSnapshotID splits "guests/<guest>[/disk-<n>][@<name>]" into its
// entity, guest and name (possibly empty).
func splitSnapshotID(id string) (entity, guest, name string, err error) {
	entity, name, _ = strings.Cut(id, "@")
	rest, ok := strings.CutPrefix(entity, "guests/")
	guest, disk, hasDisk := strings.Cut(rest, "/")
	if !ok || guest == "" {
		return "", "", "", invalid("invalid snapshot id %q: want guests/<guest>[/disk-<n>][@<name>]", id)
	}
	if hasDisk {
		n, isDisk := strings.CutPrefix(disk, "disk-")
		if _, err := strconv.ParseUint(n, 10, 8); !isDisk || err != nil {
			return "", "", "", invalid("invalid snapshot id %q: want guests/<guest>[/disk-<n>][@<name>]", id)
		}
	}
	return entity, guest, name, nil
}

func snapshotGuest(r *subagent.SnapshotRequest) string {
	_, guest, _, _ := splitSnapshotID(r.ID)
	return guest
}

func (d *Driver) registerSnapshots(s *subagent.Server) {
	handle(d, s, "ListSnapshots", snapshotGuest, d.listSnapshots)
	handle(d, s, "GetSnapshot", snapshotGuest, d.getSnapshot)
	handle(d, s, "CreateSnapshot", snapshotGuest, d.createSnapshot)
	handle(d, s, "DeleteSnapshot", snapshotGuest, d.deleteSnapshot)
	handle(d, s, "RollbackSnapshot", snapshotGuest, d.rollbackSnapshot)
}

// children returns the snapshots of entity (and, when recursive, of its
// disks), oldest first; name, when set, selects one name.
func (d *Driver) children(entity, name string, recursive bool) []*simSnapshot {
	var found []*simSnapshot
	for _, s := range d.snapshots {
		own := s.entity == entity
		child := recursive && strings.HasPrefix(s.entity, entity+"/")
		if (own || child) && (name == "" || strings.HasSuffix(s.ID, "@"+name)) {
			found = append(found, s)
		}
	}
	slices.SortFunc(found, func(a, b *simSnapshot) int { return cmp.Compare(a.seq, b.seq) })
	return found
}

func snapshotResponse(snaps []*simSnapshot) *subagent.SnapshotResponse {
	resp := &subagent.SnapshotResponse{Snapshots: make([]*subagent.Snapshot, len(snaps))}
	for i, s := range snaps {
		c := s.Snapshot
		resp.Snapshots[i] = &c
	}
	return resp
}

// listSnapshots lists the snapshots of the request's entity, oldest first;
// with recursive, those of its disks too.
func (d *Driver) listSnapshots(req *subagent.SnapshotRequest) (*subagent.SnapshotResponse, error) {
	entity, _, _, err := splitSnapshotID(req.ID)
	if err != nil {
		return nil, err
	}
	return snapshotResponse(d.children(entity, "", req.Recursive)), nil
}

func (d *Driver) getSnapshot(req *subagent.SnapshotRequest) (*subagent.SnapshotResponse, error) {
	s, ok := d.snapshots[req.ID]
	if !ok {
		return nil, errNotFound
	}
	return snapshotResponse([]*simSnapshot{s}), nil
}

// createSnapshot creates <id>@<dest>; with recursive, a guest-level
// snapshot also snapshots every disk of the guest the simulation knows.
// The "size" arg sets the size in MB (default DefaultSnapshotSize).
func (d *Driver) createSnapshot(req *subagent.SnapshotRequest) (*subagent.SnapshotResponse, error) {
	entity, guest, _, err := splitSnapshotID(req.ID)
	if err != nil {
		return nil, err
	}
	if req.Dest == "" {
		return nil, invalid("need dest")
	}
	if !snapshotName.MatchString(req.Dest) {
		return nil, invalid("invalid snapshot name %q: want letters, digits, _, -, : or . only", req.Dest)
	}
	size := uint64(DefaultSnapshotSize)
	if v, ok := req.Args["size"]; ok {
		if size, err = strconv.ParseUint(v, 10, 32); err != nil {
			return nil, invalid("invalid size arg %q: %w", v, err)
		}
	}
	entities := []string{entity}
	if g, ok := d.guests[guest]; ok && req.Recursive && entity == "guests/"+guest {
		for i := range g.Disks {
			entities = append(entities, fmt.Sprintf("%s/disk-%d", entity, i))
		}
	}
	for _, e := range entities {
		if _, dup := d.snapshots[e+"@"+req.Dest]; dup {
			return nil, conflict("snapshot %s@%s already exists", e, req.Dest)
		}
	}
	created := make([]*simSnapshot, len(entities))
	for i, e := range entities {
		d.seq++
		s := &simSnapshot{Snapshot: subagent.Snapshot{ID: e + "@" + req.Dest, Size: size}, entity: e, seq: d.seq}
		d.snapshots[s.ID] = s
		created[i] = s
	}
	return snapshotResponse(created), nil
}

// deleteSnapshot deletes a snapshot; with recursive, the snapshots of the
// same name on the guest's disks too.
func (d *Driver) deleteSnapshot(req *subagent.SnapshotRequest) (*subagent.SnapshotResponse, error) {
	entity, _, name, err := splitSnapshotID(req.ID)
	if err != nil {
		return nil, err
	}
	if _, ok := d.snapshots[req.ID]; !ok || name == "" {
		return nil, errNotFound
	}
	gone := d.children(entity, name, req.Recursive)
	for _, s := range gone {
		delete(d.snapshots, s.ID)
	}
	return snapshotResponse(gone), nil
}

// rollbackSnapshot rolls a stopped guest back. Newer snapshots of the same
// entity block it unless destroyMoreRecent is set, which deletes them.
func (d *Driver) rollbackSnapshot(req *subagent.SnapshotRequest) (*subagent.SnapshotResponse, error) {
	entity, guest, _, err := splitSnapshotID(req.ID)
	if err != nil {
		return nil, err
	}
	s, ok := d.snapshots[req.ID]
	if !ok {
		return nil, errNotFound
	}
	if g, ok := d.guests[guest]; ok && (g.State == StateRunning || g.State == StatePaused) {
		return nil, conflict("guest %s is %s; stop it before rollback", guest, g.State)
	}
	var newer []*simSnapshot
	for _, o := range d.children(entity, "", false) {
		if o.seq > s.seq {
			newer = append(newer, o)
		}
	}
	if len(newer) > 0 && !req.DestroyMoreRecent {
		return nil, conflict("snapshot %s is not the most recent (%s is newer); set destroyMoreRecent to delete newer snapshots", s.ID, newer[len(newer)-1].ID)
	}
	for _, o := range newer {
		delete(d.snapshots, o.ID)
	}
	return snapshotResponse([]*simSnapshot{s}), nil
}
