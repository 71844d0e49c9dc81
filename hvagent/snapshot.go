package hvagent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// snapshotRequest builds the sub-agent request of a snapshot action on
// guest g: the entity ID is "guests/<id>[/disk-<n>][@<name>]".
func (a *Agent) snapshotRequest(action string, g *Guest, req Request) (*subagent.SnapshotRequest, error) {
	id := "guests/" + g.ID
	if req.Disk != nil {
		if *req.Disk < 0 || *req.Disk >= len(g.Disks) {
			return nil, Errorf(ENOTFOUND, "guest %s has no disk %d", g.ID, *req.Disk)
		}
		id += fmt.Sprintf("/disk-%d", *req.Disk)
	}
	r := &subagent.SnapshotRequest{Recursive: req.Disk == nil}
	name := req.Snapshot
	switch action {
	case ActionListSnapshots:
		r.ID = id
		return r, nil
	case ActionCreateSnapshot:
		if name == "" {
			name = fmt.Sprintf("snap-%d", a.now().Unix())
		}
		r.ID, r.Dest = id, name
	default:
		if name == "" {
			return nil, Errorf(EINVALID, "%s needs a snapshot name", action)
		}
		r.ID = id + "@" + name
	}
	if err := CheckSnapshotName(name); err != nil {
		return nil, err
	}
	r.DestroyMoreRecent = action == ActionRollbackSnapshot && req.DestroyMoreRecent
	return r, nil
}

// runSnapshotJob runs createSnapshot, deleteSnapshot or rollbackSnapshot.
// The job's result is the snapshot it acted on.
func (a *Agent) runSnapshotJob(ctx context.Context, job *Job, act ActionConfig, req *subagent.SnapshotRequest) (outcome, error) {
	mk := func(args map[string]string) *subagent.SnapshotRequest {
		r := *req
		r.Args = args
		return &r
	}
	resps, err := callEach[subagent.SnapshotRequest, subagent.SnapshotResponse](ctx, a, act, mk, job)
	if err != nil {
		return outcome{}, err
	}
	want := req.ID
	if req.Dest != "" {
		want += "@" + req.Dest
	}
	var snaps []*Snapshot
	if r := last(resps); r != nil {
		snaps = r.Snapshots
	}
	result, err := json.Marshal(pickSnapshot(snaps, want))
	return outcome{result: result}, err
}

// pickSnapshot returns the snapshot whose ID ends with want (sub-agents may
// prefix a pool name), else the first, else nil.
func pickSnapshot(snaps []*Snapshot, want string) *Snapshot {
	for _, s := range snaps {
		if s != nil && (s.ID == want || strings.HasSuffix(s.ID, "/"+want)) {
			return s
		}
	}
	for _, s := range snaps {
		if s != nil {
			return s
		}
	}
	return nil
}
