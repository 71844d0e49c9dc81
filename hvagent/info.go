package hvagent

import (
	"context"
	"fmt"
	"maps"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// metricTypes maps each metrics action to its request type.
var metricTypes = map[string]string{ActionCPUMetrics: "cpu", ActionDiskMetrics: "disk", ActionNicMetrics: "nic"}

// info runs a guest's info action on its info throttle and returns the
// body of the matching REST route.
func (a *Agent) info(ctx context.Context, name string, act ActionConfig, g *Guest, req Request) (*Result, error) {
	lim := a.limitsFor(g.ID)
	if err := acquire(ctx, lim.info); err != nil {
		return nil, err
	}
	defer func() { <-lim.info }()
	ctx, cancel := context.WithTimeout(ctx, act.Timeout.Duration)
	defer cancel()
	if typ, ok := metricTypes[name]; ok {
		return a.guestMetrics(ctx, act, g, typ)
	}
	sr, err := a.snapshotRequest(name, g, req)
	if err != nil {
		return nil, err
	}
	mk := func(args map[string]string) *subagent.SnapshotRequest {
		r := *sr
		r.Args = args
		return &r
	}
	resps, err := callEach[subagent.SnapshotRequest, subagent.SnapshotResponse](ctx, a, act, mk, nil)
	if err != nil {
		return nil, callError(err, fmt.Sprintf("snapshot %s not found", sr.ID))
	}
	snaps := []*Snapshot{}
	if r := last(resps); r != nil && r.Snapshots != nil {
		snaps = r.Snapshots
	}
	if name == ActionListSnapshots {
		return jsonResult(snaps)
	}
	s := pickSnapshot(snaps, sr.ID)
	if s == nil {
		return nil, Errorf(ENOTFOUND, "snapshot %s not found", sr.ID)
	}
	return jsonResult(s)
}

// guestMetrics merges the replies of every stage into the metrics of typ:
// cpu entries are appended, disk and nic maps are merged.
func (a *Agent) guestMetrics(ctx context.Context, act ActionConfig, g *Guest, typ string) (*Result, error) {
	mk := func(args map[string]string) *subagent.GuestMetricsRequest {
		return &subagent.GuestMetricsRequest{Guest: g, Type: typ, Args: args}
	}
	resps, err := callEach[subagent.GuestMetricsRequest, subagent.GuestMetricsResponse](ctx, a, act, mk, nil)
	if err != nil {
		return nil, callError(err, "")
	}
	switch typ {
	case "cpu":
		cpu := []*GuestCPUMetrics{}
		for _, r := range resps {
			cpu = append(cpu, r.CPU...)
		}
		return jsonResult(cpu)
	case "disk":
		disk := map[string]*GuestDiskMetrics{}
		for _, r := range resps {
			maps.Copy(disk, r.Disk)
		}
		return jsonResult(disk)
	}
	nic := map[string]*GuestNicMetrics{}
	for _, r := range resps {
		maps.Copy(nic, r.Nic)
	}
	return jsonResult(nic)
}
