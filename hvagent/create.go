package hvagent

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// create validates and stores a new guest in state "create" together with
// its create (or containerCreate) job, in one transaction.
func (a *Agent) create(ctx context.Context, req Request) (*Result, error) {
	if req.Guest == nil {
		return nil, Errorf(EINVALID, "create needs a guest")
	}
	g := cloneGuest(req.Guest)
	if g.ID == "" {
		g.ID = uuid.NewString()
	} else {
		id, err := ParseGuestID(g.ID)
		if err != nil {
			return nil, Errorf(EINVALID, "id must be uuid: %q", g.ID)
		}
		g.ID = id
	}
	if err := a.validateGuest(g); err != nil {
		return nil, err
	}
	if err := a.checkImages(ctx, g); err != nil {
		return nil, err
	}
	g.State = StateCreate
	name := GuestAction(ActionCreate, g)
	act, err := a.action(name)
	if err != nil {
		return nil, err
	}
	job, err := a.enqueue(ctx, name, act, req, NewJob{Job: &Job{GuestID: g.ID}, Queue: g.ID, NewGuest: g}, jobRequest{})
	if err != nil {
		return nil, err
	}
	if job == nil {
		return &Result{Action: name, Guest: g, Pipeline: act.Stages}, nil
	}
	if job.GuestID != g.ID { // an idempotent replay: report the guest it created
		g, err = a.store.Guest(ctx, job.GuestID)
		if ErrorCode(err) == ENOTFOUND { // deleted since
			g, err = createdGuest(job), nil
		}
		if err != nil {
			return nil, err
		}
	}
	return &Result{Action: name, Job: job, Guest: g}, nil
}

// cloneGuest deep-copies the parts of g that create changes.
func cloneGuest(g *Guest) *Guest {
	c := *g
	if g.Boot != nil {
		b := *g.Boot
		c.Boot = &b
	}
	return &c
}

// validateGuest rejects a guest no driver could build: the field rules of
// guestProblems, boot files outside the allowed directories (EINVALID), and
// metadata over the limits of Config.MetadataLimits (EINVALID for a key or
// value, ETOOLARGE for the totals).
func (a *Agent) validateGuest(g *Guest) error {
	problems := guestProblems(g, a.host)
	if g.Name != "" {
		if p := givenNameProblem(g.Name); p != "" {
			problems = append([]string{fmt.Sprintf("name %q %s (%s)", g.Name, p, GuestNameRule)}, problems...)
		}
	}
	if g.Boot != nil {
		for _, f := range []struct{ field, path string }{{"boot.kernel", g.Boot.Kernel}, {"boot.initrd", g.Boot.Initrd}} {
			if f.path != "" && !a.allowedPath(f.path) {
				problems = append(problems, fmt.Sprintf("%s %q: must be an absolute path under an allowed directory (%s)", f.field, f.path, strings.Join(a.allowedDirs(), ", ")))
			}
		}
	}
	if err := invalidGuest(problems); err != nil {
		return err
	}
	return a.cfg.MetadataLimits().Check(g.Metadata)
}

// invalidGuest is the EINVALID error listing problems, nil for none.
func invalidGuest(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return Errorf(EINVALID, "invalid guest: %s", strings.Join(problems, "; "))
}

// maxListedImages is how many image IDs a "no such image" error lists.
const maxListedImages = 20

// checkImages refuses a guest whose disks, or whose container image, name
// an image the host does not have, as its getImage (containerGetImage)
// action tells. An image type whose get action is not configured is not
// checked: nothing on the host can tell whether the image exists, and the
// create job finds out. Errors: EINVALID naming the field and the images
// the host has; a failed lookup's own error (ESUBAGENT, ETIMEOUT, ...).
func (a *Agent) checkImages(ctx context.Context, g *Guest) error {
	type ref struct{ field, typ, id string }
	var refs []ref
	for i, d := range g.Disks {
		if d.Image != "" {
			refs = append(refs, ref{fmt.Sprintf("disks[%d].image", i), "", d.Image})
		}
	}
	if g.Type == ContainerGuestType && g.Image != "" {
		refs = append(refs, ref{"image", ContainerGuestType, g.Image})
	}
	if len(refs) == 0 {
		return nil
	}
	lim := a.limitsFor(AgentGuestID)
	if err := acquire(ctx, lim.info); err != nil {
		return err
	}
	defer func() { <-lim.info }()
	var problems []string
	exists := map[ref]bool{}
	for _, r := range refs {
		key := ref{typ: r.typ, id: r.id}
		ok, known := exists[key]
		if !known {
			if _, configured := a.cfg.Actions[ImageAction(ActionGetImage, r.typ)]; !configured {
				continue
			}
			found, err := a.queryImagesOf(ctx, ActionGetImage, r.typ, r.id)
			if err != nil {
				return err
			}
			ok = len(found) > 0
			exists[key] = ok
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("%s %q: no such %s%s", r.field, r.id, imageKind(r.typ), a.imagesHad(ctx, r.typ)))
		}
	}
	return invalidGuest(problems)
}

// imageKind names images of type typ in messages.
func imageKind(typ string) string {
	if typ == ContainerGuestType {
		return "container image"
	}
	return "image"
}

// imagesHad lists the IDs of the host's images of type typ for an error
// message: " (have: a, b)", " (the host has none)", or "" when the list
// cannot be had.
func (a *Agent) imagesHad(ctx context.Context, typ string) string {
	if _, ok := a.cfg.Actions[ImageAction(ActionListImages, typ)]; !ok {
		return ""
	}
	images, err := a.queryImagesOf(ctx, ActionListImages, typ, "")
	if err != nil {
		return ""
	}
	ids := make([]string, 0, len(images))
	for _, im := range images {
		ids = append(ids, im.ID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	switch {
	case len(ids) == 0:
		return " (the host has none)"
	case len(ids) > maxListedImages:
		return fmt.Sprintf(" (have: %s and %d more)", strings.Join(ids[:maxListedImages], ", "), len(ids)-maxListedImages)
	}
	return " (have: " + strings.Join(ids, ", ") + ")"
}

// allowedDirs are the host directories boot files may come from.
func (a *Agent) allowedDirs() []string {
	return append([]string{filepath.Join(a.cfg.DataDir, "images")}, a.cfg.AllowedPaths...)
}

// allowedPath reports whether p is an absolute, clean path under an
// allowed directory.
func (a *Agent) allowedPath(p string) bool {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return false
	}
	for _, dir := range a.allowedDirs() {
		if rel, err := filepath.Rel(dir, p); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			return true
		}
	}
	return false
}
