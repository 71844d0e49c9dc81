package subagent

import (
	"maps"
	"slices"
)

// Guest is a virtual machine or container managed by the agent. Its JSON shape
// is the original mistify client.Guest plus Name, Boot and Autostart.
type Guest struct {
	ID string `json:"id"`
	// Name is the guest's unique name on its host, "" when it has none.
	// The agent keeps it: a stage's change to it is ignored.
	Name      string            `json:"name,omitempty"`
	Type      string            `json:"type,omitempty"`
	Image     string            `json:"image,omitempty"`
	Nics      []Nic             `json:"nics,omitempty"`
	Disks     []Disk            `json:"disks,omitempty"`
	State     string            `json:"state,omitempty"`
	Memory    uint              `json:"memory,omitempty"`
	CPU       uint              `json:"cpu,omitempty"`
	VNC       int               `json:"vnc,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Boot      *Boot             `json:"boot,omitempty"`
	Autostart bool              `json:"autostart,omitempty"`
}

// Clone returns a deep copy of g, sharing no memory with it: nil slices
// and maps stay nil and empty ones stay empty, since they encode
// differently (a NIC's "vlans" is null or []).
func (g *Guest) Clone() *Guest {
	c := *g
	c.Nics = slices.Clone(g.Nics)
	for i := range c.Nics {
		c.Nics[i].VLANs = slices.Clone(g.Nics[i].VLANs)
	}
	c.Disks = slices.Clone(g.Disks)
	c.Metadata = maps.Clone(g.Metadata)
	if g.Boot != nil {
		b := *g.Boot
		c.Boot = &b
	}
	return &c
}

// Boot describes a direct kernel boot: host paths of the kernel and initrd and
// the kernel command line.
type Boot struct {
	Kernel  string `json:"kernel,omitempty"`
	Initrd  string `json:"initrd,omitempty"`
	Cmdline string `json:"cmdline,omitempty"`
}

// Nic is a guest network interface.
type Nic struct {
	Name    string `json:"name,omitempty"`
	Network string `json:"network"`
	Model   string `json:"model"`
	MAC     string `json:"mac,omitempty"`
	Address string `json:"address"`
	Netmask string `json:"netmask"`
	Gateway string `json:"gateway"`
	Device  string `json:"device,omitempty"`
	VLANs   []int  `json:"vlans"`
}

// Disk is a guest disk. Size is in MB and is ignored for image-based disks.
type Disk struct {
	Bus    string `json:"bus"`
	Device string `json:"device"`
	Size   uint64 `json:"size"`
	Volume string `json:"volume"`
	Image  string `json:"image"`
	Source string `json:"source"`
}

// GuestRequest is the request of every guest action stage.
type GuestRequest struct {
	Guest  *Guest            `json:"guest"`
	Action string            `json:"action"`
	Args   map[string]string `json:"args,omitempty"`
}

// GuestResponse is the reply of a guest action stage. Guest is the guest as
// the sub-agent left it; it becomes the next stage's input.
type GuestResponse struct {
	Guest   *Guest `json:"guest"`
	Message string `json:"message,omitempty"`
	Retry   int    `json:"retry,omitempty"`
}

// GuestMetricsRequest asks for one kind of metrics ("cpu", "disk" or "nic").
type GuestMetricsRequest struct {
	Guest *Guest            `json:"guest"`
	Type  string            `json:"type"`
	Args  map[string]string `json:"args,omitempty"`
}

// GuestMetricsResponse carries the metrics of the requested Type.
type GuestMetricsResponse struct {
	Guest *Guest                       `json:"guest"`
	Type  string                       `json:"type"`
	Disk  map[string]*GuestDiskMetrics `json:"disk,omitempty"`
	Nic   map[string]*GuestNicMetrics  `json:"nic,omitempty"`
	CPU   []*GuestCPUMetrics           `json:"cpu,omitempty"`
}

// GuestCPUMetrics are CPU times in seconds.
type GuestCPUMetrics struct {
	CPUTime  float64 `json:"cpu_time"`
	VCPUTime float64 `json:"vcpu_time"`
}

// GuestDiskMetrics are the I/O counters of one disk; times are in seconds.
type GuestDiskMetrics struct {
	Disk       string  `json:"disk"`
	ReadOps    int64   `json:"read_ops"`
	ReadBytes  int64   `json:"read_bytes"`
	ReadTime   float64 `json:"read_time"`
	WriteOps   int64   `json:"write_ops"`
	WriteBytes int64   `json:"write_bytes"`
	WriteTime  float64 `json:"write_time"`
	FlushOps   int64   `json:"flush_ops"`
	FlushTime  float64 `json:"flush_time"`
}

// GuestNicMetrics are the counters of one network interface.
type GuestNicMetrics struct {
	Name      string `json:"name"`
	RxBytes   int64  `json:"rx_bytes"`
	RxPackets int64  `json:"rx_packets"`
	RxErrors  int64  `json:"rx_errors"`
	RxDrops   int64  `json:"rx_drops"`
	TxBytes   int64  `json:"tx_bytes"`
	TxPackets int64  `json:"tx_packets"`
	TxErrors  int64  `json:"tx_errors"`
	TxDrops   int64  `json:"tx_drops"`
}

// Image is a disk image ("" type) or a container image ("container" type).
// Size is in MB.
type Image struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Volume   string `json:"volume,omitempty"`
	Snapshot string `json:"snapshot,omitempty"`
	Size     uint64 `json:"size"`
	Status   string `json:"status,omitempty"`
}

// ImageRequest names an image. Source and SHA256 are used when fetching.
type ImageRequest struct {
	ID     string            `json:"id"`
	Type   string            `json:"type"`
	Dest   string            `json:"dest"`
	Source string            `json:"source"`
	SHA256 string            `json:"sha256,omitempty"`
	Args   map[string]string `json:"args,omitempty"`
}

// ImageResponse lists images; an empty list generally means not found.
type ImageResponse struct {
	Images []*Image `json:"images"`
}

// Volume is a block volume; Size is in MB.
type Volume struct {
	ID     string `json:"id"`
	Size   uint64 `json:"size"`
	Device string `json:"device"`
}

// VolumeRequest names or creates a volume.
type VolumeRequest struct {
	ID   string `json:"id"`
	Size uint64 `json:"size"`
}

// VolumeResponse lists volumes.
type VolumeResponse struct {
	Volumes []*Volume `json:"volumes"`
}

// Snapshot is a disk snapshot; Size is in MB.
type Snapshot struct {
	ID   string `json:"id"`
	Size uint64 `json:"size"`
}

// SnapshotRequest names a snapshot as "guests/<guest>[/disk-<n>][@<name>]".
// Dest is the new snapshot's name on create.
type SnapshotRequest struct {
	ID                string            `json:"id"`
	Dest              string            `json:"dest"`
	Recursive         bool              `json:"recursive"`
	DestroyMoreRecent bool              `json:"destroyMoreRecent"`
	Args              map[string]string `json:"args,omitempty"`
}

// SnapshotResponse lists snapshots.
type SnapshotResponse struct {
	Snapshots []*Snapshot `json:"snapshots"`
}

// ContainerRequest is the original's generic container request; Opts is
// passed through unchanged.
type ContainerRequest struct {
	ID   string `json:"id"`
	Opts any    `json:"opts"`
}

// ContainerResponse carries containers as the sub-agent encoded them.
type ContainerResponse struct {
	Containers []map[string]any `json:"containers"`
}

// MaxConsoleInput bounds the input bytes of one ConsoleRequest.
const MaxConsoleInput = 4096

// ConsoleRequest is the request of the console stream. A plain
// GuestRequest (neither Follow nor Input) asks for the console log as it
// is. Follow attaches to the serial console and streams its output from
// now on until the caller goes away or the guest stops; Input (at most
// MaxConsoleInput bytes, base64 in JSON) is sent to the serial console of
// a guest with an attached Follow stream, and its reply has an empty body.
type ConsoleRequest struct {
	GuestRequest
	Follow bool   `json:"follow,omitempty"`
	Input  []byte `json:"input,omitempty"`
}
