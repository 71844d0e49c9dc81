package store

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestDB_Guest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		g := &hvagent.Guest{ID: "g1", State: hvagent.StateCreate, Memory: 512,
			Metadata: map[string]string{"owner": "ann", "empty": ""}}
		b.createGuest(t, g)
		got, err := b.db.Guest(ctx, "g1")
		require.NoError(t, err)
		require.Equal(t, &hvagent.Guest{ID: "g1", State: hvagent.StateCreate, Memory: 512,
			Metadata: map[string]string{"owner": "ann"}}, got)

		var data string
		require.NoError(t, b.db.read.QueryRow(`SELECT data FROM guests WHERE id = 'g1'`).Scan(&data))
		require.NotContains(t, data, "metadata")
	})

	t.Run("NoMetadataIsNil", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.createGuest(t, &hvagent.Guest{ID: "g1"})
		got, err := b.db.Guest(ctx, "g1")
		require.NoError(t, err)
		require.Nil(t, got.Metadata)
		raw, err := json.Marshal(got)
		require.NoError(t, err)
		require.JSONEq(t, `{"id":"g1"}`, string(raw))
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.db.Guest(ctx, "nope")
		requireCode(t, err, hvagent.ENOTFOUND)
		require.EqualError(t, err, "guest nope not found")
	})
}

func TestDB_Guests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	for _, id := range []string{"c", "a", "d", "b"} {
		b.createGuest(t, &hvagent.Guest{ID: id})
	}
	ids := func(gs []*hvagent.Guest) []string {
		out := []string{}
		for _, g := range gs {
			out = append(out, g.ID)
		}
		return out
	}

	all, err := b.db.Guests(ctx, hvagent.GuestFilter{})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c", "d"}, ids(all))

	page, err := b.db.Guests(ctx, hvagent.GuestFilter{Limit: 2, After: "a"})
	require.NoError(t, err)
	require.Equal(t, []string{"b", "c"}, ids(page))

	none, err := b.db.Guests(ctx, hvagent.GuestFilter{After: "d"})
	require.NoError(t, err)
	require.NotNil(t, none)
	require.Empty(t, none)

	_, err = b.db.Guests(ctx, hvagent.GuestFilter{Limit: -1})
	requireCode(t, err, hvagent.EINVALID)
}

func TestDB_PatchGuestMetadata(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.createGuest(t, &hvagent.Guest{ID: "g1", Metadata: map[string]string{"a": "1", "b": "2"}})

		g, err := b.db.PatchGuestMetadata(ctx, "g1", map[string]string{"a": "", "b": "3", "c": "4"}, hvagent.MetadataLimits{})
		require.NoError(t, err)
		require.Equal(t, map[string]string{"b": "3", "c": "4"}, g.Metadata)
		got, err := b.db.Guest(ctx, "g1")
		require.NoError(t, err)
		require.Equal(t, g, got)

		ev := b.events(t)
		last := ev[len(ev)-1]
		require.Equal(t, hvagent.EventGuestUpdated, last.Type)
		require.Equal(t, testNow, last.At)
		require.Equal(t, &hvagent.Guest{ID: "g1"}, last.Guest, "events carry no metadata")

		g, err = b.db.PatchGuestMetadata(ctx, "g1", map[string]string{"b": "", "c": "", "zz": ""}, hvagent.MetadataLimits{})
		require.NoError(t, err)
		require.Nil(t, g.Metadata)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.db.PatchGuestMetadata(ctx, "nope", map[string]string{"a": "1"}, hvagent.MetadataLimits{})
		requireCode(t, err, hvagent.ENOTFOUND)
		require.Empty(t, b.events(t))
	})

	t.Run("ErrEmptyKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.createGuest(t, &hvagent.Guest{ID: "g1"})
		_, err := b.db.PatchGuestMetadata(ctx, "g1", map[string]string{"": "1"}, hvagent.MetadataLimits{})
		requireCode(t, err, hvagent.EINVALID)
	})
}

func TestDB_PersistGuest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.createGuest(t, &hvagent.Guest{ID: "g1", State: hvagent.StateCreate,
		Metadata: map[string]string{"owner": "ann"}})
	j := b.claim(t, "g1", at(1))

	// A stage's guest may carry another ID and metadata: the store keeps its own.
	changed := &hvagent.Guest{ID: "other", State: hvagent.StateRunning, CPU: 2,
		Metadata: map[string]string{"owner": "mallory"}}
	_, err := b.db.Advance(ctx, hvagent.JobUpdate{ID: j.ID, At: at(2), Guest: changed})
	require.NoError(t, err)
	want := &hvagent.Guest{ID: "g1", State: hvagent.StateRunning, CPU: 2,
		Metadata: map[string]string{"owner": "ann"}}
	got, err := b.db.Guest(ctx, "g1")
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, "other", changed.ID, "the caller's guest is not modified")

	ev := b.events(t)
	require.Equal(t, hvagent.EventGuestUpdated, ev[len(ev)-2].Type)
	want.Metadata = nil // events carry no metadata
	require.Equal(t, want, ev[len(ev)-2].Guest)
	require.Equal(t, hvagent.EventJobUpdated, ev[len(ev)-1].Type)

	_, _, err = b.db.Finish(ctx, hvagent.JobEnd{ID: j.ID, At: at(3), Status: hvagent.JobComplete,
		Guest: &hvagent.Guest{ID: "g1", State: hvagent.StateShutoff}})
	require.NoError(t, err)
	got, err = b.db.Guest(ctx, "g1")
	require.NoError(t, err)
	require.Equal(t, &hvagent.Guest{ID: "g1", State: hvagent.StateShutoff,
		Metadata: map[string]string{"owner": "ann"}}, got)
}

func TestDB_PersistGuest_ErrNotFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.enqueue(t, newJob("ghost", nil))
	j := b.claim(t, "ghost", at(1))
	_, err := b.db.Advance(ctx, hvagent.JobUpdate{ID: j.ID, At: at(2), Stage: ptr("1/1 x"),
		Guest: &hvagent.Guest{ID: "ghost"}})
	requireCode(t, err, hvagent.ENOTFOUND)
	got, err := b.db.Job(ctx, j.ID)
	require.NoError(t, err)
	require.Empty(t, got.Stage, "the failed update is rolled back")
}

func TestDB_SetGuestState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.createGuest(t, &hvagent.Guest{ID: "g1", State: "running", Memory: 128, Metadata: map[string]string{"a": "1"}})
		before := len(b.events(t))

		g, err := b.db.SetGuestState(ctx, "g1", "crashed", at(5))
		require.NoError(t, err)
		require.Equal(t, "crashed", g.State)
		require.Equal(t, uint(128), g.Memory, "other fields are kept")
		require.Equal(t, map[string]string{"a": "1"}, g.Metadata)
		got, err := b.db.Guest(ctx, "g1")
		require.NoError(t, err)
		require.Equal(t, g, got)
		ev := b.events(t)
		require.Len(t, ev, before+1)
		require.Equal(t, hvagent.EventGuestUpdated, ev[len(ev)-1].Type)
		require.Equal(t, at(5), ev[len(ev)-1].At)
		noMeta := *g
		noMeta.Metadata = nil // events carry no metadata
		require.Equal(t, &noMeta, ev[len(ev)-1].Guest)

		again, err := b.db.SetGuestState(ctx, "g1", "crashed", at(6))
		require.NoError(t, err)
		require.Equal(t, g, again)
		require.Len(t, b.events(t), before+1, "the same state writes no event")
	})

	t.Run("Err", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.db.SetGuestState(ctx, "nope", "crashed", at(1))
		requireCode(t, err, hvagent.ENOTFOUND)
		b.createGuest(t, &hvagent.Guest{ID: "g1"})
		_, err = b.db.SetGuestState(ctx, "g1", "", at(1))
		requireCode(t, err, hvagent.EINVALID)
	})
}
