// Package host assembles an hvagent.Agent on a data dir: the SQLite store,
// the built-in drivers its config names, and the agent itself. hvagentd,
// hvctl --local, the tests and programs that embed hvagent all build their
// agent with it, so every one of them follows the same rules.
//
//	h, err := host.Open(host.Options{Config: cfg})
//	…
//	err = h.Start(ctx)
//	…
//	defer h.Close(ctx)
//
// A built-in driver is created only when a service of the config names it
// ("builtin": "sim"), from the data dir; Options.Builtins replaces one (a
// test passes a simulation it keeps a handle on).
package host

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
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
}

// Open creates the data dir (mode 0700) when missing, opens the store
// (ECONFLICT when another process holds the data dir), creates the
// built-in drivers the config names and the agent, not started yet. A
// builtin this program does not provide is EINVALID naming it.
func Open(o Options) (*Host, error) {
	cfg := o.Config
	if cfg == nil {
		cfg = Default()
	}
	eff := cfg.WithDefaults()
	if err := eff.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(eff.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	builtins, err := builtinHandlers(eff, o.Builtins)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(eff.DBPath, store.Options{Durability: eff.Durability})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	eff.Builtins = builtins
	eff.Store = db
	if o.Wrap != nil {
		eff.Store = o.Wrap(db)
	}
	agent, err := hvagent.New(eff)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return &Host{Agent: agent, DB: db, Config: agent.Config()}, nil
}

// Start starts the agent (see hvagent.Agent.Start: cancelling ctx later is
// a hard stop).
func (h *Host) Start(ctx context.Context) error {
	return h.Agent.Start(ctx)
}

// Close stops the agent, letting running jobs finish until ctx is done,
// then releases the drivers and the store. It is safe after a failed
// Start.
func (h *Host) Close(ctx context.Context) error {
	return errors.Join(h.Agent.Stop(ctx), h.Agent.Close(), h.DB.Close())
}

// builtinHandlers returns a handler for every builtin that a service of
// cfg names: the one given in given, else a new driver.
func builtinHandlers(cfg *hvagent.Config, given map[string]http.Handler) (map[string]http.Handler, error) {
	out := map[string]http.Handler{}
	for _, name := range usedBuiltins(cfg) {
		if h, ok := given[name]; ok {
			out[name] = h
			continue
		}
		newDriver, ok := drivers[name]
		if !ok {
			return nil, hvagent.Errorf(hvagent.EINVALID, "config: builtin %q is not provided by this program (it has: %s)",
				name, strings.Join(Builtins(), ", "))
		}
		h, err := newDriver(cfg)
		if err != nil {
			return nil, fmt.Errorf("builtin %s: %w", name, err)
		}
		out[name] = h
	}
	return out, nil
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

// drivers create the built-in drivers this program provides, by name.
var drivers = map[string]func(cfg *hvagent.Config) (http.Handler, error){
	"sim": func(*hvagent.Config) (http.Handler, error) { return sim.New(sim.Options{}).Handler(), nil },
}

// Builtins returns the names of the built-in drivers this program
// provides, sorted.
func Builtins() []string {
	var names []string
	for name := range drivers {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// DefaultDescription says in a few words what Default drives, for logs.
const DefaultDescription = "the built-in SIMULATED driver: no real guest runs"

// Default returns the embedded default configuration, used when no config
// file is given: every action wired to the built-in drivers. Until the real
// drivers land that is the simulation (no real guest runs).
func Default() *hvagent.Config { return sim.Config() }
