package qemu

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"

	"github.com/rs/zerolog"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
)

// ServiceName is the RPC service name of the driver's methods.
const ServiceName = "QEMU"

// Guest states reported by the driver.
const (
	StateShutoff  = "shutoff"
	StateRunning  = "running"
	StatePaused   = "paused"
	StateShutdown = "shutdown" // a shutdown is in progress
	StateCrashed  = "crashed"
)

// Defaults of Options.
const (
	DefaultBinary          = "qemu-system-x86_64"
	DefaultConsoleLogLimit = 1 << 20
)

// Errors of the driver's methods, wrapped with the guest and details; test
// with errors.Is. Each carries the sub-agent error code that the agent
// records in a failed job: invalid, conflict or not_found.
var (
	// ErrInvalidGuest: the request's guest is missing or has a bad field.
	ErrInvalidGuest = subagent.WithCode(subagent.CodeInvalid, errors.New("invalid guest"))
	// ErrNotRunning: the action needs a running (or paused) guest.
	ErrNotRunning = subagent.WithCode(subagent.CodeConflict, errors.New("not running"))
	// ErrNotPaused: resume of a guest that is neither paused nor running.
	ErrNotPaused = subagent.WithCode(subagent.CodeConflict, errors.New("not paused"))
	// ErrNotFound: a file the guest needs (disk, kernel, bridge) does not
	// exist.
	ErrNotFound = subagent.WithCode(subagent.CodeNotFound, errors.New("not found"))
	// ErrPathNotAllowed: a host path lies outside the directories the
	// driver may use.
	ErrPathNotAllowed = subagent.WithCode(subagent.CodeInvalid, errors.New("path not allowed"))
	// ErrUnsupported: the request asks for something the driver cannot do,
	// such as NIC metrics of user-mode networking.
	ErrUnsupported = subagent.WithCode(subagent.CodeInvalid, errors.New("unsupported"))
	// ErrClosed: the driver was closed.
	ErrClosed = errors.New("qemu driver is closed")
)

// Options configures a Driver.
type Options struct {
	// DataDir is hvagent's data dir; required. Guest disks must lie under
	// it, boot files under <DataDir>/images or AllowedPaths, and guests'
	// run dirs are under layout.RunRoot(DataDir).
	DataDir string
	// AllowedPaths are further directories that boot kernels and initrds
	// may come from; default none.
	AllowedPaths []string
	// Binary is the QEMU system emulator; default qemu-system-x86_64
	// (looked up in PATH).
	Binary string
	// Accel is "tcg" (default) or "kvm". KVM is used only when New proves
	// it works by running a tiny guest under it; otherwise New fails.
	Accel string
	// ConsoleLogLimit caps a guest's console log in bytes; default 1 MiB.
	// When a write would pass it, the log keeps its newest half.
	ConsoleLogLimit int64
	// Logger receives the driver's background logs; default zerolog.Nop().
	Logger zerolog.Logger
	// OnState is called, from a background goroutine, when the driver sees
	// a guest change state on its own rather than through a call: QEMU died
	// (StateCrashed), the guest powered itself off or QEMU was stopped from
	// outside (StateShutoff), or it was paused or resumed from outside.
	// reason says what happened. It must not block for long. Default none.
	OnState func(guestID, state, reason string)
}

func (o *Options) withDefaults() error {
	if o.DataDir == "" {
		return errors.New("qemu driver: Options.DataDir is required")
	}
	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		return fmt.Errorf("qemu driver: data dir: %w", err)
	}
	o.DataDir = abs
	for i, p := range o.AllowedPaths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("qemu driver: allowed path %q is not absolute", p)
		}
		o.AllowedPaths[i] = filepath.Clean(p)
	}
	if o.Binary == "" {
		o.Binary = DefaultBinary
	}
	switch o.Accel {
	case "":
		o.Accel = "tcg"
	case "tcg", "kvm":
	default:
		return fmt.Errorf("qemu driver: accel %q: want tcg or kvm", o.Accel)
	}
	if o.ConsoleLogLimit == 0 {
		o.ConsoleLogLimit = DefaultConsoleLogLimit
	}
	if o.ConsoleLogLimit < 4096 {
		return fmt.Errorf("qemu driver: console log limit %d: want at least 4096 bytes", o.ConsoleLogLimit)
	}
	return nil
}

// Driver runs one QEMU per running guest. It is safe for concurrent use.
// QEMU processes outlive the Driver: Close detaches from them, and a new
// Driver on the same data dir re-attaches (see Reconcile).
type Driver struct {
	opts    Options
	log     zerolog.Logger
	handler http.Handler

	// ops serializes the lifecycle calls of each guest: a buffered channel
	// of one slot per guest ID.
	opsMu sync.Mutex
	ops   map[string]chan struct{}

	mu      sync.Mutex
	vms     map[string]*vm  // guests with an attached QEMU
	crashed map[string]bool // guests whose QEMU died, until started or deleted
	closed  bool
	wg      sync.WaitGroup // vm loops
}

// New returns a Driver for opts. With Accel "kvm" it first runs a probe
// guest under KVM and fails when that does not work. New attaches to no
// guest; call Reconcile for that.
func New(ctx context.Context, opts Options) (*Driver, error) {
	if err := opts.withDefaults(); err != nil {
		return nil, err
	}
	d := &Driver{
		opts:    opts,
		log:     opts.Logger,
		ops:     map[string]chan struct{}{},
		vms:     map[string]*vm{},
		crashed: map[string]bool{},
	}
	if opts.Accel == "kvm" {
		if err := probeAccel(ctx, opts.Binary, "kvm"); err != nil {
			return nil, fmt.Errorf("qemu driver: kvm is configured but unusable: %w", err)
		}
	}
	d.handler = d.newServer()
	return d, nil
}

// Handler returns the sub-agent HTTP handler: the RPC endpoint at
// subagent.RPCPath and the console stream at ConsolePath.
func (d *Driver) Handler() http.Handler { return d.handler }

// Close stops the driver's background work and closes its QMP connections.
// It never stops a QEMU: guests keep running, and a new Driver re-attaches
// to them. Close is idempotent.
func (d *Driver) Close() error {
	d.mu.Lock()
	d.closed = true
	vms := make([]*vm, 0, len(d.vms))
	for _, v := range d.vms {
		vms = append(vms, v)
	}
	clear(d.vms)
	d.mu.Unlock()
	for _, v := range vms {
		v.detach()
	}
	d.wg.Wait()
	return nil
}

// lockGuest serializes lifecycle calls on guest id; it returns the unlock
// function, or ctx's error when ctx ends first.
func (d *Driver) lockGuest(ctx context.Context, id string) (func(), error) {
	d.opsMu.Lock()
	ch, ok := d.ops[id]
	if !ok {
		ch = make(chan struct{}, 1)
		d.ops[id] = ch
	}
	d.opsMu.Unlock()
	select {
	case ch <- struct{}{}:
		d.mu.Lock()
		closed := d.closed
		d.mu.Unlock()
		if closed {
			<-ch
			return nil, ErrClosed
		}
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("guest %s is busy with another call: %w", id, ctx.Err())
	}
}

// attached returns the guest's attached QEMU, or nil.
func (d *Driver) attached(id string) *vm {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.vms[id]
}

// vmFor returns the guest's QEMU: the attached one, or a live one found
// through its pidfile (as Reconcile would), so that no call ever starts a
// second QEMU on the same disks. It returns nil when none runs. Call it
// with the guest locked.
func (d *Driver) vmFor(ctx context.Context, id string) (*vm, error) {
	if v := d.attached(id); v != nil {
		return v, nil
	}
	v, err := d.attach(ctx, id)
	if errors.Is(err, errNoProcess) {
		return nil, nil
	}
	return v, err
}

// State returns the driver's view of a guest: running, paused or shutdown
// while its QEMU runs, crashed when its QEMU died, else shutoff. Call
// Reconcile first after a restart, or every guest looks shut off.
func (d *Driver) State(id string) string {
	if v := d.attached(id); v != nil {
		return v.getState()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.crashed[id] {
		return StateCrashed
	}
	return StateShutoff
}

// Unreachable reports whether guest id's QEMU runs (its pidfile names a
// live QEMU of the guest) while the driver is not attached to it: one that
// did not answer when Reconcile tried, being stopped or its monitor held.
// State then says shutoff, which the caller must not take as true.
func (d *Driver) Unreachable(id string) bool {
	if d.attached(id) != nil {
		return false
	}
	pid, err := readPIDFile(layout.RunDir(d.opts.DataDir, id))
	if err != nil {
		return false
	}
	p, err := openProcess(pid, id)
	if err != nil {
		return false
	}
	p.close()
	return true
}

// stoppedState is the state of a guest without QEMU: crashed when the
// driver saw its QEMU die or the request says so, else shutoff.
func (d *Driver) stoppedState(id, requested string) string {
	if requested == StateCrashed || d.State(id) == StateCrashed {
		return StateCrashed
	}
	return StateShutoff
}

// setCrashed records whether guest id's QEMU died.
func (d *Driver) setCrashed(id string, crashed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if crashed {
		d.crashed[id] = true
	} else {
		delete(d.crashed, id)
	}
}

// notify reports a state change the driver saw on its own.
func (d *Driver) notify(id, state, reason string) {
	d.log.Info().Str("guest_id", id).Str("state", state).Str("reason", reason).Msg("guest changed state")
	if d.opts.OnState != nil {
		d.opts.OnState(id, state, reason)
	}
}

// newServer registers every method and the console stream.
func (d *Driver) newServer() *subagent.Server {
	s := subagent.NewServer()
	guestMethods := map[string]func(context.Context, *subagent.Guest) (*subagent.Guest, error){
		"CreateGuest": d.CreateGuest,
		"Start":       d.Start,
		"Shutdown":    d.Shutdown,
		"Poweroff":    d.Poweroff,
		"Reboot":      d.Reboot,
		"Restart":     d.Restart,
		"Suspend":     d.Suspend,
		"Resume":      d.Resume,
		"Delete":      d.Delete,
	}
	for name, fn := range guestMethods {
		subagent.Handle(s, ServiceName+"."+name, func(ctx context.Context, req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
			g, err := fn(ctx, req.Guest)
			if err != nil {
				return nil, err
			}
			return &subagent.GuestResponse{Guest: g}, nil
		})
	}
	metrics := map[string]func(context.Context, *subagent.Guest) (*subagent.GuestMetricsResponse, error){
		"CPUMetrics":  d.CPUMetrics,
		"DiskMetrics": d.DiskMetrics,
		"NicMetrics":  d.NicMetrics,
	}
	for name, fn := range metrics {
		subagent.Handle(s, ServiceName+"."+name, func(ctx context.Context, req *subagent.GuestMetricsRequest) (*subagent.GuestMetricsResponse, error) {
			return fn(ctx, req.Guest)
		})
	}
	s.HandleRaw(ConsolePath, http.HandlerFunc(d.serveConsole))
	return s
}
