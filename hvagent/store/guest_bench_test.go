package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// BenchmarkGuestLookup measures the point lookup of a guest by ID (what
// every info and stream action does) from the guest cache, side by side
// with its reference, the same lookup's statement (readGuest and decoding,
// what a lookup did before the cache)
// in the same round. Reported: cached-us, statement-us and ratio
// (statement time / cached time).
func BenchmarkGuestLookup(b *testing.B) {
	ctx := context.Background()
	db, err := Open(filepath.Join(b.TempDir(), "hvagent.db"), Options{})
	require.NoError(b, err)
	defer func() { require.NoError(b, db.Close()) }()
	n := newJob("g1", &jobOpts{Action: ptr("create")})
	n.NewGuest = &hvagent.Guest{ID: "g1", Name: "web", State: hvagent.StateRunning, Memory: 512, CPU: 2,
		Metadata: map[string]string{"owner": "ann", "tier": "web"}}
	_, err = db.Enqueue(ctx, n)
	require.NoError(b, err)

	var cached, statement time.Duration
	for b.Loop() {
		t0 := time.Now()
		g, err := db.Guest(ctx, "g1")
		cached += time.Since(t0)
		require.NoError(b, err)
		require.Equal(b, "web", g.Name)

		t0 = time.Now()
		r, err := db.readGuest(ctx, false, "g1")
		require.NoError(b, err)
		g, err = r.decode()
		statement += time.Since(t0)
		require.NoError(b, err)
		require.Equal(b, "ann", g.Metadata["owner"])
	}
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(b.N) }
	b.ReportMetric(us(cached), "cached-us")
	b.ReportMetric(us(statement), "statement-us")
	b.ReportMetric(float64(statement)/float64(cached), "ratio")
}
