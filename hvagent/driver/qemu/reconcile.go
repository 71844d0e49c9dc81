package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/hvagent/hvagent/internal/layout"
)

// GuestStatus is one guest's state as Reconcile found it.
type GuestStatus struct {
	ID    string
	State string
	// Reason says why a guest is not as its run dir suggested ("qemu died
	// while the driver was away"); empty otherwise.
	Reason string
}

// Reconcile re-attaches to the QEMU of every guest with a run dir, as after
// a restart of the driver: a pidfile whose process is alive and carries the
// guest's -uuid is followed again (running or paused); a guest that powered
// itself off meanwhile is shut off now; a pidfile without its QEMU means
// QEMU died while nobody watched, so the guest is reported crashed (through
// OnState as well). A run dir without pidfile is a guest shut off.
//
// It returns every guest with a run dir, sorted by ID. Guests without a
// run dir are shut off (State says so). A guest it cannot attach to (its
// QMP socket held by another client, say) is left out and its error joined
// into the returned error; the others are still reconciled. Reconcile does
// not start autostart guests: the caller starts those it finds not
// running. It may be called again; attached guests are reported as they
// are. Guests found crashed or powered off are reported through OnState
// as well as in the result.
func (d *Driver) Reconcile(ctx context.Context) ([]GuestStatus, error) {
	entries, err := os.ReadDir(layout.RunRoot(d.opts.DataDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	var (
		out  []GuestStatus
		errs []error
	)
	for _, e := range entries {
		if !e.IsDir() || !guestIDPattern.MatchString(e.Name()) {
			continue
		}
		st, err := d.reconcileGuest(ctx, e.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, errors.Join(errs...)
}

// reconcileGuest attaches to one guest's QEMU if it runs.
func (d *Driver) reconcileGuest(ctx context.Context, id string) (GuestStatus, error) {
	unlock, err := d.lockGuest(ctx, id)
	if err != nil {
		return GuestStatus{}, err
	}
	defer unlock()
	if v := d.attached(id); v != nil {
		return GuestStatus{ID: id, State: v.getState()}, nil
	}
	dir := layout.RunDir(d.opts.DataDir, id)
	pid, err := readPIDFile(dir)
	if errors.Is(err, errNoProcess) {
		return GuestStatus{ID: id, State: d.State(id)}, nil
	}
	if err == nil {
		var v *vm
		v, err = d.attachOrReap(ctx, id, pid)
		if v != nil {
			return d.settled(ctx, v), nil
		}
	}
	if !errors.Is(err, errNoProcess) {
		return GuestStatus{}, fmt.Errorf("reconcile guest %s: %w", id, err)
	}
	d.cleanupRun(id)
	d.setCrashed(id, true)
	reason := "qemu died while the driver was away"
	d.notify(id, StateCrashed, reason)
	return GuestStatus{ID: id, State: StateCrashed, Reason: reason}, nil
}

// attachOrReap attaches to the guest's QEMU with the given PID, or returns
// errNoProcess when it is gone.
func (d *Driver) attachOrReap(ctx context.Context, id string, pid int) (*vm, error) {
	if !isGuestQEMU(pid, id) {
		return nil, errNoProcess
	}
	return d.attach(ctx, id)
}

// settled waits for a guest found powered off to finish stopping, and
// returns its state.
func (d *Driver) settled(ctx context.Context, v *vm) GuestStatus {
	if v.getState() == StateShutdown {
		select {
		case <-v.done:
			return GuestStatus{ID: v.id, State: StateShutoff, Reason: "the guest powered itself off while the driver was away"}
		case <-ctx.Done():
		}
	}
	return GuestStatus{ID: v.id, State: v.getState()}
}
