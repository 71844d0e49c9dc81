package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memTotal returns MemTotal of a /proc/meminfo, e.g. "23.4 GiB".
func memTotal(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return "", fmt.Errorf("meminfo: MemTotal line %q is not \"<n> kB\"", sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return "", fmt.Errorf("meminfo: MemTotal %q: %w", f[0], err)
		}
		return formatNumber(float64(kb)/(1<<20)) + " GiB", nil
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read meminfo: %w", err)
	}
	return "", fmt.Errorf("meminfo has no MemTotal line")
}

// cpuModel returns the first "model name" of a /proc/cpuinfo.
func cpuModel(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(val), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read cpuinfo: %w", err)
	}
	return "", fmt.Errorf("cpuinfo has no model name line")
}

// readProc applies parse to the file at path, "unknown" on any error.
func readProc(path string, parse func(io.Reader) (string, error)) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	s, err := parse(f)
	if err != nil {
		return "unknown"
	}
	return s
}

// loadAvg returns the 1-minute load average of a /proc/loadavg.
func loadAvg(r io.Reader) (float64, error) {
	var one float64
	if _, err := fmt.Fscan(r, &one); err != nil {
		return 0, fmt.Errorf("read loadavg: %w", err)
	}
	return one, nil
}

// loadSampler records the lowest and highest 1-minute load average seen
// while the benchmarks run.
type loadSampler struct {
	mu       sync.Mutex
	min, max float64
	read     func() (float64, error)
}

// newLoadSampler returns a sampler reading /proc/loadavg.
func newLoadSampler() *loadSampler {
	return &loadSampler{min: math.Inf(1), max: math.Inf(-1), read: func() (float64, error) {
		f, err := os.Open("/proc/loadavg")
		if err != nil {
			return 0, err
		}
		defer f.Close()
		return loadAvg(f)
	}}
}

// run samples every interval until ctx is done.
func (s *loadSampler) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.sample()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sample takes one reading; a failed read is skipped.
func (s *loadSampler) sample() {
	v, err := s.read()
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.min, s.max = math.Min(s.min, v), math.Max(s.max, v)
}

// String renders the range seen, e.g. "5.1–9.8", or "" before a sample.
func (s *loadSampler) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if math.IsInf(s.min, 1) {
		return ""
	}
	return formatNumber(s.min) + "–" + formatNumber(s.max)
}
