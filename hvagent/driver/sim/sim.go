// Package sim is a simulated hypervisor: an in-memory sub-agent with the
// state rules of a real one, configurable latency and failure rate, and an
// execution log keyed by job ID and attempt.
//
// Nothing here touches a real hypervisor. The simulation serves the
// sub-agent wire (service "Sim") through [Driver.Handler], exactly as an
// external sub-agent would, so tests and demos can run whole pipelines
// without QEMU. [Config] wires every action to it.
//
// # State rules
//
//   - CreateGuest defines the guest "shutoff"; creating it again is a no-op.
//   - Start boots (or resumes) any guest; a running guest stays running.
//   - Poweroff stops it at once; a stopped guest stays stopped.
//   - Shutdown does too, but a paused guest cannot react to it: refused.
//   - Reboot needs a running guest; Restart a running or paused one, which
//     stays paused.
//   - Suspend pauses a running guest, Resume runs a paused one.
//   - Delete forgets the guest; an unknown guest is fine.
//
// A guest the simulation does not know, for example after a process
// restart, is adopted from the request with the state it carries, so an
// agent restarted with a fresh simulation keeps working.
package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// ServiceName is the RPC service name of the simulation's methods.
const ServiceName = "Sim"

// Guest states used by the simulation.
const (
	StateShutoff = "shutoff"
	StateRunning = "running"
	StatePaused  = "paused"
	StateCrashed = "crashed"
)

// ErrSimulated is the error of a call failed by Options.FailureRate.
var ErrSimulated = errors.New("simulated failure")

// Options configures a Driver.
type Options struct {
	// Latency is how long every call takes; default 0.
	Latency time.Duration
	// FailureRate is the probability (0..1) that a call fails with
	// ErrSimulated; default 0.
	FailureRate float64
	// Seed seeds the failure draws: the same seed gives the same sequence.
	Seed int64
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// LogSize is how many calls the in-memory execution log keeps (the
	// newest); default DefaultLogSize. A long-running simulation so keeps
	// bounded memory.
	LogSize int
	// ExecLog, when set, also receives every call as one JSON line (the
	// fields of Call), unbounded, for a test that reads the log of a
	// simulation running in another process. See Driver.ExecLogErr.
	ExecLog io.Writer
}

// DefaultLogSize is the default Options.LogSize.
const DefaultLogSize = 10000

// Call is one entry of the execution log.
type Call struct {
	// JobID and Attempt come from the caller's X-Hvagent-Job-ID and
	// X-Hvagent-Attempt headers; empty and 0 when not sent.
	JobID   string `json:"job_id"`
	Attempt int    `json:"attempt"`
	// Method is the full method name, such as "Sim.Start".
	Method string `json:"method"`
	// GuestID is the guest the call is about; "" for image calls.
	GuestID string `json:"guest_id"`
	// At is when the call started.
	At time.Time `json:"at"`
}

// Driver is the simulated hypervisor. It is safe for concurrent use.
type Driver struct {
	opts    Options
	handler http.Handler

	mu        sync.Mutex
	rng       *rand.Rand
	log       callRing
	execErr   error // the first error writing opts.ExecLog
	failNext  map[string][]string
	guests    map[string]*simGuest
	images    map[string]*subagent.Image
	snapshots map[string]*simSnapshot
	seq       int64
}

// New returns an empty simulated hypervisor.
func New(opts Options) *Driver {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LogSize <= 0 {
		opts.LogSize = DefaultLogSize
	}
	seed := uint64(opts.Seed)
	d := &Driver{
		opts:      opts,
		log:       callRing{size: opts.LogSize},
		rng:       rand.New(rand.NewPCG(seed, seed^0x5eed)),
		failNext:  map[string][]string{},
		guests:    map[string]*simGuest{},
		images:    map[string]*subagent.Image{},
		snapshots: map[string]*simSnapshot{},
	}
	d.handler = d.newServer()
	return d
}

// Handler returns the sub-agent HTTP handler: the RPC endpoint at
// subagent.RPCPath and the raw streams /snapshots/download and /console.
func (d *Driver) Handler() http.Handler { return d.handler }

// Log returns a copy of the execution log, oldest call first: the newest
// Options.LogSize calls.
func (d *Driver) Log() []Call {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.calls()
}

// ExecLogErr returns the first error writing Options.ExecLog, or nil. The
// calls after a failed write are not written.
func (d *Driver) ExecLogErr() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.execErr
}

// Guest returns a copy of the guest with the given ID as the simulation
// knows it, and false when it knows no such guest.
func (d *Driver) Guest(id string) (subagent.Guest, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.guests[id]
	if !ok {
		return subagent.Guest{}, false
	}
	return *g.Guest.Clone(), true
}

// FailNext makes the next call of method (for example "Sim.Start") fail
// with message. Calls queue up: FailNext twice fails the next two calls.
func (d *Driver) FailNext(method, message string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failNext[method] = append(d.failNext[method], message)
}

// begin records a call in the log, waits for the configured latency and
// decides whether the call fails. It returns ctx.Err() when ctx ends first.
func (d *Driver) begin(ctx context.Context, method, guestID string) error {
	jobID, attempt := subagent.CallInfo(ctx)
	latency, failure := d.record(Call{JobID: jobID, Attempt: attempt, Method: method, GuestID: guestID})
	if latency > 0 {
		t := time.NewTimer(latency)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return failure
}

// record appends c to the log and returns the call's latency and its
// failure, if any.
func (d *Driver) record(c Call) (time.Duration, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c.At = d.opts.Now()
	d.log.add(c)
	d.writeExecLog(c)
	if msgs := d.failNext[c.Method]; len(msgs) > 0 {
		d.failNext[c.Method] = msgs[1:]
		return d.opts.Latency, errors.New(msgs[0])
	}
	if d.opts.FailureRate > 0 && d.rng.Float64() < d.opts.FailureRate {
		return d.opts.Latency, ErrSimulated
	}
	return d.opts.Latency, nil
}

// SetLatency changes how long every later call takes.
func (d *Driver) SetLatency(latency time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.opts.Latency = latency
}

// handle registers Sim.<method>: every call goes through begin, then fn
// runs with the driver locked.
func handle[Req, Resp any](d *Driver, s *subagent.Server, method string, guestOf func(*Req) string, fn func(*Req) (*Resp, error)) {
	full := ServiceName + "." + method
	subagent.Handle(s, full, func(ctx context.Context, req *Req) (*Resp, error) {
		if err := d.begin(ctx, full, guestOf(req)); err != nil {
			return nil, err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		return fn(req)
	})
}

// newServer registers every method and stream of the simulation.
func (d *Driver) newServer() *subagent.Server {
	s := subagent.NewServer()
	guestMethods := map[string]func(*subagent.GuestRequest) (*subagent.GuestResponse, error){
		"CreateGuest": d.createGuest,
		"Start":       d.start,
		"Shutdown":    d.shutdown,
		"Poweroff":    d.poweroff,
		"Reboot":      d.reboot,
		"Restart":     d.restart,
		"Suspend":     d.suspend,
		"Resume":      d.resume,
		"Delete":      d.delete,
	}
	for name, fn := range guestMethods {
		handle(d, s, name, guestRequestID, fn)
	}
	handle(d, s, "CPUMetrics", metricsRequestID, d.cpuMetrics)
	handle(d, s, "DiskMetrics", metricsRequestID, d.diskMetrics)
	handle(d, s, "NicMetrics", metricsRequestID, d.nicMetrics)
	d.registerImages(s)
	d.registerSnapshots(s)
	s.HandleRaw(DownloadPath, http.HandlerFunc(d.serveDownload))
	s.HandleRaw(ConsolePath, http.HandlerFunc(d.serveConsole))
	return s
}

func guestRequestID(r *subagent.GuestRequest) string {
	if r.Guest == nil {
		return ""
	}
	return r.Guest.ID
}

func metricsRequestID(r *subagent.GuestMetricsRequest) string {
	if r.Guest == nil {
		return ""
	}
	return r.Guest.ID
}

// errInvalidGuest is returned when a request carries no guest or no ID.
var errInvalidGuest = subagent.WithCode(subagent.CodeInvalid, errors.New("invalid guest"))

// notRunning is the error of an action that needs a running guest: a
// conflict with the guest's state.
func notRunning(id, state string) error {
	return conflict("guest %s is not running (state %s)", id, state)
}

// conflict is an error with code conflict: the state forbids the action,
// or the thing exists already.
func conflict(format string, args ...any) error {
	return subagent.WithCode(subagent.CodeConflict, fmt.Errorf(format, args...))
}

// invalid is an error with code invalid: the request itself is wrong.
func invalid(format string, args ...any) error {
	return subagent.WithCode(subagent.CodeInvalid, fmt.Errorf(format, args...))
}
