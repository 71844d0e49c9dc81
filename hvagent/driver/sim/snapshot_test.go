package sim_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/subagent"
)

const guestEntity = "guests/" + guestID

// snapshots calls a snapshot method that must succeed and returns its IDs.
func snapshots(t *testing.T, b *testBundle, method string, req *subagent.SnapshotRequest) []string {
	t.Helper()
	resp, err := call[subagent.SnapshotResponse](t, b, method, req)
	require.NoError(t, err)
	require.NotNil(t, resp.Snapshots, "lists are never null")
	ids := []string{}
	for _, s := range resp.Snapshots {
		ids = append(ids, s.ID)
	}
	return ids
}

func snapshotError(t *testing.T, b *testBundle, method string, req *subagent.SnapshotRequest) string {
	t.Helper()
	_, err := call[subagent.SnapshotResponse](t, b, method, req)
	return methodError(t, err)
}

func TestDriver_CreateSnapshot(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	_, err := guestCall(t, b, "Sim.CreateGuest", &subagent.Guest{ID: guestID, Disks: []subagent.Disk{{Size: 1}, {Size: 2}}})
	require.NoError(t, err)

	require.Equal(t, []string{guestEntity + "@s1", guestEntity + "/disk-0@s1", guestEntity + "/disk-1@s1"},
		snapshots(t, b, "Sim.CreateSnapshot", &subagent.SnapshotRequest{ID: guestEntity, Dest: "s1", Recursive: true}),
		"a recursive guest snapshot covers every disk")
	require.Equal(t, []string{guestEntity + "/disk-1@nightly.2026-01-02:03"},
		snapshots(t, b, "Sim.CreateSnapshot", &subagent.SnapshotRequest{ID: guestEntity + "/disk-1", Dest: "nightly.2026-01-02:03"}))

	resp, err := call[subagent.SnapshotResponse](t, b, "Sim.CreateSnapshot",
		&subagent.SnapshotRequest{ID: guestEntity, Dest: "big", Args: map[string]string{"size": "3"}})
	require.NoError(t, err)
	require.Equal(t, []*subagent.Snapshot{{ID: guestEntity + "@big", Size: 3}}, resp.Snapshots)

	for _, tt := range []struct{ name, id, dest, want string }{
		{name: "Duplicate", id: guestEntity + "/disk-1", dest: "s1", want: "snapshot " + guestEntity + "/disk-1@s1 already exists"},
		{name: "NoDest", id: guestEntity, want: "need dest"},
		{name: "BadName", id: guestEntity, dest: "a b", want: `invalid snapshot name "a b": want letters, digits, _, -, : or . only`},
		{name: "BadID", id: "volumes/x", dest: "s", want: `invalid snapshot id "volumes/x": want guests/<guest>[/disk-<n>][@<name>]`},
		{name: "BadDisk", id: guestEntity + "/disk-x", dest: "s", want: `invalid snapshot id "` + guestEntity + `/disk-x": want guests/<guest>[/disk-<n>][@<name>]`},
	} {
		require.Equal(t, tt.want, snapshotError(t, b, "Sim.CreateSnapshot", &subagent.SnapshotRequest{ID: tt.id, Dest: tt.dest}), tt.name)
	}
	require.Contains(t, snapshotError(t, b, "Sim.CreateSnapshot",
		&subagent.SnapshotRequest{ID: guestEntity, Dest: "s9", Args: map[string]string{"size": "lots"}}), `invalid size arg "lots"`)
}

func TestDriver_Snapshots(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	_, err := guestCall(t, b, "Sim.CreateGuest", &subagent.Guest{ID: guestID, Disks: []subagent.Disk{{Size: 1}}})
	require.NoError(t, err)
	snapshots(t, b, "Sim.CreateSnapshot", &subagent.SnapshotRequest{ID: guestEntity, Dest: "b", Recursive: true})
	snapshots(t, b, "Sim.CreateSnapshot", &subagent.SnapshotRequest{ID: guestEntity, Dest: "a"})

	require.Equal(t, []string{guestEntity + "@b", guestEntity + "@a"},
		snapshots(t, b, "Sim.ListSnapshots", &subagent.SnapshotRequest{ID: guestEntity}), "oldest first")
	require.Equal(t, []string{guestEntity + "@b", guestEntity + "/disk-0@b", guestEntity + "@a"},
		snapshots(t, b, "Sim.ListSnapshots", &subagent.SnapshotRequest{ID: guestEntity, Recursive: true}))
	require.Equal(t, []string{guestEntity + "/disk-0@b"},
		snapshots(t, b, "Sim.ListSnapshots", &subagent.SnapshotRequest{ID: guestEntity + "/disk-0"}))

	require.Equal(t, []string{guestEntity + "@a"}, snapshots(t, b, "Sim.GetSnapshot", &subagent.SnapshotRequest{ID: guestEntity + "@a"}))
	require.Equal(t, "not found", snapshotError(t, b, "Sim.GetSnapshot", &subagent.SnapshotRequest{ID: guestEntity + "@zzz"}))

	require.Equal(t, []string{guestEntity + "@b", guestEntity + "/disk-0@b"},
		snapshots(t, b, "Sim.DeleteSnapshot", &subagent.SnapshotRequest{ID: guestEntity + "@b", Recursive: true}))
	require.Equal(t, "not found", snapshotError(t, b, "Sim.DeleteSnapshot", &subagent.SnapshotRequest{ID: guestEntity + "@b"}))
	require.Equal(t, "not found", snapshotError(t, b, "Sim.DeleteSnapshot", &subagent.SnapshotRequest{ID: guestEntity}))
	require.Equal(t, []string{guestEntity + "@a"},
		snapshots(t, b, "Sim.ListSnapshots", &subagent.SnapshotRequest{ID: guestEntity, Recursive: true}))
}

func TestDriver_RollbackSnapshot(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	g, err := guestCall(t, b, "Sim.CreateGuest", &subagent.Guest{ID: guestID})
	require.NoError(t, err)
	for _, name := range []string{"one", "two", "three"} {
		snapshots(t, b, "Sim.CreateSnapshot", &subagent.SnapshotRequest{ID: guestEntity, Dest: name})
	}
	one := &subagent.SnapshotRequest{ID: guestEntity + "@one"}

	_, err = guestCall(t, b, "Sim.Start", g)
	require.NoError(t, err)
	require.Equal(t, "guest "+guestID+" is running; stop it before rollback", snapshotError(t, b, "Sim.RollbackSnapshot", one))
	_, err = guestCall(t, b, "Sim.Suspend", g)
	require.NoError(t, err)
	require.Equal(t, "guest "+guestID+" is paused; stop it before rollback", snapshotError(t, b, "Sim.RollbackSnapshot", one))
	_, err = guestCall(t, b, "Sim.Poweroff", g)
	require.NoError(t, err)

	require.Equal(t, "not found", snapshotError(t, b, "Sim.RollbackSnapshot", &subagent.SnapshotRequest{ID: guestEntity + "@zero"}))
	require.Contains(t, snapshotError(t, b, "Sim.RollbackSnapshot", one), "is not the most recent")
	require.Equal(t, []string{guestEntity + "@three"},
		snapshots(t, b, "Sim.RollbackSnapshot", &subagent.SnapshotRequest{ID: guestEntity + "@three"}))
	require.Equal(t, []string{guestEntity + "@one"},
		snapshots(t, b, "Sim.RollbackSnapshot", &subagent.SnapshotRequest{ID: guestEntity + "@one", DestroyMoreRecent: true}))
	require.Equal(t, []string{guestEntity + "@one"},
		snapshots(t, b, "Sim.ListSnapshots", &subagent.SnapshotRequest{ID: guestEntity}), "newer snapshots are destroyed")
}
