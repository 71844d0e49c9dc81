package hvagent

import (
	"context"
	"encoding/json"
)

// replayGone answers a keyed guest request whose guest no longer exists
// (deleted since the key was recorded) with the job the key recorded, as
// any replay does, so that a client retrying after a lost reply gets its
// job and not a 404. The reply's guest carries only the ID. It returns nil
// and no error when no live key matches, and ECONFLICT when the key was
// recorded for another request.
func (a *Agent) replayGone(ctx context.Context, action, ref string, req Request) (*Result, error) {
	for _, scope := range replayScopes(action, ref, req) {
		job, hash, err := a.store.KeyJob(ctx, scope, req.IdempotencyKey, a.now())
		if err != nil {
			return nil, err
		}
		if job == nil || BaseAction(job.Action) != BaseAction(action) {
			continue
		}
		if hash != requestHash(job.Action, job.GuestID, req) {
			return nil, Errorf(ECONFLICT, "idempotency key reused with a different request")
		}
		return &Result{Action: job.Action, Job: job, Guest: &Guest{ID: job.GuestID}}, nil
	}
	return nil, nil
}

// replayScopes returns the scopes a key of this request may have been
// recorded under: the caller's (REST sets caller, method and path), else
// the default "<action> <guest ID>" of enqueue for both guest types, which
// needs the guest's ID.
func replayScopes(action, ref string, req Request) []string {
	if req.IdemScope != "" {
		return []string{req.IdemScope}
	}
	id, _, err := ParseGuestRef(ref)
	if err != nil || id == "" {
		return nil
	}
	base := BaseAction(action)
	vm := GuestAction(base, &Guest{})
	ct := GuestAction(base, &Guest{Type: "container"})
	if vm == ct {
		return []string{vm + " " + id}
	}
	return []string{vm + " " + id, ct + " " + id}
}

// createdGuest is the guest a create job made, for the replay of a create
// whose guest has since been deleted: the job's result when it has one,
// else only the ID.
func createdGuest(job *Job) *Guest {
	g := &Guest{}
	if len(job.Result) == 0 || json.Unmarshal(job.Result, g) != nil || g.ID != job.GuestID {
		return &Guest{ID: job.GuestID}
	}
	return g
}
