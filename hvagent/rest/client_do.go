package rest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/hvagent/hvagent/hvagent"
)

// clientRoute is how Do sends one action.
type clientRoute struct {
	clientCall
	// guestReply marks async guest routes: the reply is the Guest, and the
	// job is named by the X-Guest-Job-ID header.
	guestReply bool
	// guest is the guest of a snapshot route, whose reply is the Job.
	guest string
}

// Do runs or queues one action over REST, with the meaning of Agent.Do.
//
// Async actions return Result.Job, and for guest actions Result.Guest as
// the agent does: lifecycle routes reply with the guest and carry the job
// as queued in a header (from a server that does not send it, the job is
// read back; when that read fails, Job holds only what the reply told: ID,
// GuestID, Action and status Queued); snapshot routes reply with the job
// and the guest is read back (nil when that fails). A dry run returns only
// Result.Pipeline. Info actions return Result.Body; stream actions
// Result.Stream, which the caller must close, and Result.Size (-1 when
// unknown). req.IdempotencyKey is sent as the Idempotency-Key header;
// IdemScope and RequestedBy are set by the server. Errors are those of
// Agent.Do, plus EUNAVAILABLE when hvagentd cannot be reached and the
// caller's EUNAUTHENTICATED or EFORBIDDEN.
func (c *Client) Do(ctx context.Context, action, guest string, req hvagent.Request) (*hvagent.Result, error) {
	kind, ok := hvagent.KindOf(action)
	if !ok {
		return nil, hvagent.Errorf(hvagent.EINVALID, "unknown action %q", action)
	}
	rt, err := clientRouteOf(action, guest, req)
	if err != nil {
		return nil, err
	}
	if req.IdempotencyKey != "" && (rt.method == http.MethodPost || rt.method == http.MethodDelete) {
		rt.header = http.Header{clientIdemHeader: {req.IdempotencyKey}}
	}
	switch {
	case kind == hvagent.Stream && req.Attach && hvagent.BaseAction(action) == hvagent.ActionConsole:
		return c.attachConsole(ctx, rt.clientCall)
	case kind == hvagent.Stream:
		return c.doStream(ctx, rt.clientCall)
	case kind == hvagent.Info:
		return c.doInfo(ctx, rt.clientCall)
	case req.DryRun:
		return c.doDryRun(ctx, rt.clientCall)
	case rt.guestReply:
		return c.doGuestJob(ctx, action, rt.clientCall)
	}
	var job hvagent.Job
	if _, err := c.call(ctx, rt.clientCall, &job); err != nil {
		return nil, err
	}
	res := &hvagent.Result{Job: &job}
	if rt.guest != "" { // best effort: the job is accepted all the same
		res.Guest, _ = c.Guest(ctx, rt.guest)
	}
	return res, nil
}

// doInfo returns an info reply's JSON as Result.Body.
func (c *Client) doInfo(ctx context.Context, call clientCall) (*hvagent.Result, error) {
	resp, err := c.send(ctx, call)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if n := resp.ContentLength; n > 0 && n <= clientMaxPooledBuf {
		buf.Grow(int(n) + bytes.MinRead) // read in one go, EOF included
	}
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, c.lost(ctx, err)
	}
	return &hvagent.Result{Body: bytes.TrimSpace(buf.Bytes())}, nil
}

// doStream returns a stream reply's body as Result.Stream.
func (c *Client) doStream(ctx context.Context, call clientCall) (*hvagent.Result, error) {
	if call.header == nil {
		call.header = http.Header{}
	}
	call.header.Set("Accept", "application/octet-stream")
	resp, err := c.send(ctx, call)
	if err != nil {
		return nil, err
	}
	return &hvagent.Result{Stream: resp.Body, Size: resp.ContentLength}, nil
}

// doDryRun returns the resolved pipeline of an async action.
func (c *Client) doDryRun(ctx context.Context, call clientCall) (*hvagent.Result, error) {
	if call.query == nil {
		call.query = url.Values{}
	}
	call.query.Set("dry_run", "true")
	var dr dryRunReply
	if _, err := c.call(ctx, call, &dr); err != nil {
		return nil, err
	}
	if dr.Stages == nil {
		dr.Stages = []hvagent.StageConfig{}
	}
	return &hvagent.Result{Action: dr.Action, Pipeline: dr.Stages}, nil
}

// doGuestJob sends an async guest action. The job is the one the reply's
// X-Guest-Job header carries, as queued; from a server that sends none it
// is read back.
func (c *Client) doGuestJob(ctx context.Context, action string, call clientCall) (*hvagent.Result, error) {
	var g hvagent.Guest
	resp, err := c.call(ctx, call, &g)
	if err != nil {
		return nil, err
	}
	id := resp.Header.Get(clientJobHeader)
	if id == "" {
		return nil, fmt.Errorf("%s %s: reply has no %s header", call.method, call.path, clientJobHeader)
	}
	if job := queuedJob(resp.Header, id); job != nil {
		return &hvagent.Result{Job: job, Guest: &g}, nil
	}
	job, err := c.Job(ctx, id)
	if err != nil { // accepted all the same: do not make the caller retry
		job = &hvagent.Job{ID: id, GuestID: g.ID, Action: hvagent.GuestAction(hvagent.BaseAction(action), &g), Status: hvagent.JobQueued}
	}
	return &hvagent.Result{Job: job, Guest: &g}, nil
}

// queuedJob decodes the queuedJobHeader of a reply; nil when there is none,
// or it does not decode to the job named id.
func queuedJob(h http.Header, id string) *hvagent.Job {
	v := h.Get(queuedJobHeader)
	if v == "" {
		return nil
	}
	var job hvagent.Job
	if decodeReply([]byte(v), &job) != nil || job.ID != id {
		return nil
	}
	return &job
}

// clientGuestActions are hvagent.GuestActions, copied once.
var clientGuestActions = hvagent.GuestActions()

// clientRouteOf maps an action to its REST route. Errors (EINVALID) are those
// the agent would return for requests that cannot even be addressed.
func clientRouteOf(action, guest string, req hvagent.Request) (clientRoute, error) {
	base := hvagent.BaseAction(action)
	if base == hvagent.ActionCreate {
		if req.Guest == nil {
			return clientRoute{}, hvagent.Errorf(hvagent.EINVALID, "create needs a guest")
		}
		return clientRoute{clientCall: clientCall{method: http.MethodPost, path: "/guests", body: req.Guest}, guestReply: true}, nil
	}
	if hvagent.IsImageAction(base) {
		return clientImageRoute(base, req.Image)
	}
	p, err := clientGuestPath(guest)
	if err != nil {
		return clientRoute{}, err
	}
	switch {
	case base == hvagent.ActionDelete:
		return clientRoute{clientCall: clientCall{method: http.MethodDelete, path: p}, guestReply: true}, nil
	case slices.Contains(clientGuestActions, base):
		return clientRoute{clientCall: clientCall{method: http.MethodPost, path: p + clientPath(base)}, guestReply: true}, nil
	case hvagent.MetricType(base) != "":
		return clientGet(p + clientPath("metrics", hvagent.MetricType(base))), nil
	case base == hvagent.ActionConsole:
		return clientGet(p + "/console"), nil
	}
	rt, err := clientSnapshotRoute(base, p, req)
	if kind, _ := hvagent.KindOf(base); kind == hvagent.Async {
		rt.guest = guest
	}
	return rt, err
}

func clientGet(path string) clientRoute {
	return clientRoute{clientCall: clientCall{method: http.MethodGet, path: path}}
}

// clientSnapshotBody is the optional body of POST …/snapshots.
type clientSnapshotBody struct {
	Dest string `json:"dest"`
}

// clientRollbackBody is the body of POST …/snapshots/{name}/rollback.
type clientRollbackBody struct {
	DestroyMoreRecent bool `json:"destroyMoreRecent"`
}

// clientSnapshotRoute maps a snapshot action on the guest at path p.
func clientSnapshotRoute(base, p string, req hvagent.Request) (clientRoute, error) {
	if req.Disk != nil {
		p += clientPath("disks", strconv.Itoa(*req.Disk))
	}
	p += "/snapshots"
	switch base {
	case hvagent.ActionListSnapshots:
		return clientGet(p), nil
	case hvagent.ActionCreateSnapshot:
		rt := clientRoute{clientCall: clientCall{method: http.MethodPost, path: p}}
		if req.Snapshot != "" {
			rt.body = clientSnapshotBody{Dest: req.Snapshot}
		}
		return rt, nil
	}
	if req.Snapshot == "" {
		return clientRoute{}, hvagent.Errorf(hvagent.EINVALID, "%s needs a snapshot name", base)
	}
	p += clientPath(req.Snapshot)
	switch base {
	case hvagent.ActionGetSnapshot:
		return clientGet(p), nil
	case hvagent.ActionDeleteSnapshot:
		return clientRoute{clientCall: clientCall{method: http.MethodDelete, path: p}}, nil
	case hvagent.ActionRollbackSnapshot:
		body := clientRollbackBody{DestroyMoreRecent: req.DestroyMoreRecent}
		return clientRoute{clientCall: clientCall{method: http.MethodPost, path: p + "/rollback", body: body}}, nil
	}
	return clientGet(p + "/download"), nil // ActionDownloadSnapshot
}

// clientFetchBody is the body of POST /images.
type clientFetchBody struct {
	ID     string `json:"id"`
	Type   string `json:"type,omitempty"`
	Source string `json:"source,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// clientImageRoute maps an image action. The image type travels in the request
// (?type= or the body), as the agent reads it from req.Image, never from
// the action name.
func clientImageRoute(base string, ir *hvagent.ImageRequest) (clientRoute, error) {
	if ir == nil {
		ir = &hvagent.ImageRequest{}
	}
	q := url.Values{}
	if ir.Type != "" {
		q.Set("type", ir.Type)
	}
	switch base {
	case hvagent.ActionListImages:
		return clientRoute{clientCall: clientCall{method: http.MethodGet, path: "/images", query: q}}, nil
	case hvagent.ActionFetchImage:
		body := clientFetchBody{ID: ir.ID, Type: ir.Type, Source: ir.Source, SHA256: ir.SHA256}
		return clientRoute{clientCall: clientCall{method: http.MethodPost, path: "/images", body: body}}, nil
	}
	if ir.ID == "" {
		return clientRoute{}, hvagent.Errorf(hvagent.EINVALID, "missing id")
	}
	p := clientPath("images", ir.ID)
	if base == hvagent.ActionGetImage {
		return clientRoute{clientCall: clientCall{method: http.MethodGet, path: p, query: q}}, nil
	}
	return clientRoute{clientCall: clientCall{method: http.MethodDelete, path: p, query: q}}, nil
}
