package storage_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/driver/storage"
	"github.com/hvagent/hvagent/hvagent/subagent"
)

const (
	gid   = "guests/" + guestID
	disk0 = gid + "/disk-0"
	disk1 = gid + "/disk-1"
)

// ids lists the IDs of snapshots.
func ids(resp *subagent.SnapshotResponse) []string {
	out := []string{}
	for _, s := range resp.Snapshots {
		out = append(out, s.ID)
	}
	return out
}

func (b *testBundle) list(t *testing.T, id string, recursive bool) []string {
	t.Helper()
	resp, err := b.driver.ListSnapshots(testCtx(t), &subagent.SnapshotRequest{ID: id, Recursive: recursive})
	require.NoError(t, err)
	return ids(resp)
}

func (b *testBundle) snapshot(t *testing.T, id, name string) []string {
	t.Helper()
	resp, err := b.driver.CreateSnapshot(testCtx(t), &subagent.SnapshotRequest{ID: id, Dest: name, Recursive: true})
	require.NoError(t, err)
	return ids(resp)
}

// twoDisks returns a bundle with a guest whose disk 0 is an overlay on
// image base and disk 1 a blank 16 MB disk; both hold 0xaa at 0.
func twoDisks(t *testing.T) *testBundle {
	t.Helper()
	b := withImage(t)
	b.createGuest(t, guestID, subagent.Disk{Image: "base"}, subagent.Disk{Size: 16})
	writePattern(t, diskPath(b, 0), 0xaa, 0)
	writePattern(t, diskPath(b, 1), 0xaa, 0)
	return b
}

func TestDriver_Snapshots(t *testing.T) {
	t.Parallel()

	t.Run("GuestLevelRollbackRestoresEveryDisk", func(t *testing.T) {
		t.Parallel()
		b := twoDisks(t)
		require.Equal(t, []string{gid + "@s1", disk0 + "@s1", disk1 + "@s1"}, b.snapshot(t, gid, "s1"))
		writePattern(t, diskPath(b, 0), 0xbb, 0)
		writePattern(t, diskPath(b, 1), 0xbb, 0)
		require.Equal(t, []string{disk1 + "@d1"}, b.snapshot(t, disk1, "d1"))

		require.Equal(t, []string{gid + "@s1", disk0 + "@s1", disk1 + "@s1", disk1 + "@d1"}, b.list(t, gid, true))
		require.Equal(t, []string{gid + "@s1"}, b.list(t, gid, false))
		require.Equal(t, []string{disk1 + "@s1", disk1 + "@d1"}, b.list(t, disk1, false))

		get, err := b.driver.GetSnapshot(testCtx(t), &subagent.SnapshotRequest{ID: gid + "@s1"})
		require.NoError(t, err)
		require.Equal(t, []*subagent.Snapshot{{ID: gid + "@s1", Size: 32}}, get.Snapshots)

		_, err = b.driver.RollbackSnapshot(testCtx(t), &subagent.SnapshotRequest{ID: gid + "@s1"})
		require.EqualError(t, err, "snapshot "+gid+"@s1 is not the most recent ("+disk1+"@d1 is newer); set destroyMoreRecent to delete newer snapshots: conflict")
		require.True(t, hasPattern(t, diskPath(b, 1), "qcow2", 0xbb, 0), "a refused rollback changes nothing")

		resp, err := b.driver.RollbackSnapshot(testCtx(t), &subagent.SnapshotRequest{ID: gid + "@s1", DestroyMoreRecent: true})
		require.NoError(t, err)
		require.Equal(t, []string{gid + "@s1"}, ids(resp))
		require.True(t, hasPattern(t, diskPath(b, 0), "qcow2", 0xaa, 0))
		require.True(t, hasPattern(t, diskPath(b, 1), "qcow2", 0xaa, 0))
		require.Equal(t, []string{gid + "@s1", disk0 + "@s1", disk1 + "@s1"}, b.list(t, gid, true))
		run(t, "qemu-img", "check", diskPath(b, 0))
	})

	t.Run("DiskLevelRollback", func(t *testing.T) {
		t.Parallel()
		b := twoDisks(t)
		b.snapshot(t, disk0, "d")
		writePattern(t, diskPath(b, 0), 0xcc, 0)
		writePattern(t, diskPath(b, 1), 0xcc, 0)
		_, err := b.driver.RollbackSnapshot(testCtx(t), &subagent.SnapshotRequest{ID: disk0 + "@d"})
		require.NoError(t, err)
		require.True(t, hasPattern(t, diskPath(b, 0), "qcow2", 0xaa, 0))
		require.True(t, hasPattern(t, diskPath(b, 1), "qcow2", 0xcc, 0), "the other disk is untouched")
		require.Empty(t, b.list(t, gid, false), "a disk snapshot is not a guest-level one")
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		b := twoDisks(t)
		b.snapshot(t, gid, "s1")
		b.snapshot(t, disk0, "d")

		_, err := b.driver.DeleteSnapshot(testCtx(t), &subagent.SnapshotRequest{ID: disk0 + "@s1"})
		require.EqualError(t, err, "snapshot "+disk0+"@s1 is part of guest-level snapshot "+gid+"@s1; delete that one: conflict")

		resp, err := b.driver.DeleteSnapshot(testCtx(t), &subagent.SnapshotRequest{ID: gid + "@s1", Recursive: true})
		require.NoError(t, err)
		require.Equal(t, []string{gid + "@s1", disk0 + "@s1", disk1 + "@s1"}, ids(resp))
		resp, err = b.driver.DeleteSnapshot(testCtx(t), &subagent.SnapshotRequest{ID: disk0 + "@d"})
		require.NoError(t, err)
		require.Equal(t, []string{disk0 + "@d"}, ids(resp))
		require.Empty(t, b.list(t, gid, true))
		require.NotContains(t, run(t, "qemu-img", "snapshot", "-l", diskPath(b, 0)), "s1")

		_, err = b.driver.DeleteSnapshot(testCtx(t), &subagent.SnapshotRequest{ID: gid + "@s1"})
		require.EqualError(t, err, "snapshot "+gid+"@s1: not found")
	})

	t.Run("IncompleteGuestLevel", func(t *testing.T) {
		t.Parallel()
		b := twoDisks(t)
		b.snapshot(t, gid, "s1")
		run(t, "qemu-img", "snapshot", "-d", "s1", diskPath(b, 1)) // behind the driver's back
		require.Equal(t, []string{disk0 + "@s1"}, b.list(t, gid, true), "no guest-level snapshot without every disk")
		resp, err := b.driver.DeleteSnapshot(testCtx(t), &subagent.SnapshotRequest{ID: disk0 + "@s1"})
		require.NoError(t, err)
		require.Equal(t, []string{disk0 + "@s1"}, ids(resp))
		require.Equal(t, []string{gid + "@s1", disk0 + "@s1", disk1 + "@s1"}, b.snapshot(t, gid, "s1"))
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		b := twoDisks(t)
		b.snapshot(t, gid, "s1")
		ctx := testCtx(t)
		for _, tc := range []struct {
			name string
			call func() error
			want string
			is   error
		}{
			{"Exists", func() error {
				_, err := b.driver.CreateSnapshot(ctx, &subagent.SnapshotRequest{ID: gid, Dest: "s1"})
				return err
			}, "snapshot " + gid + "@s1 already exists: conflict", storage.ErrConflict},
			{"DiskExists", func() error {
				_, err := b.driver.CreateSnapshot(ctx, &subagent.SnapshotRequest{ID: disk1, Dest: "s1"})
				return err
			}, "snapshot " + disk1 + "@s1 already exists: conflict", storage.ErrConflict},
			{"NoDest", func() error {
				_, err := b.driver.CreateSnapshot(ctx, &subagent.SnapshotRequest{ID: gid})
				return err
			}, "create a snapshot of " + gid + ": need a dest (the snapshot name): invalid", storage.ErrInvalid},
			{"DigitsName", func() error {
				_, err := b.driver.CreateSnapshot(ctx, &subagent.SnapshotRequest{ID: gid, Dest: "123"})
				return err
			}, `snapshot name "123": a name must not be all digits (qcow2 snapshot IDs are): invalid`, storage.ErrInvalid},
			{"BadName", func() error {
				_, err := b.driver.CreateSnapshot(ctx, &subagent.SnapshotRequest{ID: gid, Dest: "a,b"})
				return err
			}, `snapshot name "a,b": use 1-128 letters, digits and _ - : .: invalid`, storage.ErrInvalid},
			{"SnapshotOfSnapshot", func() error {
				_, err := b.driver.CreateSnapshot(ctx, &subagent.SnapshotRequest{ID: gid + "@s1", Dest: "x"})
				return err
			}, "cannot create a snapshot of snapshot " + gid + "@s1: invalid", storage.ErrInvalid},
			{"BadID", func() error {
				_, err := b.driver.ListSnapshots(ctx, &subagent.SnapshotRequest{ID: gid + "/disk-01"})
				return err
			}, `snapshot id "` + gid + `/disk-01": want guests/<guest>[/disk-<n>][@<name>]: invalid`, storage.ErrInvalid},
			{"NoGuest", func() error {
				_, err := b.driver.ListSnapshots(ctx, &subagent.SnapshotRequest{ID: "guests/nope"})
				return err
			}, "guest nope has no disks: not found", storage.ErrNotFound},
			{"NoDisk", func() error {
				_, err := b.driver.ListSnapshots(ctx, &subagent.SnapshotRequest{ID: gid + "/disk-2"})
				return err
			}, "guest " + guestID + " has no disk 2: not found", storage.ErrNotFound},
			{"GetMissing", func() error {
				_, err := b.driver.GetSnapshot(ctx, &subagent.SnapshotRequest{ID: disk0 + "@nope"})
				return err
			}, "snapshot " + disk0 + "@nope: not found", storage.ErrNotFound},
			{"RollbackMissing", func() error {
				_, err := b.driver.RollbackSnapshot(ctx, &subagent.SnapshotRequest{ID: gid + "@nope"})
				return err
			}, "snapshot " + gid + "@nope: not found", storage.ErrNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.call()
				require.EqualError(t, err, tc.want)
				require.ErrorIs(t, err, tc.is)
			})
		}
	})
}

// TestDriver_Restart checks that a new driver on the same data dir knows
// every image, disk and snapshot.
func TestDriver_Restart(t *testing.T) {
	t.Parallel()
	b := twoDisks(t)
	b.snapshot(t, gid, "s1")
	b.snapshot(t, disk1, "d1")
	ctx := testCtx(t)
	images, err := b.driver.ListImages(ctx, &subagent.ImageRequest{})
	require.NoError(t, err)
	snaps := b.list(t, gid, true)

	b.restart(t)
	after, err := b.driver.ListImages(ctx, &subagent.ImageRequest{})
	require.NoError(t, err)
	require.Equal(t, images, after)
	require.Len(t, after.Images, 1)
	require.Equal(t, snaps, b.list(t, gid, true))
	require.Equal(t, []string{gid + "@s1", disk0 + "@s1", disk1 + "@s1", disk1 + "@d1"}, snaps)
	g := b.createGuest(t, guestID, subagent.Disk{Image: "base"}, subagent.Disk{Size: 16})
	require.Equal(t, diskPath(b, 0), g.Disks[0].Source)
	require.True(t, hasPattern(t, diskPath(b, 0), "qcow2", 0xaa, 0), "the disks are the same")
	_, err = b.driver.DeleteImage(ctx, &subagent.ImageRequest{ID: "base"})
	require.ErrorIs(t, err, storage.ErrConflict, "the image is still known to be in use")
}
