package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestGuestCreate_Flags(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var got *GuestCreateOptions
		require.NoError(t, parse(newCmdGuestCreate(b.f, capture(&got)),
			"--id", "0B0C9D8E-5D3A-4F0E-9A57-3C1F2B6A7D10", "--memory", "2G", "--cpu", "2",
			"--disk", "image=debian-12,bus=virtio", "--disk", "size=512",
			"--nic", "network=br0,mac=52:54:00:00:00:01,model=virtio", "--nic", "network=br1",
			"--kernel", "/img/vmlinuz", "--initrd", "/img/initrd", "--cmdline", "console=ttyS0 quiet",
			"--metadata", "owner=ops", "--metadata", "empty=", "--autostart", "--wait"))
		require.Equal(t, &hvagent.Guest{
			ID: guestID, Memory: 2048, CPU: 2, Autostart: true,
			Disks: []hvagent.Disk{{Image: "debian-12", Bus: "virtio"}, {Size: 512}},
			Nics: []hvagent.Nic{
				{Network: "br0", MAC: "52:54:00:00:00:01", Model: "virtio"},
				{Network: "br1"},
			},
			Boot:     &hvagent.Boot{Kernel: "/img/vmlinuz", Initrd: "/img/initrd", Cmdline: "console=ttyS0 quiet"},
			Metadata: map[string]string{"owner": "ops", "empty": ""},
		}, got.Guest)
		require.True(t, got.Async.Wait)
	})
	t.Run("Container", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var got *GuestCreateOptions
		require.NoError(t, parse(newCmdGuestCreate(b.f, capture(&got)), "--type", "container", "--image", "nginx:1.27"))
		require.Equal(t, &hvagent.Guest{Type: "container", Image: "nginx:1.27"}, got.Guest)
	})
	t.Run("File", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		path := filepath.Join(t.TempDir(), "guest.json")
		require.NoError(t, os.WriteFile(path, []byte(`{"memory":512,"disks":[{"size":1024}],"boot":{"kernel":"/k"}}`), 0o600))
		var got *GuestCreateOptions
		require.NoError(t, parse(newCmdGuestCreate(b.f, capture(&got)), "-f", path))
		require.Equal(t, &hvagent.Guest{Memory: 512, Disks: []hvagent.Disk{{Size: 1024}}, Boot: &hvagent.Boot{Kernel: "/k"}}, got.Guest)
	})
	t.Run("Stdin", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.in.WriteString(`{"id":"` + guestID + `","cpu":4}`)
		var got *GuestCreateOptions
		require.NoError(t, parse(newCmdGuestCreate(b.f, capture(&got)), "-f", "-"))
		require.Equal(t, &hvagent.Guest{ID: guestID, CPU: 4}, got.Guest)
	})
}

func TestGuestCreate_FlagErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, msg string
		args      []string
		stdin     string
	}{
		{"DiskNotPair", "--disk", []string{"--disk", "debian"}, ""},
		{"DiskUnknownKey", `--disk: "img=x": unknown key "img"`, []string{"--disk", "img=x"}, ""},
		{"DiskBoth", "give image=ID or size=SIZE", []string{"--disk", "image=x,size=1"}, ""},
		{"DiskNeither", "give image=ID or size=SIZE", []string{"--disk", "bus=virtio"}, ""},
		{"DiskBadSize", `--disk: "size=lots": size`, []string{"--disk", "size=lots"}, ""},
		{"DiskDuplicate", "given twice", []string{"--disk", "size=1,size=2"}, ""},
		{"NicNoNetwork", "--nic", []string{"--nic", "mac=x"}, ""},
		{"BadMemory", "--memory", []string{"--memory", "1.5G"}, ""},
		{"BadCPU", "invalid argument", []string{"--cpu", "-2"}, ""},
		{"BadID", `--id: "42" is not a UUID`, []string{"--id", "42"}, ""},
		{"ImageWithoutContainer", "--image: is for containers", []string{"--image", "nginx"}, ""},
		{"ContainerWithoutImage", "--image: a container needs an image", []string{"--type", "container"}, ""},
		{"InitrdWithoutKernel", "--kernel", []string{"--initrd", "/i"}, ""},
		{"BadMetadata", "--metadata", []string{"--metadata", "=v"}, ""},
		{"FileAndFlags", "-f cannot be combined with --cpu", []string{"-f", "-", "--cpu", "1"}, "{}"},
		{"FileUnknownField", "--file: -: not a guest", []string{"-f", "-"}, `{"memroy":1}`},
		{"FileMissing", "--file", []string{"-f", "/nonexistent/guest.json"}, ""},
		{"FileTwoValues", "more than one JSON value", []string{"-f", "-"}, "{} {}"},
		{"FileNull", "--file: -: not a guest: expected a JSON object, got null", []string{"-f", "-"}, " null\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.in.WriteString(tc.stdin)
			var got *GuestCreateOptions
			requireUsage(t, parse(newCmdGuestCreate(b.f, capture(&got)), tc.args...), tc.msg)
			require.Nil(t, got, "runF is not called")
		})
	}
}

func TestParseMB(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]uint64{"0": 0, "512": 512, "512M": 512, "512mb": 512, "2G": 2048, "2GiB": 2048, "1T": 1 << 20} {
		got, err := parseMB(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "-1", "1.5G", "G", "12K"} {
		_, err := parseMB(in)
		require.EqualError(t, err, fmt.Sprintf("%q is not a size such as 512, 512M or 2G", in))
	}
	for _, in := range []string{"99999999999999999999", "18014398509481984T"} {
		_, err := parseMB(in)
		require.EqualError(t, err, fmt.Sprintf("%q is too large", in))
	}
}

func TestGuestCreate_Run(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var calls []doCall
	job := newJob("create", hvagent.JobQueued)
	b.acceptJob(job, &calls)
	b.finishWith(job, hvagent.JobComplete, "")
	g := &hvagent.Guest{Memory: 256, Disks: []hvagent.Disk{{Size: 1024}}}
	opts := &GuestCreateOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable, Quiet: true},
		Async: asyncOptions{Wait: true, Timeout: defaultWaitTimeout}, Guest: g}
	require.NoError(t, guestCreateRun(opts))
	require.Equal(t, []doCall{{action: hvagent.ActionCreate, req: hvagent.Request{Guest: g}}}, calls)
	require.Equal(t, guestID+"\n", b.out.String(), "-q prints the new guest's ID")
}
