package host

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/qemu"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/driver/storage"
)

// reportTimeout bounds one report of a driver to the agent.
const reportTimeout = 10 * time.Second

// builtin is a built-in driver made for one host.
type builtin struct {
	handler http.Handler
	// close releases the driver (never the guests it runs); may be nil.
	close func() error
	// start runs once the agent is started (re-attach, autostart); may be
	// nil.
	start func(ctx context.Context, a *hvagent.Agent) error
}

// driverEnv is what a driver constructor gets: the effective config and
// the agent, which exists only once every driver is made.
type driverEnv struct {
	cfg   *hvagent.Config
	agent *atomic.Pointer[hvagent.Agent]
}

// drivers create the built-in drivers this program provides, by name.
var drivers = map[string]func(ctx context.Context, env driverEnv) (*builtin, error){
	"sim":     newSim,
	"qemu":    newQEMU,
	"storage": newStorage,
}

// Builtins returns the names of the built-in drivers this program
// provides, sorted.
func Builtins() []string { return slices.Sorted(maps.Keys(drivers)) }

// DefaultDescription says in a few words what Default drives, for logs.
const DefaultDescription = "the built-in QEMU and qcow2 storage drivers"

// Default returns the embedded default configuration, used when no config
// file is given: every VM action wired to the built-in QEMU and storage
// drivers. Create runs the storage driver's stage (disks) and then QEMU's;
// delete runs QEMU's and then the storage driver's.
func Default() *hvagent.Config {
	services := qemu.Services()
	maps.Copy(services, storage.Services())
	actions := qemu.Actions()
	maps.Copy(actions, storage.Actions())
	create := actions[hvagent.ActionCreate]
	create.Stages = append([]hvagent.StageConfig{storage.CreateStage()}, create.Stages...)
	actions[hvagent.ActionCreate] = create
	del := actions[hvagent.ActionDelete]
	del.Stages = append(slices.Clone(del.Stages), storage.DeleteStage())
	actions[hvagent.ActionDelete] = del
	return &hvagent.Config{Services: services, Actions: actions}
}

func newSim(context.Context, driverEnv) (*builtin, error) {
	return &builtin{handler: sim.New(sim.Options{}).Handler()}, nil
}

func newStorage(_ context.Context, env driverEnv) (*builtin, error) {
	d, err := storage.New(storage.Options{
		DataDir:      env.cfg.DataDir,
		AllowedPaths: env.cfg.AllowedPaths,
		Logger:       env.cfg.Logger,
		OnProgress: func(jobID string, done, total int64) {
			env.report(func(ctx context.Context, a *hvagent.Agent) error {
				return a.ReportProgress(ctx, jobID, done, total)
			})
		},
	})
	if err != nil {
		return nil, err
	}
	return &builtin{handler: d.Handler()}, nil
}

func newQEMU(ctx context.Context, env driverEnv) (*builtin, error) {
	d, err := qemu.New(ctx, qemu.Options{
		DataDir:      env.cfg.DataDir,
		AllowedPaths: env.cfg.AllowedPaths,
		Accel:        env.cfg.QEMUAccel,
		Logger:       env.cfg.Logger,
		OnState: func(id, state, reason string) {
			env.report(func(ctx context.Context, a *hvagent.Agent) error {
				return a.ReportGuestState(ctx, id, state, reason)
			})
		},
	})
	if err != nil {
		return nil, err
	}
	start := func(ctx context.Context, a *hvagent.Agent) error { return reconcileQEMU(ctx, d, a) }
	return &builtin{handler: d.Handler(), close: d.Close, start: start}, nil
}

// report runs f on the agent, if there is one yet, with a deadline; a
// failure is logged, since a driver's callback has no one to return it to.
func (env driverEnv) report(f func(context.Context, *hvagent.Agent) error) {
	a := env.agent.Load()
	if a == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), reportTimeout)
	defer cancel()
	if err := f(ctx, a); err != nil && hvagent.ErrorCode(err) != hvagent.ENOTFOUND {
		env.cfg.Logger.Warn().Err(err).Msg("record what a built-in driver reported")
	}
}

// reconcileQEMU re-attaches the driver to the QEMUs that outlived the last
// hvagentd (the driver reports those that died through OnState), marks
// stored guests that are running no more as shutoff, and starts the
// autostart guests that are not running.
func reconcileQEMU(ctx context.Context, d *qemu.Driver, a *hvagent.Agent) error {
	_, rerr := d.Reconcile(ctx)
	if rerr != nil {
		a.Config().Logger.Warn().Err(rerr).Msg("qemu: some guests could not be re-attached")
	}
	var errs []error
	for after := ""; ; {
		guests, err := a.Guests(ctx, hvagent.GuestFilter{After: after})
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		for _, g := range guests {
			errs = append(errs, reconcileGuest(ctx, d, a, g))
		}
		if len(guests) == 0 {
			return errors.Join(errs...)
		}
		after = guests[len(guests)-1].ID
	}
}

// reconcileGuest settles one stored VM against what the driver finds.
func reconcileGuest(ctx context.Context, d *qemu.Driver, a *hvagent.Agent, g *hvagent.Guest) error {
	if g.Type == hvagent.ContainerGuestType {
		return nil
	}
	if d.Unreachable(g.ID) { // its QEMU runs but did not answer: neither stopped nor started
		a.Config().Logger.Warn().Str("guest_id", g.ID).Str("state", g.State).
			Msg("qemu: the guest's QEMU runs but could not be re-attached; its state is left as stored")
		return nil
	}
	state := d.State(g.ID)
	live := state == qemu.StateRunning || state == qemu.StatePaused
	switch g.State {
	case qemu.StateRunning, qemu.StatePaused, qemu.StateShutdown:
		if !live {
			if err := a.ReportGuestState(ctx, g.ID, state, "not running when hvagentd started"); err != nil {
				return err
			}
		}
	}
	if !g.Autostart || live {
		return nil
	}
	_, err := a.Do(ctx, hvagent.ActionStart, g.ID, hvagent.Request{})
	if err == nil {
		a.Config().Logger.Info().Str("guest_id", g.ID).Msg("autostart: start queued")
	}
	return err
}
