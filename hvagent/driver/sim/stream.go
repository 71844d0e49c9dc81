package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strconv"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// Paths of the raw stream endpoints.
const (
	DownloadPath = "/snapshots/download"
	ConsolePath  = "/console"
)

// Method names logged for the stream endpoints (the stage methods of the
// streams in Config).
const (
	MethodDownloadSnapshot = ServiceName + ".DownloadSnapshot"
	MethodConsole          = ServiceName + ".Console"
)

// maxStreamRequest bounds the JSON body of a stream request.
const maxStreamRequest = 1 << 20

// decodeStream reads a stream request body into v, answering 400 itself
// when it is not valid JSON.
func decodeStream(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, maxStreamRequest)).Decode(v); err != nil {
		subagent.WriteError(w, 0, invalid("decode request: %v", err))
		return false
	}
	return true
}

// beginStream runs begin for a stream and answers the failure itself.
func (d *Driver) beginStream(w http.ResponseWriter, r *http.Request, method, guestID string) bool {
	err := d.begin(r.Context(), method, guestID)
	switch {
	case err == nil:
		return true
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The caller is gone; nobody reads an answer.
	default:
		subagent.WriteError(w, 0, err)
	}
	return false
}

// serveDownload streams a snapshot: Size MiB of deterministic bytes derived
// from its ID, with Content-Length.
func (d *Driver) serveDownload(w http.ResponseWriter, r *http.Request) {
	var req subagent.SnapshotRequest
	if !decodeStream(w, r, &req) || !d.beginStream(w, r, MethodDownloadSnapshot, snapshotGuest(&req)) {
		return
	}
	d.mu.Lock()
	s, ok := d.snapshots[req.ID]
	var size int64
	if ok {
		size = int64(s.Size) << 20
	}
	d.mu.Unlock()
	if !ok {
		subagent.WriteError(w, 0, errNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, io.LimitReader(newPattern(req.ID), size))
}

// SnapshotBytes returns the first n bytes a download of snapshot id
// streams, for tests that check a download.
func SnapshotBytes(id string, n int64) []byte {
	b := make([]byte, n)
	_, _ = io.ReadFull(newPattern(id), b)
	return b
}

// pattern is an endless deterministic byte stream (xorshift64) seeded by a
// hash of an ID.
type pattern struct{ x uint64 }

func newPattern(id string) *pattern {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return &pattern{x: h.Sum64() | 1}
}

// Read fills p; it never fails.
func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		p.x ^= p.x << 13
		p.x ^= p.x >> 7
		p.x ^= p.x << 17
		b[i] = byte(p.x)
	}
	return len(b), nil
}

// serveConsole streams a short simulated boot log of the guest, then its
// state, and ends. The simulated console is read-only: an interactive
// attach (Follow or Input) is refused as invalid.
func (d *Driver) serveConsole(w http.ResponseWriter, r *http.Request) {
	var creq subagent.ConsoleRequest
	if !decodeStream(w, r, &creq) {
		return
	}
	if creq.Follow || len(creq.Input) > 0 {
		subagent.WriteError(w, 0, invalid("sim: the simulated console is read-only (no interactive attach)"))
		return
	}
	req := creq.GuestRequest
	if !d.beginStream(w, r, MethodConsole, guestRequestID(&req)) {
		return
	}
	d.mu.Lock()
	sg, err := d.lookup(req.Guest)
	var g *subagent.Guest
	if err == nil {
		g = sg.Guest.Clone()
	}
	d.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	for _, line := range consoleLines(g) {
		if _, err := io.WriteString(w, line+"\n"); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}

// consoleLines is the simulated boot log of g, ending with its state.
func consoleLines(g *subagent.Guest) []string {
	lines := []string{
		fmt.Sprintf("sim: simulated console of guest %s (no real hypervisor)", g.ID),
		"[    0.000000] Linux version 6.1.0-sim (simulated boot log)",
		fmt.Sprintf("[    0.000000] Memory: %dM available", g.Memory),
		fmt.Sprintf("[    0.010000] smp: Brought up 1 node, %d CPUs", max(g.CPU, 1)),
	}
	for i, disk := range g.Disks {
		lines = append(lines, fmt.Sprintf("[    0.020000] virtio_blk virtio%d: [%s] %d MB", i, disk.Device, disk.Size))
	}
	for i, nic := range g.Nics {
		lines = append(lines, fmt.Sprintf("[    0.030000] virtio_net: eth%d mac %s network %s", i, nic.MAC, nic.Network))
	}
	return append(lines, "[    1.000000] sim login:", "state: "+g.State)
}
