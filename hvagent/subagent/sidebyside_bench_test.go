package subagent

import (
	"slices"
	"testing"
	"time"
)

// sideBySide times the same call (Test.Echo) on clients a and b, one call
// of each a round, alternating which goes first, after 10 untimed calls of
// each that open their connections. It reports the p50 of each in ms under
// the names aName and bName, and a/b as ratio.
func sideBySide(b *testing.B, a, c *Client, aName, cName string) {
	call := func(cl *Client, took *[]time.Duration) {
		t0 := time.Now()
		var resp VolumeResponse
		err := cl.Call(b.Context(), "Test.Echo", &VolumeRequest{ID: "v1", Size: 1 << 30}, &resp)
		*took = append(*took, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
	}
	var onA, onC []time.Duration
	for range 10 {
		call(a, &onA)
		call(c, &onC)
	}
	onA, onC = onA[:0], onC[:0]
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			call(a, &onA)
			call(c, &onC)
		} else {
			call(c, &onC)
			call(a, &onA)
		}
	}
	slices.Sort(onA)
	slices.Sort(onC)
	p50 := func(d []time.Duration) float64 { return float64(d[len(d)/2].Nanoseconds()) / 1e6 }
	b.ReportMetric(p50(onA), aName)
	b.ReportMetric(p50(onC), cName)
	b.ReportMetric(p50(onA)/p50(onC), "ratio")
}
