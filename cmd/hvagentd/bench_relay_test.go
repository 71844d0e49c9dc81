package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/benchkit"
)

// bareRelay is the least a relay of the stream benchmarks' downloads
// does: each request from a client on this host goes to the sub-agent on
// a connection of its own, as hvagentd's stream client sends it, and the
// reply's body goes back through hvagentd's own copy to a loopback peer
// (limitConn.ReadFrom). No routing, authentication, agent or REST handler:
// what hvagentd costs beyond it is theirs.
type bareRelay struct {
	upstream string // the sub-agent's host:port
}

// startBareRelay serves a bareRelay to upstream on a loopback port, until
// the benchmark ends, and returns its address.
func startBareRelay(b *testing.B, upstream string) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	b.Cleanup(func() { _ = ln.Close() })
	r := &bareRelay{upstream: upstream}
	limits := newConnLimits(0, 0, zerolog.Nop())
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(&limitConn{Conn: c, limits: limits, loopback: onLoopback(c)})
		}
	}()
	return ln.Addr().String()
}

// serve relays the requests of one client connection until it closes or
// a relay fails.
func (r *bareRelay) serve(c *limitConn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if err := r.relay(c, req); err != nil {
			return
		}
	}
}

// relay sends req to the sub-agent and copies its 200 reply, which must
// have a Content-Length, to c.
func (r *bareRelay) relay(c *limitConn, req *http.Request) error {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return err
	}
	up, err := net.Dial("tcp", r.upstream)
	if err != nil {
		return err
	}
	defer up.Close()
	u := &url.URL{Scheme: "http", Host: r.upstream, Path: req.URL.Path}
	out, err := http.NewRequest(req.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	out.Header, out.Close = req.Header, true
	if err := out.Write(up); err != nil {
		return err
	}
	ubr := bufio.NewReader(up)
	resp, err := http.ReadResponse(ubr, out)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || resp.ContentLength < 0 {
		return fmt.Errorf("sub-agent replied %s, length %d", resp.Status, resp.ContentLength)
	}
	size := resp.ContentLength
	if _, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", size); err != nil {
		return err
	}
	ahead := min(int64(ubr.Buffered()), size)
	n, err := c.ReadFrom(&io.LimitedReader{R: ubr, N: ahead})
	if err == nil {
		var m int64
		m, err = c.ReadFrom(&io.LimitedReader{R: up, N: size - ahead})
		n += m
	}
	if err == nil && n < size {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// BenchmarkSnapshotDownloadFloor measures how far hvagentd's relay of a
// stream is from the least a relay does: the 64 MiB download of
// BenchmarkSnapshotDownload through hvagentd, through a bareRelay (the
// same copy and socket settings, nothing else), and directly from the
// sub-agent, in rounds that rotate which goes first. It reports each
// path's median MB/s and CPU time per GiB (the whole process: client,
// relay and sub-agent), and relay-cpu/daemon-cpu, the bare relay's CPU
// per GiB over hvagentd's (1: hvagentd costs nothing beyond the copy).
func BenchmarkSnapshotDownloadFloor(b *testing.B) {
	e := newBenchEnv(b)
	ctx := context.Background()
	size := int64(benchSnapshotMB) << 20
	req := &subagent.SnapshotRequest{ID: "guests/" + e.guest.ID + "@" + e.snapshot}
	relayURL := "http://" + startBareRelay(b, e.subagentAddr) + sim.DownloadPath
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	b.Cleanup(tr.CloseIdleConnections)
	relay := subagent.NewClient(subagent.ClientConfig{URL: relayURL, HTTPClient: &http.Client{Transport: tr}})
	streams := []func() (io.ReadCloser, error){
		func() (io.ReadCloser, error) {
			res, err := e.client.Do(ctx, hvagent.ActionDownloadSnapshot, e.guest.ID, hvagent.Request{Snapshot: e.snapshot})
			if err != nil {
				return nil, err
			}
			return res.Stream, nil
		},
		func() (io.ReadCloser, error) { r, _, err := relay.Stream(ctx, req); return r, err },
		func() (io.ReadCloser, error) { r, _, err := e.download.Stream(ctx, req); return r, err },
	}
	times := make([][]time.Duration, len(streams))
	cpu := make([]time.Duration, len(streams))
	for i := 0; b.Loop(); i++ {
		for k := range streams {
			arm := (i + k) % len(streams)
			c0, t0 := benchkit.CPUTime(b), time.Now()
			if err := readStream(streams[arm], size); err != nil {
				b.Fatalf("download %d: %v", arm, err)
			}
			times[arm] = append(times[arm], time.Since(t0))
			cpu[arm] += benchkit.CPUTime(b) - c0
		}
	}
	gib := float64(len(times[0])) * float64(size) / (1 << 30)
	for arm, name := range []string{"daemon", "relay", "direct"} {
		b.ReportMetric(mbps(size, median(times[arm])), name+"-MB/s")
		b.ReportMetric(float64(cpu[arm].Milliseconds())/gib, name+"-cpu-ms/GiB")
	}
	b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "relay-cpu/daemon-cpu")
}

// readStream opens a stream and reads it to its end like the users of
// the benchmarks (io.Copy to io.Discard), checking its size.
func readStream(open func() (io.ReadCloser, error), size int64) error {
	r, err := open()
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, r)
	err = errors.Join(err, r.Close())
	if err == nil && n != size {
		err = fmt.Errorf("read %d of %d bytes", n, size)
	}
	return err
}
