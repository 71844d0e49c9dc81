package rest

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

// streamWriteIdle bounds each write of a stream reply; the deadline moves
// forward as data flows.
const streamWriteIdle = time.Minute

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

// stream copies a stream action's data to the client as
// application/octet-stream (with Content-Length when the size is known),
// moving the write deadline forward as data flows and flushing whenever
// the source has no more data at hand. The stream is always closed. A
// failure of the source after the reply started aborts the connection, so
// that the client sees a truncated body, never a short success.
func (x *exchange) stream(res *hvagent.Result) error {
	if res.Stream == nil {
		return hvagent.Errorf(hvagent.EINTERNAL, "stream action returned no stream")
	}
	defer res.Stream.Close()
	h := x.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	if res.Size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(res.Size, 10))
	}
	rc := http.NewResponseController(x.w)
	_ = rc.SetWriteDeadline(time.Now().Add(streamWriteIdle))
	x.w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	buf := make([]byte, 64<<10)
	for {
		n, err := res.Stream.Read(buf)
		if n > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(streamWriteIdle))
			if _, werr := x.w.Write(buf[:n]); werr != nil {
				return nil // the client went away
			}
			if n < len(buf) {
				_ = rc.Flush()
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if x.ctx().Err() == nil {
				x.s.log.Warn().Err(err).Str("path", x.r.URL.Path).Msg("stream source failed; connection aborted")
			}
			panic(http.ErrAbortHandler)
		}
	}
}
