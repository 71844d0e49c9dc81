package rest

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// LongLived reports whether r may last as long as the client wants: the
// event stream, a console, a long poll (?wait=). A server stopping should
// end them rather than wait for them.
func LongLived(r *http.Request) bool {
	return r.URL.Path == "/events" || strings.HasSuffix(r.URL.Path, "/console") ||
		(r.URL.RawQuery != "" && r.URL.Query().Has("wait")) // parsed only when there is a query
}

// SyncServer serves NewHandler's routes on a plain (non-TLS) listener, as
// hvagentd does on its unix socket and TCP listeners. Each connection's
// well-formed HTTP/1.1 requests are read, handled and answered on the
// connection's own goroutine (syncConn), one after the other; a connection
// that sends anything else — a stream or an event stream, a protocol
// upgrade, Expect, a chunked body, another HTTP version, a malformed
// request — is handed over, with the bytes not yet parsed, to net/http's
// server (http), which serves it from then on with the same handler.
//
// What this saves is net/http's per-request background read: for every
// request, net/http starts a goroutine that reads the connection while the
// handler runs (to notice a client that goes away) and stops it after the
// reply. Starting it wakes a second thread, which then competes for the
// CPUs with the sub-agent the handler is calling; stopping it is two more
// goroutine wake-ups. Served here, a request that calls a sub-agent in
// another process wakes no other thread. Only long polls (LongLived) get
// such a read, started here for them alone. It serves other handlers too,
// but sends its stream routes (Route.Stream: downloads and consoles, which
// need sendfile or hijacking) to net/http by their path.
type SyncServer struct {
	http    *http.Server     // handler, timeouts, and the server of connections handed over
	handoff *handoffListener // where handed-over connections go to http

	mu      sync.Mutex
	ln      net.Listener
	conns   map[*syncConn]struct{}
	closing bool
}

// NewSyncServer returns a server of srv's handler with srv's timeouts;
// srv serves the connections handed over. Its errors (a handler's panic, a
// failed accept) go to srv.ErrorLog, as net/http's own do: set it, since
// nil means the log package's standard logger for both.
func NewSyncServer(srv *http.Server) *SyncServer {
	return &SyncServer{http: srv, conns: map[*syncConn]struct{}{}}
}

// Serve accepts connections on ln until Shutdown or Close, and returns
// http.ErrServerClosed then, like http.Server.Serve.
func (s *SyncServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = ln.Close()
		return http.ErrServerClosed
	}
	s.ln, s.handoff = ln, newHandoffListener(ln.Addr())
	s.mu.Unlock()
	inner := make(chan error, 1)
	go func() { inner <- s.http.Serve(s.handoff) }()
	err := s.accept(ln)
	if s.shuttingDown() {
		<-inner
		return http.ErrServerClosed
	}
	return err
}

// accept serves each connection of ln on a goroutine of its own. Errors
// that pass (too many open files) are waited out as net/http does.
func (s *SyncServer) accept(ln net.Listener) error {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.shuttingDown() {
				return http.ErrServerClosed
			}
			var temp interface{ Temporary() bool }
			if !errors.As(err, &temp) || !temp.Temporary() {
				return err
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logf("http: Accept error: %v; retrying in %v", err, backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		sc := newSyncConn(s, c)
		if !s.track(sc) {
			_ = c.Close()
			continue
		}
		go sc.serve()
	}
}

// track adds sc to the connections served here, unless shutting down.
func (s *SyncServer) track(sc *syncConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[sc] = struct{}{}
	return true
}

// forget removes sc from the connections served here.
func (s *SyncServer) forget(sc *syncConn) {
	s.mu.Lock()
	delete(s.conns, sc)
	s.mu.Unlock()
}

// setIdle marks sc idle (between requests) or busy; it returns false when
// the server is shutting down, and sc must close.
func (s *SyncServer) setIdle(sc *syncConn, idle bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc.idle = idle
	return !s.closing
}

// shuttingDown reports whether Shutdown or Close was called.
func (s *SyncServer) shuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// stop marks the server closing, closes its listener and the connections
// it serves that are idle (all of them when all is set), and returns how
// many it still serves.
func (s *SyncServer) stop(all bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closing && s.ln != nil {
		_ = s.ln.Close()
	}
	s.closing = true
	for sc := range s.conns {
		if all || sc.idle {
			_ = sc.c.Close()
		}
	}
	return len(s.conns)
}

// Shutdown stops accepting, closes idle connections, lets requests being
// served finish until ctx is done, and shuts the server of handed-over
// connections down the same way; it returns ctx's error if requests were
// still running at its end.
func (s *SyncServer) Shutdown(ctx context.Context) error {
	s.stop(false)
	err := s.http.Shutdown(ctx)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.stop(false) > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return err
}

// Close closes the listener and every connection at once.
func (s *SyncServer) Close() error {
	s.stop(true)
	return s.http.Close()
}

// logf logs to the server's error log, as net/http does.
func (s *SyncServer) logf(format string, args ...any) {
	if s.http.ErrorLog != nil {
		s.http.ErrorLog.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}
