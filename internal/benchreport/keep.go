package main

import (
	"regexp"
	"strings"
)

// benchName finds the benchmark's name in a rendered table cell.
var benchName = regexp.MustCompile("`(Benchmark[^`]*)`")

// rowKey returns what identifies a rendered table row across runs: the
// cells before the benchmark's (the measure, in the targets table) and the
// benchmark's name; ok is false for a line that is not a data row.
func rowKey(line string) (key, name string, ok bool) {
	if !strings.HasPrefix(line, "| ") {
		return "", "", false
	}
	cells := strings.Split(strings.TrimPrefix(line, "| "), " | ")
	for i, c := range cells {
		if m := benchName.FindStringSubmatch(c); m != nil {
			return strings.Join(cells[:i], " | ") + "\x00" + m[1], m[1], true
		}
	}
	return "", "", false
}

// previousRows returns the data rows of a region's previous content by
// key, and the keys in their order.
func previousRows(content string) (map[string]string, []string) {
	rows := map[string]string{}
	var order []string
	for line := range strings.Lines(content) {
		line = strings.TrimSuffix(line, "\n")
		if key, _, ok := rowKey(line); ok {
			if _, dup := rows[key]; !dup {
				order = append(order, key)
			}
			rows[key] = line
		}
	}
	return rows, order
}
