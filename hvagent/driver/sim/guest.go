package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// Defaults applied by CreateGuest.
const (
	DefaultMemory = 512 // MB
	DefaultCPU    = 1
	// maxDisks is how many disks fit the vda..vdz device names.
	maxDisks = 26
)

// simGuest is a guest as the simulation knows it, with the bookkeeping that
// makes CPU time grow while it runs.
type simGuest struct {
	subagent.Guest
	// since is when the guest last started running; zero when not running.
	since time.Time
	// ran is the running time accumulated before since.
	ran time.Duration
}

// setState moves the guest to state, accounting its running time.
func (g *simGuest) setState(state string, now time.Time) {
	wasRunning := g.State == StateRunning
	switch {
	case wasRunning && state != StateRunning:
		g.ran += now.Sub(g.since)
		g.since = time.Time{}
	case !wasRunning && state == StateRunning:
		g.since = now
	}
	g.State = state
}

// runTime returns how long the guest has been running in total.
func (g *simGuest) runTime(now time.Time) time.Duration {
	if g.State == StateRunning {
		return g.ran + now.Sub(g.since)
	}
	return g.ran
}

// adoptedState maps the state of a guest the simulation adopts: a guest
// never defined ("" or "create") or shutting down counts as shut off.
func adoptedState(state string) string {
	switch state {
	case "", "create", "shutdown":
		return StateShutoff
	}
	return state
}

// lookup returns the guest of a request, adopting it when unknown. A known
// guest takes the request's fields except its state, which the simulation
// owns. Call with d.mu held.
func (d *Driver) lookup(req *subagent.Guest) (*simGuest, error) {
	if req == nil || req.ID == "" {
		return nil, errInvalidGuest
	}
	now := d.opts.Now()
	if g, ok := d.guests[req.ID]; ok {
		state := g.State
		g.Guest = *req.Clone()
		g.State = state
		return g, nil
	}
	g := &simGuest{Guest: *req.Clone()}
	g.State = adoptedState(req.State)
	if g.State == StateRunning {
		g.since = now
	}
	d.guests[g.ID] = g
	return g, nil
}

func reply(g *simGuest) *subagent.GuestResponse {
	return &subagent.GuestResponse{Guest: g.Guest.Clone()}
}

// createGuest defines a guest: defaults, disk devices and sources, state
// shutoff. Defining a known guest again keeps its state.
func (d *Driver) createGuest(req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
	if req.Guest == nil || req.Guest.ID == "" {
		return nil, errInvalidGuest
	}
	g := req.Guest.Clone()
	if err := define(g); err != nil {
		return nil, err
	}
	if old, ok := d.guests[g.ID]; ok {
		g.State = old.State
		old.Guest = *g
		return reply(old), nil
	}
	g.State = StateShutoff
	sg := &simGuest{Guest: *g}
	d.guests[g.ID] = sg
	return reply(sg), nil
}

// define validates g and fills what CreateGuest fills.
func define(g *subagent.Guest) error {
	if g.Memory == 0 {
		g.Memory = DefaultMemory
	}
	if g.CPU == 0 {
		g.CPU = DefaultCPU
	}
	if len(g.Disks) > maxDisks {
		return invalid("guest %s has %d disks; at most %d are supported", g.ID, len(g.Disks), maxDisks)
	}
	for i := range g.Disks {
		disk := &g.Disks[i]
		if disk.Image == "" && disk.Size == 0 {
			return invalid("disk %d needs an image or a size", i)
		}
		disk.Device = diskDevice(i)
		if disk.Bus == "" {
			disk.Bus = "virtio"
		}
		disk.Source = fmt.Sprintf("sim://%s/disk-%d", g.ID, i)
	}
	return nil
}

// diskDevice returns the device name of disk i: vda, vdb, …
func diskDevice(i int) string { return "vd" + string(rune('a'+i)) }

func (d *Driver) start(req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
	g, err := d.lookup(req.Guest)
	if err != nil {
		return nil, err
	}
	g.setState(StateRunning, d.opts.Now())
	return reply(g), nil
}

// poweroff stops the simulated guest at once, whatever its state.
func (d *Driver) poweroff(req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
	g, err := d.lookup(req.Guest)
	if err != nil {
		return nil, err
	}
	g.setState(StateShutoff, d.opts.Now())
	return reply(g), nil
}

// shutdown is poweroff for a guest that can react to its power button: a
// paused one cannot, and is refused, as by the QEMU driver.
func (d *Driver) shutdown(req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
	g, err := d.lookup(req.Guest)
	if err != nil {
		return nil, err
	}
	if g.State == StatePaused {
		return nil, notRunning(g.ID, g.State)
	}
	g.setState(StateShutoff, d.opts.Now())
	return reply(g), nil
}

// reboot serves Reboot, which needs a running guest.
func (d *Driver) reboot(req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
	return d.reset(req, StateRunning)
}

// restart serves Restart, a hard reset: a paused guest stays paused, as
// with the QEMU driver.
func (d *Driver) restart(req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
	return d.reset(req, StateRunning, StatePaused)
}

// reset leaves a guest in one of states as it is, and refuses any other.
func (d *Driver) reset(req *subagent.GuestRequest, states ...string) (*subagent.GuestResponse, error) {
	g, err := d.lookup(req.Guest)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(states, g.State) {
		return nil, notRunning(g.ID, g.State)
	}
	return reply(g), nil
}

func (d *Driver) suspend(req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
	g, err := d.lookup(req.Guest)
	if err != nil {
		return nil, err
	}
	switch g.State {
	case StatePaused:
	case StateRunning:
		g.setState(StatePaused, d.opts.Now())
	default:
		return nil, notRunning(g.ID, g.State)
	}
	return reply(g), nil
}

func (d *Driver) resume(req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
	g, err := d.lookup(req.Guest)
	if err != nil {
		return nil, err
	}
	switch g.State {
	case StateRunning:
	case StatePaused:
		g.setState(StateRunning, d.opts.Now())
	default:
		return nil, conflict("guest %s is not paused (state %s)", g.ID, g.State)
	}
	return reply(g), nil
}

// delete forgets a guest and its snapshots; an unknown guest is fine.
func (d *Driver) delete(req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
	if req.Guest == nil || req.Guest.ID == "" {
		return nil, errInvalidGuest
	}
	id := req.Guest.ID
	delete(d.guests, id)
	prefix := "guests/" + id
	for sid := range d.snapshots {
		if rest, ok := strings.CutPrefix(sid, prefix); ok && (strings.HasPrefix(rest, "/") || strings.HasPrefix(rest, "@")) {
			delete(d.snapshots, sid)
		}
	}
	return &subagent.GuestResponse{Guest: req.Guest.Clone()}, nil
}
