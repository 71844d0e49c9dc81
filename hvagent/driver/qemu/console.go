package qemu

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
)

// ConsolePath is the path of the console stream endpoint.
const ConsolePath = "/console"

// MethodConsole is the stage method of the console stream in Config.
const MethodConsole = ServiceName + ".Console"

// consolePoll is how often a running guest's serial output is moved from
// QEMU's ring buffer into the console log while the guest prints; up to
// maxConsolePoll while it does not.
const (
	consolePoll    = 200 * time.Millisecond
	maxConsolePoll = time.Second
)

// maxStreamRequest bounds the JSON body of a stream request.
const maxStreamRequest = 1 << 20

// consoleLog is a guest's serial console log, capped at limit bytes: when
// an append would pass the cap, the file is rewritten with its newest half.
//
// The serial port writes into a ring buffer inside QEMU, which the driver
// drains into the file; so the file stays capped even while no driver
// runs (the ring then keeps the newest 64 KiB, drained on re-attach).
type consoleLog struct {
	path  string
	limit int64
	mu    sync.Mutex
}

func newConsoleLog(dir string, limit int64) *consoleLog {
	return &consoleLog{path: filepath.Join(dir, layout.ConsoleLog), limit: limit}
}

// append adds b to the log, keeping it under the cap.
func (l *consoleLog) append(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if int64(len(b)) > l.limit/2 {
		b = b[int64(len(b))-l.limit/2:]
	}
	size := int64(0)
	if fi, err := os.Stat(l.path); err == nil {
		size = fi.Size()
	}
	if size+int64(len(b)) > l.limit {
		return l.rewrite(b)
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("console log: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("console log: %w", err)
	}
	return nil
}

// rewrite replaces the log with its newest half followed by b; readers of
// the old file keep reading it.
func (l *consoleLog) rewrite(b []byte) error {
	keep := l.limit/2 - int64(len(b))
	old, err := os.ReadFile(l.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("console log: %w", err)
	}
	if int64(len(old)) > keep {
		old = old[int64(len(old))-keep:]
	}
	tmp := l.path + ".tmp"
	if err := os.WriteFile(tmp, append(old, b...), 0o600); err != nil {
		return fmt.Errorf("console log: %w", err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		return fmt.Errorf("console log: %w", err)
	}
	return nil
}

// drainConsole moves what QEMU's ring buffer holds into the console log
// and returns how many bytes it moved; nothing while an interactive
// session's tap feeds the log.
func (v *vm) drainConsole(ctx context.Context) (int, error) {
	v.drainMu.Lock()
	defer v.drainMu.Unlock()
	if v.tapped {
		return 0, nil
	}
	return v.drainRing(ctx)
}

// drainRing is drainConsole with drainMu held.
func (v *vm) drainRing(ctx context.Context) (int, error) {
	total := 0
	for range 4 { // the ring holds at most 64 KiB, so a few reads empty it
		var data string
		args := map[string]any{"device": consoleChardev, "size": consoleRing, "format": "base64"}
		if err := v.qmp.run(ctx, "ringbuf-read", args, &data); err != nil {
			return total, err
		}
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return total, fmt.Errorf("ringbuf-read: %w", err)
		}
		if len(b) == 0 {
			break
		}
		if err := v.console.append(b); err != nil {
			return total, err
		}
		total += len(b)
	}
	return total, nil
}

// Console returns the guest's console log as it is now (QEMU's ring buffer
// drained first when the guest runs); an empty log when the guest never
// ran. The caller closes it.
func (d *Driver) Console(ctx context.Context, g *subagent.Guest) (io.ReadCloser, int64, error) {
	if err := checkID(g); err != nil {
		return nil, 0, err
	}
	if v := d.attached(g.ID); v != nil {
		if _, err := v.drainConsole(ctx); err != nil && !errors.Is(err, errQMPClosed) {
			return nil, 0, fmt.Errorf("guest %s console: %w", g.ID, err)
		}
	}
	f, err := os.Open(filepath.Join(layout.RunDir(d.opts.DataDir, g.ID), layout.ConsoleLog))
	if errors.Is(err, os.ErrNotExist) {
		return io.NopCloser(http.NoBody), 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("guest %s console: %w", g.ID, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("guest %s console: %w", g.ID, err)
	}
	return f, fi.Size(), nil
}

// serveConsole serves the console stream: the request is a
// subagent.ConsoleRequest; a plain one is answered with the log's bytes
// and Content-Length, Follow with the output from now on (see
// serveFollow), Input with an empty body once the input was written.
func (d *Driver) serveConsole(w http.ResponseWriter, r *http.Request) {
	var req subagent.ConsoleRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxStreamRequest)).Decode(&req); err != nil {
		subagent.WriteError(w, 0, subagent.WithCode(subagent.CodeInvalid, fmt.Errorf("decode request: %v", err)))
		return
	}
	switch {
	case len(req.Input) > 0:
		if err := d.ConsoleInput(r.Context(), req.Guest, req.Input); err != nil {
			subagent.WriteError(w, 0, err)
			return
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	case req.Follow:
		d.serveFollow(w, r, req.Guest)
		return
	}
	rc, size, err := d.Console(r.Context(), req.Guest)
	if err != nil {
		subagent.WriteError(w, 0, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, io.LimitReader(rc, size))
}

// serveFollow attaches a console session and streams its output, flushed
// as it comes, until the caller goes away or the guest stops.
func (d *Driver) serveFollow(w http.ResponseWriter, r *http.Request, g *subagent.Guest) {
	s, err := d.AttachConsole(r.Context(), g)
	if err != nil {
		subagent.WriteError(w, 0, err)
		return
	}
	stop := context.AfterFunc(r.Context(), func() { _ = s.Close() })
	defer func() { stop(); _ = s.Close() }()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // the session lasts as long as the caller wants
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}
