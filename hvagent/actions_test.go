package hvagent_test

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/internal/agenttest"
)

func TestAgent_Metrics(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	g := env.Create(t, &hvagent.Guest{CPU: 2, Disks: []hvagent.Disk{{Size: 10}}, Nics: []hvagent.Nic{{Name: "eth0", Network: "br0"}}})
	cases := map[string]func(json.RawMessage){
		hvagent.ActionCPUMetrics: func(b json.RawMessage) {
			var cpu []hvagent.GuestCPUMetrics
			require.NoError(t, json.Unmarshal(b, &cpu))
			require.Len(t, cpu, 2)
		},
		hvagent.ActionDiskMetrics: func(b json.RawMessage) {
			var disk map[string]hvagent.GuestDiskMetrics
			require.NoError(t, json.Unmarshal(b, &disk))
			require.Contains(t, disk, "vda")
		},
		hvagent.ActionNicMetrics: func(b json.RawMessage) {
			var nic map[string]hvagent.GuestNicMetrics
			require.NoError(t, json.Unmarshal(b, &nic))
			require.Contains(t, nic, "eth0")
		},
	}
	for action, check := range cases {
		res := env.Do(t, action, g.ID, hvagent.Request{})
		require.Nil(t, res.Job)
		check(res.Body)
	}
	env.Sim.FailNext("Sim.CPUMetrics", "libvirt is down")
	_, err := env.Agent.Do(context.Background(), hvagent.ActionCPUMetrics, g.ID, hvagent.Request{})
	require.Equal(t, hvagent.ESUBAGENT, hvagent.ErrorCode(err))
	require.Contains(t, err.Error(), "libvirt is down")
}

func TestAgent_Snapshots(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	g := env.Create(t, nil)
	ctx := context.Background()
	disk0 := 0

	res := env.Do(t, hvagent.ActionCreateSnapshot, g.ID, hvagent.Request{Snapshot: "s1"})
	j := env.Wait(t, res.Job.ID)
	require.Equal(t, hvagent.JobComplete, j.Status, j.Message)
	var snap hvagent.Snapshot
	require.NoError(t, json.Unmarshal(j.Result, &snap))
	require.Equal(t, "guests/"+g.ID+"@s1", snap.ID)

	list := env.Do(t, hvagent.ActionListSnapshots, g.ID, hvagent.Request{})
	var snaps []hvagent.Snapshot
	require.NoError(t, json.Unmarshal(list.Body, &snaps))
	require.NotEmpty(t, snaps)

	one := env.Do(t, hvagent.ActionGetSnapshot, g.ID, hvagent.Request{Disk: &disk0, Snapshot: "s1"})
	require.NoError(t, json.Unmarshal(one.Body, &snap))
	require.Equal(t, "guests/"+g.ID+"/disk-0@s1", snap.ID)

	dl := env.Do(t, hvagent.ActionDownloadSnapshot, g.ID, hvagent.Request{Disk: &disk0, Snapshot: "s1"})
	data, err := io.ReadAll(dl.Stream)
	require.NoError(t, err)
	require.NoError(t, dl.Stream.Close())
	require.Equal(t, dl.Size, int64(len(data)))
	require.Equal(t, sim.SnapshotBytes(snap.ID, dl.Size), data)

	rb := env.Do(t, hvagent.ActionRollbackSnapshot, g.ID, hvagent.Request{Snapshot: "s1"})
	require.Equal(t, hvagent.JobComplete, env.Wait(t, rb.Job.ID).Status)
	del := env.Do(t, hvagent.ActionDeleteSnapshot, g.ID, hvagent.Request{Snapshot: "s1"})
	require.Equal(t, hvagent.JobComplete, env.Wait(t, del.Job.ID).Status)

	_, err = env.Agent.Do(ctx, hvagent.ActionGetSnapshot, g.ID, hvagent.Request{Snapshot: "s1"})
	require.Equal(t, hvagent.ENOTFOUND, hvagent.ErrorCode(err), "%v", err)
	_, err = env.Agent.Do(ctx, hvagent.ActionDownloadSnapshot, g.ID, hvagent.Request{Snapshot: "gone"})
	require.Equal(t, hvagent.ENOTFOUND, hvagent.ErrorCode(err), "%v", err)
	require.EqualError(t, err, "snapshot guests/"+g.ID+"@gone not found", "the message names the snapshot")
	_, err = env.Agent.Do(ctx, hvagent.ActionCreateSnapshot, g.ID, hvagent.Request{Snapshot: "bad name!"})
	require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
	bad := 7
	_, err = env.Agent.Do(ctx, hvagent.ActionListSnapshots, g.ID, hvagent.Request{Disk: &bad})
	require.Equal(t, hvagent.ENOTFOUND, hvagent.ErrorCode(err))
}

func TestAgent_Console(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	g := env.Create(t, nil)
	res := env.Do(t, hvagent.ActionConsole, g.ID, hvagent.Request{})
	data, err := io.ReadAll(res.Stream)
	require.NoError(t, err)
	require.NoError(t, res.Stream.Close())
	require.Contains(t, string(data), g.ID)
}

func TestAgent_Images(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	fetch := env.Do(t, hvagent.ActionFetchImage, "", hvagent.Request{Image: &hvagent.ImageRequest{ID: "debian-12", Source: "https://example.invalid/d.qcow2"}})
	require.Equal(t, hvagent.AgentGuestID, fetch.Job.GuestID)
	j := env.Wait(t, fetch.Job.ID)
	require.Equal(t, hvagent.JobComplete, j.Status, j.Message)
	var im hvagent.Image
	require.NoError(t, json.Unmarshal(j.Result, &im))
	require.Equal(t, "debian-12", im.ID)
	cfetch := env.Do(t, hvagent.ActionFetchImage, "", hvagent.Request{Image: &hvagent.ImageRequest{ID: "nginx", Type: "container"}})
	require.Equal(t, "containerFetchImage", cfetch.Job.Action)
	require.Equal(t, hvagent.JobComplete, env.Wait(t, cfetch.Job.ID).Status)

	var images []hvagent.Image
	require.NoError(t, json.Unmarshal(env.Do(t, hvagent.ActionListImages, "", hvagent.Request{}).Body, &images))
	require.Len(t, images, 2)
	require.NoError(t, json.Unmarshal(env.Do(t, hvagent.ActionListImages, "", hvagent.Request{Image: &hvagent.ImageRequest{Type: "container"}}).Body, &images))
	require.Len(t, images, 1)

	got := env.Do(t, hvagent.ActionGetImage, "", hvagent.Request{Image: &hvagent.ImageRequest{ID: "nginx"}})
	require.NoError(t, json.Unmarshal(got.Body, &im))
	require.Equal(t, "container", im.Type)

	del := env.Do(t, hvagent.ActionDeleteImage, "", hvagent.Request{Image: &hvagent.ImageRequest{ID: "nginx"}})
	require.Equal(t, "containerDeleteImage", del.Job.Action)
	require.Equal(t, hvagent.JobComplete, env.Wait(t, del.Job.ID).Status)

	_, err := env.Agent.Do(ctx, hvagent.ActionGetImage, "", hvagent.Request{Image: &hvagent.ImageRequest{ID: "nginx"}})
	require.Equal(t, hvagent.ENOTFOUND, hvagent.ErrorCode(err))
	for _, ir := range []*hvagent.ImageRequest{nil, {ID: "../etc"}, {ID: "x", Type: "vm"}, {ID: "x", SHA256: "abc"}, {ID: "x", Source: "ftp://h/x"}} {
		_, err = env.Agent.Do(ctx, hvagent.ActionFetchImage, "", hvagent.Request{Image: ir})
		require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err), "%+v", ir)
	}
}
