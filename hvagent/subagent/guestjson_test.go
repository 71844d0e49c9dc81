package subagent_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/benchkit"
	"github.com/hvagent/hvagent/internal/guestgen"
)

// TestGuestCodec_KnowsEveryField: AppendGuest writes every field of Guest,
// Nic, Disk and Boot; a field added to them must be added to it.
func TestGuestCodec_KnowsEveryField(t *testing.T) {
	t.Parallel()
	require.Equal(t, guestgen.Known, guestgen.Fields())
}

// checkAppendGuest checks that AppendGuest gives json.Marshal's bytes for g.
func checkAppendGuest(t *testing.T, g *hvagent.Guest) {
	t.Helper()
	want, err := json.Marshal(g)
	require.NoError(t, err)
	require.Equal(t, "prefix"+string(want), string(subagent.AppendGuest([]byte("prefix"), g)))
}

func TestAppendGuest(t *testing.T) {
	t.Parallel()
	full := hvagent.Guest{ID: "0b0e7c1c", Name: "web1", Type: "qemu", Image: "debian-12",
		Nics: []hvagent.Nic{
			{Name: "eth0", Network: "br0", Model: "virtio", MAC: "52:54:00:12:34:56", Address: "10.0.0.2",
				Netmask: "255.255.255.0", Gateway: "10.0.0.1", Device: "tap0", VLANs: []int{1, -2, math.MaxInt64}},
			{Network: "br1", VLANs: []int{}},
			{},
		},
		Disks: []hvagent.Disk{{Bus: "virtio", Device: "vda", Size: math.MaxUint64, Volume: "v", Image: "i", Source: "s"}, {}},
		State: "running", Memory: math.MaxUint, CPU: 2, VNC: math.MinInt64,
		Metadata: map[string]string{"z": "1", "a": "<&>", "é": "\xff", "A\n": ""},
		Boot:     &hvagent.Boot{Kernel: "/k", Initrd: "/i", Cmdline: "console=ttyS0"}, Autostart: true}
	for _, g := range []*hvagent.Guest{
		{}, {ID: "g"}, &full,
		{ID: "g", Boot: &hvagent.Boot{}}, {ID: "g", Boot: &hvagent.Boot{Initrd: "i"}},
		{ID: "g", Boot: &hvagent.Boot{Cmdline: "c"}}, {ID: "g", Boot: &hvagent.Boot{Kernel: "k", Cmdline: "c"}},
		{ID: "g", Nics: []hvagent.Nic{}, Disks: []hvagent.Disk{}, Metadata: map[string]string{}},
		{ID: "a\"b\\c\nd\te\rf\bg\fh\x00i\x1fj\u2028\u2029 déjà ✓ 🚀 <a href='x'>&</a> \xff\xc3"},
	} {
		checkAppendGuest(t, g)
	}
}

// TestAppendGuest_Random compares AppendGuest with json.Marshal on random
// guests.
func TestAppendGuest_Random(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(12, 2026))
	for range 2000 {
		checkAppendGuest(t, guestgen.Random(rng))
	}
}

// FuzzAppendGuest checks AppendGuest against json.Marshal on guests made
// of the fuzzer's strings and numbers.
func FuzzAppendGuest(f *testing.F) {
	f.Add("g", "running", "a\"b\xff<\u2028", uint64(512), int64(-1), true)
	f.Add("", "", "", uint64(0), int64(0), false)
	f.Fuzz(func(t *testing.T, id, state, text string, n uint64, i int64, boot bool) {
		g := &hvagent.Guest{ID: id, Name: text, State: state, Image: text, Memory: uint(n), VNC: int(i),
			Nics:     []hvagent.Nic{{Name: text, Network: state, VLANs: []int{int(i), int(n)}}},
			Disks:    []hvagent.Disk{{Bus: text, Size: n}},
			Metadata: map[string]string{text: state, state: id}}
		if boot {
			g.Boot = &hvagent.Boot{Cmdline: text}
		}
		checkAppendGuest(t, g)
	})
}

// BenchmarkAppendGuest measures encoding a typical guest (two NICs, two
// disks, a boot, three metadata keys) with AppendGuest, side by side with
// its reference json.Marshal in the same round. Reported: direct-ns,
// marshal-ns and ratio (marshal time / direct time).
func BenchmarkAppendGuest(b *testing.B) {
	g := typicalGuest()
	g.Name, g.Metadata = "web1", map[string]string{"owner": "ann", "tier": "web", "zone": "a"}
	var buf []byte
	benchkit.SideBySide(b, "marshal", func() error {
		buf = subagent.AppendGuest(buf[:0], g)
		return nil
	}, func() error {
		_, err := json.Marshal(g)
		return err
	})
}

// typicalGuest is the guest the codec benchmarks measure: two NICs, two
// disks and a boot, no name and no metadata.
func typicalGuest() *hvagent.Guest {
	return &hvagent.Guest{ID: "0b0e7c1c-4a38-4c1e-9d53-5a4f7d1e2b3c", Type: "qemu", Image: "debian-12",
		Nics: []hvagent.Nic{
			{Name: "eth0", Network: "br0", Model: "virtio", MAC: "52:54:00:12:34:56", Address: "10.0.0.2",
				Netmask: "255.255.255.0", Gateway: "10.0.0.1", VLANs: []int{10, 20}},
			{Name: "eth1", Network: "br1", Model: "virtio", MAC: "52:54:00:12:34:57"},
		},
		Disks: []hvagent.Disk{{Bus: "virtio", Device: "vda", Size: 10240, Volume: "vm/disk0", Image: "debian-12"},
			{Bus: "virtio", Device: "vdb", Size: 2048, Volume: "vm/disk1"}},
		State: "running", Memory: 2048, CPU: 2, VNC: 5901,
		Boot: &hvagent.Boot{Kernel: "/boot/vmlinuz", Initrd: "/boot/initrd", Cmdline: "console=ttyS0 root=/dev/vda1"}}
}
