package sim

import (
	"fmt"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// Simulated load: the counters grow with the guest's running time at these
// rates per second.
const (
	cpuLoad        = 0.5 // CPU seconds per second, first vCPU
	readOpsPerSec  = 20
	writeOpsPerSec = 10
	blockSize      = 4096
	packetsPerSec  = 10
	packetSize     = 1500
)

// cpuMetrics returns one entry per vCPU; cpu_time grows while the guest runs.
func (d *Driver) cpuMetrics(req *subagent.GuestMetricsRequest) (*subagent.GuestMetricsResponse, error) {
	g, err := d.lookup(req.Guest)
	if err != nil {
		return nil, err
	}
	run := g.runTime(d.opts.Now()).Seconds()
	n := max(g.CPU, 1)
	cpus := make([]*subagent.GuestCPUMetrics, n)
	for i := range cpus {
		load := cpuLoad / float64(i+1)
		cpus[i] = &subagent.GuestCPUMetrics{CPUTime: run * load, VCPUTime: run * load * 0.9}
	}
	return &subagent.GuestMetricsResponse{Guest: g.Guest.Clone(), Type: "cpu", CPU: cpus}, nil
}

// diskMetrics returns the counters of every disk, keyed by device.
func (d *Driver) diskMetrics(req *subagent.GuestMetricsRequest) (*subagent.GuestMetricsResponse, error) {
	g, err := d.lookup(req.Guest)
	if err != nil {
		return nil, err
	}
	run := g.runTime(d.opts.Now()).Seconds()
	disks := make(map[string]*subagent.GuestDiskMetrics, len(g.Disks))
	for i, disk := range g.Disks {
		dev := disk.Device
		if dev == "" && i < maxDisks {
			dev = diskDevice(i)
		}
		reads, writes := int64(run*readOpsPerSec), int64(run*writeOpsPerSec)
		disks[dev] = &subagent.GuestDiskMetrics{
			Disk:    dev,
			ReadOps: reads, ReadBytes: reads * blockSize, ReadTime: run * 0.01,
			WriteOps: writes, WriteBytes: writes * blockSize, WriteTime: run * 0.02,
			FlushOps: int64(run), FlushTime: run * 0.001,
		}
	}
	return &subagent.GuestMetricsResponse{Guest: g.Guest.Clone(), Type: "disk", Disk: disks}, nil
}

// nicMetrics returns the counters of every NIC, keyed by name ("net<i>"
// when the NIC has none).
func (d *Driver) nicMetrics(req *subagent.GuestMetricsRequest) (*subagent.GuestMetricsResponse, error) {
	g, err := d.lookup(req.Guest)
	if err != nil {
		return nil, err
	}
	run := g.runTime(d.opts.Now()).Seconds()
	nics := make(map[string]*subagent.GuestNicMetrics, len(g.Nics))
	for i, nic := range g.Nics {
		name := nic.Name
		if name == "" {
			name = fmt.Sprintf("net%d", i)
		}
		rx, tx := int64(run*packetsPerSec), int64(run*packetsPerSec/2)
		nics[name] = &subagent.GuestNicMetrics{
			Name:    name,
			RxBytes: rx * packetSize, RxPackets: rx,
			TxBytes: tx * packetSize, TxPackets: tx,
		}
	}
	return &subagent.GuestMetricsResponse{Guest: g.Guest.Clone(), Type: "nic", Nic: nics}, nil
}
