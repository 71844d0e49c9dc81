package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/metrics"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/settings"
)

// HTTP server timeouts. There is no global write timeout: the handler
// extends write deadlines per route (long-poll, SSE, console, downloads).
// Nor is there a ReadTimeout, which would also end long-lived replies: the
// headers have readHeaderTimeout, and the handler gives a body its own
// deadline, lifted once the body is read.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
)

// Listener names, as logged.
const (
	listenerUnix  = "unix"
	listenerTCP   = "tcp"
	listenerAdmin = "admin"
)

// server is one listener and the HTTP server on it.
type server struct {
	name string
	ln   net.Listener
	srv  httpServer
	done chan struct{}
}

// httpServer serves a listener: an *http.Server, or a rest.SyncServer in front
// of one.
type httpServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// serve starts the listeners: the unix socket always, TCP unless turned
// off, the admin listener when configured. files are the tokens, TLS
// settings and socket group read by settings.Check.
func (m *Main) serve(files *settings.Files) error {
	cfg, tlsCfg := m.Daemon, files.TLS
	requests, err := rest.NewLimits(cfg.Limits())
	if err != nil {
		return err
	}
	base := rest.HandlerOptions{Logger: m.Logger, Metrics: metricsHandler(m.Metrics, m.Agent, requests), Limits: requests}
	m.drainCtx, m.drain = context.WithCancel(context.Background())

	limits := newConnLimits(cfg.MaxConnections, cfg.MaxConnectionsPerClient, m.Logger)
	ln, err := listenUnix(cfg.Socket, files.SocketGID)
	if err != nil {
		return err
	}
	ln = rest.Listener(limits.wrap(ln, false)) // the socket's clients have no address
	m.start(listenerUnix, ln, base, true)      // guarded by the socket's mode: no token
	if dir := filepath.Dir(cfg.Socket); cfg.SocketGroup != "" && !groupSearchable(dir) {
		m.Logger.Warn().Str("dir", dir).Str("group", cfg.SocketGroup).
			Msg("socket_group members cannot reach the socket: its directory is not group-searchable (chmod g+x, or move --socket)")
	}
	base.Tokens = files.Tokens
	if cfg.Listen != settings.ListenOff {
		if ln, err = listenTCP("listen", cfg.Listen, cfg, tlsCfg, limits); err != nil {
			return err
		}
		opts := base
		opts.Hosts = hostsFor(ln.Addr())
		m.start(listenerTCP, ln, opts, tlsCfg == nil)
	}
	if cfg.AdminListen != "" {
		if ln, err = listenTCP("admin_listen", cfg.AdminListen, cfg, tlsCfg, limits); err != nil {
			return err
		}
		opts := base
		opts.Hosts = hostsFor(ln.Addr())
		opts.Debug = pprofHandler()
		m.start(listenerAdmin, ln, opts, false)
	}
	return nil
}

// metricsHandler serves the metrics of /metrics: the agent's, the request
// limits', and the Go runtime's and process's.
func metricsHandler(m *metrics.Metrics, agent *hvagent.Agent, limits *rest.Limits) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		m.Collector(agent),
		limitsCollector{limits},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// start serves the agent's handler with opts on ln in the background;
// plain (not TLS) listeners through a rest.SyncServer, whose requests wake no
// thread but their connection's (the admin listener, which serves pprof,
// stays on net/http alone).
func (m *Main) start(name string, ln net.Listener, opts rest.HandlerOptions, plain bool) {
	logger := m.Logger.With().Str("listener", name).Logger()
	opts.Logger = logger
	hs := &http.Server{
		Handler:           m.wrap(rest.NewHandler(m.Agent, opts)),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          log.New(logWriter{logger}, "", 0),
	}
	s := &server{name: name, ln: ln, done: make(chan struct{}), srv: hs}
	if plain {
		s.srv = rest.NewSyncServer(hs)
	}
	m.servers = append(m.servers, s)
	go func() {
		defer close(s.done)
		err := s.srv.Serve(ln)
		if !errors.Is(err, http.ErrServerClosed) {
			logger.Error().Err(err).Msg("listener stopped")
			select {
			case m.failed <- fmt.Errorf("%s listener: %w", name, err):
			default:
			}
		}
	}()
	logger.Info().Str("addr", ln.Addr().String()).Bool("tokens", len(opts.Tokens) > 0).Msg("listening")
}

// wrap ends long-lived requests (events, waits, console) when the daemon
// stops, so that they do not hold the graceful stop until its deadline.
// (The handler logs each request.)
func (m *Main) wrap(h http.Handler) http.Handler {
	drainCtx := m.drainCtx
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest.LongLived(r) {
			ctx, cancel := context.WithCancel(r.Context())
			stop := context.AfterFunc(drainCtx, cancel)
			defer func() { stop(); cancel() }()
			r = r.WithContext(ctx)
		}
		h.ServeHTTP(w, r)
	})
}

// logWriter sends the http.Server's own error log (TLS handshakes, broken
// connections) to the logger at warn level.
type logWriter struct{ logger zerolog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.logger.Warn().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

// stopServers shuts the listeners down: they stop accepting, long-lived
// requests end, others may finish until ctx is done, then connections are
// closed.
func (m *Main) stopServers(ctx context.Context) error {
	if m.drain != nil {
		m.drain()
	}
	var wg sync.WaitGroup
	errs := make([]error, len(m.servers))
	for i, s := range m.servers {
		wg.Go(func() {
			err := s.srv.Shutdown(ctx)
			if errors.Is(err, context.DeadlineExceeded) {
				m.Logger.Warn().Str("listener", s.name).Msg("requests still running at the shutdown deadline: closing their connections")
				err = s.srv.Close()
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s listener: %w", s.name, err)
			}
			<-s.done
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// addr returns the address the named listener serves on, "" if none.
func (m *Main) addr(name string) string {
	for _, s := range m.servers {
		if s.name == name {
			return s.ln.Addr().String()
		}
	}
	return ""
}

// TCPAddr returns the TCP listener's address ("" when TCP is off).
func (m *Main) TCPAddr() string { return m.addr(listenerTCP) }

// AdminAddr returns the admin listener's address ("" when off).
func (m *Main) AdminAddr() string { return m.addr(listenerAdmin) }

// SocketPath returns the unix socket's path.
func (m *Main) SocketPath() string { return m.addr(listenerUnix) }

// newLogger returns a logger to w at level (debug, info, warn or warning,
// error) in format json or console. The console format has colours only
// when w is a terminal.
func newLogger(w io.Writer, level, format string) (zerolog.Logger, error) {
	if level == "warning" {
		level = "warn"
	}
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		return zerolog.Nop(), fmt.Errorf("log_level %q: %w", level, err)
	}
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: !isTerminal(w)}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
