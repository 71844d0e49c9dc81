package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Bench is every result of one benchmark in a run: one per -count.
type Bench struct {
	// Pkg is the import path of the benchmark's package.
	Pkg string
	// Name is the benchmark's full name (sub-benchmarks included) without
	// the -GOMAXPROCS suffix, e.g. "BenchmarkScale/Startup".
	Name string
	// Runs holds, per result line, each metric by its unit ("ns/op",
	// "ratio", "p50-ms", ...).
	Runs []map[string]float64
}

// Median returns the median over the runs of the metric unit, and whether
// any run reported it.
func (b *Bench) Median(unit string) (float64, bool) {
	vals := b.values(unit)
	if len(vals) == 0 {
		return 0, false
	}
	slices.Sort(vals)
	n := len(vals)
	if n%2 == 1 {
		return vals[n/2], true
	}
	return (vals[n/2-1] + vals[n/2]) / 2, true
}

// values returns the metric unit of every run that reported it.
func (b *Bench) values(unit string) []float64 {
	var vals []float64
	for _, r := range b.Runs {
		if v, ok := r[unit]; ok {
			vals = append(vals, v)
		}
	}
	return vals
}

// Units returns the units the benchmark reported, in a stable order:
// custom metrics sorted by name, then ns/op, B/op, allocs/op, MB/s.
func (b *Bench) Units() []string {
	seen := map[string]bool{}
	for _, r := range b.Runs {
		for u := range r {
			seen[u] = true
		}
	}
	var custom, std []string
	for _, u := range []string{"ns/op", "B/op", "allocs/op", "MB/s"} {
		if seen[u] {
			std = append(std, u)
			delete(seen, u)
		}
	}
	for u := range seen {
		custom = append(custom, u)
	}
	slices.Sort(custom)
	return append(custom, std...)
}

// Output is what a `go test -bench` run printed, parsed.
type Output struct {
	// Config holds the "key: value" configuration lines (goos, cpu, and
	// the ones the generator adds), the first value seen of each key.
	Config map[string]string
	// Benches are the benchmarks in the order of their first result.
	Benches []*Bench
	// Failed names each benchmark ("--- FAIL: Name") and package
	// ("FAIL\tpkg") that failed.
	Failed []string
	// Skipped names each benchmark that was skipped ("--- SKIP: Name").
	Skipped []string
}

// Find returns the benchmarks called name (one per package that has it).
func (o *Output) Find(name string) []*Bench {
	var out []*Bench
	for _, b := range o.Benches {
		if b.Name == name {
			out = append(out, b)
		}
	}
	return out
}

// HasFailed says whether the benchmark name, or one of its parents, failed.
func (o *Output) HasFailed(name string) bool {
	return slices.ContainsFunc(o.Failed, func(f string) bool { return f == name || strings.HasPrefix(name, f+"/") })
}

var (
	configLine = regexp.MustCompile(`^([a-z][^\s:]*):\s*(.*)$`)
	procSuffix = regexp.MustCompile(`-\d+$`)
	statusLine = regexp.MustCompile(`--- (FAIL|SKIP): (Benchmark\S*)`)
	resultLine = regexp.MustCompile(`^Benchmark\S*\s+\d+\s`)
	failLine   = regexp.MustCompile(`^FAIL\s+(\S+)`)
)

// Parse reads the output of `go test -bench` (the standard benchmark
// format: configuration lines, then result lines "BenchmarkName-P N value
// unit value unit ..."). Lines of any other form (logs, PASS, ok) are
// ignored. A result line whose values and units do not pair up, or whose
// value is not a number, is an error naming its line number.
func Parse(r io.Reader) (*Output, error) {
	o := &Output{Config: map[string]string{}}
	index := map[string]*Bench{}
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		switch {
		case statusLine.MatchString(text):
			m := statusLine.FindStringSubmatch(text)
			name := procSuffix.ReplaceAllString(m[2], "")
			if m[1] == "FAIL" {
				o.Failed = appendNew(o.Failed, name)
			} else {
				o.Skipped = appendNew(o.Skipped, name)
			}
		case isResult(text):
			name, run, err := parseResult(text)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			key := pkg + "\x00" + name
			b := index[key]
			if b == nil {
				b = &Bench{Pkg: pkg, Name: name}
				index[key] = b
				o.Benches = append(o.Benches, b)
			}
			b.Runs = append(b.Runs, run)
		case failLine.MatchString(text):
			o.Failed = appendNew(o.Failed, failLine.FindStringSubmatch(text)[1])
		case configLine.MatchString(text):
			m := configLine.FindStringSubmatch(text)
			if m[1] == "pkg" {
				pkg = m[2]
			}
			if _, ok := o.Config[m[1]]; !ok {
				o.Config[m[1]] = strings.TrimSpace(m[2]) // go test pads some CPU names with spaces
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read benchmark output: %w", err)
	}
	return o, nil
}

// appendNew appends s to list unless it is there already.
func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// isResult says whether text is a result line: a benchmark name and an
// iteration count, then values and units.
func isResult(text string) bool { return resultLine.MatchString(text + " ") }

// parseResult parses one result line into the benchmark's name and its
// metrics by unit.
func parseResult(text string) (string, map[string]float64, error) {
	f := strings.Fields(text)
	if len(f)%2 != 0 {
		return "", nil, fmt.Errorf("benchmark line %q: a value without its unit", text)
	}
	run := map[string]float64{}
	for i := 2; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return "", nil, fmt.Errorf("benchmark line %q: value %q of %s is not a number", text, f[i], f[i+1])
		}
		run[f[i+1]] = v
	}
	return procSuffix.ReplaceAllString(f[0], ""), run, nil
}
