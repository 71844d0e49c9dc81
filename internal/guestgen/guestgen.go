// Package guestgen makes guests for the tests of the direct Guest JSON
// codecs (hvagent/subagent's ParseGuest and AppendGuest), which check
// them field for field against encoding/json.
package guestgen

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"

	"github.com/hvagent/hvagent/hvagent"
)

// Known are the fields of Guest, Nic, Disk and Boot, each as Type.Field in
// declaration order, that the direct Guest codecs know
// (subagent.ParseGuest and subagent.AppendGuest). Each codec's test
// requires Fields to equal it: a field added to the types must be added
// to both codecs, then here.
var Known = []string{
	"Guest.ID", "Guest.Name", "Guest.Type", "Guest.Image", "Guest.Nics", "Guest.Disks", "Guest.State",
	"Guest.Memory", "Guest.CPU", "Guest.VNC", "Guest.Metadata", "Guest.Boot", "Guest.Autostart",
	"Nic.Name", "Nic.Network", "Nic.Model", "Nic.MAC", "Nic.Address", "Nic.Netmask", "Nic.Gateway",
	"Nic.Device", "Nic.VLANs",
	"Disk.Bus", "Disk.Device", "Disk.Size", "Disk.Volume", "Disk.Image", "Disk.Source",
	"Boot.Kernel", "Boot.Initrd", "Boot.Cmdline",
}

// Fields returns the fields of Guest, Nic, Disk and Boot as Type.Field, in
// declaration order.
func Fields() []string {
	var fields []string
	for _, typ := range []reflect.Type{reflect.TypeFor[hvagent.Guest](), reflect.TypeFor[hvagent.Nic](),
		reflect.TypeFor[hvagent.Disk](), reflect.TypeFor[hvagent.Boot]()} {
		for i := range typ.NumField() {
			fields = append(fields, typ.Name()+"."+typ.Field(i).Name)
		}
	}
	return fields
}

// Random returns a guest with random fields: strings with unicode, escapes
// and invalid UTF-8, empty and nil slices and maps, nil Boot, extreme
// numbers, VLANs nil and empty.
func Random(rng *rand.Rand) *hvagent.Guest {
	s := func() string { return String(rng) }
	n := func() uint64 { return Number(rng) }
	g := &hvagent.Guest{ID: s(), Name: s(), Type: s(), Image: s(), State: s(), Memory: uint(n()), CPU: uint(n()),
		VNC: int(n()), Autostart: rng.IntN(2) == 0}
	if rng.IntN(3) == 0 {
		g.Nics = []hvagent.Nic{}
	}
	for range rng.IntN(3) {
		nic := hvagent.Nic{Name: s(), Network: s(), Model: s(), MAC: s(), Address: s(), Netmask: s(),
			Gateway: s(), Device: s()}
		if rng.IntN(3) > 0 {
			nic.VLANs = []int{}
			for range rng.IntN(4) {
				nic.VLANs = append(nic.VLANs, int(n()))
			}
		}
		g.Nics = append(g.Nics, nic)
	}
	for range rng.IntN(3) {
		g.Disks = append(g.Disks, hvagent.Disk{Bus: s(), Device: s(), Size: n(), Volume: s(), Image: s(), Source: s()})
	}
	if rng.IntN(3) > 0 {
		g.Boot = &hvagent.Boot{Kernel: s(), Initrd: s(), Cmdline: s()}
	}
	if rng.IntN(2) == 0 {
		g.Metadata = map[string]string{}
		for range rng.IntN(5) {
			g.Metadata[s()] = s()
		}
	}
	return g
}

// String is empty half of the time, else a few pieces among plain text,
// unicode, escapes, HTML and invalid UTF-8.
func String(rng *rand.Rand) string {
	if rng.IntN(2) == 0 {
		return ""
	}
	pieces := []string{"web", "virtio", "10.0.0.1", "déjà", "✓", "🚀", `"`, `\`, "\n", "\x00", "\x1f", "<&>",
		"\u2028", "\xff", "\xc3", "/", "\u007f"}
	var b strings.Builder
	for range 1 + rng.IntN(4) {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}

// Number is 0, a small number or an extreme one, as the bits of an int64
// or a uint64.
func Number(rng *rand.Rand) uint64 {
	switch rng.IntN(4) {
	case 0:
		return 0
	case 1:
		return uint64(rng.IntN(5000))
	case 2:
		return math.MaxUint64 - uint64(rng.IntN(3))
	default:
		return rng.Uint64()
	}
}
