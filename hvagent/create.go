package hvagent

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
)

// Limits on a new guest's resources.
const (
	maxMemoryMB = 16 << 20 // 16 TiB
	maxCPUs     = 1024
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
		if g, err = a.store.Guest(ctx, job.GuestID); err != nil {
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

// validateGuest rejects a guest no driver could build.
func (a *Agent) validateGuest(g *Guest) error {
	var problems []string
	if g.Name != "" {
		if p := guestNameProblem(g.Name); p != "" {
			problems = append(problems, fmt.Sprintf("name %q %s (%s)", g.Name, p, GuestNameRule))
		}
	}
	if g.Memory > maxMemoryMB {
		problems = append(problems, fmt.Sprintf("memory %d MB is more than %d", g.Memory, maxMemoryMB))
	}
	if g.CPU > maxCPUs {
		problems = append(problems, fmt.Sprintf("cpu %d is more than %d", g.CPU, maxCPUs))
	}
	for i, d := range g.Disks {
		if d.Image == "" && d.Size == 0 {
			problems = append(problems, fmt.Sprintf("disks[%d] needs an image or a size", i))
		}
	}
	if g.Type == ContainerGuestType && g.Image == "" {
		problems = append(problems, "a container needs an image")
	}
	if g.Boot != nil {
		for field, p := range map[string]string{"boot.kernel": g.Boot.Kernel, "boot.initrd": g.Boot.Initrd} {
			if p != "" && !a.allowedPath(p) {
				problems = append(problems, fmt.Sprintf("%s %q is not under an allowed directory (%s)", field, p, strings.Join(a.allowedDirs(), ", ")))
			}
		}
	}
	if len(problems) > 0 {
		return Errorf(EINVALID, "invalid guest: %s", strings.Join(problems, "; "))
	}
	return nil
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
