package qemu

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/*/stat times; it
// is 100 on every Linux architecture QEMU runs on here.
const clockTicks = 100

// running returns the attached QEMU of a running or paused guest.
func (d *Driver) running(g *subagent.Guest) (*vm, error) {
	if err := checkID(g); err != nil {
		return nil, err
	}
	v := d.attached(g.ID)
	if v == nil {
		return nil, notRunning(g.ID, d.stoppedState(g.ID, g.State))
	}
	return v, nil
}

// CPUMetrics returns the CPU times of each vCPU thread, from
// /proc/<pid>/task/<tid>/stat: cpu_time is user plus system time, and
// vcpu_time the time spent running guest code (guest time under KVM, user
// time under TCG, which runs translated guest code in user mode).
func (d *Driver) CPUMetrics(ctx context.Context, in *subagent.Guest) (*subagent.GuestMetricsResponse, error) {
	v, err := d.running(in)
	if err != nil {
		return nil, err
	}
	var cpus []struct {
		Index  int `json:"cpu-index"`
		Thread int `json:"thread-id"`
	}
	if err := v.qmp.run(ctx, "query-cpus-fast", nil, &cpus); err != nil {
		return nil, fmt.Errorf("guest %s: %w", in.ID, err)
	}
	out := make([]*subagent.GuestCPUMetrics, len(cpus))
	for i, c := range cpus {
		user, system, guest, err := threadTimes(v.proc.pid, c.Thread)
		if err != nil {
			return nil, fmt.Errorf("guest %s vcpu %d: %w", in.ID, c.Index, err)
		}
		vcpu := user
		if d.opts.Accel == "kvm" {
			vcpu = guest
		}
		out[i] = &subagent.GuestCPUMetrics{CPUTime: user + system, VCPUTime: vcpu}
	}
	return &subagent.GuestMetricsResponse{Guest: in.Clone(), Type: "cpu", CPU: out}, nil
}

// threadTimes reads the user, system and guest time (seconds) of a thread.
func threadTimes(pid, tid int) (user, system, guest float64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(tid) + "/stat")
	if err != nil {
		return 0, 0, 0, err
	}
	// The command name (field 2) may hold spaces; fields count from its ")".
	s := string(b)
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return 0, 0, 0, fmt.Errorf("thread %d: malformed stat", tid)
	}
	f := strings.Fields(s[end+1:]) // f[0] is field 3 (state)
	const utime, stime, gtime = 14 - 3, 15 - 3, 43 - 3
	if len(f) <= gtime {
		return 0, 0, 0, fmt.Errorf("thread %d: stat has %d fields", tid, len(f)+2)
	}
	vals := [3]float64{}
	for i, idx := range []int{utime, stime, gtime} {
		n, err := strconv.ParseUint(f[idx], 10, 64)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("thread %d: stat field %d: %w", tid, idx+3, err)
		}
		vals[i] = float64(n) / clockTicks
	}
	return vals[0], vals[1], vals[2], nil
}

// DiskMetrics returns the I/O counters of every disk (QMP
// query-blockstats), keyed by the disk's device name (vda, …).
func (d *Driver) DiskMetrics(ctx context.Context, in *subagent.Guest) (*subagent.GuestMetricsResponse, error) {
	v, err := d.running(in)
	if err != nil {
		return nil, err
	}
	var stats []struct {
		Device string `json:"device"`
		Stats  struct {
			RdBytes    int64 `json:"rd_bytes"`
			WrBytes    int64 `json:"wr_bytes"`
			RdOps      int64 `json:"rd_operations"`
			WrOps      int64 `json:"wr_operations"`
			FlushOps   int64 `json:"flush_operations"`
			RdTimeNs   int64 `json:"rd_total_time_ns"`
			WrTimeNs   int64 `json:"wr_total_time_ns"`
			FlushTimeN int64 `json:"flush_total_time_ns"`
		} `json:"stats"`
	}
	if err := v.qmp.run(ctx, "query-blockstats", nil, &stats); err != nil {
		return nil, fmt.Errorf("guest %s: %w", in.ID, err)
	}
	byDrive := map[string]int{}
	for i := range stats {
		byDrive[stats[i].Device] = i
	}
	out := map[string]*subagent.GuestDiskMetrics{}
	for n, disk := range in.Disks {
		i, ok := byDrive[layout.DriveID(n)]
		if !ok {
			return nil, fmt.Errorf("guest %s: qemu has no drive %s for disk %d", in.ID, layout.DriveID(n), n)
		}
		name := disk.Device
		if name == "" {
			name = layout.DriveID(n)
		}
		s := stats[i].Stats
		out[name] = &subagent.GuestDiskMetrics{
			Disk:    name,
			ReadOps: s.RdOps, ReadBytes: s.RdBytes, ReadTime: float64(s.RdTimeNs) / 1e9,
			WriteOps: s.WrOps, WriteBytes: s.WrBytes, WriteTime: float64(s.WrTimeNs) / 1e9,
			FlushOps: s.FlushOps, FlushTime: float64(s.FlushTimeN) / 1e9,
		}
	}
	return &subagent.GuestMetricsResponse{Guest: in.Clone(), Type: "disk", Disk: out}, nil
}

// NicMetrics returns the counters of every NIC on a bridge, read from its
// tap and seen from the guest (rx is what the guest received). User-mode
// networking has no counters the host can read: a guest with such a NIC
// gets ErrUnsupported.
func (d *Driver) NicMetrics(_ context.Context, in *subagent.Guest) (*subagent.GuestMetricsResponse, error) {
	if _, err := d.running(in); err != nil {
		return nil, err
	}
	out := map[string]*subagent.GuestNicMetrics{}
	for i, nic := range in.Nics {
		name := nic.Name
		if name == "" {
			name = "net" + strconv.Itoa(i)
		}
		if !isBridged(&nic) {
			return nil, fmt.Errorf("guest %s nic %s: %w: nic metrics need a tap on a bridge; user-mode networking has no host-side counters", in.ID, name, ErrUnsupported)
		}
		m, err := tapStats(name, tapName(in.ID, i))
		if err != nil {
			return nil, fmt.Errorf("guest %s: %w", in.ID, err)
		}
		out[name] = m
	}
	return &subagent.GuestMetricsResponse{Guest: in.Clone(), Type: "nic", Nic: out}, nil
}
