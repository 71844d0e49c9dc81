package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/host"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/settings"
)

// IOStreams are where a command reads and writes: data goes to Out, status
// and progress to ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// IsTTY reports whether ErrOut is a terminal: waits then show a live
	// stage line and progress bars instead of plain lines.
	IsTTY bool
}

// SystemIO returns the process's standard streams.
func SystemIO() *IOStreams {
	return &IOStreams{
		In:     os.Stdin,
		Out:    os.Stdout,
		ErrOut: os.Stderr,
		IsTTY:  term.IsTerminal(int(os.Stderr.Fd())),
	}
}

// Factory gives commands what they need, built lazily: a command that never
// calls Service never connects.
type Factory struct {
	IO *IOStreams
	// Service returns the agent to talk to: hvagentd through rest.Client,
	// or with --local an agent run in this process.
	Service func() (hvagent.Service, error)
	// Local reports whether Service runs in this process; async commands
	// then always wait, since the agent ends with the command.
	Local func() bool
}

// isLocal reports whether f runs the agent in process.
func (f *Factory) isLocal() bool { return f.Local != nil && f.Local() }

// localStopGrace is how long a local agent lets running jobs finish when
// the command is done.
const localStopGrace = 5 * time.Second

// connector resolves the global flags into a Service on first use and
// releases it at the end of the command.
type connector struct {
	io     *IOStreams
	getenv func(string) string

	addr    string // --addr
	token   string // --token
	dataDir string // --data-dir
	local   bool   // --local

	once  sync.Once
	svc   hvagent.Service
	err   error
	close func() error
}

// newFactory returns the Factory of one hvctl run, and the connector whose
// fields the root command's flags set.
func newFactory(ios *IOStreams, getenv func(string) string) (*Factory, *connector) {
	c := &connector{io: ios, getenv: getenv}
	f := &Factory{IO: ios, Service: c.service, Local: func() bool { return c.local }}
	return f, c
}

// service connects once and returns the same Service after that.
func (c *connector) service() (hvagent.Service, error) {
	c.once.Do(func() {
		if c.local {
			c.svc, c.close, c.err = openLocal(c.resolvedDataDir(), c.io.ErrOut)
			return
		}
		client := rest.NewClient(c.resolvedAddr())
		client.Token = c.token
		if client.Token == "" {
			client.Token = c.getenv("HVAGENT_TOKEN")
		}
		c.svc = client
		c.close = func() error { client.CloseIdleConnections(); return nil }
	})
	return c.svc, c.err
}

// resolvedDataDir is --data-dir, else $HVAGENT_DATA_DIR, else the default
// data dir of the current user (as hvagentd computes it).
func (c *connector) resolvedDataDir() string {
	dir, _ := c.dataDirFrom()
	return dir
}

// dataDirFrom returns the data dir and how it was chosen.
func (c *connector) dataDirFrom() (dir, from string) {
	dir, from = c.dataDir, "--data-dir"
	if dir == "" {
		dir, from = c.getenv("HVAGENT_DATA_DIR"), "$HVAGENT_DATA_DIR"
	}
	if dir == "" {
		dir, from = hvagent.DefaultDataDir(), "the default data dir"
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return dir, from
}

// resolvedAddr is --addr, else $HVAGENT_ADDR, else the daemon's unix socket
// in the data dir.
func (c *connector) resolvedAddr() string {
	addr, _ := c.addrFrom()
	return addr
}

// addrFrom returns the address of hvagentd and how it was chosen, for
// messages.
func (c *connector) addrFrom() (addr, from string) {
	if c.addr != "" {
		return c.addr, "address from --addr"
	}
	if a := c.getenv("HVAGENT_ADDR"); a != "" {
		return a, "address from $HVAGENT_ADDR"
	}
	dir, dirFrom := c.dataDirFrom()
	if dirFrom != "the default data dir" {
		dirFrom = "the data dir from " + dirFrom
	}
	return rest.SocketAddr(dir), "address: the socket in " + dirFrom + ", as neither --addr nor $HVAGENT_ADDR is set"
}

// explain adds to an error that says hvagentd cannot be reached, or that
// its address is wrong, how the address was chosen and what to try.
func (c *connector) explain(err error) error {
	if err == nil || c.local || c.getenv == nil {
		return err
	}
	_, from := c.addrFrom()
	switch code, msg := hvagent.ErrorCode(err), err.Error(); {
	case code == hvagent.EUNAVAILABLE:
		return &hvagent.Error{Code: code, Err: err, Message: fmt.Sprintf(
			"%s (%s; is hvagentd running? see --addr, or use --local)", msg, from)}
	case code == hvagent.EINVALID && (strings.HasPrefix(msg, "address ") || strings.HasPrefix(msg, "hvagentd at ")):
		// The client's words for a bad address or a TLS/plain mismatch.
		return &hvagent.Error{Code: code, Err: err, Message: fmt.Sprintf("%s (%s)", msg, from)}
	}
	return err
}

// Close releases what service opened: the local agent and its store.
func (c *connector) Close() error {
	if c.close == nil {
		return nil
	}
	err := c.close()
	c.close = nil
	return err
}

// dropJobFailed drops the agent's log line of a failed job: hvctl reports
// the job's failure itself.
var dropJobFailed = zerolog.HookFunc(func(e *zerolog.Event, _ zerolog.Level, msg string) {
	if msg == hvagent.LogJobFailed {
		e.Discard()
	}
})

// openLocal starts an agent in this process on dataDir, with the daemon's
// effective config (<dataDir>/config.json) or, when there is none, the
// embedded default. A data dir held by hvagentd (or another --local hvctl)
// is ECONFLICT.
func openLocal(dataDir string, errOut io.Writer) (hvagent.Service, func() error, error) {
	cfg, embedded, err := localConfig(dataDir)
	if err != nil {
		return nil, nil, err
	}
	cfg.Logger = zerolog.New(zerolog.ConsoleWriter{Out: errOut, NoColor: true}).Level(zerolog.WarnLevel).
		Hook(dropJobFailed).With().Timestamp().Logger()
	h, err := host.Open(context.Background(), host.Options{Config: cfg})
	if err != nil {
		if hvagent.ErrorCode(err) == hvagent.ECONFLICT {
			return nil, nil, &hvagent.Error{Code: hvagent.ECONFLICT, Err: err, Message: fmt.Sprintf(
				"--local refused: %s; run without --local to go through hvagentd", hvagent.ErrorMessage(err))}
		}
		return nil, nil, localError(err)
	}
	if embedded {
		_, _ = fmt.Fprintf(errOut, "hvctl: --local: no %s: using the embedded default (%s)\n",
			filepath.Join(dataDir, "config.json"), host.DefaultDescription)
	}
	if err := h.Start(context.Background()); err != nil {
		return nil, nil, errors.Join(localError(err), h.Close(context.Background()))
	}
	closeFn := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), localStopGrace)
		defer cancel()
		return h.Close(ctx)
	}
	return h.Agent, closeFn, nil
}

// localError prefixes an agent error with --local, keeping its code.
func localError(err error) error {
	var e *hvagent.Error
	if errors.As(err, &e) {
		return &hvagent.Error{Code: e.Code, Message: "--local: " + e.Error(), Err: err}
	}
	return fmt.Errorf("--local: %w", err)
}

// localConfig reads the library's part of <dataDir>/config.json (the
// daemon's settings in it are not needed), or returns the embedded default
// (embedded true) when it does not exist; either way DataDir is dataDir.
func localConfig(dataDir string) (cfg *hvagent.Config, embedded bool, err error) {
	file, err := settings.Load(filepath.Join(dataDir, "config.json"))
	switch hvagent.ErrorCode(err) {
	case "":
		cfg = &file.Config
	case hvagent.ENOTFOUND:
		cfg, embedded = host.Default(), true
	default:
		return nil, false, localError(err)
	}
	cfg.DataDir = dataDir
	return cfg, embedded, nil
}
