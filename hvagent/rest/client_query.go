package rest

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

// clientGuestPath returns "/guests/<id or name>" + more segments. Errors
// are those of ParseGuestRef (EINVALID), as the agent checks the guest
// first too.
func clientGuestPath(ref string, more ...string) (string, error) {
	id, name, err := hvagent.ParseGuestRef(ref)
	if err != nil {
		return "", err
	}
	return clientPath(append([]string{"guests", id + name}, more...)...), nil
}

// clientJobPath returns "/jobs/<id>". Job IDs are UUIDs: any other ID
// names no job (ENOTFOUND, as from the agent).
func clientJobPath(id string) (string, error) {
	uuid, err := hvagent.ParseGuestID(id)
	if err != nil {
		return "", hvagent.Errorf(hvagent.ENOTFOUND, "job %s not found", id)
	}
	return clientPath("jobs", uuid), nil
}

// Guest returns one guest. Errors: EINVALID (bad ID), ENOTFOUND, and
// EUNAVAILABLE when hvagentd cannot be reached.
func (c *Client) Guest(ctx context.Context, id string) (*hvagent.Guest, error) {
	p, err := clientGuestPath(id)
	if err != nil {
		return nil, err
	}
	var g hvagent.Guest
	if _, err := c.call(ctx, clientCall{method: http.MethodGet, path: p}, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// Guests lists guests ordered by ID. Errors: EINVALID (bad limit).
func (c *Client) Guests(ctx context.Context, f hvagent.GuestFilter) ([]*hvagent.Guest, error) {
	q := url.Values{}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(min(f.Limit, maxListLimit)))
	}
	if f.After != "" {
		q.Set("after", f.After)
	}
	if f.Name != "" {
		q.Set("name", f.Name)
	}
	guests := []*hvagent.Guest{}
	if _, err := c.call(ctx, clientCall{method: http.MethodGet, path: "/guests", query: q}, &guests); err != nil {
		return nil, err
	}
	return guests, nil
}

// RenameGuest sets the name of guest (an ID or a name; "" removes it) with
// PATCH /guests/{id}, and returns the guest. Errors: EINVALID, ENOTFOUND,
// ECONFLICT (another guest has the name).
func (c *Client) RenameGuest(ctx context.Context, guest, name string) (*hvagent.Guest, error) {
	p, err := clientGuestPath(guest)
	if err != nil {
		return nil, err
	}
	var g hvagent.Guest
	call := clientCall{method: http.MethodPatch, path: p, body: map[string]string{"name": name}}
	if _, err := c.call(ctx, call, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// GuestMetadata returns a guest's metadata, never nil. Errors: EINVALID,
// ENOTFOUND.
func (c *Client) GuestMetadata(ctx context.Context, id string) (map[string]string, error) {
	p, err := clientGuestPath(id, "metadata")
	if err != nil {
		return nil, err
	}
	return c.metadata(ctx, clientCall{method: http.MethodGet, path: p})
}

// PatchGuestMetadata upserts the keys of patch into a guest's metadata,
// deletes those whose value is "", and returns the result. Errors:
// EINVALID, ENOTFOUND.
func (c *Client) PatchGuestMetadata(ctx context.Context, id string, patch map[string]string) (map[string]string, error) {
	p, err := clientGuestPath(id, "metadata")
	if err != nil {
		return nil, err
	}
	return c.metadata(ctx, clientCall{method: http.MethodPatch, path: p, body: nonNilMap(patch)})
}

// Metadata returns the hypervisor metadata, never nil.
func (c *Client) Metadata(ctx context.Context) (map[string]string, error) {
	return c.metadata(ctx, clientCall{method: http.MethodGet, path: "/metadata"})
}

// PatchMetadata upserts the keys of patch into the hypervisor metadata,
// deletes those whose value is "", and returns the whole map. Errors:
// EINVALID.
func (c *Client) PatchMetadata(ctx context.Context, patch map[string]string) (map[string]string, error) {
	return c.metadata(ctx, clientCall{method: http.MethodPatch, path: "/metadata", body: nonNilMap(patch)})
}

func (c *Client) metadata(ctx context.Context, call clientCall) (map[string]string, error) {
	m := map[string]string{}
	if _, err := c.call(ctx, call, &m); err != nil {
		return nil, err
	}
	return nonNilMap(m), nil
}

// Job returns one job. Errors: ENOTFOUND.
func (c *Client) Job(ctx context.Context, id string) (*hvagent.Job, error) {
	p, err := clientJobPath(id)
	if err != nil {
		return nil, err
	}
	var job hvagent.Job
	if _, err := c.call(ctx, clientCall{method: http.MethodGet, path: p}, &job); err != nil {
		return nil, err
	}
	return &job, nil
}

// Jobs lists jobs newest first. Errors: EINVALID (bad limit or cursor).
func (c *Client) Jobs(ctx context.Context, f hvagent.JobFilter) ([]*hvagent.Job, error) {
	q := url.Values{}
	guest := f.GuestID
	if guest == "" {
		guest = f.GuestName
	}
	for k, v := range map[string]string{"guest": guest, "action": f.Action, "status": string(f.Status), "before": f.Before} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(min(f.Limit, maxListLimit)))
	}
	jobs := []*hvagent.Job{}
	if _, err := c.call(ctx, clientCall{method: http.MethodGet, path: "/jobs", query: q}, &jobs); err != nil {
		return nil, err
	}
	return jobs, nil
}

// clientMaxWaitQuery is the query of a wait of MaxWait, the usual one.
var clientMaxWaitQuery = "wait=" + url.QueryEscape(MaxWait.String())

// WaitJob blocks until job id is final or ctx ends, long-polling
// GET /jobs/{id}?wait=, and returns the job as it is then; when ctx ends
// first the error is ctx's (ETIMEOUT or ECANCELED). Errors: ENOTFOUND.
func (c *Client) WaitJob(ctx context.Context, id string) (*hvagent.Job, error) {
	p, err := clientJobPath(id)
	if err != nil {
		return nil, err
	}
	var last *hvagent.Job
	for ctx.Err() == nil {
		wait := MaxWait
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl).Truncate(time.Millisecond))
		}
		if wait <= 0 { // less than a millisecond left
			<-ctx.Done()
			break
		}
		var job hvagent.Job
		q := clientMaxWaitQuery
		if wait != MaxWait {
			q = "wait=" + url.QueryEscape(wait.String())
		}
		if _, err := c.call(ctx, clientCall{method: http.MethodGet, path: p, rawQuery: q}, &job); err != nil {
			if ctx.Err() != nil {
				break
			}
			return nil, err
		}
		if last = &job; job.Status.Final() {
			return last, nil
		}
	}
	if last == nil { // report the job as it is, as the agent does
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), clientDialTimeout)
		defer cancel()
		if job, err := c.Job(rctx, id); err == nil {
			last = job
		}
	}
	return last, hvagent.ContextError(ctx)
}

// CancelJob cancels job id and returns it as it ended. Errors: ENOTFOUND,
// ECONFLICT (already finished), EUNAVAILABLE.
func (c *Client) CancelJob(ctx context.Context, id string) (*hvagent.Job, error) {
	p, err := clientJobPath(id)
	if err != nil {
		return nil, err
	}
	var job hvagent.Job
	if _, err := c.call(ctx, clientCall{method: http.MethodDelete, path: p}, &job); err != nil {
		return nil, err
	}
	return &job, nil
}

// PauseQueue stops workers from starting jobs of action ("" or "*" = all
// actions); paused jobs stay queued. Errors: EINVALID (unknown action),
// EFORBIDDEN (the token lacks admin scope).
func (c *Client) PauseQueue(ctx context.Context, action string) error {
	return c.queue(ctx, "pause", action)
}

// ResumeQueue undoes PauseQueue for action ("" or "*" resumes everything).
// Errors: EINVALID, EFORBIDDEN.
func (c *Client) ResumeQueue(ctx context.Context, action string) error {
	return c.queue(ctx, "resume", action)
}

func (c *Client) queue(ctx context.Context, verb, action string) error {
	q := url.Values{}
	if action != "" {
		q.Set("action", action)
	}
	_, err := c.call(ctx, clientCall{method: http.MethodPost, path: clientPath("queue", verb), query: q}, nil)
	return err
}

// QueueStats returns the depth of every queue holding queued or running
// jobs, ordered by queue. Errors: EUNAVAILABLE, EFORBIDDEN.
func (c *Client) QueueStats(ctx context.Context) ([]hvagent.QueueStat, error) {
	stats := []hvagent.QueueStat{}
	if _, err := c.call(ctx, clientCall{method: http.MethodGet, path: "/queue"}, &stats); err != nil {
		return nil, err
	}
	return stats, nil
}

// Health returns hvagentd's self-report. Errors: EUNAVAILABLE when it
// cannot be reached.
func (c *Client) Health(ctx context.Context) (*hvagent.Health, error) {
	var h hvagent.Health
	if _, err := c.call(ctx, clientCall{method: http.MethodGet, path: "/healthz"}, &h); err != nil {
		return nil, err
	}
	return &h, nil
}
