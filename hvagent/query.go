package hvagent

import (
	"context"
	"maps"
)

// Guest returns one guest, named by its ID or its name. Errors: EINVALID
// (neither an ID nor a name), ENOTFOUND.
func (a *Agent) Guest(ctx context.Context, id string) (*Guest, error) {
	return a.resolveGuest(ctx, id)
}

// Guests lists guests ordered by ID. Errors: EINVALID (bad limit, or a
// Name that is not a guest name).
func (a *Agent) Guests(ctx context.Context, f GuestFilter) ([]*Guest, error) {
	if f.Name != "" {
		if err := ValidateGuestName(f.Name); err != nil {
			return nil, err
		}
	}
	return a.store.Guests(ctx, f)
}

// GuestMetadata returns a guest's metadata, never nil. Errors: EINVALID,
// ENOTFOUND.
func (a *Agent) GuestMetadata(ctx context.Context, id string) (map[string]string, error) {
	g, err := a.Guest(ctx, id)
	if err != nil {
		return nil, err
	}
	return nonNil(g.Metadata), nil
}

// PatchGuestMetadata upserts the keys of patch into a guest's metadata and
// deletes those whose value is "", in one transaction, and returns the
// result. The guest is named by its ID or its name. Errors: EINVALID,
// ENOTFOUND, and ETOOLARGE when the result is over the limits of
// Config.MetadataLimits (a key or value over its length is EINVALID).
func (a *Agent) PatchGuestMetadata(ctx context.Context, id string, patch map[string]string) (map[string]string, error) {
	lim := a.cfg.MetadataLimits()
	if err := lim.CheckEntries(patch); err != nil {
		return nil, err
	}
	if err := checkPatchSize(lim, patch); err != nil {
		return nil, err
	}
	g, err := a.resolveGuest(ctx, id)
	if err != nil {
		return nil, err
	}
	g, err = a.store.PatchGuestMetadata(ctx, g.ID, patch, lim)
	if err != nil {
		return nil, err
	}
	return nonNil(g.Metadata), nil
}

// Metadata returns the hypervisor metadata, never nil.
func (a *Agent) Metadata(ctx context.Context) (map[string]string, error) {
	return a.store.Metadata(ctx)
}

// PatchMetadata upserts the keys of patch into the hypervisor metadata and
// deletes those whose value is "", and returns the whole map. The host's
// metadata has the limits of a guest's (Config.MetadataLimits). Errors:
// EINVALID, ETOOLARGE.
func (a *Agent) PatchMetadata(ctx context.Context, patch map[string]string) (map[string]string, error) {
	lim := a.cfg.MetadataLimits()
	if err := lim.CheckEntries(patch); err != nil {
		return nil, err
	}
	if err := checkPatchSize(lim, patch); err != nil {
		return nil, err
	}
	return a.store.PatchMetadata(ctx, patch, lim)
}

// checkPatchSize refuses with ETOOLARGE, before any store work, a patch
// that alone names more keys than a guest may hold or whose keys and values
// are over the byte total (whatever it deletes, its upserts would be).
func checkPatchSize(lim MetadataLimits, patch map[string]string) error {
	if lim.Keys > 0 && len(patch) > lim.Keys {
		return Errorf(ETOOLARGE, "metadata patch names %d keys, more than the limit of %d", len(patch), lim.Keys)
	}
	size := 0
	for k, v := range patch {
		if v != "" {
			size += len(k) + len(v)
		}
	}
	return lim.CheckTotal(0, size)
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return maps.Clone(m)
}

// Job returns one job. Errors: ENOTFOUND.
func (a *Agent) Job(ctx context.Context, id string) (*Job, error) {
	return a.store.Job(ctx, id)
}

// Jobs lists jobs newest first; f.GuestID may be a guest name. Errors:
// EINVALID (bad limit, cursor or guest).
func (a *Agent) Jobs(ctx context.Context, f JobFilter) ([]*Job, error) {
	f, err := a.resolveJobGuest(ctx, f)
	if err != nil {
		return nil, err
	}
	return a.store.Jobs(ctx, f)
}
