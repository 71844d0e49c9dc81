package hvagent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
)

// idempotencyTTL is how long an Idempotency-Key stays live.
const idempotencyTTL = 24 * time.Hour

// MaxIdempotencyKey is the longest Request.IdempotencyKey, in bytes.
const MaxIdempotencyKey = 255

// Do runs or queues one action on guest, its ID or its name ("" for
// host-level actions and for create, whose new ID is in the result).
//
// Async actions are committed as a Queued job before Do returns
// (Result.Job, and Result.Guest for guest actions); info actions return
// Result.Body; stream actions return Result.Stream, which the caller must
// close. Errors: EINVALID (unknown action, bad guest ID or request; a
// create's guest or a snapshot name that breaks the rules in the package
// doc's "Bad input"; the message names the field and what it accepts; an
// idempotency key longer than MaxIdempotencyKey bytes), ENOTFOUND (unknown
// guest, image or snapshot, or an action that is not configured),
// ECONFLICT (duplicate guest ID, reused idempotency key), EBUSY
// (queue full), EUNAVAILABLE (agent not running, or the store's disk is
// full), ESUBAGENT and ETIMEOUT
// (info and stream actions, and the image lookup of a create).
func (a *Agent) Do(ctx context.Context, action, guest string, req Request) (*Result, error) {
	if err := a.accepting(); err != nil {
		return nil, err
	}
	if _, ok := KindOf(action); !ok {
		return nil, Errorf(EINVALID, "unknown action %q", action)
	}
	if n := len(req.IdempotencyKey); n > MaxIdempotencyKey {
		return nil, Errorf(EINVALID, "idempotency key is %d bytes: the limit is %d", n, MaxIdempotencyKey)
	}
	base := BaseAction(action)
	if base == ActionCreate {
		return a.create(ctx, req)
	}
	if _, ok := imageActions[base]; ok {
		return a.doImage(ctx, base, req)
	}
	g, err := a.resolveGuest(ctx, guest)
	if ErrorCode(err) == ENOTFOUND && req.IdempotencyKey != "" && !req.DryRun {
		if res, rerr := a.replayGone(ctx, action, guest, req); rerr != nil || res != nil {
			return res, rerr
		}
	}
	if err != nil {
		return nil, err
	}
	return a.doGuest(ctx, action, g, req)
}

// doGuest runs an action of an existing guest.
func (a *Agent) doGuest(ctx context.Context, action string, g *Guest, req Request) (*Result, error) {
	name := GuestAction(BaseAction(action), g)
	act, err := a.action(name)
	if err != nil {
		return nil, err
	}
	kind, _ := KindOf(name)
	switch kind {
	case Info:
		return a.info(ctx, name, act, g, req)
	case Stream:
		return a.stream(ctx, name, act, g, req)
	}
	var jr jobRequest
	if isSnapshotAction(name) {
		if jr.Snapshot, err = a.snapshotRequest(name, g, req); err != nil {
			return nil, err
		}
	}
	job, err := a.enqueue(ctx, name, act, req, NewJob{Job: &Job{GuestID: g.ID}, Queue: g.ID, RequireGuest: true}, jr)
	if err != nil {
		return nil, err
	}
	if job == nil {
		return &Result{Action: name, Guest: g, Pipeline: act.Stages}, nil
	}
	return &Result{Action: name, Job: job, Guest: g}, nil
}

func isSnapshotAction(name string) bool {
	return name == ActionCreateSnapshot || name == ActionDeleteSnapshot || name == ActionRollbackSnapshot
}

// action returns a configured action, or ENOTFOUND as the original did.
func (a *Agent) action(name string) (ActionConfig, error) {
	act, ok := a.cfg.Actions[name]
	if !ok {
		return ActionConfig{}, Errorf(ENOTFOUND, "%s: Not configured", name)
	}
	return act, nil
}

// enqueue commits a job for action with its durable request and wakes the
// queue's worker. It returns a nil job for a dry run.
func (a *Agent) enqueue(ctx context.Context, action string, act ActionConfig, req Request, n NewJob, jr jobRequest) (*Job, error) {
	if req.DryRun {
		return nil, nil
	}
	raw, err := json.Marshal(jr)
	if err != nil {
		return nil, err
	}
	now := a.now()
	n.Job.ID = uuid.NewString()
	n.Job.Action = action
	n.Job.QueuedAt = now
	n.Job.RequestedBy = req.RequestedBy
	n.Request = raw
	n.MaxQueued = a.cfg.MaxQueued
	if req.IdempotencyKey != "" {
		target := n.Job.GuestID
		if n.NewGuest != nil { // the new guest's ID may be generated anew on each try
			target = ""
		}
		n.Job.IdempotencyKey = req.IdempotencyKey
		n.IdemScope = req.IdemScope
		if n.IdemScope == "" {
			n.IdemScope = action + " " + target
		}
		n.IdemHash = requestHash(action, target, req)
		n.IdemExpires = now.Add(idempotencyTTL)
	}
	w, fresh := a.holdWorker(n.Queue)
	if w == nil { // a host queue, or the agent is stopping
		job, err := a.store.Enqueue(ctx, n)
		if err != nil {
			return nil, err
		}
		a.kick(n.Queue)
		return job, nil
	}
	released := false
	defer func() {
		if !released { // the store panicked: whether the job committed is unknown, so the worker looks
			a.releaseWorker(n.Queue, w, fresh, nil, true)
		}
	}()
	job, c, err := a.enqueueClaim(ctx, n)
	released = true
	a.releaseWorker(n.Queue, w, fresh, c, err == nil)
	if err == nil && job.ID == n.Job.ID { // not an earlier job of the same idempotency key
		a.overrule(job)
	}
	return job, err
}

// enqueueClaim enqueues n on a queue whose worker the caller holds and
// claims it in the same commit when the queue is idle and n's action may
// start (see Store.EnqueueClaim); the claim is nil otherwise. It holds
// claimMu as a claim does.
func (a *Agent) enqueueClaim(ctx context.Context, n NewJob) (*Job, *Claim, error) {
	a.claimMu.RLock()
	defer a.claimMu.RUnlock()
	o, ok := a.claimOptions()
	if !ok {
		job, err := a.store.Enqueue(ctx, n)
		return job, nil, err
	}
	return a.store.EnqueueClaim(ctx, n, o)
}

// requestHash fingerprints a request for idempotency checks.
func requestHash(action, guest string, req Request) string {
	b, _ := json.Marshal(struct {
		Action, Guest string
		Req           Request
	}{action, guest, req})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ParseGuestID checks that id is a UUID and returns it in lowercase.
// Errors are EINVALID.
func ParseGuestID(id string) (string, error) {
	if id == "" {
		return "", Errorf(EINVALID, "guest id is required")
	}
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return "", Errorf(EINVALID, "guest id %q must be a UUID", id)
	}
	// A UUID of 36 characters is in the canonical form (hyphens at their
	// places, hex digits elsewhere), so its lowercase is the canonical
	// text; ToLower returns an ID already in lowercase as it is.
	return strings.ToLower(id), nil
}
