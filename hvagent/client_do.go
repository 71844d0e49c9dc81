package hvagent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
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
// the agent does: lifecycle routes reply with the guest and the job is read
// back (when that read fails, Job holds only what the reply told: ID,
// GuestID, Action and status Queued); snapshot routes reply with the job
// and the guest is read back (nil when that fails). A dry run returns only
// Result.Pipeline. Info actions return Result.Body; stream actions
// Result.Stream, which the caller must close, and Result.Size (-1 when
// unknown). req.IdempotencyKey is sent as the Idempotency-Key header;
// IdemScope and RequestedBy are set by the server. Errors are those of
// Agent.Do, plus EUNAVAILABLE when hvagentd cannot be reached and the
// caller's EUNAUTHENTICATED or EFORBIDDEN.
func (c *Client) Do(ctx context.Context, action, guest string, req Request) (*Result, error) {
	kind, ok := KindOf(action)
	if !ok {
		return nil, Errorf(EINVALID, "unknown action %q", action)
	}
	rt, err := clientRouteOf(action, guest, req)
	if err != nil {
		return nil, err
	}
	if req.IdempotencyKey != "" && (rt.method == http.MethodPost || rt.method == http.MethodDelete) {
		rt.header = http.Header{clientIdemHeader: {req.IdempotencyKey}}
	}
	switch {
	case kind == Stream:
		return c.doStream(ctx, rt.clientCall)
	case kind == Info:
		return c.doInfo(ctx, rt.clientCall)
	case req.DryRun:
		return c.doDryRun(ctx, rt.clientCall)
	case rt.guestReply:
		return c.doGuestJob(ctx, action, rt.clientCall)
	}
	var job Job
	if _, err := c.call(ctx, rt.clientCall, &job); err != nil {
		return nil, err
	}
	res := &Result{Job: &job}
	if rt.guest != "" { // best effort: the job is accepted all the same
		res.Guest, _ = c.Guest(ctx, rt.guest)
	}
	return res, nil
}

// doInfo returns an info reply's JSON as Result.Body.
func (c *Client) doInfo(ctx context.Context, call clientCall) (*Result, error) {
	resp, err := c.send(ctx, call)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, c.lost(ctx, err)
	}
	return &Result{Body: bytes.TrimSpace(b)}, nil
}

// doStream returns a stream reply's body as Result.Stream.
func (c *Client) doStream(ctx context.Context, call clientCall) (*Result, error) {
	if call.header == nil {
		call.header = http.Header{}
	}
	call.header.Set("Accept", "application/octet-stream")
	resp, err := c.send(ctx, call)
	if err != nil {
		return nil, err
	}
	return &Result{Stream: resp.Body, Size: resp.ContentLength}, nil
}

// clientDryRun is the reply of ?dry_run=true.
type clientDryRun struct {
	Action string        `json:"action"`
	Stages []StageConfig `json:"stages"`
}

// doDryRun returns the resolved pipeline of an async action.
func (c *Client) doDryRun(ctx context.Context, call clientCall) (*Result, error) {
	if call.query == nil {
		call.query = url.Values{}
	}
	call.query.Set("dry_run", "true")
	var dr clientDryRun
	if _, err := c.call(ctx, call, &dr); err != nil {
		return nil, err
	}
	if dr.Stages == nil {
		dr.Stages = []StageConfig{}
	}
	return &Result{Action: dr.Action, Pipeline: dr.Stages}, nil
}

// doGuestJob sends an async guest action and reads its job back.
func (c *Client) doGuestJob(ctx context.Context, action string, call clientCall) (*Result, error) {
	var g Guest
	resp, err := c.call(ctx, call, &g)
	if err != nil {
		return nil, err
	}
	id := resp.Header.Get(clientJobHeader)
	if id == "" {
		return nil, fmt.Errorf("%s %s: reply has no %s header", call.method, call.path, clientJobHeader)
	}
	job, err := c.Job(ctx, id)
	if err != nil { // accepted all the same: do not make the caller retry
		job = &Job{ID: id, GuestID: g.ID, Action: GuestAction(BaseAction(action), &g), Status: JobQueued}
	}
	return &Result{Job: job, Guest: &g}, nil
}

// clientRouteOf maps an action to its REST route. Errors (EINVALID) are those
// the agent would return for requests that cannot even be addressed.
func clientRouteOf(action, guest string, req Request) (clientRoute, error) {
	base := BaseAction(action)
	if base == ActionCreate {
		if req.Guest == nil {
			return clientRoute{}, Errorf(EINVALID, "create needs a guest")
		}
		return clientRoute{clientCall: clientCall{method: http.MethodPost, path: "/guests", body: req.Guest}, guestReply: true}, nil
	}
	if _, ok := imageActions[base]; ok {
		return clientImageRoute(base, req.Image)
	}
	p, err := clientGuestPath(guest)
	if err != nil {
		return clientRoute{}, err
	}
	switch {
	case base == ActionDelete:
		return clientRoute{clientCall: clientCall{method: http.MethodDelete, path: p}, guestReply: true}, nil
	case slices.Contains(guestActions, base):
		return clientRoute{clientCall: clientCall{method: http.MethodPost, path: p + clientPath(base)}, guestReply: true}, nil
	case metricTypes[base] != "":
		return clientGet(p + clientPath("metrics", metricTypes[base])), nil
	case base == ActionConsole:
		return clientGet(p + "/console"), nil
	}
	rt, err := clientSnapshotRoute(base, p, req)
	if kind, _ := KindOf(base); kind == Async {
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
func clientSnapshotRoute(base, p string, req Request) (clientRoute, error) {
	if req.Disk != nil {
		p += clientPath("disks", strconv.Itoa(*req.Disk))
	}
	p += "/snapshots"
	switch base {
	case ActionListSnapshots:
		return clientGet(p), nil
	case ActionCreateSnapshot:
		rt := clientRoute{clientCall: clientCall{method: http.MethodPost, path: p}}
		if req.Snapshot != "" {
			rt.body = clientSnapshotBody{Dest: req.Snapshot}
		}
		return rt, nil
	}
	if req.Snapshot == "" {
		return clientRoute{}, Errorf(EINVALID, "%s needs a snapshot name", base)
	}
	p += clientPath(req.Snapshot)
	switch base {
	case ActionGetSnapshot:
		return clientGet(p), nil
	case ActionDeleteSnapshot:
		return clientRoute{clientCall: clientCall{method: http.MethodDelete, path: p}}, nil
	case ActionRollbackSnapshot:
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
func clientImageRoute(base string, ir *ImageRequest) (clientRoute, error) {
	if ir == nil {
		ir = &ImageRequest{}
	}
	q := url.Values{}
	if ir.Type != "" {
		q.Set("type", ir.Type)
	}
	switch base {
	case ActionListImages:
		return clientRoute{clientCall: clientCall{method: http.MethodGet, path: "/images", query: q}}, nil
	case ActionFetchImage:
		body := clientFetchBody{ID: ir.ID, Type: ir.Type, Source: ir.Source, SHA256: ir.SHA256}
		return clientRoute{clientCall: clientCall{method: http.MethodPost, path: "/images", body: body}}, nil
	}
	if ir.ID == "" {
		return clientRoute{}, Errorf(EINVALID, "missing id")
	}
	p := clientPath("images", ir.ID)
	if base == ActionGetImage {
		return clientRoute{clientCall: clientCall{method: http.MethodGet, path: p, query: q}}, nil
	}
	return clientRoute{clientCall: clientCall{method: http.MethodDelete, path: p, query: q}}, nil
}
