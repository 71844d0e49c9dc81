package hvagent_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/internal/agenttest"
)

func TestAgent_CreateRefusesBadGuest(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	env.FetchImage(t, "", "debian-12")
	env.FetchImage(t, "", "alpine")
	env.FetchImage(t, hvagent.ContainerGuestType, "nginx")
	disk := []hvagent.Disk{{Size: 64}}
	rows := map[string]struct {
		g   *hvagent.Guest
		msg string
	}{
		"NameAgent": {&hvagent.Guest{Name: hvagent.AgentGuestID, Disks: disk},
			`name "agent" is reserved: it names the host's image jobs`},
		"Type": {&hvagent.Guest{Type: "lxc", Disks: disk},
			`type "lxc": must be vm or container ("", kvm and qemu also mean vm)`},
		"NicModel": {&hvagent.Guest{Disks: disk, Nics: []hvagent.Nic{{Network: "br0", Model: "virtio-net"}}},
			`nics[0].model "virtio-net": must be one of virtio, e1000, rtl8139 (or empty for virtio)`},
		"MACFormat": {&hvagent.Guest{Disks: disk, Nics: []hvagent.Nic{{}, {MAC: "52:54:00:12:34"}}},
			`nics[1].mac "52:54:00:12:34": must be six hex pairs separated by colons, such as 52:54:00:12:34:56 (or empty for one derived from the guest ID)`},
		"MACDashes": {&hvagent.Guest{Disks: disk, Nics: []hvagent.Nic{{MAC: "52-54-00-12-34-56"}}},
			`nics[0].mac "52-54-00-12-34-56": must be six hex pairs separated by colons`},
		"MACMulticast": {&hvagent.Guest{Disks: disk, Nics: []hvagent.Nic{{MAC: "01:00:5e:00:00:01"}}},
			`nics[0].mac "01:00:5e:00:00:01": is a multicast address: the first byte must be even (such as 52:54:00:12:34:56)`},
		"MACZero": {&hvagent.Guest{Disks: disk, Nics: []hvagent.Nic{{MAC: "00:00:00:00:00:00"}}},
			`nics[0].mac "00:00:00:00:00:00": must not be all zeros`},
		"MACTwice": {&hvagent.Guest{Disks: disk, Nics: []hvagent.Nic{{MAC: "52:54:00:aa:bb:cc"}, {MAC: "52:54:00:AA:BB:CC"}}},
			`nics[1].mac "52:54:00:AA:BB:CC": the same as nics[0].mac; each NIC needs its own`},
		"DiskBus": {&hvagent.Guest{Disks: []hvagent.Disk{{Size: 64}, {Size: 1, Bus: "sata"}}},
			`disks[1].bus "sata": must be one of virtio, scsi, ide (or empty for virtio)`},
		"DiskNoSize": {&hvagent.Guest{Disks: []hvagent.Disk{{Bus: "virtio"}}},
			`disks[0]: needs an image or a size (MB)`},
		"DiskImageID": {&hvagent.Guest{Disks: []hvagent.Disk{{Image: "../etc/passwd"}}},
			`disks[0].image "../etc/passwd": must be 1-255 letters, digits and . _ : -, starting with a letter or digit`},
		"TooManyCPUs": {&hvagent.Guest{CPU: 9, Disks: disk},
			`cpu 9: must be from 1 to 8 (the host's CPUs), or 0 for the driver's default`},
		"TooMuchMemory": {&hvagent.Guest{Memory: 32<<10 + 1, Disks: disk},
			`memory 32769 MB: must be from 16 to 32768 MB (the host's memory), or 0 for the driver's default`},
		"TooLittleMemory": {&hvagent.Guest{Memory: 15, Disks: disk},
			`memory 15 MB: must be from 16 to 32768 MB`},
		"ContainerNoImage": {&hvagent.Guest{Type: hvagent.ContainerGuestType},
			`image: a container needs an image (a container image ID)`},
		"MetadataEmptyKey": {&hvagent.Guest{Disks: disk, Metadata: map[string]string{"": "x"}},
			`metadata: keys must not be empty`},
		"KernelPath": {&hvagent.Guest{Disks: disk, Boot: &hvagent.Boot{Kernel: "/etc/shadow"}},
			`boot.kernel "/etc/shadow": must be an absolute path under an allowed directory (` + env.Dir + `/images)`},
		"NoSuchImage": {&hvagent.Guest{Disks: []hvagent.Disk{{Image: "debian-13"}, {Image: "debian-12"}}},
			`invalid guest: disks[0].image "debian-13": no such image (have: alpine, debian-12)`},
		"NoSuchContainerImage": {&hvagent.Guest{Type: hvagent.ContainerGuestType, Image: "redis"},
			`invalid guest: image "redis": no such container image (have: nginx)`},
		"Several": {&hvagent.Guest{Type: "lxc", CPU: 9},
			`invalid guest: type "lxc": must be vm or container ("", kvm and qemu also mean vm); cpu 9: must be from 1 to 8`},
	}
	t.Run("Rows", func(t *testing.T) {
		for name, tc := range rows {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				_, err := env.Agent.Do(t.Context(), hvagent.ActionCreate, "", hvagent.Request{Guest: tc.g})
				require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err), "%v", err)
				require.True(t, strings.HasPrefix(err.Error(), "invalid guest: "), err.Error())
				require.Contains(t, err.Error(), tc.msg)
			})
		}
	})
	guests, err := env.Agent.Guests(context.Background(), hvagent.GuestFilter{})
	require.NoError(t, err)
	require.Empty(t, guests, "nothing refused is stored")
}

func TestAgent_CreateAcceptsGoodGuest(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	env.FetchImage(t, "", "debian-12")
	for name, g := range map[string]*hvagent.Guest{
		"Defaults":  {Disks: []hvagent.Disk{{Size: 64}}},
		"Bounds":    {Type: hvagent.VMGuestType, CPU: 8, Memory: 32 << 10, Disks: []hvagent.Disk{{Size: 1}}},
		"LeastMem":  {Memory: hvagent.MinGuestMemoryMB, CPU: 1, Disks: []hvagent.Disk{{Size: 1}}},
		"OldKVM":    {Type: "kvm", Disks: []hvagent.Disk{{Image: "debian-12", Bus: "scsi"}, {Size: 1, Bus: "ide"}}},
		"OldQEMU":   {Type: "qemu", Disks: []hvagent.Disk{{Image: "debian-12"}, {Image: "debian-12"}}},
		"EveryNic":  {Nics: []hvagent.Nic{{Model: "virtio", MAC: "52:54:00:12:34:56"}, {Model: "e1000", MAC: "02:00:00:00:00:01"}, {Model: "rtl8139"}, {}}},
		"UpperMAC":  {Nics: []hvagent.Nic{{MAC: "52:54:00:AB:CD:EF"}}},
		"AllModels": {Nics: nicsOf(hvagent.NICModels())},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := env.Create(t, g)
			require.Equal(t, g.Type, got.Type, "the type is kept as given")
		})
	}
}

func nicsOf(models []string) []hvagent.Nic {
	nics := make([]hvagent.Nic, len(models))
	for i, m := range models {
		nics[i].Model = m
	}
	return nics
}

// A host with no getImage action cannot tell which images it has: the
// create is queued and its job finds out.
func TestAgent_CreateImageUncheckedWithoutGetImage(t *testing.T) {
	t.Parallel()
	cfg := sim.Config()
	delete(cfg.Actions, hvagent.ActionGetImage)
	env := agenttest.New(t, agenttest.Opts{Config: cfg})
	g := env.Create(t, &hvagent.Guest{Disks: []hvagent.Disk{{Image: "never-fetched"}}})
	require.Equal(t, "never-fetched", g.Disks[0].Image)
}

// Without listImages the error still names the missing image, without a list.
func TestAgent_CreateNoSuchImageWithoutList(t *testing.T) {
	t.Parallel()
	cfg := sim.Config()
	delete(cfg.Actions, hvagent.ActionListImages)
	env := agenttest.New(t, agenttest.Opts{Config: cfg})
	_, err := env.Agent.Do(t.Context(), hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Disks: []hvagent.Disk{{Image: "x"}}}})
	require.EqualError(t, err, `invalid guest: disks[0].image "x": no such image`)
	require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
}

func TestAgent_CreateHostDetected(t *testing.T) {
	t.Parallel()
	cfg := sim.Config()
	cfg.Host = hvagent.HostResources{CPUs: 2, MemoryMB: 1024}
	env := agenttest.New(t, agenttest.Opts{Config: cfg})
	_, err := env.Agent.Do(t.Context(), hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{CPU: 3, Memory: 2048}})
	require.EqualError(t, err, "invalid guest: cpu 3: must be from 1 to 2 (the host's CPUs), or 0 for the driver's default; "+
		"memory 2048 MB: must be from 16 to 1024 MB (the host's memory), or 0 for the driver's default")
}

func TestAgent_SnapshotNames(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	g := env.Create(t, nil)
	rule := "must be 1-128 letters, digits and _ - : ., not all digits (qcow2 takes those for snapshot IDs), not . or .. (a URL path cannot carry them)"
	for _, name := range []string{"bad name", "12345", "a/b", "é", ".", "..", strings.Repeat("a", 129)} {
		for _, action := range []string{hvagent.ActionCreateSnapshot, hvagent.ActionGetSnapshot, hvagent.ActionDeleteSnapshot,
			hvagent.ActionRollbackSnapshot, hvagent.ActionDownloadSnapshot} {
			_, err := env.Agent.Do(t.Context(), action, g.ID, hvagent.Request{Snapshot: name})
			require.EqualError(t, err, `snapshot name "`+name+`": `+rule, action)
			require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
		}
	}
	for _, name := range []string{"s1", "2026-11-30T12:00", "v1.2_rc-3", "0x1", "...", ".a", strings.Repeat("a", 128)} {
		require.NoError(t, hvagent.CheckSnapshotName(name), name)
	}
	job := env.Wait(t, env.Do(t, hvagent.ActionCreateSnapshot, g.ID, hvagent.Request{Snapshot: "v1.2_rc-3"}).Job.ID)
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
}
