package rest

import (
	"strconv"

	"github.com/hvagent/hvagent/hvagent"
)

// snapshotTarget parses the guest, optional disk ({n}) and snapshot name
// ({name}, when the route has one) of a snapshot route.
func (x *exchange) snapshotTarget() (string, hvagent.Request, error) {
	id, err := x.pathGuest()
	if err != nil {
		return "", hvagent.Request{}, err
	}
	req := hvagent.Request{Snapshot: x.r.PathValue("name"), RequestedBy: x.who.name}
	if v := x.r.PathValue("n"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return "", hvagent.Request{}, hvagent.Errorf(hvagent.EINVALID, "disk %q must be a non-negative integer", v)
		}
		req.Disk = &n
	}
	return id, req, nil
}

// listSnapshots serves GET …/snapshots.
func (s *server) listSnapshots(x *exchange) error {
	return s.snapshotInfo(x, hvagent.ActionListSnapshots)
}

// getSnapshot serves GET …/snapshots/{name}: one Snapshot object.
func (s *server) getSnapshot(x *exchange) error {
	return s.snapshotInfo(x, hvagent.ActionGetSnapshot)
}

func (s *server) snapshotInfo(x *exchange, action string) error {
	id, req, err := x.snapshotTarget()
	if err != nil {
		return err
	}
	res, err := s.svc.Do(x.ctx(), action, id, req)
	if err != nil {
		return err
	}
	return x.rawJSON(res.Body)
}

// createSnapshotBody is the optional body of POST …/snapshots.
type createSnapshotBody struct {
	Dest string `json:"dest"`
	Name string `json:"name"`
	// The original's SnapshotRequest fields a create ignores: its id and
	// recursive come from the path, as they did in the original.
	ID                string `json:"id"`
	Recursive         bool   `json:"recursive"`
	DestroyMoreRecent bool   `json:"destroyMoreRecent"`
}

// createSnapshot serves POST …/snapshots: 202 Job.
func (s *server) createSnapshot(x *exchange) error {
	id, req, err := x.snapshotTarget()
	if err != nil {
		return err
	}
	var b createSnapshotBody
	if _, err := x.decode(&b); err != nil {
		return err
	}
	if b.Dest != "" && b.Name != "" && b.Dest != b.Name {
		return hvagent.Errorf(hvagent.EINVALID, "request body: dest %q and name %q differ; give one", b.Dest, b.Name)
	}
	req.Snapshot = b.Dest
	if req.Snapshot == "" {
		req.Snapshot = b.Name
	}
	return x.snapshotJob(hvagent.ActionCreateSnapshot, id, req)
}

// deleteSnapshot serves DELETE …/snapshots/{name}: 202 Job.
func (s *server) deleteSnapshot(x *exchange) error {
	id, req, err := x.snapshotTarget()
	if err != nil {
		return err
	}
	if err := x.noBody(); err != nil {
		return err
	}
	return x.snapshotJob(hvagent.ActionDeleteSnapshot, id, req)
}

// rollbackBody is the optional body of POST …/snapshots/{name}/rollback.
type rollbackBody struct {
	DestroyMoreRecent bool `json:"destroyMoreRecent"`
	// The original's SnapshotRequest fields a rollback ignores (the
	// original client sends them all).
	ID        string `json:"id"`
	Dest      string `json:"dest"`
	Recursive bool   `json:"recursive"`
}

// rollbackSnapshot serves POST …/snapshots/{name}/rollback: 202 Job.
func (s *server) rollbackSnapshot(x *exchange) error {
	id, req, err := x.snapshotTarget()
	if err != nil {
		return err
	}
	var b rollbackBody
	if _, err := x.decode(&b); err != nil {
		return err
	}
	req.DestroyMoreRecent = b.DestroyMoreRecent
	return x.snapshotJob(hvagent.ActionRollbackSnapshot, id, req)
}

func (x *exchange) snapshotJob(action, id string, req hvagent.Request) error {
	return x.doAsync(asyncCall{
		action: action,
		guest:  id,
		req:    req,
	})
}

// downloadSnapshot serves GET …/snapshots/{name}/download as a byte stream.
func (s *server) downloadSnapshot(x *exchange) error {
	id, req, err := x.snapshotTarget()
	if err != nil {
		return err
	}
	res, err := s.svc.Do(x.ctx(), hvagent.ActionDownloadSnapshot, id, req)
	if err != nil {
		return err
	}
	return x.stream(res)
}
