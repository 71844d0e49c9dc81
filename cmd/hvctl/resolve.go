package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/hvagent/hvagent/hvagent"
)

// minPrefix is the shortest ID prefix that names a guest or a job.
const minPrefix = 4

// resolver is the Service the commands use: wherever a guest is expected it
// takes a guest ID, a guest name or a unique prefix of a guest ID, and
// wherever a job is expected a job ID or a unique prefix of one; it passes
// the agent what these stand for. An ambiguous prefix is EINVALID (exit 2,
// with no usage hint) listing the matches. A full ID goes through unchanged,
// with no lookup.
type resolver struct {
	hvagent.Service
}

// withResolver wraps svc in a resolver (once).
func withResolver(svc hvagent.Service) hvagent.Service {
	if _, ok := svc.(*resolver); ok || svc == nil {
		return svc
	}
	return &resolver{Service: svc}
}

// Do runs action on the guest ref stands for ("" for host-level actions).
func (r *resolver) Do(ctx context.Context, action, ref string, req hvagent.Request) (*hvagent.Result, error) {
	if ref == "" {
		return r.Service.Do(ctx, action, ref, req)
	}
	id, err := r.guestID(ctx, ref)
	if err != nil {
		return nil, err
	}
	return r.Service.Do(ctx, action, id, req)
}

// Guest returns the guest ref stands for, in one call when ref is its ID
// or its name.
func (r *resolver) Guest(ctx context.Context, ref string) (*hvagent.Guest, error) {
	if hvagent.ValidateGuestName(ref) == nil {
		g, err := r.Service.Guest(ctx, ref)
		if (err == nil && g != nil) || (err != nil && hvagent.ErrorCode(err) != hvagent.ENOTFOUND) {
			return g, err
		}
	}
	id, err := r.guestID(ctx, ref)
	if err != nil {
		return nil, err
	}
	return r.Service.Guest(ctx, id)
}

// GuestMetadata returns the metadata of the guest ref stands for.
func (r *resolver) GuestMetadata(ctx context.Context, ref string) (map[string]string, error) {
	id, err := r.guestID(ctx, ref)
	if err != nil {
		return nil, err
	}
	return r.Service.GuestMetadata(ctx, id)
}

// PatchGuestMetadata patches the metadata of the guest ref stands for.
func (r *resolver) PatchGuestMetadata(ctx context.Context, ref string, patch map[string]string) (map[string]string, error) {
	id, err := r.guestID(ctx, ref)
	if err != nil {
		return nil, err
	}
	return r.Service.PatchGuestMetadata(ctx, id, patch)
}

// RenameGuest renames the guest ref stands for.
func (r *resolver) RenameGuest(ctx context.Context, ref, name string) (*hvagent.Guest, error) {
	id, err := r.guestID(ctx, ref)
	if err != nil {
		return nil, err
	}
	return r.Service.RenameGuest(ctx, id, name)
}

// Jobs lists jobs; f.GuestID may be anything a guest argument may be. A
// name no guest has goes to the agent as it is: it finds the jobs of a
// deleted guest by the name they recorded.
func (r *resolver) Jobs(ctx context.Context, f hvagent.JobFilter) ([]*hvagent.Job, error) {
	if f.GuestID != "" && f.GuestID != hvagent.AgentGuestID {
		id, err := r.guestID(ctx, f.GuestID)
		switch {
		case err == nil:
			f.GuestID = id
		case hvagent.ErrorCode(err) != hvagent.ENOTFOUND || hvagent.ValidateGuestName(f.GuestID) != nil:
			return nil, err
		}
	}
	return r.Service.Jobs(ctx, f)
}

// Job returns the job ref stands for.
func (r *resolver) Job(ctx context.Context, ref string) (*hvagent.Job, error) {
	id, err := r.jobID(ctx, ref)
	if err != nil {
		return nil, err
	}
	return r.Service.Job(ctx, id)
}

// WaitJob waits for the job ref stands for.
func (r *resolver) WaitJob(ctx context.Context, ref string) (*hvagent.Job, error) {
	id, err := r.jobID(ctx, ref)
	if err != nil {
		return nil, err
	}
	return r.Service.WaitJob(ctx, id)
}

// CancelJob cancels the job ref stands for.
func (r *resolver) CancelJob(ctx context.Context, ref string) (*hvagent.Job, error) {
	id, err := r.jobID(ctx, ref)
	if err != nil {
		return nil, err
	}
	return r.Service.CancelJob(ctx, id)
}

// guestID returns the ID of the guest ref names: ref itself when it is a
// full ID, else the guest with that name, else the one guest whose ID
// starts with ref (at least minPrefix characters). Errors: ENOTFOUND,
// EINVALID for an ambiguous prefix or a ref that can be none of these.
func (r *resolver) guestID(ctx context.Context, ref string) (string, error) {
	if id, err := hvagent.ParseGuestID(ref); err == nil {
		return id, nil
	}
	isName := hvagent.ValidateGuestName(ref) == nil
	if isName {
		g, err := r.Service.Guest(ctx, ref)
		switch {
		case err == nil && g != nil:
			return g.ID, nil
		case err != nil && hvagent.ErrorCode(err) != hvagent.ENOTFOUND:
			return "", err
		}
	}
	prefix := strings.ToLower(ref)
	switch {
	case !isIDPrefix(prefix) && !isName:
		return "", hvagent.Errorf(hvagent.EINVALID, "guest %q is not a guest ID, name or ID prefix (%s)", ref, hvagent.GuestNameRule)
	case !isIDPrefix(prefix):
		return "", hvagent.Errorf(hvagent.ENOTFOUND, "guest %q not found", ref)
	case len(prefix) < minPrefix:
		return "", hvagent.Errorf(hvagent.ENOTFOUND, "guest %q not found (an ID prefix needs at least %d characters)", ref, minPrefix)
	}
	guests, err := r.allGuests(ctx)
	if err != nil {
		return "", err
	}
	var matches []string
	for _, g := range guests {
		if strings.HasPrefix(g.ID, prefix) {
			matches = append(matches, describeGuest(g))
		}
	}
	return pickMatch("guest", ref, matches)
}

// jobID returns ref when it is a full job ID, else the one job whose ID
// starts with ref (at least minPrefix characters). Errors: ENOTFOUND,
// EINVALID for an ambiguous or short prefix.
func (r *resolver) jobID(ctx context.Context, ref string) (string, error) {
	if id, err := hvagent.ParseGuestID(ref); err == nil {
		return id, nil
	}
	prefix := strings.ToLower(ref)
	if len(prefix) < minPrefix || !isIDPrefix(prefix) {
		return "", hvagent.Errorf(hvagent.EINVALID, "job %q: give a job ID or a unique prefix of one, at least %d characters", ref, minPrefix)
	}
	var matches []string
	f := hvagent.JobFilter{Limit: pageSize}
	for {
		jobs, err := r.Service.Jobs(ctx, f)
		if err != nil {
			return "", err
		}
		for _, j := range jobs {
			if strings.HasPrefix(j.ID, prefix) {
				matches = append(matches, fmt.Sprintf("%s (%s %s)", j.ID, j.Action, j.Status))
			}
		}
		if len(jobs) < pageSize {
			return pickMatch("job", ref, matches)
		}
		f.Before = jobs[len(jobs)-1].ID
	}
}

// pageSize is how many guests or jobs one list request asks for.
const pageSize = 1000

// allGuests lists every guest, page by page.
func (r *resolver) allGuests(ctx context.Context) ([]*hvagent.Guest, error) {
	var all []*hvagent.Guest
	f := hvagent.GuestFilter{Limit: pageSize}
	for {
		page, err := r.Service.Guests(ctx, f)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < pageSize {
			return all, nil
		}
		f.After = page[len(page)-1].ID
	}
}

// pickMatch returns the one match of an ID prefix (its ID: the text up to
// the first space); none is ENOTFOUND, several EINVALID listing them.
func pickMatch(what, ref string, matches []string) (string, error) {
	switch len(matches) {
	case 0:
		return "", hvagent.Errorf(hvagent.ENOTFOUND, "no %s has an ID starting with %q", what, ref)
	case 1:
		id, _, _ := strings.Cut(matches[0], " ")
		return id, nil
	}
	return "", hvagent.Errorf(hvagent.EINVALID, "%s ID prefix %q is ambiguous: it matches %s; give more characters", what, ref, strings.Join(matches, ", "))
}

// describeGuest is a guest's ID, with its name when it has one.
func describeGuest(g *hvagent.Guest) string {
	if g.Name == "" {
		return g.ID
	}
	return fmt.Sprintf("%s (%s)", g.ID, g.Name)
}

// isIDPrefix reports whether s may begin a lowercase UUID.
func isIDPrefix(s string) bool {
	if s == "" || len(s) > 36 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && c != '-' {
			return false
		}
	}
	return true
}
