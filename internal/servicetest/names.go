package servicetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// testNames checks that a guest's name stands for its ID in every guest
// call, and that renames, jobs and events carry it.
func testNames(t *testing.T, b *bundle) {
	ctx := t.Context()
	g := newGuest()
	g.Name = "web1"
	g.Metadata = map[string]string{"k": "v"}
	res := b.do(t, hvagent.ActionCreate, "", hvagent.Request{Guest: g})
	require.Equal(t, "web1", res.Guest.Name)
	require.Equal(t, "web1", res.Job.GuestName)
	b.complete(t, res.Job.ID)
	id := res.Guest.ID

	got, err := b.svc.Guest(ctx, "web1")
	require.NoError(t, err)
	require.Equal(t, id, got.ID)
	require.Equal(t, "web1", got.Name, "stages keep the name")
	list, err := b.svc.Guests(ctx, hvagent.GuestFilter{Name: "web1"})
	require.NoError(t, err)
	require.Equal(t, []string{id}, guestIDs(list))
	md, err := b.svc.GuestMetadata(ctx, "web1")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"k": "v"}, md)
	md, err = b.svc.PatchGuestMetadata(ctx, "web1", map[string]string{"x": "1"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"k": "v", "x": "1"}, md)

	start := b.do(t, hvagent.ActionStart, "web1", hvagent.Request{})
	require.Equal(t, id, start.Job.GuestID)
	require.Equal(t, "web1", start.Job.GuestName)
	b.complete(t, start.Job.ID)
	jobs, err := b.svc.Jobs(ctx, hvagent.JobFilter{GuestID: "web1"})
	require.NoError(t, err)
	require.Len(t, jobs, 2)

	testRename(t, b, id)
	_, err = b.svc.Guest(ctx, "web1")
	requireCode(t, hvagent.ENOTFOUND, err)
	del := b.run(t, hvagent.ActionDelete, "db1", hvagent.Request{})
	require.Equal(t, "db1", del.GuestName)
	jobs, err = b.svc.Jobs(ctx, hvagent.JobFilter{GuestID: "db1"})
	require.NoError(t, err)
	require.Len(t, jobs, 3, "a deleted guest's jobs are found by its last name")
	for _, j := range jobs {
		require.Equal(t, "db1", j.GuestName)
	}
}

// testRename renames guest id from web1 to db1, checking the errors and
// the event on the way.
func testRename(t *testing.T, b *bundle, id string) {
	ctx := t.Context()
	other := newGuest()
	other.Name = "other"
	b.create(t, other)
	dup := newGuest()
	dup.Name = "web1"
	_, err := b.svc.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: dup})
	requireCode(t, hvagent.ECONFLICT, err)
	require.ErrorContains(t, err, id, "the conflict names the other guest")
	bad := newGuest()
	bad.Name = "Web_1"
	_, err = b.svc.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: bad})
	requireCode(t, hvagent.EINVALID, err)

	_, err = b.svc.RenameGuest(ctx, "web1", "other")
	requireCode(t, hvagent.ECONFLICT, err)
	_, err = b.svc.RenameGuest(ctx, "web1", "-db1")
	requireCode(t, hvagent.EINVALID, err)
	require.ErrorContains(t, err, hvagent.GuestNameRule)
	_, err = b.svc.RenameGuest(ctx, "no-such-guest", "db2")
	requireCode(t, hvagent.ENOTFOUND, err)

	page, err := b.svc.Events(ctx, hvagent.EventQuery{After: -1})
	require.NoError(t, err)
	renamed, err := b.svc.RenameGuest(ctx, "web1", "db1")
	require.NoError(t, err)
	require.Equal(t, id, renamed.ID)
	require.Equal(t, "db1", renamed.Name)
	evs, _ := b.readUntil(t, page.Cursor, func(evs []*hvagent.Event) bool { return len(evs) > 0 })
	require.Equal(t, hvagent.EventGuestUpdated, evs[0].Type)
	require.Equal(t, "db1", evs[0].Guest.Name)
	jobs, err := b.svc.Jobs(ctx, hvagent.JobFilter{GuestID: id})
	require.NoError(t, err)
	for _, j := range jobs {
		require.Equal(t, "db1", j.GuestName)
	}
}
