package servicetest

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
)

func testMetrics(t *testing.T, b *bundle) {
	g := b.create(t, &hvagent.Guest{CPU: 2, Disks: []hvagent.Disk{{Size: 10}}, Nics: []hvagent.Nic{{Name: "eth0", Network: "br0"}}})
	res := b.do(t, hvagent.ActionCPUMetrics, g.ID, hvagent.Request{})
	require.Nil(t, res.Job)
	var cpu []hvagent.GuestCPUMetrics
	require.NoError(t, json.Unmarshal(res.Body, &cpu))
	require.Len(t, cpu, 2)

	var disk map[string]hvagent.GuestDiskMetrics
	require.NoError(t, json.Unmarshal(b.do(t, hvagent.ActionDiskMetrics, g.ID, hvagent.Request{}).Body, &disk))
	require.Contains(t, disk, "vda")
	var nic map[string]hvagent.GuestNicMetrics
	require.NoError(t, json.Unmarshal(b.do(t, hvagent.ActionNicMetrics, g.ID, hvagent.Request{}).Body, &nic))
	require.Contains(t, nic, "eth0")

	b.env.Sim.FailNext("Sim.CPUMetrics", "libvirt is down")
	_, err := b.svc.Do(t.Context(), hvagent.ActionCPUMetrics, g.ID, hvagent.Request{})
	requireCode(t, hvagent.ESUBAGENT, err)
	require.Contains(t, err.Error(), "libvirt is down", "a sub-agent's message is shown")
}

func testSnapshots(t *testing.T, b *bundle) {
	g := b.create(t, nil)
	testSnapshotLifecycle(t, b, g, nil, "guests/"+g.ID)

	auto := b.run(t, hvagent.ActionCreateSnapshot, g.ID, hvagent.Request{})
	var snap hvagent.Snapshot
	require.NoError(t, json.Unmarshal(auto.Result, &snap))
	require.True(t, strings.HasPrefix(snap.ID, "guests/"+g.ID+"@snap-"), snap.ID)
}

func testDiskSnapshots(t *testing.T, b *bundle) {
	g := b.create(t, &hvagent.Guest{Disks: []hvagent.Disk{{Size: 10}, {Size: 20}}})
	disk := 1
	testSnapshotLifecycle(t, b, g, &disk, "guests/"+g.ID+"/disk-1")
	bad := 7
	_, err := b.svc.Do(t.Context(), hvagent.ActionListSnapshots, g.ID, hvagent.Request{Disk: &bad})
	requireCode(t, hvagent.ENOTFOUND, err)
}

// testSnapshotLifecycle creates, lists, gets, downloads, rolls back and
// deletes snapshot "s1" of g (of one disk when disk is set), whose entity
// ID is entity.
func testSnapshotLifecycle(t *testing.T, b *bundle, g *hvagent.Guest, disk *int, entity string) {
	ctx := t.Context()
	req := hvagent.Request{Disk: disk, Snapshot: "s1"}
	res := b.do(t, hvagent.ActionCreateSnapshot, g.ID, req)
	require.Equal(t, hvagent.ActionCreateSnapshot, res.Job.Action)
	require.Equal(t, g.ID, res.Job.GuestID)
	job := b.complete(t, res.Job.ID)
	var snap hvagent.Snapshot
	require.NoError(t, json.Unmarshal(job.Result, &snap))
	require.Equal(t, entity+"@s1", snap.ID)

	var snaps []hvagent.Snapshot
	require.NoError(t, json.Unmarshal(b.do(t, hvagent.ActionListSnapshots, g.ID, hvagent.Request{Disk: disk}).Body, &snaps))
	require.Contains(t, snaps, snap)
	var one hvagent.Snapshot
	require.NoError(t, json.Unmarshal(b.do(t, hvagent.ActionGetSnapshot, g.ID, req).Body, &one))
	require.Equal(t, snap, one, "one snapshot is an object")

	dl := b.do(t, hvagent.ActionDownloadSnapshot, g.ID, req)
	data, err := io.ReadAll(dl.Stream)
	require.NoError(t, err)
	require.NoError(t, dl.Stream.Close())
	require.Equal(t, int64(len(data)), dl.Size)
	require.Equal(t, sim.SnapshotBytes(snap.ID, dl.Size), data)

	rb := b.run(t, hvagent.ActionRollbackSnapshot, g.ID, hvagent.Request{Disk: disk, Snapshot: "s1", DestroyMoreRecent: true})
	require.Equal(t, hvagent.ActionRollbackSnapshot, rb.Action)
	b.run(t, hvagent.ActionDeleteSnapshot, g.ID, req)

	_, err = b.svc.Do(ctx, hvagent.ActionGetSnapshot, g.ID, req)
	requireCode(t, hvagent.ENOTFOUND, err)
	_, err = b.svc.Do(ctx, hvagent.ActionDownloadSnapshot, g.ID, req)
	requireCode(t, hvagent.ENOTFOUND, err)
	_, err = b.svc.Do(ctx, hvagent.ActionCreateSnapshot, g.ID, hvagent.Request{Disk: disk, Snapshot: "bad name!"})
	requireCode(t, hvagent.EINVALID, err)
	_, err = b.svc.Do(ctx, hvagent.ActionGetSnapshot, g.ID, hvagent.Request{Disk: disk})
	requireCode(t, hvagent.EINVALID, err)
}

func testImages(t *testing.T, b *bundle) {
	ctx := t.Context()
	fetch := b.do(t, hvagent.ActionFetchImage, "", hvagent.Request{Image: &hvagent.ImageRequest{
		ID: "debian-12", Source: "https://example.invalid/d.qcow2", SHA256: strings.Repeat("ab", 32),
	}})
	require.Nil(t, fetch.Guest)
	require.Equal(t, hvagent.ActionFetchImage, fetch.Job.Action)
	require.Equal(t, hvagent.AgentGuestID, fetch.Job.GuestID)
	var im hvagent.Image
	require.NoError(t, json.Unmarshal(b.complete(t, fetch.Job.ID).Result, &im))
	require.Equal(t, "debian-12", im.ID)
	cfetch := b.do(t, hvagent.ActionFetchImage, "", hvagent.Request{Image: &hvagent.ImageRequest{ID: "nginx", Type: hvagent.ContainerGuestType}})
	require.Equal(t, "containerFetchImage", cfetch.Job.Action)
	b.complete(t, cfetch.Job.ID)

	var images []hvagent.Image
	require.NoError(t, json.Unmarshal(b.do(t, hvagent.ActionListImages, "", hvagent.Request{}).Body, &images))
	require.Len(t, images, 2)
	require.NoError(t, json.Unmarshal(b.do(t, hvagent.ActionListImages, "", hvagent.Request{Image: &hvagent.ImageRequest{Type: hvagent.ContainerGuestType}}).Body, &images))
	require.Len(t, images, 1)
	require.Equal(t, "nginx", images[0].ID)

	require.NoError(t, json.Unmarshal(b.do(t, hvagent.ActionGetImage, "", hvagent.Request{Image: &hvagent.ImageRequest{ID: "nginx"}}).Body, &im))
	require.Equal(t, hvagent.ContainerGuestType, im.Type)
	require.NoError(t, json.Unmarshal(b.do(t, hvagent.ActionGetImage, "", hvagent.Request{Image: &hvagent.ImageRequest{ID: "debian-12", Type: ""}}).Body, &im))
	require.Equal(t, "debian-12", im.ID)

	del := b.do(t, hvagent.ActionDeleteImage, "", hvagent.Request{Image: &hvagent.ImageRequest{ID: "nginx"}})
	require.Equal(t, "containerDeleteImage", del.Job.Action, "the image's type picks the action")
	b.complete(t, del.Job.ID)
	_, err := b.svc.Do(ctx, hvagent.ActionGetImage, "", hvagent.Request{Image: &hvagent.ImageRequest{ID: "nginx"}})
	requireCode(t, hvagent.ENOTFOUND, err)
	_, err = b.svc.Do(ctx, hvagent.ActionDeleteImage, "", hvagent.Request{Image: &hvagent.ImageRequest{ID: "nginx"}})
	requireCode(t, hvagent.ENOTFOUND, err)

	jobs, err := b.svc.Jobs(ctx, hvagent.JobFilter{GuestID: hvagent.AgentGuestID})
	require.NoError(t, err)
	require.Equal(t, []string{"containerDeleteImage", "containerFetchImage", "fetchImage"}, jobActions(jobs))

	for _, ir := range []*hvagent.ImageRequest{nil, {ID: "../etc"}, {ID: "x", Type: "vm"}, {ID: "x", SHA256: "abc"}, {ID: "x", Source: "ftp://h/x"}} {
		_, err = b.svc.Do(ctx, hvagent.ActionFetchImage, "", hvagent.Request{Image: ir})
		requireCode(t, hvagent.EINVALID, err)
	}
	_, err = b.svc.Do(ctx, hvagent.ActionGetImage, "", hvagent.Request{})
	requireCode(t, hvagent.EINVALID, err)
}

func testConsole(t *testing.T, b *bundle) {
	g := b.create(t, nil)
	res := b.do(t, hvagent.ActionConsole, g.ID, hvagent.Request{})
	require.Nil(t, res.Job)
	data, err := io.ReadAll(res.Stream)
	require.NoError(t, err)
	require.NoError(t, res.Stream.Close())
	require.Contains(t, string(data), g.ID)

	// The simulation's console is read-only: an interactive attach is
	// refused with the same code in process and over the wire.
	_, err = b.svc.Do(t.Context(), hvagent.ActionConsole, g.ID, hvagent.Request{Attach: true})
	requireCode(t, hvagent.EINVALID, err)
	require.ErrorContains(t, err, "read-only")
}

func testDryRun(t *testing.T, b *bundle) {
	ctx := t.Context()
	g := b.create(t, nil)
	stage := func(method string) []string { return []string{sim.ConfigService + " Sim." + method} }
	for _, tc := range []struct {
		action, guest string
		req           hvagent.Request
		want          []string
	}{
		{hvagent.ActionStart, g.ID, hvagent.Request{}, stage("Start")},
		{hvagent.ActionDelete, g.ID, hvagent.Request{}, stage("Delete")},
		{hvagent.ActionCreate, "", hvagent.Request{Guest: newGuest()}, stage("CreateGuest")},
		{hvagent.ActionCreateSnapshot, g.ID, hvagent.Request{Snapshot: "s1"}, stage("CreateSnapshot")},
		{hvagent.ActionFetchImage, "", hvagent.Request{Image: &hvagent.ImageRequest{ID: "debian-12"}}, stage("RequestImage")},
	} {
		tc.req.DryRun = true
		res := b.do(t, tc.action, tc.guest, tc.req)
		require.Nil(t, res.Job, tc.action)
		require.Equal(t, tc.action, res.Action)
		var got []string
		for _, st := range res.Pipeline {
			require.Empty(t, st.Args)
			got = append(got, st.Service+" "+st.Method)
		}
		require.Equal(t, tc.want, got, tc.action)
	}
	jobs, err := b.svc.Jobs(ctx, hvagent.JobFilter{})
	require.NoError(t, err)
	require.Len(t, jobs, 1, "a dry run queues nothing")
	guests, err := b.svc.Guests(ctx, hvagent.GuestFilter{})
	require.NoError(t, err)
	require.Len(t, guests, 1, "a dry run creates nothing")

	_, err = b.svc.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{ID: "bad"}, DryRun: true})
	requireCode(t, hvagent.EINVALID, err)
	res := b.do(t, hvagent.ActionCPUMetrics, g.ID, hvagent.Request{DryRun: true})
	require.NotEmpty(t, res.Body, "info actions run")
}

func testIdempotency(t *testing.T, b *bundle) {
	ctx := t.Context()
	g := b.create(t, nil)
	first := b.do(t, hvagent.ActionStart, g.ID, hvagent.Request{IdempotencyKey: "k1"})
	again := b.do(t, hvagent.ActionStart, g.ID, hvagent.Request{IdempotencyKey: "k1"})
	require.Equal(t, first.Job.ID, again.Job.ID)
	require.Equal(t, "k1", again.Job.IdempotencyKey)
	other := b.do(t, hvagent.ActionShutdown, g.ID, hvagent.Request{IdempotencyKey: "k1"})
	require.NotEqual(t, first.Job.ID, other.Job.ID, "a key is scoped to its action")
	b.complete(t, first.Job.ID)
	b.complete(t, other.Job.ID)

	c1 := b.do(t, hvagent.ActionCreate, "", hvagent.Request{Guest: newGuest(), IdempotencyKey: "c1"})
	c2 := b.do(t, hvagent.ActionCreate, "", hvagent.Request{Guest: newGuest(), IdempotencyKey: "c1"})
	require.Equal(t, c1.Job.ID, c2.Job.ID)
	require.Equal(t, c1.Guest.ID, c2.Guest.ID, "a replayed create reports the guest it created")
	b.complete(t, c1.Job.ID)
	bigger := newGuest()
	bigger.Memory = 512
	_, err := b.svc.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: bigger, IdempotencyKey: "c1"})
	requireCode(t, hvagent.ECONFLICT, err)
	c3 := b.do(t, hvagent.ActionCreate, "", hvagent.Request{Guest: newGuest(), IdempotencyKey: "c2"})
	require.NotEqual(t, c1.Job.ID, c3.Job.ID)
	b.complete(t, c3.Job.ID)

	guests, err := b.svc.Guests(ctx, hvagent.GuestFilter{})
	require.NoError(t, err)
	require.Len(t, guests, 3)
	jobs, err := b.svc.Jobs(ctx, hvagent.JobFilter{GuestID: g.ID, Action: hvagent.ActionStart})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
}

// testIdempotencyGuestGone replays keyed requests after their guest was
// deleted: each answers the job its key recorded, not a 404.
func testIdempotencyGuestGone(t *testing.T, b *bundle) {
	ctx := t.Context()
	c := b.do(t, hvagent.ActionCreate, "", hvagent.Request{Guest: newGuest(), IdempotencyKey: "c1"})
	b.complete(t, c.Job.ID)
	g := c.Guest.ID
	start := b.do(t, hvagent.ActionStart, g, hvagent.Request{IdempotencyKey: "s1"})
	b.complete(t, start.Job.ID)
	snap := b.do(t, hvagent.ActionCreateSnapshot, g, hvagent.Request{Snapshot: "a", IdempotencyKey: "n1"})
	b.complete(t, snap.Job.ID)
	del := b.do(t, hvagent.ActionDelete, g, hvagent.Request{IdempotencyKey: "d1"})
	b.complete(t, del.Job.ID)
	_, err := b.svc.Guest(ctx, g)
	requireCode(t, hvagent.ENOTFOUND, err)

	for _, tt := range []struct {
		action string
		req    hvagent.Request
		want   string
	}{
		{hvagent.ActionDelete, hvagent.Request{IdempotencyKey: "d1"}, del.Job.ID},
		{hvagent.ActionStart, hvagent.Request{IdempotencyKey: "s1"}, start.Job.ID},
		{hvagent.ActionCreateSnapshot, hvagent.Request{Snapshot: "a", IdempotencyKey: "n1"}, snap.Job.ID},
	} {
		res := b.do(t, tt.action, g, tt.req)
		require.Equal(t, tt.want, res.Job.ID, tt.action)
		require.Equal(t, g, res.Job.GuestID, tt.action)
		if tt.action != hvagent.ActionCreateSnapshot { // the REST client looks a snapshot job's guest up apart
			require.Equal(t, g, res.Guest.ID, tt.action)
		}
	}
	again := b.do(t, hvagent.ActionCreate, "", hvagent.Request{Guest: newGuest(), IdempotencyKey: "c1"})
	require.Equal(t, c.Job.ID, again.Job.ID)
	require.Equal(t, g, again.Guest.ID, "a replayed create reports the guest it created")

	_, err = b.svc.Do(ctx, hvagent.ActionCreateSnapshot, g, hvagent.Request{Snapshot: "b", IdempotencyKey: "n1"})
	requireCode(t, hvagent.ECONFLICT, err)
	_, err = b.svc.Do(ctx, hvagent.ActionShutdown, g, hvagent.Request{IdempotencyKey: "s1"})
	requireCode(t, hvagent.ENOTFOUND, err)
	_, err = b.svc.Do(ctx, hvagent.ActionStart, g, hvagent.Request{IdempotencyKey: "new"})
	requireCode(t, hvagent.ENOTFOUND, err)
	_, err = b.svc.Do(ctx, hvagent.ActionStart, g, hvagent.Request{})
	requireCode(t, hvagent.ENOTFOUND, err)
}

func testNotFound(t *testing.T, b *bundle) {
	ctx := t.Context()
	nope := uuid.NewString()
	_, err := b.svc.Guest(ctx, nope)
	requireCode(t, hvagent.ENOTFOUND, err)
	_, err = b.svc.GuestMetadata(ctx, nope)
	requireCode(t, hvagent.ENOTFOUND, err)
	_, err = b.svc.Job(ctx, nope)
	requireCode(t, hvagent.ENOTFOUND, err)
	_, err = b.svc.Job(ctx, "not-a-uuid")
	requireCode(t, hvagent.ENOTFOUND, err)
	_, err = b.svc.WaitJob(ctx, nope)
	requireCode(t, hvagent.ENOTFOUND, err)
	_, err = b.svc.CancelJob(ctx, nope)
	requireCode(t, hvagent.ENOTFOUND, err)
	for _, action := range []string{
		hvagent.ActionStart, hvagent.ActionDelete, hvagent.ActionCPUMetrics, hvagent.ActionConsole,
		hvagent.ActionListSnapshots, hvagent.ActionCreateSnapshot,
	} {
		_, err = b.svc.Do(ctx, action, nope, hvagent.Request{})
		require.Equal(t, hvagent.ENOTFOUND, hvagent.ErrorCode(err), "%s: %v", action, err)
	}
	_, err = b.svc.Do(ctx, hvagent.ActionGetImage, "", hvagent.Request{Image: &hvagent.ImageRequest{ID: "nope"}})
	requireCode(t, hvagent.ENOTFOUND, err)
	_, err = b.svc.Guest(ctx, "no-such-guest") // a name no guest has
	requireCode(t, hvagent.ENOTFOUND, err)
	_, err = b.svc.Do(ctx, hvagent.ActionStart, "no-such-guest", hvagent.Request{})
	requireCode(t, hvagent.ENOTFOUND, err)
	for _, bad := range []string{"Not_A_Name", "-web", strings.Repeat("a", 64), "0b0c9d8e5d3a4f0e9a573c1f2b6a7d10"} {
		_, err = b.svc.Guest(ctx, bad)
		requireCode(t, hvagent.EINVALID, err)
		_, err = b.svc.Do(ctx, hvagent.ActionStart, bad, hvagent.Request{})
		requireCode(t, hvagent.EINVALID, err)
	}
	_, err = b.svc.Do(ctx, hvagent.ActionStart, "", hvagent.Request{})
	requireCode(t, hvagent.EINVALID, err)
}
