package storage_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/driver/storage"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
)

// withImage returns a bundle that has image "base" (16 MB, 0x11 at 0).
func withImage(t *testing.T) *testBundle {
	t.Helper()
	src := t.TempDir()
	makeImage(t, src, "base.qcow2")
	b := setup(t, func(o *storage.Options) { o.AllowedPaths = []string{src} })
	_, err := b.driver.RequestImage(testCtx(t), &subagent.ImageRequest{ID: "base", Source: "file://" + filepath.Join(src, "base.qcow2")})
	require.NoError(t, err)
	return b
}

func TestDriver_CreateGuestDisks(t *testing.T) {
	t.Parallel()

	t.Run("OverlayAndBlank", func(t *testing.T) {
		t.Parallel()
		b := withImage(t)
		g := b.createGuest(t, guestID, subagent.Disk{Image: "base", Bus: "virtio"}, subagent.Disk{Size: 32})
		require.Equal(t, []subagent.Disk{
			{Image: "base", Bus: "virtio", Size: 16, Source: diskPath(b, 0), Volume: "guests/" + guestID + "/disk-0"},
			{Size: 32, Source: diskPath(b, 1), Volume: "guests/" + guestID + "/disk-1"},
		}, g.Disks)
		info := run(t, "qemu-img", "info", "-U", diskPath(b, 0))
		require.Contains(t, info, "backing file: "+filepath.Join(layout.ImagesDir(b.dataDir), "base.qcow2"))
		require.True(t, hasPattern(t, diskPath(b, 0), "qcow2", 0x11, 0), "the overlay shows the image")
		require.Contains(t, run(t, "qemu-img", "info", "-U", diskPath(b, 1)), "virtual size: 32 MiB")

		writePattern(t, diskPath(b, 1), 0x22, 0)
		again := b.createGuest(t, guestID, subagent.Disk{Image: "base", Bus: "virtio"}, subagent.Disk{Size: 32})
		require.Equal(t, g, again, "a repeated call keeps the disks")
		require.True(t, hasPattern(t, diskPath(b, 1), "qcow2", 0x22, 0))
		require.Empty(t, files(t, filepath.Join(b.dataDir, "tmp")))
	})

	t.Run("ErrMissingImageCreatesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		_, err := b.driver.CreateGuestDisks(testCtx(t), &subagent.GuestRequest{Guest: &subagent.Guest{
			ID: guestID, Disks: []subagent.Disk{{Size: 16}, {Image: "nope"}},
		}})
		require.EqualError(t, err, "guest "+guestID+": disk 1: image nope: not found")
		require.ErrorIs(t, err, storage.ErrNotFound)
		require.Empty(t, files(t, filepath.Join(b.dataDir, "guests")))
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		for _, tc := range []struct {
			guest *subagent.Guest
			want  string
		}{
			{nil, "need a guest: invalid"},
			{&subagent.Guest{}, "need a guest id: invalid"},
			{&subagent.Guest{ID: "../etc"}, `guest id "../etc": use letters, digits, _ - and . only: invalid`},
			{&subagent.Guest{ID: guestID, Disks: []subagent.Disk{{}}}, "guest " + guestID + ": disk 0 needs an image or a size: invalid"},
			{&subagent.Guest{ID: guestID, Disks: []subagent.Disk{{Size: 1 << 40}}}, "guest " + guestID + ": disk 0: size 1099511627776 MB is more than 16777216 MB: invalid"},
		} {
			_, err := b.driver.CreateGuestDisks(testCtx(t), &subagent.GuestRequest{Guest: tc.guest})
			require.EqualError(t, err, tc.want)
			require.ErrorIs(t, err, storage.ErrInvalid)
		}
	})
}

func TestDriver_DeleteGuestsDisks(t *testing.T) {
	t.Parallel()
	b := withImage(t)
	b.createGuest(t, guestID, subagent.Disk{Image: "base"}, subagent.Disk{Size: 16})
	other := b.createGuest(t, "other", subagent.Disk{Size: 16})
	_, err := b.driver.CreateSnapshot(testCtx(t), &subagent.SnapshotRequest{ID: "guests/" + guestID, Dest: "s1", Recursive: true})
	require.NoError(t, err)

	resp, err := b.driver.DeleteGuestsDisks(testCtx(t), &subagent.GuestRequest{Guest: &subagent.Guest{ID: guestID, Memory: 64}})
	require.NoError(t, err)
	require.Equal(t, &subagent.Guest{ID: guestID, Memory: 64, Disks: []subagent.Disk{}}, resp.Guest)
	require.NoDirExists(t, layout.GuestDir(b.dataDir, guestID))
	require.Equal(t, []string{"other/disk0.qcow2"}, files(t, filepath.Join(b.dataDir, "guests")))
	for _, f := range files(t, b.dataDir) {
		require.NotContains(t, f, guestID, "no file of the guest is left")
	}
	require.FileExists(t, other.Disks[0].Source)

	_, err = b.driver.DeleteGuestsDisks(testCtx(t), &subagent.GuestRequest{Guest: &subagent.Guest{ID: guestID}})
	require.NoError(t, err, "a repeated delete succeeds")
}
