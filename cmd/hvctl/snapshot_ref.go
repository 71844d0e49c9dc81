package main

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

// snapshotRef is a snapshot as `hvctl snapshot list` prints it:
// "guests/<guest>[/disk-<n>]@<name>", or a bare name.
type snapshotRef struct {
	// Guest is the guest ID of a full reference; "" for a bare name.
	Guest string
	// Disk is the disk of a full reference to a disk's snapshot.
	Disk *int
	Name string
}

// parseSnapshotRef parses a snapshot name or a full reference.
func parseSnapshotRef(s string) (snapshotRef, error) {
	entity, name, ok := cutLast(s, "@")
	if !ok {
		return snapshotRef{Name: s}, nil
	}
	bad := usageErrorf("snapshot %q: want a name, or guests/GUEST[/disk-N]@NAME as `hvctl snapshot list` prints", s)
	rest, ok := strings.CutPrefix(entity, "guests/")
	if !ok || name == "" {
		return snapshotRef{}, bad
	}
	ref := snapshotRef{Guest: rest, Name: name}
	if guest, disk, ok := strings.Cut(rest, "/"); ok {
		n, err := strconv.Atoi(strings.TrimPrefix(disk, "disk-"))
		if !strings.HasPrefix(disk, "disk-") || err != nil || n < 0 {
			return snapshotRef{}, bad
		}
		ref.Guest, ref.Disk = guest, &n
	}
	if ref.Guest == "" {
		return snapshotRef{}, bad
	}
	return ref, nil
}

// cutLast slices s around the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// setRef takes the snapshot named by arg: its name, and from a full
// reference its disk (which must agree with --disk) and its guest, checked
// against GUEST when the command runs (checkGuest).
func (t *snapshotTarget) setRef(arg string) (string, error) {
	ref, err := parseSnapshotRef(arg)
	if err != nil || ref.Guest == "" {
		return ref.Name, err
	}
	switch {
	case t.Disk != nil && ref.Disk == nil:
		return "", usageErrorf("snapshot %q is of the whole guest; drop --disk", arg)
	case t.Disk != nil && *t.Disk != *ref.Disk:
		return "", usageErrorf("snapshot %q is of disk %d, not of --disk %d", arg, *ref.Disk, *t.Disk)
	}
	t.Disk, t.refGuest = ref.Disk, ref.Guest
	return ref.Name, nil
}

// checkGuest requires the guest of a full snapshot reference to be GUEST
// (an ID, or whatever else the agent resolves to that guest).
func (t *snapshotTarget) checkGuest(ctx context.Context, svc hvagent.Service) error {
	if t.refGuest == "" || t.refGuest == t.GuestID {
		return nil
	}
	g, err := svc.Guest(ctx, t.GuestID)
	if err != nil {
		return err
	}
	if g.ID != t.refGuest {
		return usageErrorf("the snapshot is of guest %s, not of %s", t.refGuest, t.GuestID)
	}
	return nil
}

// newSnapshotName is the name `hvctl snapshot create` gives a snapshot
// when none is given: the time to the millisecond, so that two quick
// snapshots do not collide.
func newSnapshotName(now time.Time) string {
	return "snap-" + now.UTC().Format("20060102-150405.000")
}
