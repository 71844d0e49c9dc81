package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// consoleSocket is the unix socket, in the guest's run dir, that QEMU
// serves the serial console on while an interactive session is attached.
const consoleSocket = "console.sock"

// Bounds of an interactive console.
const (
	// maxSessionBuffer caps the output a session has not read yet; when a
	// reader falls further behind, its oldest bytes are dropped.
	maxSessionBuffer = 256 << 10
	// tapSwitchTimeout bounds switching the serial console between the
	// ring buffer and the socket.
	tapSwitchTimeout = 5 * time.Second
	// inputWriteTimeout bounds writing one input to the socket.
	inputWriteTimeout = 5 * time.Second
)

// errSessionClosed is returned by a closed session's Read and Write.
var errSessionClosed = errors.New("console session closed")

// consoleTap is the serial console while interactive sessions are
// attached: QEMU's ring buffer is swapped for a unix socket (QMP
// chardev-change), whose output the tap appends to the console log and
// hands to every session, and whose input is the sessions' keystrokes.
// The last session to close swaps the ring buffer back.
type consoleTap struct {
	v    *vm
	conn net.Conn
	done chan struct{} // closed when the reader has ended
	wmu  sync.Mutex    // one input write at a time

	mu    sync.Mutex
	subs  map[*ConsoleSession]struct{}
	ended bool
}

// ConsoleSession is one interactive attachment to a guest's serial
// console: Read returns the output printed since the attach (io.EOF once
// the guest stopped), Write sends input. Close detaches; the guest keeps
// running.
type ConsoleSession struct {
	tap   *consoleTap
	ready chan struct{} // signalled when buf, ended or closed change

	mu     sync.Mutex
	buf    []byte
	ended  bool
	closed bool
}

// AttachConsole attaches an interactive session to the serial console of
// running guest g. Errors: invalid guest, conflict when it does not run.
func (d *Driver) AttachConsole(ctx context.Context, g *subagent.Guest) (*ConsoleSession, error) {
	if err := checkID(g); err != nil {
		return nil, err
	}
	v := d.attached(g.ID)
	if v == nil {
		return nil, notRunning(g.ID, d.stoppedState(g.ID, g.State))
	}
	s, err := v.attachConsole(ctx)
	if err != nil {
		return nil, fmt.Errorf("guest %s console: %w", g.ID, err)
	}
	return s, nil
}

// ConsoleInput sends input (at most subagent.MaxConsoleInput bytes) to
// the serial console of guest g, which needs an attached session.
// Errors: invalid (guest, size), conflict (not running, no session).
func (d *Driver) ConsoleInput(ctx context.Context, g *subagent.Guest, input []byte) error {
	if err := checkID(g); err != nil {
		return err
	}
	if len(input) > subagent.MaxConsoleInput {
		return subagent.WithCode(subagent.CodeInvalid, fmt.Errorf("console input of %d bytes: at most %d per write", len(input), subagent.MaxConsoleInput))
	}
	v := d.attached(g.ID)
	if v == nil {
		return notRunning(g.ID, d.stoppedState(g.ID, g.State))
	}
	v.tapMu.Lock()
	t := v.tap
	v.tapMu.Unlock()
	if t == nil || t.isEnded() {
		return subagent.WithCode(subagent.CodeConflict, fmt.Errorf("guest %s: no console session is attached", g.ID))
	}
	return t.write(ctx, input)
}

func (v *vm) attachConsole(ctx context.Context) (*ConsoleSession, error) {
	v.tapMu.Lock()
	defer v.tapMu.Unlock()
	if v.tap != nil && v.tap.isEnded() {
		v.closeTapLocked()
	}
	if v.tap == nil {
		t, err := v.openTap(ctx)
		if err != nil {
			return nil, err
		}
		v.tap = t
	}
	s := &ConsoleSession{tap: v.tap, ready: make(chan struct{}, 1)}
	v.tap.mu.Lock()
	v.tap.subs[s] = struct{}{}
	s.ended = v.tap.ended
	v.tap.mu.Unlock()
	return s, nil
}

// openTap drains the ring buffer into the log, swaps it for the socket
// and starts reading it.
func (v *vm) openTap(ctx context.Context) (*consoleTap, error) {
	v.drainMu.Lock()
	defer v.drainMu.Unlock()
	if _, err := v.drainRing(ctx); err != nil {
		return nil, err
	}
	sock := filepath.Join(v.dir, consoleSocket)
	_ = os.Remove(sock)
	backend := map[string]any{"type": "socket", "data": map[string]any{
		"addr":   map[string]any{"type": "unix", "data": map[string]any{"path": sock}},
		"server": true, "wait": false,
	}}
	if err := v.changeConsole(ctx, backend); err != nil {
		return nil, err
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "unix", sock)
	if err != nil {
		v.restoreRingLocked()
		return nil, fmt.Errorf("connect console socket: %w", err)
	}
	v.tapped = true
	t := &consoleTap{v: v, conn: conn, done: make(chan struct{}), subs: map[*ConsoleSession]struct{}{}}
	go t.read()
	return t, nil
}

// changeConsole swaps the serial console's chardev backend.
func (v *vm) changeConsole(ctx context.Context, backend map[string]any) error {
	var out json.RawMessage
	args := map[string]any{"id": consoleChardev, "backend": backend}
	if err := v.qmp.run(ctx, "chardev-change", args, &out); err != nil {
		return fmt.Errorf("chardev-change: %w", err)
	}
	return nil
}

// restoreRingLocked swaps the ring buffer back; drainMu is held.
func (v *vm) restoreRingLocked() {
	ctx, cancel := context.WithTimeout(context.Background(), tapSwitchTimeout)
	defer cancel()
	ring := map[string]any{"type": "ringbuf", "data": map[string]any{"size": consoleRing}}
	if err := v.changeConsole(ctx, ring); err != nil && !errors.Is(err, errQMPClosed) {
		v.d.log.Warn().Err(err).Str("guest_id", v.id).Msg("restore console ring buffer")
	}
	v.tapped = false
	_ = os.Remove(filepath.Join(v.dir, consoleSocket))
}

// restoreRing puts the ring buffer back when a driver that died during an
// interactive session left the socket in its place.
func (v *vm) restoreRing(ctx context.Context) {
	var devs []struct {
		Label    string `json:"label"`
		Filename string `json:"filename"`
	}
	if err := v.qmp.run(ctx, "query-chardev", nil, &devs); err != nil {
		return
	}
	for _, c := range devs {
		if c.Label == consoleChardev && c.Filename != "ringbuf" {
			v.drainMu.Lock()
			v.restoreRingLocked()
			v.drainMu.Unlock()
		}
	}
}

// closeTapLocked ends the tap (tapMu held): the ring buffer is swapped
// back, the socket closed and the reader waited for.
func (v *vm) closeTapLocked() {
	t := v.tap
	if t == nil {
		return
	}
	v.tap = nil
	v.drainMu.Lock()
	v.restoreRingLocked()
	v.drainMu.Unlock()
	_ = t.conn.Close()
	<-t.done
}

// dropTap ends the tap without touching QEMU (the driver detaches or
// QEMU is gone).
func (v *vm) dropTap() {
	v.tapMu.Lock()
	defer v.tapMu.Unlock()
	if v.tap != nil {
		_ = v.tap.conn.Close()
		<-v.tap.done
		v.tap = nil
	}
}

// read moves the socket's output to the log and the sessions until the
// socket closes.
func (t *consoleTap) read() {
	defer close(t.done)
	defer t.end()
	buf := make([]byte, 32<<10)
	for {
		n, err := t.conn.Read(buf)
		if n > 0 {
			if aerr := t.v.console.append(buf[:n]); aerr != nil {
				t.v.d.log.Warn().Err(aerr).Str("guest_id", t.v.id).Msg("console log")
			}
			t.publish(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

func (t *consoleTap) publish(b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for s := range t.subs {
		s.push(b)
	}
}

// end marks the tap and its sessions ended.
func (t *consoleTap) end() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ended = true
	for s := range t.subs {
		s.mu.Lock()
		s.ended = true
		s.mu.Unlock()
		s.signal()
	}
}

func (t *consoleTap) isEnded() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ended
}

// write sends input to the socket within ctx and inputWriteTimeout.
func (t *consoleTap) write(ctx context.Context, p []byte) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	deadline := time.Now().Add(inputWriteTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = t.conn.SetWriteDeadline(deadline)
	if _, err := t.conn.Write(p); err != nil {
		return fmt.Errorf("console input: %w", err)
	}
	return nil
}

func (s *ConsoleSession) push(b []byte) {
	s.mu.Lock()
	s.buf = append(s.buf, b...)
	if over := len(s.buf) - maxSessionBuffer; over > 0 {
		s.buf = append([]byte(nil), s.buf[over:]...)
	}
	s.mu.Unlock()
	s.signal()
}

func (s *ConsoleSession) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Read returns console output: what is buffered, else it waits for more.
// It returns io.EOF once the guest stopped and all was read.
func (s *ConsoleSession) Read(p []byte) (int, error) {
	for {
		s.mu.Lock()
		switch {
		case s.closed:
			s.mu.Unlock()
			return 0, errSessionClosed
		case len(s.buf) > 0:
			n := copy(p, s.buf)
			s.buf = s.buf[n:]
			s.mu.Unlock()
			return n, nil
		case s.ended:
			s.mu.Unlock()
			return 0, io.EOF
		}
		s.mu.Unlock()
		<-s.ready
	}
}

// Write sends p to the guest's serial console, in pieces of at most
// subagent.MaxConsoleInput bytes.
func (s *ConsoleSession) Write(p []byte) (int, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return 0, errSessionClosed
	}
	done := 0
	for done < len(p) {
		end := min(len(p), done+subagent.MaxConsoleInput)
		if err := s.tap.write(context.Background(), p[done:end]); err != nil {
			return done, err
		}
		done = end
	}
	return done, nil
}

// Close detaches the session; the last one restores the ring buffer.
func (s *ConsoleSession) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.signal()
	v := s.tap.v
	v.tapMu.Lock()
	defer v.tapMu.Unlock()
	s.tap.mu.Lock()
	delete(s.tap.subs, s)
	last := len(s.tap.subs) == 0
	s.tap.mu.Unlock()
	if last && v.tap == s.tap {
		v.closeTapLocked()
	}
	return nil
}
