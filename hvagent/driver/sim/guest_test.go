package sim_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/subagent"
)

func TestDriver_StateRules(t *testing.T) {
	t.Parallel()
	notRunning := func(state string) string { return "guest " + guestID + " is not running (state " + state + ")" }
	tests := []struct {
		method, from, want, wantErr string
	}{
		{method: "Start", from: "shutoff", want: "running"},
		{method: "Start", from: "crashed", want: "running"},
		{method: "Start", from: "paused", want: "running"},
		{method: "Start", from: "running", want: "running"},
		{method: "Start", from: "create", want: "running"},
		{method: "Shutdown", from: "running", want: "shutoff"},
		{method: "Shutdown", from: "paused", wantErr: notRunning("paused")},
		{method: "Shutdown", from: "shutoff", want: "shutoff"},
		{method: "Shutdown", from: "crashed", want: "shutoff"},
		{method: "Poweroff", from: "running", want: "shutoff"},
		{method: "Poweroff", from: "shutoff", want: "shutoff"},
		{method: "Reboot", from: "running", want: "running"},
		{method: "Reboot", from: "shutoff", wantErr: notRunning("shutoff")},
		{method: "Reboot", from: "paused", wantErr: notRunning("paused")},
		{method: "Restart", from: "running", want: "running"},
		{method: "Restart", from: "paused", want: "paused"},
		{method: "Poweroff", from: "paused", want: "shutoff"},
		{method: "Restart", from: "shutoff", wantErr: notRunning("shutoff")},
		{method: "Restart", from: "", wantErr: notRunning("shutoff")},
		{method: "Suspend", from: "running", want: "paused"},
		{method: "Suspend", from: "paused", want: "paused"},
		{method: "Suspend", from: "shutoff", wantErr: notRunning("shutoff")},
		{method: "Suspend", from: "crashed", wantErr: notRunning("crashed")},
		{method: "Resume", from: "paused", want: "running"},
		{method: "Resume", from: "running", want: "running"},
		{method: "Resume", from: "shutoff", wantErr: "guest " + guestID + " is not paused (state shutoff)"},
	}
	for _, tt := range tests {
		t.Run(tt.method+"From_"+tt.from, func(t *testing.T) {
			t.Parallel()
			b := setup(t, sim.Options{})
			in := &subagent.Guest{ID: guestID, State: tt.from, Metadata: map[string]string{"k": "v"}}
			got, err := guestCall(t, b, "Sim."+tt.method, in)
			stored, ok := b.driver.Guest(guestID)
			require.True(t, ok, "the guest is adopted")
			if tt.wantErr != "" {
				require.Equal(t, tt.wantErr, methodError(t, err))
				require.Equal(t, subagent.CodeConflict, subagent.ErrorCode(err), "a wrong state is a conflict")
				want := tt.from
				if want == "" {
					want = sim.StateShutoff
				}
				require.Equal(t, want, stored.State, "a failed action leaves the state")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got.State)
			require.Equal(t, tt.want, stored.State)
			require.Equal(t, guestID, got.ID)
			require.Equal(t, map[string]string{"k": "v"}, got.Metadata)
		})
	}
}

func TestDriver_CreateGuest(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sim.Options{})
		in := &subagent.Guest{
			ID: guestID, State: "create", Metadata: map[string]string{"owner": "me"},
			Disks: []subagent.Disk{{Image: "img-1"}, {Size: 10, Bus: "scsi"}},
			Nics:  []subagent.Nic{{Network: "br0", MAC: "02:00:00:00:00:01"}},
		}
		got, err := guestCall(t, b, "Sim.CreateGuest", in)
		require.NoError(t, err)
		require.Equal(t, &subagent.Guest{
			ID: guestID, State: sim.StateShutoff, Memory: 512, CPU: 1, Metadata: map[string]string{"owner": "me"},
			Disks: []subagent.Disk{
				{Image: "img-1", Device: "vda", Bus: "virtio", Source: "sim://" + guestID + "/disk-0"},
				{Size: 10, Device: "vdb", Bus: "scsi", Source: "sim://" + guestID + "/disk-1"},
			},
			Nics: []subagent.Nic{{Network: "br0", MAC: "02:00:00:00:00:01"}},
		}, got)
		stored, ok := b.driver.Guest(guestID)
		require.True(t, ok)
		require.Equal(t, *got, stored)
	})

	t.Run("KeepsMemoryCPUAndType", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sim.Options{})
		got, err := guestCall(t, b, "Sim.CreateGuest", &subagent.Guest{ID: guestID, Type: "container", Image: "busybox", Memory: 64, CPU: 4})
		require.NoError(t, err)
		require.Equal(t, &subagent.Guest{ID: guestID, Type: "container", Image: "busybox", Memory: 64, CPU: 4, State: "shutoff"}, got)
	})

	t.Run("Idempotent", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sim.Options{})
		in := &subagent.Guest{ID: guestID, Disks: []subagent.Disk{{Size: 1}}}
		first, err := guestCall(t, b, "Sim.CreateGuest", in)
		require.NoError(t, err)
		again, err := guestCall(t, b, "Sim.CreateGuest", in)
		require.NoError(t, err)
		require.Equal(t, first, again)

		_, err = guestCall(t, b, "Sim.Start", first)
		require.NoError(t, err)
		again, err = guestCall(t, b, "Sim.CreateGuest", in)
		require.NoError(t, err)
		require.Equal(t, sim.StateRunning, again.State, "a repeated create keeps the guest's state")
	})

	t.Run("ErrDiskWithoutImageOrSize", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sim.Options{})
		_, err := guestCall(t, b, "Sim.CreateGuest", &subagent.Guest{ID: guestID, Disks: []subagent.Disk{{Size: 1}, {Bus: "virtio"}}})
		require.Equal(t, "disk 1 needs an image or a size", methodError(t, err))
		_, ok := b.driver.Guest(guestID)
		require.False(t, ok)
	})

	t.Run("ErrTooManyDisks", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sim.Options{})
		_, err := guestCall(t, b, "Sim.CreateGuest", &subagent.Guest{ID: guestID, Disks: make([]subagent.Disk, 27)})
		require.Contains(t, methodError(t, err), "at most 26")
	})
}

func TestDriver_Delete(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	g := &subagent.Guest{ID: guestID, Disks: []subagent.Disk{{Size: 1}}}
	_, err := guestCall(t, b, "Sim.CreateGuest", g)
	require.NoError(t, err)
	_, err = call[subagent.SnapshotResponse](t, b, "Sim.CreateSnapshot",
		&subagent.SnapshotRequest{ID: "guests/" + guestID, Dest: "s1", Recursive: true})
	require.NoError(t, err)

	got, err := guestCall(t, b, "Sim.Delete", g)
	require.NoError(t, err)
	require.Equal(t, guestID, got.ID)
	_, ok := b.driver.Guest(guestID)
	require.False(t, ok)
	list, err := call[subagent.SnapshotResponse](t, b, "Sim.ListSnapshots", &subagent.SnapshotRequest{ID: "guests/" + guestID, Recursive: true})
	require.NoError(t, err)
	require.Empty(t, list.Snapshots, "the guest's snapshots go with it")

	_, err = guestCall(t, b, "Sim.Delete", g)
	require.NoError(t, err, "deleting an unknown guest succeeds")
	_, ok = b.driver.Guest(guestID)
	require.False(t, ok, "delete does not adopt")
}

func TestDriver_Adoption(t *testing.T) {
	t.Parallel()

	t.Run("AfterRestart", func(t *testing.T) {
		t.Parallel()
		before := setup(t, sim.Options{})
		g, err := guestCall(t, before, "Sim.CreateGuest", &subagent.Guest{ID: guestID, Disks: []subagent.Disk{{Size: 1}}})
		require.NoError(t, err)
		g, err = guestCall(t, before, "Sim.Start", g)
		require.NoError(t, err)

		// A fresh simulation gets the guest as the agent persisted it.
		after := setup(t, sim.Options{})
		got, err := guestCall(t, after, "Sim.Reboot", g)
		require.NoError(t, err, "the adopted guest is running")
		require.Equal(t, g, got)
		got, err = guestCall(t, after, "Sim.Shutdown", g)
		require.NoError(t, err)
		require.Equal(t, sim.StateShutoff, got.State)
	})

	t.Run("KnownGuestKeepsItsState", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sim.Options{})
		_, err := guestCall(t, b, "Sim.Start", &subagent.Guest{ID: guestID, State: "shutoff"})
		require.NoError(t, err)
		// A stale state in the request does not override the simulation's,
		// but other fields follow the request.
		got, err := guestCall(t, b, "Sim.Reboot", &subagent.Guest{ID: guestID, State: "shutoff", Memory: 2048})
		require.NoError(t, err)
		require.Equal(t, &subagent.Guest{ID: guestID, State: "running", Memory: 2048}, got)
	})
}

func TestDriver_Metrics(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	g, err := guestCall(t, b, "Sim.CreateGuest", &subagent.Guest{
		ID: guestID, CPU: 2,
		Disks: []subagent.Disk{{Size: 1}, {Image: "img"}},
		Nics:  []subagent.Nic{{Network: "br0"}, {Name: "uplink", Network: "br1"}},
	})
	require.NoError(t, err)
	metrics := func(method, typ string) *subagent.GuestMetricsResponse {
		t.Helper()
		resp, err := call[subagent.GuestMetricsResponse](t, b, method, &subagent.GuestMetricsRequest{Guest: g, Type: typ})
		require.NoError(t, err)
		require.Equal(t, typ, resp.Type)
		require.Equal(t, guestID, resp.Guest.ID)
		return resp
	}

	cpu := metrics("Sim.CPUMetrics", "cpu")
	require.Len(t, cpu.CPU, 2, "one entry per vCPU")
	require.Zero(t, cpu.CPU[0].CPUTime, "a stopped guest uses no CPU")

	_, err = guestCall(t, b, "Sim.Start", g)
	require.NoError(t, err)
	b.clock.Advance(10 * time.Second)
	cpu = metrics("Sim.CPUMetrics", "cpu")
	require.Positive(t, cpu.CPU[0].CPUTime)
	require.Positive(t, cpu.CPU[1].VCPUTime)
	_, err = guestCall(t, b, "Sim.Shutdown", g)
	require.NoError(t, err)
	b.clock.Advance(time.Hour)
	stopped := metrics("Sim.CPUMetrics", "cpu")
	require.Equal(t, cpu.CPU, stopped.CPU, "CPU time stops with the guest")

	disk := metrics("Sim.DiskMetrics", "disk")
	require.Len(t, disk.Disk, 2)
	require.Equal(t, "vda", disk.Disk["vda"].Disk)
	require.Positive(t, disk.Disk["vdb"].ReadOps)

	nic := metrics("Sim.NicMetrics", "nic")
	require.Len(t, nic.Nic, 2)
	require.Equal(t, "net0", nic.Nic["net0"].Name)
	require.Positive(t, nic.Nic["uplink"].RxBytes)
}
