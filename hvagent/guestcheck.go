package hvagent

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hvagent/hvagent/internal/namerule"
)

// The rules a guest must follow to be stored. They are checked by Do before
// a create is queued, so every caller (in-process, REST, hvctl) gets the
// same EINVALID message, naming the field and the accepted values.

// Guest types. A VM is type "vm"; "" and the original mistify-agent's
// libvirt domain types "kvm" and "qemu" are accepted as VMs too and kept as
// given, since sub-agents of the original read them.
const (
	// VMGuestType is the type of a virtual machine.
	VMGuestType = "vm"
)

// vmTypeAliases are the other spellings of a VM's type.
var vmTypeAliases = []string{"", "kvm", "qemu"}

// nicModels are the NIC models the built-in QEMU driver builds; "" means
// virtio.
var nicModels = []string{"virtio", "e1000", "rtl8139"}

// diskBuses are the disk buses the built-in QEMU driver builds; "" means
// virtio.
var diskBuses = []string{"virtio", "scsi", "ide"}

// MinGuestMemoryMB is the least memory, in MB, a guest may ask for (0
// leaves the driver's default).
const MinGuestMemoryMB = 16

// GuestTypes returns the guest types: "vm" and "container".
func GuestTypes() []string { return []string{VMGuestType, ContainerGuestType} }

// NICModels returns the accepted NIC models, the default ("virtio") first.
func NICModels() []string { return slices.Clone(nicModels) }

// DiskBuses returns the accepted disk buses, the default ("virtio") first.
func DiskBuses() []string { return slices.Clone(diskBuses) }

// IsVM reports whether a guest of type typ is a virtual machine: "vm", ""
// or one of the original's libvirt domain types ("kvm", "qemu").
func IsVM(typ string) bool {
	return typ == VMGuestType || slices.Contains(vmTypeAliases, typ)
}

// macPattern is six hex pairs separated by colons.
var macPattern = regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`)

// snapshotNamePattern is what a snapshot name may contain (the original's
// characters, at most 128 of them).
var snapshotNamePattern = namerule.MustCompile(`^[a-zA-Z0-9_\-:.]+$`, 1, 128)

// allDigits matches a name qcow2 would take for a snapshot ID.
var allDigits = regexp.MustCompile(`^[0-9]+$`)

// snapshotNameRule is the accepted form of a snapshot name, as said in errors.
const snapshotNameRule = "must be 1-128 letters, digits and _ - : ., not all digits (qcow2 takes those for snapshot IDs), not . or .. (a URL path cannot carry them)"

// CheckSnapshotName returns an EINVALID error unless name is a snapshot
// name every built-in driver accepts and a REST path can carry: 1-128
// letters, digits and _ - : ., not all digits, not "." or "..".
func CheckSnapshotName(name string) error {
	if !snapshotNamePattern.MatchString(name) || allDigits.MatchString(name) || name == "." || name == ".." {
		return Errorf(EINVALID, "snapshot name %q: %s", name, snapshotNameRule)
	}
	return nil
}

// guestProblems lists what is wrong with g's fields, each naming the field
// and what it accepts, for a host with the resources h. Boot paths and
// images are checked by the Agent.
func guestProblems(g *Guest, h HostResources) []string {
	var p []string
	if !IsVM(g.Type) && g.Type != ContainerGuestType {
		p = append(p, fmt.Sprintf("type %q: must be vm or container (\"\", kvm and qemu also mean vm)", g.Type))
	}
	if g.Type == ContainerGuestType && g.Image == "" {
		p = append(p, "image: a container needs an image (a container image ID)")
	}
	if g.CPU > uint(h.CPUs) {
		p = append(p, fmt.Sprintf("cpu %d: must be from 1 to %d (the host's CPUs), or 0 for the driver's default", g.CPU, h.CPUs))
	}
	if g.Memory != 0 && (g.Memory < MinGuestMemoryMB || uint64(g.Memory) > h.MemoryMB) {
		p = append(p, fmt.Sprintf("memory %d MB: must be from %d to %d MB (the host's memory), or 0 for the driver's default",
			g.Memory, MinGuestMemoryMB, h.MemoryMB))
	}
	p = append(p, nicProblems(g.Nics)...)
	p = append(p, diskProblems(g.Disks)...)
	if _, ok := g.Metadata[""]; ok {
		p = append(p, "metadata: keys must not be empty")
	}
	return p
}

// nicProblems checks each NIC's model and MAC.
func nicProblems(nics []Nic) []string {
	var p []string
	seen := map[string]int{}
	for i, n := range nics {
		if n.Model != "" && !slices.Contains(nicModels, n.Model) {
			p = append(p, fmt.Sprintf("nics[%d].model %q: must be one of %s (or empty for %s)", i, n.Model, strings.Join(nicModels, ", "), nicModels[0]))
		}
		if n.MAC == "" {
			continue
		}
		if problem := macProblem(n.MAC); problem != "" {
			p = append(p, fmt.Sprintf("nics[%d].mac %q: %s", i, n.MAC, problem))
			continue
		}
		key := strings.ToLower(n.MAC)
		if j, dup := seen[key]; dup {
			p = append(p, fmt.Sprintf("nics[%d].mac %q: the same as nics[%d].mac; each NIC needs its own", i, n.MAC, j))
		}
		seen[key] = i
	}
	return p
}

// macProblem says what is wrong with a MAC address, "" when nothing is.
func macProblem(mac string) string {
	if !macPattern.MatchString(mac) {
		return "must be six hex pairs separated by colons, such as 52:54:00:12:34:56 (or empty for one derived from the guest ID)"
	}
	if mac == "00:00:00:00:00:00" {
		return "must not be all zeros"
	}
	if first, _ := strconv.ParseUint(mac[:2], 16, 8); first&1 == 1 {
		return "is a multicast address: the first byte must be even (such as 52:54:00:12:34:56)"
	}
	return ""
}

// diskProblems checks each disk's bus, image ID and size.
func diskProblems(disks []Disk) []string {
	var p []string
	for i, d := range disks {
		if d.Bus != "" && !slices.Contains(diskBuses, d.Bus) {
			p = append(p, fmt.Sprintf("disks[%d].bus %q: must be one of %s (or empty for %s)", i, d.Bus, strings.Join(diskBuses, ", "), diskBuses[0]))
		}
		switch {
		case d.Image == "" && d.Size == 0:
			p = append(p, fmt.Sprintf("disks[%d]: needs an image or a size (MB)", i))
		case d.Image != "" && !imageID.MatchString(d.Image):
			p = append(p, fmt.Sprintf("disks[%d].image %q: %s", i, d.Image, imageIDRule))
		}
	}
	return p
}
