package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/host"
	"github.com/hvagent/hvagent/hvagent/metrics"
	"github.com/hvagent/hvagent/hvagent/store"
	"github.com/hvagent/hvagent/internal/logtext"
	"github.com/hvagent/hvagent/internal/settings"
)

// embeddedDefaultNotice is logged at start-up when no config file is given.
const embeddedDefaultNotice = "no config file: running the embedded default with " + host.DefaultDescription

// Main is the hvagentd daemon: ParseFlags reads its settings, Run starts it
// and returns once it serves, Close stops it gracefully. Tests run the
// daemon in-process through it.
type Main struct {
	// Stderr receives the logs; default os.Stderr.
	Stderr io.Writer
	// LookupEnv reads the environment; default os.LookupEnv.
	LookupEnv func(string) (string, bool)

	// Config is the library's effective configuration (defaults applied),
	// set by ParseFlags.
	Config *hvagent.Config
	// Daemon is hvagentd's own effective settings (defaults applied), set by
	// ParseFlags. Its Listen is "off" when TCP is turned off.
	Daemon *settings.Daemon
	// ConfigPath is the config file read; "" for the embedded default.
	ConfigPath string

	// Logger, Host (and its DB and Agent) and Metrics are set by Run.
	Logger  zerolog.Logger
	Host    *host.Host
	DB      *store.DB
	Metrics *metrics.Metrics
	Agent   *hvagent.Agent

	cancel    context.CancelFunc // hard-stops the agent
	drainCtx  context.Context    // done when long-lived requests must end
	drain     context.CancelFunc
	servers   []*server
	failed    chan error // a listener stopped serving on its own
	closeOnce sync.Once
	closeErr  error
}

// NewMain returns a daemon that reads the process environment and logs to
// os.Stderr.
func NewMain() *Main {
	return &Main{Stderr: os.Stderr, LookupEnv: os.LookupEnv, failed: make(chan error, 3)}
}

// ParseFlags reads the settings from args, the environment and the config
// file (precedence flag > env > file > default) into m.Config. Bad flags,
// values, files and insecure listener settings are errors.
func (m *Main) ParseFlags(args []string) error {
	fs := pflag.NewFlagSet("hvagentd", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flags := registerFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return m.configure(flags)
}

// configure resolves the settings of parsed flags.
func (m *Main) configure(flags *flagSet) error {
	path := flags.configPath(m.lookupEnv)
	base := &settings.File{Config: *host.Default()}
	if path != "" {
		var err error
		if base, err = settings.Load(path); err != nil {
			return err
		}
	}
	eff, err := flags.resolve(base, m.lookupEnv)
	if err != nil {
		return err
	}
	if err := eff.CheckExposure(); err != nil {
		return err
	}
	m.Config, m.Daemon, m.ConfigPath = &eff.Config, &eff.Daemon, path
	return nil
}

func (m *Main) lookupEnv(key string) (string, bool) {
	if m.LookupEnv == nil {
		return os.LookupEnv(key)
	}
	return m.LookupEnv(key)
}

// Run checks the effective config as `hvctl config validate` does
// (settings.Check: values, builtins, exposure, the files it names) and logs
// its warnings, opens the store, starts the agent, writes the effective
// config to <data_dir>/config.json and starts the listeners, then returns.
// ctx bounds the start-up only. After an error, Close releases what was
// started.
func (m *Main) Run(ctx context.Context) error {
	if m.Config == nil || m.Daemon == nil {
		return errors.New("run: ParseFlags was not called")
	}
	if m.failed == nil {
		m.failed = make(chan error, 3)
	}
	stderr := m.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	logger, err := newLogger(stderr, m.Daemon.LogLevel, m.Daemon.LogFormat)
	if err != nil {
		return err
	}
	m.Logger = logger
	verdict, err := settings.Check(&settings.File{Config: *m.Config, Daemon: *m.Daemon})
	if err != nil {
		return err
	}
	if err := m.startAgent(ctx, verdict.Warnings); err != nil {
		return err
	}
	if err := writeEffectiveConfig(m.Agent.Config(), m.Daemon); err != nil {
		return err
	}
	return m.serve(verdict.Files)
}

// startAgent assembles the agent on the data dir (store, built-in
// drivers) and starts it; warnings are the config's, logged first.
func (m *Main) startAgent(ctx context.Context, warnings []string) error {
	cfg := *m.Config
	m.logStart(warnings)
	cfg.Logger = m.Logger
	m.Metrics = metrics.New()
	cfg.Observer = m.Metrics
	h, err := host.Open(ctx, host.Options{Config: &cfg})
	if err != nil {
		return err
	}
	m.Host, m.DB, m.Agent = h, h.DB, h.Agent
	startCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	if err := h.Start(startCtx); err != nil {
		return fmt.Errorf("start agent: %w", err)
	}
	return nil
}

// logStart logs where the configuration comes from and its warnings.
func (m *Main) logStart(warnings []string) {
	ev := m.Logger.Info().Str("version", hvagent.Version).Str("data_dir", m.Config.DataDir).Str("db", m.Config.DBPath)
	if m.ConfigPath != "" {
		ev = ev.Str("config", m.ConfigPath)
	}
	ev.Msg("starting hvagentd")
	if m.ConfigPath == "" {
		m.Logger.Info().Msg(embeddedDefaultNotice)
	}
	for _, w := range warnings {
		m.Logger.Warn().Msg(w)
	}
}

// writeEffectiveConfig writes the effective config file, the agent's cfg
// and the daemon's settings d in one JSON object, to <data_dir>/config.json
// (mode 0600), for `hvctl --local` and for people. Fields without a JSON key
// (store, handlers, logger) are left out.
func writeEffectiveConfig(cfg *hvagent.Config, d *settings.Daemon) error {
	b, err := json.MarshalIndent(&settings.File{Config: *cfg, Daemon: *d}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode effective config: %w", err)
	}
	dataDir := cfg.DataDir
	path := filepath.Join(dataDir, "config.json")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write effective config: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write effective config: %w", err)
	}
	return nil
}

// Close stops the daemon gracefully: the listeners stop (in-flight requests
// may finish), then the agent (running jobs may finish), both within
// shutdown_timeout; then the store is closed. It is safe to call more than
// once, and after a failed Run.
func (m *Main) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.close() })
	return m.closeErr
}

func (m *Main) close() error {
	start := time.Now()
	var timeout time.Duration
	if m.Daemon != nil {
		timeout = m.Daemon.ShutdownTimeout.Duration
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	errs = append(errs, m.stopServers(ctx))
	if m.Host != nil {
		errs = append(errs, m.Host.Close(ctx))
	}
	if m.cancel != nil {
		m.cancel()
	}
	err := errors.Join(errs...)
	if m.Agent != nil {
		took := logtext.Duration(time.Since(start))
		if err != nil {
			m.Logger.Error().Err(err).Str("took", took).Msg("hvagentd stopped with errors")
		} else {
			m.Logger.Info().Str("took", took).Msg("hvagentd stopped")
		}
	}
	return err
}
