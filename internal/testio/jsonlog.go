package testio

import (
	"encoding/json"
	"strings"
	"testing"
)

// JSONLines decodes a JSON log (zerolog's), one object a line, failing t
// on a line that is not one.
func JSONLines(t testing.TB, log string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for line := range strings.Lines(log) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		lines = append(lines, m)
	}
	return lines
}
