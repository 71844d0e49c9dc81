package hvagent

import "github.com/hvagent/hvagent/hvagent/subagent"

// Wire types shared with sub-agents, aliased so library users need one import.
type (
	// Guest is a VM or container.
	Guest = subagent.Guest
	// Nic is a guest network interface.
	Nic = subagent.Nic
	// Disk is a guest disk.
	Disk = subagent.Disk
	// Boot is a direct kernel boot.
	Boot = subagent.Boot
	// Image is a disk or container image.
	Image = subagent.Image
	// ImageRequest names an image.
	ImageRequest = subagent.ImageRequest
	// Snapshot is a disk snapshot.
	Snapshot = subagent.Snapshot
	// GuestCPUMetrics are CPU times.
	GuestCPUMetrics = subagent.GuestCPUMetrics
	// GuestDiskMetrics are one disk's counters.
	GuestDiskMetrics = subagent.GuestDiskMetrics
	// GuestNicMetrics are one NIC's counters.
	GuestNicMetrics = subagent.GuestNicMetrics
)

// Guest states set by the agent and the built-in drivers. Sub-agents may
// report others.
const (
	StateCreate   = "create"
	StateShutoff  = "shutoff"
	StateRunning  = "running"
	StatePaused   = "paused"
	StateShutdown = "shutdown"
	StateCrashed  = "crashed"
	StateError    = "error"
)

// GuestFilter selects guests for listing, ordered by ID.
type GuestFilter struct {
	// Limit caps the number of guests; 0 means the default (1000).
	Limit int
	// After returns only guests whose ID sorts after this one (a cursor).
	After string
	// Name, when set, returns only the guest with this name.
	Name string
}
