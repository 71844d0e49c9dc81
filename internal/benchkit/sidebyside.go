package benchkit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// SideBySide runs direct and then its reference once in each iteration of
// b's loop, so that both see the same machine load, timing each, and
// fails the benchmark on an error of either. It reports direct-ns, the
// reference's time as refName-ns, and ratio: the reference's time over
// direct's.
func SideBySide(b *testing.B, refName string, direct, reference func() error) {
	var td, tr time.Duration
	for b.Loop() {
		t0 := time.Now()
		err := direct()
		td += time.Since(t0)
		require.NoError(b, err)

		t0 = time.Now()
		err = reference()
		tr += time.Since(t0)
		require.NoError(b, err)
	}
	ns := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
	b.ReportMetric(ns(td), "direct-ns")
	b.ReportMetric(ns(tr), refName+"-ns")
	b.ReportMetric(float64(tr)/float64(td), "ratio")
}
