package sim_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/subagent"
)

// TestDriver_ErrorCodes checks that each failure meant as a conflict, a
// missing thing or a bad request carries its code, and a simulated failure
// none.
func TestDriver_ErrorCodes(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	snap := func(method string, req *subagent.SnapshotRequest) error {
		_, err := call[subagent.SnapshotResponse](t, b, method, req)
		return err
	}
	_, err := guestCall(t, b, "Sim.Start", &subagent.Guest{ID: guestID})
	require.NoError(t, err)
	require.NoError(t, snap("Sim.CreateSnapshot", &subagent.SnapshotRequest{ID: guestEntity, Dest: "s1"}))
	require.NoError(t, snap("Sim.CreateSnapshot", &subagent.SnapshotRequest{ID: guestEntity, Dest: "s2"}))
	b.driver.FailNext("Sim.GetSnapshot", "disk on fire")
	_, imageErr := call[subagent.ImageResponse](t, b, "Sim.GetImage", &subagent.ImageRequest{ID: "nope"})
	_, guestErr := guestCall(t, b, "Sim.CreateGuest", &subagent.Guest{})

	tests := []struct {
		name string
		err  error
		want string
	}{
		{"Simulated", snap("Sim.GetSnapshot", &subagent.SnapshotRequest{ID: guestEntity + "@s1"}), ""},
		{"MissingImage", imageErr, subagent.CodeNotFound},
		{"InvalidGuest", guestErr, subagent.CodeInvalid},
		{"DuplicateSnapshot", snap("Sim.CreateSnapshot", &subagent.SnapshotRequest{ID: guestEntity, Dest: "s1"}), subagent.CodeConflict},
		{"RollbackRunning", snap("Sim.RollbackSnapshot", &subagent.SnapshotRequest{ID: guestEntity + "@s1"}), subagent.CodeConflict},
		{"MissingSnapshot", snap("Sim.DeleteSnapshot", &subagent.SnapshotRequest{ID: guestEntity + "@nope"}), subagent.CodeNotFound},
		{"BadSnapshotID", snap("Sim.CreateSnapshot", &subagent.SnapshotRequest{ID: "volumes/x", Dest: "s3"}), subagent.CodeInvalid},
		{"BadSnapshotName", snap("Sim.CreateSnapshot", &subagent.SnapshotRequest{ID: guestEntity, Dest: "a b"}), subagent.CodeInvalid},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Error(t, tt.err)
			methodError(t, tt.err)
			require.Equal(t, tt.want, subagent.ErrorCode(tt.err), "error: %v", tt.err)
		})
	}
}
