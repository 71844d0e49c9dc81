package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestDB_Events(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)

	first, err := b.db.FirstEventID(ctx)
	require.NoError(t, err)
	require.Zero(t, first)
	ev, err := b.db.Events(ctx, 0, 10)
	require.NoError(t, err)
	require.NotNil(t, ev)
	require.Empty(t, ev)

	create := b.createGuest(t, &hvagent.Guest{ID: "g1"}) // guest.updated, job.updated
	b.claim(t, "g1", at(1))                              // job.updated
	_, err = b.db.PatchGuestMetadata(ctx, "g1", map[string]string{"a": "1"}, hvagent.MetadataLimits{})
	require.NoError(t, err)

	ev, err = b.db.Events(ctx, 0, 0)
	require.NoError(t, err)
	require.Len(t, ev, 4)
	for i, e := range ev {
		require.Equal(t, int64(i+1), e.ID)
	}
	require.Equal(t, hvagent.EventGuestUpdated, ev[0].Type)
	require.Equal(t, &hvagent.Guest{ID: "g1"}, ev[0].Guest)
	require.Nil(t, ev[0].Job)
	require.Equal(t, hvagent.EventJobUpdated, ev[1].Type)
	require.Equal(t, create, ev[1].Job)
	require.Equal(t, hvagent.JobRunning, ev[2].Job.Status)
	require.Equal(t, &hvagent.Guest{ID: "g1"}, ev[3].Guest, "a metadata PATCH's event carries the guest without metadata")

	page, err := b.db.Events(ctx, 1, 2)
	require.NoError(t, err)
	require.Equal(t, ev[1:3], page)

	first, err = b.db.FirstEventID(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), first)

	_, err = b.db.Events(ctx, 0, -1)
	requireCode(t, err, hvagent.EINVALID)
}
