package qemu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
)

const testID = "6f3c1a52-8d0e-4c1b-9f7a-2b1d3e4f5a60"

func TestDriver_CreateGuest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	disk := filepath.Join(b.dataDir, "guests", testID, "disk0.qcow2")
	require.NoError(t, os.MkdirAll(filepath.Dir(disk), 0o700))
	require.NoError(t, os.WriteFile(disk, nil, 0o600))
	kernel := filepath.Join(layout.ImagesDir(b.dataDir), "vmlinuz")
	require.NoError(t, os.MkdirAll(filepath.Dir(kernel), 0o700))
	require.NoError(t, os.WriteFile(kernel, nil, 0o600))
	outside := filepath.Join(t.TempDir(), "disk.qcow2")
	require.NoError(t, os.WriteFile(outside, nil, 0o600))
	link := filepath.Join(b.dataDir, "guests", testID, "link.qcow2")
	require.NoError(t, os.Symlink(outside, link))

	t.Run("OK", func(t *testing.T) {
		g, err := b.driver.CreateGuest(ctx(t), &subagent.Guest{
			ID:    testID,
			Disks: []subagent.Disk{{Source: disk}, {Bus: "scsi"}, {Bus: "ide"}},
			Nics:  []subagent.Nic{{}, {Network: "br0", Model: "e1000", MAC: "52:54:00:00:00:01"}},
			Boot:  &subagent.Boot{Kernel: kernel, Cmdline: "console=ttyS0"},
		})
		require.NoError(t, err)
		require.Equal(t, StateShutoff, g.State)
		require.Equal(t, uint(DefaultMemory), g.Memory)
		require.Equal(t, uint(DefaultCPU), g.CPU)
		require.Equal(t, []string{"vda", "sdb", "hdc"}, []string{g.Disks[0].Device, g.Disks[1].Device, g.Disks[2].Device})
		require.Equal(t, "virtio", g.Disks[0].Bus)
		require.Equal(t, "net0", g.Nics[0].Name)
		require.Equal(t, "virtio", g.Nics[0].Model)
		require.Equal(t, guestMAC(testID, 0), g.Nics[0].MAC)
		require.Regexp(t, `^52:54:00(:[0-9a-f]{2}){3}$`, g.Nics[0].MAC)
		require.Empty(t, g.Nics[0].Device, "user-mode networking has no tap")
		require.Equal(t, tapName(testID, 1), g.Nics[1].Device)
		require.LessOrEqual(t, len(g.Nics[1].Device), 15)
	})

	bad := []struct {
		name  string
		guest *subagent.Guest
		err   error
		text  string
	}{
		{"NoGuest", nil, ErrInvalidGuest, "the request has no guest"},
		{"UppercaseID", &subagent.Guest{ID: strings.ToUpper(testID)}, ErrInvalidGuest, "not a lowercase UUID"},
		{"PathID", &subagent.Guest{ID: "../../etc"}, ErrInvalidGuest, "not a lowercase UUID"},
		{"Memory", &subagent.Guest{ID: testID, Memory: 8}, ErrInvalidGuest, "memory 8 MB"},
		{"CPU", &subagent.Guest{ID: testID, CPU: 1000}, ErrInvalidGuest, "cpu 1000"},
		{"Bus", &subagent.Guest{ID: testID, Disks: []subagent.Disk{{Bus: "floppy"}}}, ErrInvalidGuest, `bus "floppy"`},
		{"Model", &subagent.Guest{ID: testID, Nics: []subagent.Nic{{Model: "ne2k"}}}, ErrInvalidGuest, `model "ne2k"`},
		{"MAC", &subagent.Guest{ID: testID, Nics: []subagent.Nic{{MAC: "nope"}}}, ErrInvalidGuest, `mac "nope"`},
		{"Bridge", &subagent.Guest{ID: testID, Nics: []subagent.Nic{{Network: "a bridge;rm"}}}, ErrInvalidGuest, "not a bridge name"},
		{"DiskOutside", &subagent.Guest{ID: testID, Disks: []subagent.Disk{{Source: outside}}}, ErrPathNotAllowed, "must be under the data dir"},
		{"DiskSymlinkOutside", &subagent.Guest{ID: testID, Disks: []subagent.Disk{{Source: link}}}, ErrPathNotAllowed, "must be under the data dir"},
		{"DiskRelative", &subagent.Guest{ID: testID, Disks: []subagent.Disk{{Source: "disk0.qcow2"}}}, ErrPathNotAllowed, "not an absolute path"},
		{"DiskMissing", &subagent.Guest{ID: testID, Disks: []subagent.Disk{{Source: disk + ".gone"}}}, ErrNotFound, "no such file"},
		{"KernelOutside", &subagent.Guest{ID: testID, Boot: &subagent.Boot{Kernel: outside}}, ErrPathNotAllowed, "boot kernel"},
		{"InitrdWithoutKernel", &subagent.Guest{ID: testID, Boot: &subagent.Boot{Initrd: kernel}}, ErrInvalidGuest, "need a kernel"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.driver.CreateGuest(ctx(t), tc.guest)
			require.ErrorIs(t, err, tc.err)
			require.ErrorContains(t, err, tc.text)
		})
	}

	t.Run("StartWithoutDiskSource", func(t *testing.T) {
		_, err := b.driver.Start(ctx(t), &subagent.Guest{ID: testID, Memory: 32, Disks: []subagent.Disk{{Size: 10}}})
		require.ErrorIs(t, err, ErrInvalidGuest)
		require.ErrorContains(t, err, "disk 0 has no source")
	})
}

func TestDriver_CommandLine(t *testing.T) {
	t.Parallel()
	d := &Driver{opts: Options{Accel: "tcg"}}
	g := &subagent.Guest{
		ID: testID, Memory: 64, CPU: 2,
		Disks: []subagent.Disk{{Bus: "virtio", Source: "/d/a,b.qcow2"}, {Bus: "scsi", Source: "/d/b.qcow2"}},
		Nics:  []subagent.Nic{{Model: "virtio", MAC: "52:54:00:00:00:01"}, {Network: "br0", Model: "e1000", MAC: "52:54:00:00:00:02", Device: "hvtap1"}},
	}
	args := strings.Join(d.commandLine(g, "/run/x"), " ")
	for _, want := range []string{
		"-accel tcg -nodefaults -display none -sandbox on",
		"-uuid " + testID, "-m 64 -smp 2", "-S -no-shutdown -daemonize -pidfile /run/x/qemu.pid",
		"-qmp unix:/run/x/qmp.sock,server=on,wait=off", "-qmp unix:/run/x/qmp-storage.sock,server=on,wait=off",
		"-chardev ringbuf,id=console,size=65536 -serial chardev:console",
		"-drive file=/d/a,,b.qcow2,format=qcow2,if=none,id=disk0",
		"-device virtio-blk-pci,drive=disk0,id=dev-disk0,bootindex=0",
		"-device virtio-scsi-pci,id=scsi0", "-device scsi-hd,drive=disk1,id=dev-disk1,bus=scsi0.0",
		"-netdev user,id=net0 -device virtio-net-pci,netdev=net0,mac=52:54:00:00:00:01,romfile=",
		"-netdev tap,id=net1,ifname=hvtap1,script=no,downscript=no -device e1000,netdev=net1,mac=52:54:00:00:00:02,romfile=",
	} {
		require.Contains(t, args, want)
	}
	require.NotContains(t, args, "-cpu host")
	require.NotContains(t, args, "-kernel")
}
