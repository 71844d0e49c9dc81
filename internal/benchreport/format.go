package main

import (
	"math"
	"strconv"
	"strings"
)

// unitOf returns the unit in a metric's name: what follows its last "-"
// ("p50-ms" → "ms", "rss-MiB" → "MiB"), the name itself for a rate
// ("jobs/s", "MB/s"), and "" for a pure number ("ratio", "raw/jobs").
func unitOf(metric string) string {
	if i := strings.LastIndex(metric, "-"); i >= 0 {
		return metric[i+1:]
	}
	if strings.HasSuffix(metric, "/s") || strings.HasSuffix(metric, "/op") {
		return metric
	}
	return ""
}

// formatNumber renders v with three significant digits, without an
// exponent, and with no decimals from 100 up or for a whole number (412,
// 41.2, 4.12, 0.412, 62).
func formatNumber(v float64) string {
	a := math.Abs(v)
	var prec int
	switch {
	case a == 0 || a >= 100 || a == math.Trunc(a):
		prec = 0
	case a >= 10:
		prec = 1
	case a >= 1:
		prec = 2
	default:
		prec = 2 - int(math.Floor(math.Log10(a)))
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// formatValue renders v with the unit of metric, e.g. "412 ms", "0.82".
func formatValue(v float64, metric string) string {
	if metric == "ns/op" {
		return formatNanos(v)
	}
	return strings.TrimSpace(formatNumber(v) + " " + unitOf(metric))
}

// formatNanos renders a time per operation in the largest unit that keeps
// it at or above 1 (1.23 s, 412 ms, 35.2 µs, 812 ns).
func formatNanos(ns float64) string {
	for _, u := range []struct {
		name string
		size float64
	}{{"s", 1e9}, {"ms", 1e6}, {"µs", 1e3}} {
		if math.Abs(ns) >= u.size {
			return formatNumber(ns/u.size) + " " + u.name
		}
	}
	return formatNumber(ns) + " ns"
}

// cell escapes the characters that would break a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
