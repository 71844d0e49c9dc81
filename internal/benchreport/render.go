package main

import (
	"fmt"
	"slices"
	"strings"
)

// row is one line of the targets region: a declared target, or the
// ratio (else the added-ms) of a benchmark that has no declared target.
type row struct {
	target *Target // nil: no declared target
	name   string  // benchmark name
	metric string
	bench  *Bench // nil: not in this run
}

// Report is what one run gives each region of BENCHMARKS.md.
type Report struct {
	out     *Output
	regions map[string][]row
	other   []*Bench
}

// NewReport sorts the run's benchmarks into the regions: every declared
// target (one row per package that has its benchmark, or one "not run"
// row), one row for each other benchmark that reports a ratio or an
// added-ms, and every other benchmark.
func NewReport(out *Output, ts []Target) *Report {
	r := &Report{out: out, regions: map[string][]row{}}
	claimed := map[*Bench]bool{}
	declared := map[string]bool{}
	for i := range ts {
		t := &ts[i]
		declared[t.Bench+" "+t.Metric] = true
		benches := out.Find(t.Bench)
		if len(benches) == 0 {
			r.add(t.region(), row{target: t, name: t.Bench, metric: t.Metric})
		}
		for _, b := range benches {
			r.add(t.region(), row{target: t, name: t.Bench, metric: t.Metric, bench: b})
			claimed[b] = true
		}
	}
	for _, b := range out.Benches {
		if m := autoMetric(b); m != "" && !declared[b.Name+" "+m] && !claimed[b] {
			r.add(regionTargets, row{name: b.Name, metric: m, bench: b})
			claimed[b] = true
		}
		if !claimed[b] {
			r.other = append(r.other, b)
		}
	}
	return r
}

// autoMetric returns the first of autoMetrics that b reports, "" if none.
func autoMetric(b *Bench) string {
	for _, m := range autoMetrics {
		if _, ok := b.Median(m); ok {
			return m
		}
	}
	return ""
}

// add appends a row to region.
func (r *Report) add(region string, x row) { r.regions[region] = append(r.regions[region], x) }

// Regions returns the content of each region this run measured something
// for, given each region's previous content (nil for none). A region none
// of whose benchmarks ran, failed or was skipped in this run is left out,
// so that a partial run (a BENCH filter) leaves it as it was; in a region
// that is rewritten, the row of a benchmark this run did not touch is its
// previous row, with that row's date, when there was one.
func (r *Report) Regions(previous map[string]string) map[string]string {
	out := map[string]string{}
	for name, rows := range r.regions {
		if slices.ContainsFunc(rows, r.touched) {
			old, order := previousRows(previous[name])
			out[name] = r.header() + r.targetTable(rows, old) + r.keptUndeclared(rows, old, order)
		}
	}
	if len(r.other) > 0 {
		out[regionOther] = r.header() + r.otherTable(previous[regionOther])
	}
	return out
}

// date is when the run started (UTC, to the minute), for the date column.
func (r *Report) date() string {
	if d := strings.TrimSuffix(r.out.Config["hvagent-date"], " UTC"); d != "" {
		return d
	}
	return "unknown"
}

// touched says whether this run ran, failed or skipped the row's benchmark.
func (r *Report) touched(x row) bool {
	return x.bench != nil || r.out.HasFailed(x.name) || slices.Contains(r.out.Skipped, x.name)
}

// header describes the run: machine, date, Go, durability, command.
func (r *Report) header() string {
	c := r.out.Config
	get := func(key string) string {
		if v := c[key]; v != "" {
			return v
		}
		return "unknown"
	}
	cpu := c["cpu"]
	if cpu == "" {
		cpu = get("hvagent-cpu")
	}
	machine := fmt.Sprintf("%s, %s cores, %s RAM", cpu, get("hvagent-cores"), get("hvagent-ram"))
	if load := c["hvagent-load"]; load != "" {
		machine += ", load " + load
	}
	return fmt.Sprintf("Latest run: %s on %s · %s · durability: %s · `%s`. "+
		"A row dated earlier (UTC) was not measured in it.\n\n",
		get("hvagent-date"), machine, get("hvagent-go"), get("hvagent-durability"), get("hvagent-command"))
}

// targetTable renders the rows of a targets region; old holds the
// region's previous rows by key.
func (r *Report) targetTable(rows []row, old map[string]string) string {
	var sb strings.Builder
	sb.WriteString("| measure | benchmark | result (median) | target | met | other figures (median) | date |\n")
	sb.WriteString("|---|---|---|---|---|---|---|\n")
	for _, x := range rows {
		measure, bound := "—", "—"
		if x.target != nil {
			measure, bound = x.target.Measure, x.target.String()
		}
		result, met := r.result(x)
		date := "—"
		if r.touched(x) {
			date = r.date()
		}
		line := fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s |", cell(measure), benchCell(x.name, x.bench),
			cell(result), cell(bound), met, cell(figures(x.bench, x.metric)), date)
		if key, _, _ := rowKey(line); !r.touched(x) && old[key] != "" {
			line = old[key]
		}
		sb.WriteString(line + "\n")
	}
	return sb.String()
}

// keptUndeclared returns the previous rows, in their order, of benchmarks
// with no declared target (measure "—") that this run did not touch and
// that rows does not hold: a filtered run keeps them as they were.
func (r *Report) keptUndeclared(rows []row, old map[string]string, order []string) string {
	var sb strings.Builder
	for _, key := range order {
		measure, name, _ := strings.Cut(key, "\x00")
		if measure != "—" || r.mentions(name) || slices.ContainsFunc(rows, func(x row) bool { return x.name == name }) {
			continue
		}
		sb.WriteString(old[key] + "\n")
	}
	return sb.String()
}

// result renders a row's measured value (with its spread over the runs)
// and whether it meets its target.
func (r *Report) result(x row) (string, string) {
	switch {
	case x.bench == nil && r.out.HasFailed(x.name):
		return "failed", "**no**"
	case x.bench == nil && slices.Contains(r.out.Skipped, x.name):
		return "skipped", "—"
	case x.bench == nil:
		return "not run", "—"
	}
	v, ok := x.bench.Median(x.metric)
	if !ok {
		return "no " + x.metric + " reported", "**no**"
	}
	result := formatValue(v, x.metric)
	if vals := x.bench.values(x.metric); len(vals) > 1 {
		result += fmt.Sprintf(" (%d runs: %s–%s)", len(vals),
			formatNumber(slices.Min(vals)), formatNumber(slices.Max(vals)))
	}
	switch {
	case r.out.HasFailed(x.name):
		return result + "; a run failed", "**no**"
	case x.target == nil:
		return result, "—"
	case x.target.Met(v):
		return result, "yes"
	default:
		return result, "**no**"
	}
}

// otherTable renders the benchmarks with no target and no ratio, then the
// previous rows of benchmarks this run did not touch and that have no row
// in a targets region.
func (r *Report) otherTable(previous string) string {
	var sb strings.Builder
	sb.WriteString("| benchmark | runs | time/op | B/op | allocs/op | other figures (median) | date |\n")
	sb.WriteString("|---|---|---|---|---|---|---|\n")
	for _, b := range r.other {
		fmt.Fprintf(&sb, "| %s | %d | %s | %s | %s | %s | %s |\n", benchCell(b.Name, b), len(b.Runs),
			median(b, "ns/op"), median(b, "B/op"), median(b, "allocs/op"), cell(figures(b, "")), r.date())
	}
	old, order := previousRows(previous)
	for _, key := range order {
		_, name, _ := rowKey(old[key])
		if !r.mentions(name) {
			sb.WriteString(old[key] + "\n")
		}
	}
	return sb.String()
}

// mentions says whether this run touched the benchmark name or a targets
// region has a row for it.
func (r *Report) mentions(name string) bool {
	if len(r.out.Find(name)) > 0 || r.out.HasFailed(name) || slices.Contains(r.out.Skipped, name) {
		return true
	}
	for _, rows := range r.regions {
		if slices.ContainsFunc(rows, func(x row) bool { return x.name == name }) {
			return true
		}
	}
	return false
}

// median renders the median of a standard unit, "—" when not reported.
func median(b *Bench, unit string) string {
	v, ok := b.Median(unit)
	if !ok {
		return "—"
	}
	if unit == "ns/op" {
		return formatNanos(v)
	}
	return formatNumber(v)
}

// benchCell names a benchmark and, when known, its package (relative to
// the module).
func benchCell(name string, b *Bench) string {
	s := "`" + name + "`"
	if b != nil && b.Pkg != "" {
		s += " (" + strings.TrimPrefix(b.Pkg, modulePath+"/") + ")"
	}
	return s
}

// modulePath is the module whose packages are named relative to it.
const modulePath = "github.com/hvagent/hvagent"

// figures renders the custom metrics of b other than skip (the standard
// ns/op, B/op, allocs/op and MB/s excepted), as "name value · ...".
func figures(b *Bench, skip string) string {
	if b == nil {
		return ""
	}
	var parts []string
	for _, u := range b.Units() {
		switch u {
		case skip, "ns/op", "B/op", "allocs/op", "MB/s":
			continue
		}
		v, _ := b.Median(u)
		parts = append(parts, u+" "+formatNumber(v))
	}
	if v, ok := b.Median("MB/s"); ok {
		parts = append(parts, "MB/s "+formatNumber(v))
	}
	return strings.Join(parts, " · ")
}
