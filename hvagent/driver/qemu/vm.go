package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hvagent/hvagent/internal/layout"
)

// exitWait bounds how long the driver waits for QEMU to exit once its QMP
// connection ended, or once it was told to quit, before killing it.
const exitWait = 5 * time.Second

// vm is a guest's running QEMU the driver is attached to: its process, the
// driver's QMP connection, and a loop that follows events, drains the
// console and notices the exit.
type vm struct {
	d       *Driver
	id      string
	dir     string
	proc    *process
	qmp     *qmpConn
	console *consoleLog
	drainMu sync.Mutex    // one console drain at a time
	tapped  bool          // the console is on the tap's socket (drainMu)
	tapMu   sync.Mutex    // guards tap
	tap     *consoleTap   // the interactive console, while attached
	stop    chan struct{} // closed to detach
	done    chan struct{} // closed when the loop has ended

	mu      sync.Mutex
	state   string
	busy    int           // calls in progress; state changes then are theirs
	quit    bool          // QEMU was told to quit (by a call or the loop)
	exiting bool          // QEMU is exiting on its own (SHUTDOWN by a host signal or quit)
	selfOff bool          // the guest powered itself off
	claim   chan struct{} // closed at the guest's next SHUTDOWN, for a waiting call
	reason  string        // reason of the last SHUTDOWN event
}

// attach connects to the running QEMU of guest id (its pidfile, process
// and QMP socket) and starts following it. It returns errNoProcess when
// there is no live QEMU of the guest.
func (d *Driver) attach(ctx context.Context, id string) (*vm, error) {
	dir := layout.RunDir(d.opts.DataDir, id)
	pid, err := readPIDFile(dir)
	if err != nil {
		return nil, err
	}
	proc, err := openProcess(pid, id)
	if err != nil {
		return nil, err
	}
	q, err := dialQMP(ctx, filepath.Join(dir, layout.MonitorSocket))
	if err != nil {
		proc.close()
		return nil, fmt.Errorf("guest %s: %w", id, err)
	}
	v := &vm{
		d: d, id: id, dir: dir, proc: proc, qmp: q,
		console: newConsoleLog(dir, d.opts.ConsoleLogLimit),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	status, err := v.status(ctx)
	if err != nil {
		q.close()
		proc.close()
		return nil, fmt.Errorf("guest %s: %w", id, err)
	}
	v.state = status
	v.restoreRing(ctx)
	d.log.Debug().Str("guest_id", id).Int("pid", pid).Str("state", status).Msg("attached to qemu")
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		q.close()
		proc.close()
		return nil, ErrClosed
	}
	d.vms[id] = v
	d.wg.Add(1)
	d.mu.Unlock()
	// A guest found powered off (while no driver watched) is finished off
	// by the loop; decided here, before any call can change the state.
	go v.loop(status == StateShutdown)
	return v, nil
}

// detach stops following the QEMU and closes the connection; QEMU keeps
// running.
func (v *vm) detach() {
	close(v.stop)
	<-v.done
}

// status asks QEMU for the run state and maps it to a guest state.
func (v *vm) status(ctx context.Context) (string, error) {
	var st struct {
		Status string `json:"status"`
	}
	if err := v.qmp.run(ctx, "query-status", nil, &st); err != nil {
		return "", err
	}
	switch st.Status {
	case "running":
		return StateRunning, nil
	case "shutdown":
		return StateShutdown, nil
	case "internal-error", "guest-panicked":
		return StateCrashed, nil
	}
	return StatePaused, nil
}

func (v *vm) getState() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.state
}

func (v *vm) setState(s string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.state = s
}

// begin and end bracket a call that changes the guest's state.
func (v *vm) begin() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.busy++
}

func (v *vm) end() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.busy--
}

// loop follows the QEMU until it exits or the driver detaches.
func (v *vm) loop(poweredOff bool) {
	defer v.d.wg.Done()
	defer close(v.done)
	poll := consolePoll
	tick := time.NewTimer(poll)
	defer tick.Stop()
	if poweredOff {
		v.powerOffSelf()
	}
	for {
		select {
		case <-v.stop:
			v.dropTap()
			v.qmp.close()
			v.proc.close()
			return
		case <-v.qmp.done:
			v.dropTap()
			v.exited()
			return
		case <-v.qmp.notify:
			v.handleEvents()
		case <-tick.C:
			// Poll less while the guest prints nothing; the console action
			// drains on demand anyway. A QEMU on its way out answers no
			// more: its exit (QMP end of file) is what the loop waits for.
			if v.isExiting() {
				tick.Reset(maxConsolePoll)
				continue
			}
			if v.drainInBackground() {
				poll = consolePoll
			} else {
				poll = min(2*poll, maxConsolePoll)
			}
			tick.Reset(poll)
		}
	}
}

// isExiting reports whether QEMU announced that it exits on its own.
func (v *vm) isExiting() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.exiting
}

// drainInBackground drains the console and reports whether it read
// anything.
func (v *vm) drainInBackground() bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, err := v.drainConsole(ctx)
	if err != nil && !errors.Is(err, errQMPClosed) {
		v.d.log.Warn().Err(err).Str("guest_id", v.id).Msg("drain console")
	}
	return n > 0
}

// handleEvents acts on the queued QMP events.
func (v *vm) handleEvents() {
	for _, ev := range v.qmp.events() {
		v.d.log.Debug().Str("guest_id", v.id).Str("event", ev.Event).RawJSON("data", orNull(ev.Data)).Msg("qmp event")
		switch ev.Event {
		case "SHUTDOWN":
			v.onShutdown(ev.Data)
		case "STOP", "RESUME":
			v.onRunStateChange(ev.Event)
		}
	}
}

// orNull returns raw, or JSON null when it is empty.
func orNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

// onShutdown records the reason of a SHUTDOWN event. When the guest powered
// itself off, a call waiting for that (shutdown, reboot) takes over;
// otherwise the driver quits QEMU and reports the guest shut off.
func (v *vm) onShutdown(data json.RawMessage) {
	var ev struct {
		Guest  bool   `json:"guest"`
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(data, &ev)
	v.mu.Lock()
	v.reason = ev.Reason
	v.exiting = ev.Reason == "host-signal" || ev.Reason == "host-qmp-quit"
	claimed := v.claim != nil
	if claimed {
		close(v.claim)
		v.claim = nil
	}
	quitting := v.quit
	v.mu.Unlock()
	if ev.Guest && !claimed && !quitting {
		v.powerOffSelf()
	}
}

// powerOffSelf finishes a guest's own power-off: the console is drained and
// QEMU told to quit; the loop then sees the exit.
func (v *vm) powerOffSelf() {
	v.mu.Lock()
	v.quit, v.selfOff, v.state = true, true, StateShutdown
	v.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), exitWait)
	defer cancel()
	_, _ = v.drainConsole(ctx)
	if err := v.qmp.run(ctx, "quit", nil, nil); err != nil && !errors.Is(err, errQMPClosed) {
		v.d.log.Warn().Err(err).Str("guest_id", v.id).Msg("quit qemu after guest power-off")
		_ = v.proc.kill()
	}
}

// onRunStateChange reports a pause (STOP) or resume (RESUME) that no call
// made, such as the storage driver's failed snapshot-load leaving the guest
// paused. QEMU's current status wins over the event, which may be stale
// (the STOP of a reboot handled after the call ended); when the status
// cannot be read, the event tells the state, so the change is not lost.
func (v *vm) onRunStateChange(event string) {
	if !v.idle() {
		return
	}
	st := StatePaused
	if event == "RESUME" {
		st = StateRunning
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if now, err := v.status(ctx); err == nil {
		st = now
	}
	v.mu.Lock()
	if v.busy > 0 || v.quit || v.claim != nil || v.state == st || v.state == StateShutdown || st == StateShutdown {
		v.mu.Unlock()
		return
	}
	v.state = st
	v.mu.Unlock()
	v.d.notify(v.id, st, "qemu run state changed outside the driver")
}

// idle reports whether no call is changing the guest's state.
func (v *vm) idle() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.busy == 0 && !v.quit && v.claim == nil
}

// exited handles the end of the QMP connection: QEMU is exiting. It waits
// for the process to go, removes its run files, and tells shut off from
// crashed: QEMU removes its pidfile when it exits in order (quit, SIGTERM),
// not when it is killed or aborts, and its SHUTDOWN event, when it got
// out before the exit, names the reason.
func (v *vm) exited() {
	ctx, cancel := context.WithTimeout(context.Background(), exitWait)
	defer cancel()
	if err := v.proc.wait(ctx); err != nil {
		v.d.log.Warn().Err(err).Str("guest_id", v.id).Msg("qemu closed its monitor but did not exit; killing it")
		_ = v.proc.kill()
	}
	_, err := os.Stat(filepath.Join(v.dir, layout.PIDFile))
	inOrder := errors.Is(err, os.ErrNotExist)
	v.qmp.close()
	v.proc.close()
	v.d.cleanupRun(v.id)
	v.mu.Lock()
	state, why := exitState(v.quit && !v.selfOff, v.selfOff, inOrder, v.reason)
	v.state = state
	v.mu.Unlock()
	v.d.mu.Lock()
	if v.d.vms[v.id] == v {
		delete(v.d.vms, v.id)
	}
	v.d.mu.Unlock()
	v.d.setCrashed(v.id, state == StateCrashed)
	if why != "" {
		v.d.notify(v.id, state, why)
	}
}

// exitState returns a guest's state after its QEMU exited, and why, for
// OnState ("" when a call made it exit).
func exitState(byCall, selfOff, inOrder bool, reason string) (state, why string) {
	switch {
	case byCall:
		return StateShutoff, ""
	case selfOff:
		return StateShutoff, "the guest powered itself off"
	case reason == "host-signal" || reason == "host-qmp-quit":
		return StateShutoff, "qemu was stopped outside the driver (" + reason + ")"
	case inOrder:
		return StateShutoff, "qemu was stopped outside the driver"
	}
	return StateCrashed, "qemu exited unexpectedly"
}

// cleanupRun removes what a stopped QEMU leaves in its run dir (the console
// log stays) and its taps.
func (d *Driver) cleanupRun(id string) {
	dir := layout.RunDir(d.opts.DataDir, id)
	for _, name := range []string{layout.PIDFile, layout.MonitorSocket, layout.StorageSocket, consoleSocket} {
		_ = os.Remove(filepath.Join(dir, name))
	}
	removeGuestTaps(id)
}

// claimShutdown makes the guest's next SHUTDOWN event close the returned
// channel instead of powering off QEMU.
func (v *vm) claimShutdown() chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.claim = make(chan struct{})
	return v.claim
}

// unclaim gives the guest's SHUTDOWN event back to the loop.
func (v *vm) unclaim(ch chan struct{}) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.claim == ch {
		v.claim = nil
	}
}

// stopQEMU makes QEMU quit (a hard power-off: the guest is not asked) and
// waits until the loop has seen the exit; QEMU is killed when it does not
// exit in time.
func (v *vm) stopQEMU(ctx context.Context) error {
	v.mu.Lock()
	v.quit = true
	v.mu.Unlock()
	// A QEMU that does not answer (stopped, hung) must not hold a
	// poweroff: the console's last bytes get exitWait, then quit does.
	dctx, dcancel := context.WithTimeout(ctx, exitWait)
	_, _ = v.drainConsole(dctx)
	dcancel()
	qctx, cancel := context.WithTimeout(ctx, exitWait)
	defer cancel()
	if err := v.qmp.run(qctx, "quit", nil, nil); err != nil && !errors.Is(err, errQMPClosed) {
		_ = v.proc.kill()
	}
	select {
	case <-v.done:
		return nil
	case <-qctx.Done():
	}
	_ = v.proc.kill()
	select {
	case <-v.done:
		return nil
	case <-time.After(exitWait):
		return fmt.Errorf("guest %s: qemu %d did not exit", v.id, v.proc.pid)
	}
}
