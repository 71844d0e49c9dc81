package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestParseSnapshotRef(t *testing.T) {
	t.Parallel()
	one := 1
	for _, tc := range []struct {
		in   string
		want snapshotRef
	}{
		{"nightly", snapshotRef{Name: "nightly"}},
		{"guests/" + guestID + "@nightly", snapshotRef{Guest: guestID, Name: "nightly"}},
		{"guests/" + guestID + "/disk-1@snap-20260102-030405.000", snapshotRef{Guest: guestID, Disk: &one, Name: "snap-20260102-030405.000"}},
	} {
		got, err := parseSnapshotRef(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	for _, bad := range []string{"@x", "guests/@x", "guests/" + guestID + "@", "pools/x@y", "guests/g/disk-x@y", "guests/g/disk--1@y", "guests/g/part-1@y"} {
		_, err := parseSnapshotRef(bad)
		requireUsage(t, err, "want a name, or guests/GUEST[/disk-N]@NAME")
	}
}

func TestSnapshot_RoundTrip(t *testing.T) {
	t.Parallel()
	ref := "guests/" + guestID + "/disk-0@nightly"
	t.Run("ShowFullRef", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var got hvagent.Request
		b.fake.DoFunc = func(_ context.Context, action, guest string, req hvagent.Request) (*hvagent.Result, error) {
			got = req
			return &hvagent.Result{Body: []byte(`{"id":"` + ref + `","size":1}`)}, nil
		}
		require.Equal(t, exitOK, b.run(t.Context(), "snapshot", "show", guestID, ref, "-q"), b.errOut.String())
		require.Equal(t, ref+"\n", b.out.String())
		require.Equal(t, "nightly", got.Snapshot)
		require.Equal(t, 0, *got.Disk)
	})
	t.Run("ErrOtherGuest", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.GuestFunc = func(_ context.Context, id string) (*hvagent.Guest, error) {
			return &hvagent.Guest{ID: "11111111-2222-4333-8444-555555555555"}, nil
		}
		require.Equal(t, exitUsage, b.run(t.Context(), "snapshot", "delete", "web1", ref))
		require.Contains(t, b.errOut.String(), "the snapshot is of guest "+guestID+", not of web1")
	})
	t.Run("ErrDiskDisagrees", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.Equal(t, exitUsage, b.run(t.Context(), "snapshot", "rollback", guestID, ref, "--disk", "2"))
		require.Contains(t, b.errOut.String(), "is of disk 0, not of --disk 2")
		b = setup(t)
		require.Equal(t, exitUsage, b.run(t.Context(), "snapshot", "rollback", guestID, "guests/"+guestID+"@x", "--disk", "0"))
		require.Contains(t, b.errOut.String(), "is of the whole guest; drop --disk")
	})
	t.Run("CreateNamesIt", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var got hvagent.Request
		b.fake.DoFunc = func(_ context.Context, action, guest string, req hvagent.Request) (*hvagent.Result, error) {
			got = req
			return &hvagent.Result{Job: &hvagent.Job{ID: jobID, Action: action, GuestID: guest, Status: hvagent.JobQueued}}, nil
		}
		opts := &SnapshotJobOptions{cmdBase: b.base(t), Action: hvagent.ActionCreateSnapshot,
			Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC) }}
		opts.GuestID = guestID
		opts.Out.Quiet = true
		require.NoError(t, snapshotJobRun(opts))
		require.Equal(t, "snap-20260102-030405.006", got.Snapshot)
		require.Contains(t, b.errOut.String(), "snapshot name: snap-20260102-030405.006\n")
	})
}
