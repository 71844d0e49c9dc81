package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
)

// resetWait bounds how long a reboot waits for QEMU to leave the shutdown
// state after system_reset.
const resetWait = 5 * time.Second

// powerdownRepeat is how often shutdown and reboot press the power button
// again while the guest has not reacted.
const powerdownRepeat = 3 * time.Second

// notRunning is the error of an action that needs a running guest.
func notRunning(id, state string) error {
	return fmt.Errorf("guest %s is %w (state %s)", id, ErrNotRunning, state)
}

// guestState returns the driver's state of guest g: its QEMU's when one
// runs, else crashed or shutoff.
func (d *Driver) guestState(g *subagent.Guest) string {
	if v := d.attached(g.ID); v != nil {
		return v.getState()
	}
	return d.stoppedState(g.ID, g.State)
}

// CreateGuest checks a guest definition and fills its defaults: memory
// (512 MB), CPU (1), disk bus (virtio) and device names, NIC names, model
// (virtio) and MAC (derived from the guest ID). Disk sources, set by the
// storage driver before this stage, must be under the data dir, and boot
// files under <data_dir>/images or AllowedPaths. The guest is left
// shutoff (or as it is, when created again).
func (d *Driver) CreateGuest(_ context.Context, in *subagent.Guest) (*subagent.Guest, error) {
	if err := checkID(in); err != nil {
		return nil, err
	}
	g := in.Clone()
	if err := d.define(g); err != nil {
		return nil, err
	}
	if b := g.Boot; b != nil && b.Kernel != "" {
		if err := d.checkFiles(&subagent.Guest{ID: g.ID, Boot: b}); err != nil {
			return nil, err
		}
	}
	g.State = d.guestState(g)
	return g, nil
}

// Start boots the guest in a new QEMU (it resumes a paused one; a running
// one stays running). Every disk needs its source.
func (d *Driver) Start(ctx context.Context, in *subagent.Guest) (*subagent.Guest, error) {
	if err := checkID(in); err != nil {
		return nil, err
	}
	g := in.Clone()
	if err := d.define(g); err != nil {
		return nil, err
	}
	unlock, err := d.lockGuest(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	v, err := d.vmFor(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	if v != nil {
		switch v.getState() {
		case StateRunning:
			g.State = StateRunning
			return g, nil
		case StatePaused:
			if err := v.cont(ctx); err != nil {
				return nil, err
			}
			g.State = StateRunning
			return g, nil
		}
		// Shutting down or crashed inside QEMU: start afresh.
		if err := v.stopQEMU(ctx); err != nil {
			return nil, err
		}
	}
	if err := d.checkFiles(g); err != nil {
		return nil, err
	}
	boot, err := d.openBoot(g)
	if err != nil {
		return nil, fmt.Errorf("guest %s: %w", g.ID, err)
	}
	defer boot.close()
	if err := d.launch(ctx, g, boot); err != nil {
		return nil, err
	}
	g.State = StateRunning
	return g, nil
}

// cont resumes the guest's CPUs.
func (v *vm) cont(ctx context.Context) error {
	v.begin()
	defer v.end()
	if err := v.qmp.run(ctx, "cont", nil, nil); err != nil {
		return fmt.Errorf("guest %s: %w", v.id, err)
	}
	v.setState(StateRunning)
	return nil
}

// launch starts QEMU for g, with its opened boot files, attaches to it and
// lets the guest run.
func (d *Driver) launch(ctx context.Context, g *subagent.Guest, boot *bootFiles) error {
	dir, err := layout.MakeRunDir(d.opts.DataDir, g.ID)
	if err != nil {
		return fmt.Errorf("guest %s: run dir: %w", g.ID, err)
	}
	d.cleanupRun(g.ID)
	if err := setupTaps(ctx, g); err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, d.opts.Binary, d.commandLine(boot.guest(g), dir)...)
	cmd.ExtraFiles = boot.files
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	// QEMU's daemonizing child holds the output pipes until its start is
	// done: when ctx ends first and the parent is killed, Run waits for
	// them no longer than this, and the child is killed below.
	cmd.WaitDelay = exitWait
	// Its own session, so that QEMU outlives the driver's process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Run(); err != nil && !(errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState.Success()) {
		d.killLeftover(g.ID)
		d.cleanupRun(g.ID)
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000]
		}
		if msg == "" {
			msg = "(qemu printed nothing)"
		}
		return fmt.Errorf("guest %s: start qemu: %w: %s", g.ID, err, msg)
	}
	v, err := d.attach(ctx, g.ID)
	if err != nil {
		d.killLeftover(g.ID)
		d.cleanupRun(g.ID)
		return fmt.Errorf("guest %s: attach to the new qemu: %w", g.ID, err)
	}
	d.setCrashed(g.ID, false)
	if err := v.cont(ctx); err != nil {
		_ = v.stopQEMU(context.WithoutCancel(ctx))
		return err
	}
	return nil
}

// killLeftover kills the QEMU a failed start may have left behind.
func (d *Driver) killLeftover(id string) {
	pid, err := readPIDFile(layout.RunDir(d.opts.DataDir, id))
	if err != nil {
		return
	}
	if p, err := openProcess(pid, id); err == nil {
		_ = p.kill()
		p.close()
	}
}

// Shutdown asks the guest to power off (an ACPI power button press) and
// waits, until ctx ends, for it to do so; then QEMU exits. A guest without
// QEMU is shut off already. A paused guest cannot react and is refused.
func (d *Driver) Shutdown(ctx context.Context, in *subagent.Guest) (*subagent.Guest, error) {
	return d.stop(ctx, in, func(v *vm) error {
		switch st := v.getState(); st {
		case StateRunning:
		case StateShutdown:
			return v.stopQEMU(ctx) // the guest is powering itself off
		default:
			return notRunning(v.id, st)
		}
		v.begin()
		defer v.end()
		v.setState(StateShutdown)
		err := v.powerdown(ctx)
		switch {
		case err == nil:
			return v.stopQEMU(ctx)
		case errors.Is(err, errExited) && v.getState() == StateCrashed:
			return fmt.Errorf("guest %s did not shut down: its qemu exited unexpectedly (crashed)", v.id)
		case errors.Is(err, errExited):
			return nil
		}
		v.setState(StateRunning)
		return fmt.Errorf("guest %s did not shut down: %w", v.id, err)
	})
}

// Poweroff stops QEMU at once, as pulling the plug; a guest without QEMU
// is shut off already.
func (d *Driver) Poweroff(ctx context.Context, in *subagent.Guest) (*subagent.Guest, error) {
	return d.stop(ctx, in, func(v *vm) error { return v.stopQEMU(ctx) })
}

// stop runs fn on the guest's QEMU, if any, and reports the guest shutoff.
func (d *Driver) stop(ctx context.Context, in *subagent.Guest, fn func(*vm) error) (*subagent.Guest, error) {
	if err := checkID(in); err != nil {
		return nil, err
	}
	g := in.Clone()
	unlock, err := d.lockGuest(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	v, err := d.vmFor(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	if v != nil {
		if err := fn(v); err != nil {
			return nil, err
		}
	}
	d.setCrashed(g.ID, false)
	g.State = StateShutoff
	return g, nil
}

// onRunning runs fn on the QEMU of a guest in one of states, else fails
// with wrong (ErrNotRunning when nil); the guest is reported in the state
// fn leaves.
func (d *Driver) onRunning(ctx context.Context, in *subagent.Guest, states []string, wrong func(id, state string) error, fn func(*vm) error) (*subagent.Guest, error) {
	if err := checkID(in); err != nil {
		return nil, err
	}
	if wrong == nil {
		wrong = notRunning
	}
	g := in.Clone()
	unlock, err := d.lockGuest(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	v, err := d.vmFor(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, wrong(g.ID, d.stoppedState(g.ID, g.State))
	}
	if st := v.getState(); !slices.Contains(states, st) {
		return nil, wrong(g.ID, st)
	}
	v.begin()
	defer v.end()
	if err := fn(v); err != nil {
		return nil, fmt.Errorf("guest %s: %w", g.ID, err)
	}
	g.State = v.getState()
	return g, nil
}

// Reboot asks the guest to power off (ACPI) and, once it has, resets and
// runs it again, as libvirt does without a guest agent. It waits until ctx
// ends for the guest to react.
func (d *Driver) Reboot(ctx context.Context, in *subagent.Guest) (*subagent.Guest, error) {
	return d.onRunning(ctx, in, []string{StateRunning}, nil, func(v *vm) error {
		if err := v.powerdown(ctx); err != nil {
			return fmt.Errorf("the guest did not power off to reboot: %w", err)
		}
		return v.resetAndRun(ctx)
	})
}

// errExited is the error of a power-down during which QEMU exited.
var errExited = errors.New("qemu exited")

// powerdown presses the guest's ACPI power button and waits until the guest
// has powered off (its SHUTDOWN event), QEMU exits (errExited) or ctx
// ends. A guest that is still booting misses a press, so the button is
// pressed again every powerdownRepeat.
func (v *vm) powerdown(ctx context.Context) error {
	claim := v.claimShutdown()
	tick := time.NewTicker(powerdownRepeat)
	defer tick.Stop()
	for {
		if err := v.qmp.run(ctx, "system_powerdown", nil, nil); err != nil {
			v.unclaim(claim)
			return err
		}
		select {
		case <-claim:
			return nil
		case <-v.done:
			return errExited
		case <-ctx.Done():
			v.unclaim(claim)
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// resetAndRun resets a guest that powered off and runs it.
func (v *vm) resetAndRun(ctx context.Context) error {
	if err := v.qmp.run(ctx, "system_reset", nil, nil); err != nil {
		return err
	}
	// QEMU leaves the shutdown state once its main loop has done the reset.
	wctx, cancel := context.WithTimeout(ctx, resetWait)
	defer cancel()
	for {
		st, err := v.status(wctx)
		if err != nil {
			return err
		}
		if st != StateShutdown {
			break
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("qemu stayed shut down after system_reset: %w", wctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := v.qmp.run(ctx, "cont", nil, nil); err != nil {
		return err
	}
	v.setState(StateRunning)
	return nil
}

// Restart resets the guest at once (a hard reset); a paused guest stays
// paused.
func (d *Driver) Restart(ctx context.Context, in *subagent.Guest) (*subagent.Guest, error) {
	return d.onRunning(ctx, in, []string{StateRunning, StatePaused}, nil, func(v *vm) error {
		return v.qmp.run(ctx, "system_reset", nil, nil)
	})
}

// Suspend pauses the guest's CPUs; a paused guest stays paused.
func (d *Driver) Suspend(ctx context.Context, in *subagent.Guest) (*subagent.Guest, error) {
	return d.setRunState(ctx, in, StatePaused, "stop", nil)
}

// Resume runs a paused guest again; a running guest stays running. Any
// other state fails with ErrNotPaused.
func (d *Driver) Resume(ctx context.Context, in *subagent.Guest) (*subagent.Guest, error) {
	notPaused := func(id, st string) error { return fmt.Errorf("guest %s is %w (state %s)", id, ErrNotPaused, st) }
	return d.setRunState(ctx, in, StateRunning, "cont", notPaused)
}

// setRunState moves a running or paused guest to target (running or
// paused) with the QMP command that does it; a guest already there is left
// alone. Other states fail with wrong (default ErrNotRunning).
func (d *Driver) setRunState(ctx context.Context, in *subagent.Guest, target, command string, wrong func(id, state string) error) (*subagent.Guest, error) {
	return d.onRunning(ctx, in, []string{StateRunning, StatePaused}, wrong, func(v *vm) error {
		if v.getState() == target {
			return nil
		}
		if err := v.qmp.run(ctx, command, nil, nil); err != nil {
			return err
		}
		v.setState(target)
		return nil
	})
}

// Delete stops the guest's QEMU if it runs and removes its run dir
// (sockets, pidfile, console log) and taps. Its disks are the storage
// driver's. An unknown guest is fine.
func (d *Driver) Delete(ctx context.Context, in *subagent.Guest) (*subagent.Guest, error) {
	g, err := d.stop(ctx, in, func(v *vm) error { return v.stopQEMU(ctx) })
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(layout.RunDir(d.opts.DataDir, g.ID)); err != nil {
		return nil, fmt.Errorf("guest %s: remove run dir: %w", g.ID, err)
	}
	removeGuestTaps(g.ID)
	return g, nil
}
