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
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/benchkit"
	"github.com/hvagent/hvagent/internal/layout"
)

// benchSnapshot is the name of the snapshot the disk benchmarks download.
const benchSnapshot = "bench"

// diskBench is a guest of a daemon running the embedded default, with one
// qcow2 disk holding data written with qemu-io and a snapshot of it.
type diskBench struct {
	h        *benchHTTP
	id       string
	disk     string // the disk's qcow2 file
	download string // the snapshot's download path
}

// newDiskBench creates a guest with a disk of sizeMB, writes dataMB of
// data into it (64 MiB chunks, each of its own byte) and snapshots it.
func newDiskBench(b *testing.B, addr, dataDir string, sizeMB, dataMB int) *diskBench {
	e := &diskBench{h: newBenchHTTP(b, addr)}
	e.id = e.h.createGuest(b, &hvagent.Guest{Memory: 128, CPU: 1, Disks: []hvagent.Disk{{Size: uint64(sizeMB)}}})
	e.disk = layout.DiskPath(dataDir, e.id, 0)
	var cmds []string
	for off := 0; off < dataMB; off += 64 {
		cmds = append(cmds, "-c", fmt.Sprintf("write -q -P %d %dM %dM", 1+off/64%255, off, min(64, dataMB-off)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	args := append([]string{"-f", "qcow2"}, cmds...)
	out, err := exec.CommandContext(ctx, "qemu-io", append(args, e.disk)...).CombinedOutput()
	require.NoError(b, err, "qemu-io: %s", out)
	e.h.job(b, "/guests/"+e.id+"/disks/0/snapshots", `{"name":"`+benchSnapshot+`"}`)
	e.download = "/guests/" + e.id + "/disks/0/snapshots/" + benchSnapshot + "/download"
	return e
}

// get downloads the snapshot through the daemon to io.Discard and returns
// the byte count and the time until the reply's header (the export).
func (e *diskBench) get(b *testing.B) (int64, time.Duration) {
	t0 := time.Now()
	resp, err := e.h.hc.Get(e.h.base + e.download)
	ttfb := time.Since(t0)
	require.NoError(b, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		require.FailNow(b, "download", "%s: %s", resp.Status, msg)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	require.NoError(b, err)
	require.Equal(b, resp.ContentLength, n)
	return n, ttfb
}

// directRound is one round of the direct side.
type directRound struct {
	size     int64
	export   time.Duration // qemu-img convert
	read     time.Duration // reading the file
	network  time.Duration // sending the file over loopback TCP as hvagentd does
	sendfile time.Duration // sending it over loopback TCP with sendfile
}

// direct exports the snapshot as the storage driver does, with qemu-img
// convert to a file under dir, reads the file to io.Discard, then sends it
// over a loopback TCP connection twice, as hvagentd sends to a peer on
// this host (copyLoopback) and with sendfile, and removes it.
func (e *diskBench) direct(b *testing.B, dir string) directRound {
	t0 := time.Now()
	out := filepath.Join(dir, "direct-export.qcow2")
	defer os.Remove(out)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	msg, err := exec.CommandContext(ctx, "qemu-img", "convert", "-U", "-f", "qcow2", "-O", "qcow2",
		"-l", "snapshot.name="+benchSnapshot, e.disk, out).CombinedOutput()
	require.NoError(b, err, "qemu-img convert: %s", msg)
	r := directRound{export: time.Since(t0)}
	t0 = time.Now()
	f, err := os.Open(out)
	require.NoError(b, err)
	defer f.Close()
	r.size, err = io.Copy(io.Discard, f)
	require.NoError(b, err)
	r.read = time.Since(t0)
	t0 = time.Now()
	require.Equal(b, r.size, overLoopback(b, out, copyLoopback))
	r.network = time.Since(t0)
	t0 = time.Now()
	require.Equal(b, r.size, overLoopback(b, out, io.Copy))
	r.sendfile = time.Since(t0)
	return r
}

// overLoopback sends the file at path over a loopback TCP connection with
// send (io.Copy: sendfile) to a reader that discards it; it returns the
// byte count.
func overLoopback(b *testing.B, path string, send func(io.Writer, io.Reader) (int64, error)) int64 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	defer ln.Close()
	sent := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Minute))
		f, err := os.Open(path)
		if err != nil {
			sent <- err
			return
		}
		defer f.Close()
		_, err = send(c, f)
		sent <- err
	}()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
	require.NoError(b, err)
	defer c.Close()
	require.NoError(b, c.SetDeadline(time.Now().Add(10*time.Minute)))
	n, err := io.Copy(io.Discard, c)
	require.NoError(b, err)
	require.NoError(b, <-sent)
	return n
}

// mbps is a throughput in MB/s.
func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

// medianRatio returns the median of r (which it sorts).
func medianRatio(r []float64) float64 {
	slices.Sort(r)
	return r[len(r)/2]
}

// BenchmarkDiskSnapshotDownload compares downloading a disk snapshot
// holding 256 MiB of data through hvagentd (the embedded default's
// storage driver; GET …/disks/0/snapshots/{name}/download on loopback TCP,
// read to io.Discard) with exporting it by hand as the driver does
// (qemu-img convert -U -O qcow2 -l snapshot.name=… to a file) and reading
// the file. Each round does both, and also sends the exported file over a
// plain loopback TCP connection as hvagentd sends to a peer on this host
// (read and write through 1 MiB): what the network hop alone costs, which
// any download pays and the direct side does not; and once more with
// sendfile, as it was sent before hvagentd stopped using sendfile for
// such peers. It reports the medians of the throughputs, of the export
// times (the daemon's is the time to the reply's header) and of the
// rounds' throughput ratios: daemon/direct and daemon/loopback (loopback
// = export + the file over loopback TCP), and the CPU time the process
// (hvagentd and the client; qemu-img is a process of its own) used per
// GiB downloaded.
//
// The "unix" sub-benchmark downloads through hvagentd's unix socket, as
// hvctl does by default: no TCP hop.
func BenchmarkDiskSnapshotDownload(b *testing.B) {
	for _, over := range []string{"tcp", "unix"} {
		b.Run(over, func(b *testing.B) {
			d := startDaemon(b, "--config", "", "--log-level", "error")
			addr := d.TCPAddr()
			if over == "unix" {
				addr = "unix://" + d.SocketPath()
			}
			benchDiskSnapshotDownload(b, d, addr)
		})
	}
}

func benchDiskSnapshotDownload(b *testing.B, d *daemon, addr string) {
	e := newDiskBench(b, addr, d.dir, 512, 256)
	dir := filepath.Join(d.dir, "bench-direct")
	require.NoError(b, os.MkdirAll(dir, 0o700))
	var daemon, direct, loopback, sendfile, daemonExport, directExport []time.Duration
	var toDirect, toLoopback []float64
	var size int64
	var cpu time.Duration
	for b.Loop() {
		c0 := benchkit.CPUTime(b)
		t0 := time.Now()
		n, ttfb := e.get(b)
		td := time.Since(t0)
		cpu += benchkit.CPUTime(b) - c0
		r := e.direct(b, dir)
		require.Equal(b, r.size, n)
		size = n
		th, tl := r.export+r.read, r.export+r.network
		daemon, direct, loopback = append(daemon, td), append(direct, th), append(loopback, tl)
		sendfile = append(sendfile, r.export+r.sendfile)
		daemonExport, directExport = append(daemonExport, ttfb), append(directExport, r.export)
		toDirect, toLoopback = append(toDirect, float64(th)/float64(td)), append(toLoopback, float64(tl)/float64(td))
	}
	b.ReportMetric(mbps(size, median(daemon)), "daemon-MB/s")
	b.ReportMetric(mbps(size, median(direct)), "direct-MB/s")
	b.ReportMetric(mbps(size, median(loopback)), "loopback-MB/s")
	b.ReportMetric(mbps(size, median(sendfile)), "loopback-sendfile-MB/s")
	b.ReportMetric(ms(median(daemonExport)), "daemon-export-ms")
	b.ReportMetric(ms(median(directExport)), "direct-export-ms")
	b.ReportMetric(medianRatio(toDirect), "daemon/direct")
	b.ReportMetric(medianRatio(toLoopback), "daemon/loopback")
	b.ReportMetric(float64(cpu.Milliseconds())/(float64(len(daemon))*float64(size)/(1<<30)), "daemon-cpu-ms/GiB")
}

// procStatusKB reads a field in kB (VmRSS, VmHWM) of /proc/<pid>/status.
func procStatusKB(pid int, field string) (int64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status %s: %w", pid, field, err)
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}

func mustStatusKB(b *testing.B, pid int, field string) int64 {
	kb, err := procStatusKB(pid, field)
	require.NoError(b, err)
	return kb
}

// peakRSS samples pid's VmRSS every millisecond until stop is called,
// which returns the largest sample in kB.
func peakRSS(pid int) (stop func() (int64, error)) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var peak int64
	var err error
	wg.Go(func() {
		for {
			var kb int64
			if kb, err = procStatusKB(pid, "VmRSS"); err != nil {
				return
			}
			peak = max(peak, kb)
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	return func() (int64, error) {
		close(done)
		wg.Wait()
		return peak, err
	}
}

// procCPU returns the CPU time pid has used itself (user and system, not
// its children's), from /proc/<pid>/stat, in clock ticks of 10 ms.
func procCPU(pid int) (int64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The fields after the command name (in parentheses, which may hold
	// spaces): state is field 3, utime 14 and stime 15.
	_, rest, ok := strings.Cut(string(data), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected form", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return utime + stime, nil
}

// BenchmarkDaemonRSSDownload measures how much the resident memory of an
// hvagentd process (the built binary, embedded default) grows while a
// client streams a disk snapshot holding 1 GiB of data: VmRSS before each
// download and its peak during it (sampled every millisecond), and VmHWM
// at the end. It reports the largest growth over the rounds (the first
// round included: nothing is downloaded before), and the CPU time the
// daemon itself used per GiB sent (its own, not qemu-img's: what its
// copying costs, whatever the load of the machine).
func BenchmarkDaemonRSSDownload(b *testing.B) {
	dir := tempDir(b)
	p, addr := startDaemonProc(b, dir, "--config", "")
	pid := p.cmd.Process.Pid
	e := newDiskBench(b, addr, dir, 1280, 1024)
	var growth, before, peak, cpu, sent int64
	var took time.Duration
	var size int64
	for b.Loop() {
		rss := mustStatusKB(b, pid, "VmRSS")
		cpu0, err := procCPU(pid)
		require.NoError(b, err)
		stop := peakRSS(pid)
		t0 := time.Now()
		size, _ = e.get(b)
		took = time.Since(t0)
		top, err := stop()
		require.NoError(b, err)
		cpu1, err := procCPU(pid)
		require.NoError(b, err)
		cpu, sent = cpu+cpu1-cpu0, sent+size
		if top-rss >= growth {
			growth, before, peak = top-rss, rss, top
		}
	}
	b.ReportMetric(float64(before)/1024, "rss-before-MiB")
	b.ReportMetric(float64(peak)/1024, "rss-peak-MiB")
	b.ReportMetric(float64(growth)/1024, "growth-MiB")
	b.ReportMetric(float64(mustStatusKB(b, pid, "VmHWM"))/1024, "hwm-MiB")
	b.ReportMetric(mbps(size, took), "MB/s")
	b.ReportMetric(float64(cpu*10)/(float64(sent)/(1<<30)), "daemon-cpu-ms/GiB")
}
