package servicetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func testCreate(t *testing.T, b *bundle) {
	id := strings.ToUpper(uuid.NewString())
	g := &hvagent.Guest{
		ID: id, Memory: 256, CPU: 2,
		Disks:    []hvagent.Disk{{Size: 1024}, {Size: 10}},
		Nics:     []hvagent.Nic{{Name: "eth0", Network: "br0"}},
		Metadata: map[string]string{"role": "web"},
	}
	res := b.do(t, hvagent.ActionCreate, "", hvagent.Request{Guest: g})
	want := strings.ToLower(id)
	require.Equal(t, want, res.Guest.ID, "IDs are lowercased")
	require.Equal(t, hvagent.StateCreate, res.Guest.State)
	require.Equal(t, hvagent.ActionCreate, res.Job.Action)
	require.Equal(t, want, res.Job.GuestID)
	require.Nil(t, res.Body)
	require.Nil(t, res.Stream)

	job := b.complete(t, res.Job.ID)
	require.Equal(t, res.Job.ID, job.ID)
	require.False(t, job.FinishedAt.IsZero())
	got, err := b.svc.Guest(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, want, got.ID)
	require.Equal(t, hvagent.StateShutoff, got.State)
	require.Len(t, got.Disks, 2)
	require.Equal(t, "vdb", got.Disks[1].Device)
	require.Equal(t, map[string]string{"role": "web"}, got.Metadata)

	t.Run("Container", func(t *testing.T) {
		b.env.FetchImage(t, hvagent.ContainerGuestType, "nginx")
		c := &hvagent.Guest{Type: hvagent.ContainerGuestType, Image: "nginx"}
		res := b.do(t, hvagent.ActionCreate, "", hvagent.Request{Guest: c})
		require.Equal(t, "containerCreate", res.Job.Action)
		b.complete(t, res.Job.ID)
		start := b.run(t, hvagent.ActionStart, res.Guest.ID, hvagent.Request{})
		require.Equal(t, "containerStart", start.Action)
	})
}

func testCreateErrors(t *testing.T, b *bundle) {
	ctx := t.Context()
	g := b.create(t, nil)
	dup := newGuest()
	dup.ID = g.ID
	bad := func(g hvagent.Guest) hvagent.Request { return hvagent.Request{Guest: &g} }
	for name, tc := range map[string]struct {
		req  hvagent.Request
		code string
		msg  string // the error's message contains this
	}{
		"ErrDuplicate":     {hvagent.Request{Guest: dup}, hvagent.ECONFLICT, g.ID},
		"ErrBadID":         {bad(hvagent.Guest{ID: "not-a-uuid"}), hvagent.EINVALID, "not-a-uuid"},
		"ErrNoGuest":       {hvagent.Request{}, hvagent.EINVALID, "create needs a guest"},
		"ErrTooMuchMemory": {bad(hvagent.Guest{Memory: 1 << 40}), hvagent.EINVALID, "memory 1099511627776 MB: must be from 16 to"},
		"ErrTooLittleMem":  {bad(hvagent.Guest{Memory: 1}), hvagent.EINVALID, "memory 1 MB: must be from 16 to"},
		"ErrTooManyCPUs":   {bad(hvagent.Guest{CPU: 100000}), hvagent.EINVALID, "cpu 100000: must be from 1 to"},
		"ErrDiskWithout":   {bad(hvagent.Guest{Disks: []hvagent.Disk{{}}}), hvagent.EINVALID, "disks[0]: needs an image or a size"},
		"ErrDiskBus":       {bad(hvagent.Guest{Disks: []hvagent.Disk{{Size: 1, Bus: "floppy"}}}), hvagent.EINVALID, `disks[0].bus "floppy": must be one of virtio, scsi, ide`},
		"ErrNoSuchImage":   {bad(hvagent.Guest{Disks: []hvagent.Disk{{Image: "nosuch"}}}), hvagent.EINVALID, `disks[0].image "nosuch": no such image`},
		"ErrContainer":     {bad(hvagent.Guest{Type: hvagent.ContainerGuestType}), hvagent.EINVALID, "image: a container needs an image"},
		"ErrType":          {bad(hvagent.Guest{Type: "lxc"}), hvagent.EINVALID, `type "lxc": must be vm or container`},
		"ErrNicModel":      {bad(hvagent.Guest{Nics: []hvagent.Nic{{Model: "ne2k"}}}), hvagent.EINVALID, `nics[0].model "ne2k": must be one of virtio, e1000, rtl8139`},
		"ErrMAC":           {bad(hvagent.Guest{Nics: []hvagent.Nic{{MAC: "52:54:00"}}}), hvagent.EINVALID, `nics[0].mac "52:54:00": must be six hex pairs`},
	} {
		_, err := b.svc.Do(ctx, hvagent.ActionCreate, "", tc.req)
		require.Equal(t, tc.code, hvagent.ErrorCode(err), "%s: %v", name, err)
		require.ErrorContains(t, err, tc.msg, name)
	}
	_, err := b.svc.Do(ctx, "bogus", g.ID, hvagent.Request{})
	requireCode(t, hvagent.EINVALID, err)
	guests, err := b.svc.Guests(ctx, hvagent.GuestFilter{})
	require.NoError(t, err)
	require.Len(t, guests, 1, "a refused create leaves nothing behind")
}

func testGuestActions(t *testing.T, b *bundle) {
	ctx := t.Context()
	g := b.create(t, nil)
	for _, step := range []struct{ action, state string }{
		{hvagent.ActionStart, hvagent.StateRunning},
		{hvagent.ActionStart, hvagent.StateRunning},
		{hvagent.ActionReboot, hvagent.StateRunning},
		{hvagent.ActionRestart, hvagent.StateRunning},
		{hvagent.ActionSuspend, hvagent.StatePaused},
		{hvagent.ActionResume, hvagent.StateRunning},
		{hvagent.ActionShutdown, hvagent.StateShutoff},
		{hvagent.ActionStart, hvagent.StateRunning},
		{hvagent.ActionPoweroff, hvagent.StateShutoff},
	} {
		res := b.do(t, step.action, g.ID, hvagent.Request{})
		require.Equal(t, g.ID, res.Guest.ID)
		require.Equal(t, step.action, res.Job.Action)
		require.Equal(t, g.ID, res.Job.GuestID)
		job := b.complete(t, res.Job.ID)
		require.Equal(t, "1/1 Sim."+strings.ToUpper(step.action[:1])+step.action[1:], job.Stage)
		got, err := b.svc.Guest(ctx, g.ID)
		require.NoError(t, err)
		require.Equal(t, step.state, got.State, step.action)
	}

	reboot := b.do(t, hvagent.ActionReboot, g.ID, hvagent.Request{}) // accepted while shut off
	job := b.wait(t, reboot.Job.ID)
	require.Equal(t, hvagent.JobError, job.Status)
	require.Contains(t, job.Message, "is not running")

	del := b.do(t, hvagent.ActionDelete, g.ID, hvagent.Request{})
	require.Equal(t, hvagent.ActionDelete, del.Job.Action)
	b.complete(t, del.Job.ID)
	_, err := b.svc.Guest(ctx, g.ID)
	requireCode(t, hvagent.ENOTFOUND, err)
	jobs, err := b.svc.Jobs(ctx, hvagent.JobFilter{GuestID: g.ID})
	require.NoError(t, err)
	require.Len(t, jobs, 12, "a deleted guest keeps its job history")
}

func testGuestsPagination(t *testing.T, b *bundle) {
	ctx := t.Context()
	var ids []string
	for range 3 {
		ids = append(ids, b.create(t, nil).ID)
	}
	slices.Sort(ids)
	first, err := b.svc.Guests(ctx, hvagent.GuestFilter{Limit: 2})
	require.NoError(t, err)
	require.Equal(t, ids[:2], guestIDs(first))
	rest, err := b.svc.Guests(ctx, hvagent.GuestFilter{After: first[1].ID})
	require.NoError(t, err)
	require.Equal(t, ids[2:], guestIDs(rest))
	none, err := b.svc.Guests(ctx, hvagent.GuestFilter{After: ids[2]})
	require.NoError(t, err)
	require.NotNil(t, none)
	require.Empty(t, none)
	_, err = b.svc.Guests(ctx, hvagent.GuestFilter{Limit: -1})
	requireCode(t, hvagent.EINVALID, err)
	// A limit above the largest page is the largest page, on both sides.
	all, err := b.svc.Guests(ctx, hvagent.GuestFilter{Limit: 5000})
	require.NoError(t, err)
	require.Equal(t, ids, guestIDs(all))
	_, err = b.svc.Jobs(ctx, hvagent.JobFilter{Limit: 5000})
	require.NoError(t, err)
}

func guestIDs(guests []*hvagent.Guest) []string {
	ids := make([]string, len(guests))
	for i, g := range guests {
		ids[i] = g.ID
	}
	return ids
}

func testMetadata(t *testing.T, b *bundle) {
	ctx := t.Context()
	md, err := b.svc.Metadata(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]string{}, md)
	md, err = b.svc.PatchMetadata(ctx, map[string]string{"a": "1", "b": "2"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "1", "b": "2"}, md)
	md, err = b.svc.PatchMetadata(ctx, map[string]string{"a": "", "c": "3"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"b": "2", "c": "3"}, md, `"" deletes a key`)
	md, err = b.svc.Metadata(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"b": "2", "c": "3"}, md)
	_, err = b.svc.PatchMetadata(ctx, map[string]string{"": "x"})
	requireCode(t, hvagent.EINVALID, err)
}

func testGuestMetadata(t *testing.T, b *bundle) {
	ctx := t.Context()
	g := newGuest()
	g.Metadata = map[string]string{"k": "v"}
	id := b.create(t, g).ID
	md, err := b.svc.GuestMetadata(ctx, id)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"k": "v"}, md)
	md, err = b.svc.PatchGuestMetadata(ctx, id, map[string]string{"k": "", "x": "1"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"x": "1"}, md)
	got, err := b.svc.Guest(ctx, id)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"x": "1"}, got.Metadata)
	md, err = b.svc.PatchGuestMetadata(ctx, id, map[string]string{"x": ""})
	require.NoError(t, err)
	require.Equal(t, map[string]string{}, md, "never nil")

	_, err = b.svc.PatchGuestMetadata(ctx, id, map[string]string{"": "x"})
	requireCode(t, hvagent.EINVALID, err)
	_, err = b.svc.GuestMetadata(ctx, "Not_A_Name")
	requireCode(t, hvagent.EINVALID, err)
	_, err = b.svc.GuestMetadata(ctx, "no-such-guest")
	requireCode(t, hvagent.ENOTFOUND, err)
	_, err = b.svc.PatchGuestMetadata(ctx, uuid.NewString(), map[string]string{"a": "b"})
	requireCode(t, hvagent.ENOTFOUND, err)
}
