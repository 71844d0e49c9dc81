// Package host assembles an hvagent.Agent on a data dir: the SQLite store,
// the built-in drivers its config names, and the agent itself. hvagentd,
// hvctl --local, the tests and programs that embed hvagent all build their
// agent with it, so every one of them follows the same rules.
//
//	h, err := host.Open(ctx, host.Options{Config: cfg})
//	…
//	err = h.Start(ctx)
//	…
//	defer h.Close(ctx)
//
// A built-in driver is created only when a service of the config names it
// ("builtin": "qemu"), from the data dir; Options.Builtins replaces one (a
// test passes a simulation it keeps a handle on). Host connects what the
// drivers see outside calls to the agent: a QEMU that died is reported as a
// crashed guest, image download progress goes into the job; at Start the
// QEMU driver re-attaches to the guests that outlived the last process and
// the autostart guests are started.
package host

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/store"
)

// Options says what to assemble. The zero value runs Default() on the
// default data dir.
type Options struct {
	// Config is the agent's configuration; nil means Default(). It is not
	// modified. Its DataDir (default hvagent.DefaultDataDir()) holds the
	// database (unless DBPath is set) and the built-in drivers' files;
	// Store and Builtins are set by Open.
	Config *hvagent.Config
	// Builtins replace built-in drivers by name; the others that the config
	// names are created by Open.
	Builtins map[string]http.Handler
	// Wrap, when set, returns the Store the agent uses around the opened
	// database (instrumentation, fault injection).
	Wrap func(*store.DB) hvagent.Store
}

// Host is an assembled agent with the store and drivers it runs on.
type Host struct {
	// Agent is the agent; Start starts it.
	Agent *hvagent.Agent
	// DB is the SQLite store; the agent holds its lock until Close.
	DB *store.DB
	// Config is the agent's effective configuration (defaults applied).
	Config *hvagent.Config

	builtins []*builtin
	agent    atomic.Pointer[hvagent.Agent] // for the drivers' callbacks
}

// Open creates the data dir (mode 0700) when missing, opens the store
// (ECONFLICT when another process holds the data dir), creates the
// built-in drivers the config names and the agent, not started yet. A
// builtin this program does not provide is EINVALID naming it. ctx bounds
// the drivers' start-up checks.
func Open(ctx context.Context, o Options) (*Host, error) {
	cfg := o.Config
	if cfg == nil {
		cfg = Default()
	}
	eff := cfg.WithDefaults()
	if err := eff.Validate(); err != nil {
		return nil, err
	}
	if err := checkBuiltins(eff, o.Builtins); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(eff.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	db, err := store.Open(eff.DBPath, store.Options{Durability: eff.Durability, Logger: eff.Logger})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	h := &Host{DB: db}
	if eff.Builtins, err = h.makeBuiltins(ctx, eff, o.Builtins); err != nil {
		return nil, errors.Join(err, h.closeDrivers(), db.Close())
	}
	eff.Store = db
	if o.Wrap != nil {
		eff.Store = o.Wrap(db)
	}
	if h.Agent, err = hvagent.New(eff); err != nil {
		return nil, errors.Join(err, h.closeDrivers(), db.Close())
	}
	h.agent.Store(h.Agent)
	h.Config = h.Agent.Config()
	return h, nil
}

// Start starts the agent (see hvagent.Agent.Start: cancelling ctx later is
// a hard stop), then lets the drivers settle what they run against the
// stored guests: the QEMU driver re-attaches, reports the guests that died
// and queues start for autostart guests. A failure of that settling is
// logged, not returned: the agent serves anyway.
func (h *Host) Start(ctx context.Context) error {
	if err := h.Agent.Start(ctx); err != nil {
		return err
	}
	for _, b := range h.builtins {
		if b.start == nil {
			continue
		}
		if err := b.start(ctx, h.Agent); err != nil {
			h.Config.Logger.Warn().Err(err).Msg("settle built-in driver at start")
		}
	}
	return nil
}

// Close stops the agent, letting running jobs finish until ctx is done,
// then releases the drivers (guests keep running) and the store. It is
// safe after a failed Start.
func (h *Host) Close(ctx context.Context) error {
	return errors.Join(h.Agent.Stop(ctx), h.Agent.Close(), h.closeDrivers(), h.DB.Close())
}

// makeBuiltins returns a handler for every builtin that a service of cfg
// names: the one given in given, else a new driver.
func (h *Host) makeBuiltins(ctx context.Context, cfg *hvagent.Config, given map[string]http.Handler) (map[string]http.Handler, error) {
	out := map[string]http.Handler{}
	env := driverEnv{cfg: cfg, agent: &h.agent}
	for _, name := range usedBuiltins(cfg) {
		if handler, ok := given[name]; ok {
			out[name] = handler
			continue
		}
		b, err := drivers[name](ctx, env)
		if err != nil {
			return nil, fmt.Errorf("builtin %s: %w", name, err)
		}
		h.builtins = append(h.builtins, b)
		out[name] = b.handler
	}
	return out, nil
}

// CheckConfig reports what Open refuses in cfg beyond cfg.Validate: a
// service naming a builtin this program does not provide (EINVALID naming
// it and the ones it has). hvagentd and `hvctl config validate` check
// config files with it.
func CheckConfig(cfg *hvagent.Config) error { return checkBuiltins(cfg, nil) }

// checkBuiltins refuses a config naming a builtin this program does not
// provide (EINVALID naming it), before anything is created.
func checkBuiltins(cfg *hvagent.Config, given map[string]http.Handler) error {
	for _, name := range usedBuiltins(cfg) {
		if _, ok := drivers[name]; !ok && given[name] == nil {
			return hvagent.Errorf(hvagent.EINVALID, "config: builtin %q is not provided by this program (it has: %s)",
				name, strings.Join(Builtins(), ", "))
		}
	}
	return nil
}

// closeDrivers releases the drivers Open made.
func (h *Host) closeDrivers() error {
	var errs []error
	for _, b := range h.builtins {
		if b.close != nil {
			errs = append(errs, b.close())
		}
	}
	return errors.Join(errs...)
}

// usedBuiltins returns the builtin names that cfg's services use, sorted.
func usedBuiltins(cfg *hvagent.Config) []string {
	var names []string
	for _, s := range cfg.Services {
		if s.Builtin != "" && !slices.Contains(names, s.Builtin) {
			names = append(names, s.Builtin)
		}
	}
	slices.Sort(names)
	return names
}
