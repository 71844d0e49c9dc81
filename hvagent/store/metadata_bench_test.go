package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/benchkit"
)

// benchLimits are the default metadata limits.
var benchLimits = hvagent.MetadataLimits{Keys: hvagent.DefaultMaxMetadataKeys,
	KeyLen: hvagent.DefaultMaxMetadataKeyLen, ValueLen: hvagent.DefaultMaxMetadataValueLen,
	Bytes: hvagent.DefaultMaxMetadataBytes}

// maxPayload returns the most metadata benchLimits allow: as many keys as
// allowed (256), whose keys and values fill the bytes allowed (16 KiB),
// value prefixed by tag so that each call changes every key.
func maxPayload(tag string) map[string]string {
	n := benchLimits.Keys
	per := benchLimits.Bytes / n // 64 bytes a key: 5 of key, 59 of value
	m := make(map[string]string, n)
	for i := range n {
		k := fmt.Sprintf("k%04d", i)
		v := tag + strings.Repeat("v", per-len(k)-len(tag))
		m[k] = v
	}
	return m
}

// benchDB opens a store with guests "empty" (no metadata) and "full"
// (the maximum).
func benchDB(b *testing.B) *DB {
	b.Helper()
	ctx := context.Background()
	db, err := Open(filepath.Join(b.TempDir(), "hvagent.db"), Options{})
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, db.Close()) })
	for _, g := range []*hvagent.Guest{{ID: "empty"}, {ID: "full", Metadata: maxPayload("a")}} {
		n := newJob(g.ID, &jobOpts{Action: ptr("create")})
		n.NewGuest = g
		_, err := db.Enqueue(ctx, n)
		require.NoError(b, err)
	}
	return db
}

// holdRecorder collects how long each commit of db holds the writer, and
// how much of that its COMMIT (WAL write and fsync) took.
type holdRecorder struct {
	mu             sync.Mutex
	holds, commits []time.Duration
}

// record starts recording db's commits.
func (h *holdRecorder) record(db *DB) {
	hold := func(d time.Duration) {
		h.mu.Lock()
		h.holds = append(h.holds, d)
		h.mu.Unlock()
	}
	commit := func(d time.Duration) {
		h.mu.Lock()
		h.commits = append(h.commits, d)
		h.mu.Unlock()
	}
	db.commits.onHold.Store(&hold)
	db.commits.onCommit.Store(&commit)
}

// report adds the p50, p99 and maximum writer hold, and the p50 of its
// COMMIT, to b's results.
func (h *holdRecorder) report(b *testing.B) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.holds) == 0 {
		return
	}
	slices.Sort(h.holds)
	b.ReportMetric(float64(h.holds[len(h.holds)/2].Microseconds()), "hold-p50-µs")
	b.ReportMetric(float64(h.holds[len(h.holds)*99/100].Microseconds()), "hold-p99-µs")
	b.ReportMetric(float64(h.holds[len(h.holds)-1].Microseconds()), "hold-max-µs")
	if len(h.commits) > 0 {
		slices.Sort(h.commits)
		b.ReportMetric(float64(h.commits[len(h.commits)/2].Microseconds()), "commit-p50-µs")
	}
}

// BenchmarkPatchGuestMetadata measures a PATCH of one key on a guest with
// no metadata and on one holding the maximum: the two should cost the same.
func BenchmarkPatchGuestMetadata(b *testing.B) {
	for _, id := range []string{"empty", "full"} {
		b.Run(id, func(b *testing.B) {
			ctx := context.Background()
			db := benchDB(b)
			var h holdRecorder
			h.record(db)
			i := 0
			for b.Loop() {
				i++
				_, err := db.PatchGuestMetadata(ctx, id, map[string]string{"k0001": fmt.Sprint(i)}, benchLimits)
				require.NoError(b, err)
			}
			h.report(b)
		})
	}
}

// BenchmarkPatchGuestMetadataMax measures the largest allowed PATCH: every
// key of a full guest rewritten (all the bytes allowed).
func BenchmarkPatchGuestMetadataMax(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	patches := []map[string]string{maxPayload("b"), maxPayload("c")}
	var h holdRecorder
	h.record(db)
	i := 0
	cpu := benchkit.CPUTime(b)
	for b.Loop() {
		i++
		_, err := db.PatchGuestMetadata(ctx, "full", patches[i%2], benchLimits)
		require.NoError(b, err)
	}
	b.ReportMetric(float64((benchkit.CPUTime(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
	h.report(b)
}

// patchRound is how many enqueues one round of BenchmarkEnqueueWhilePatching
// times on each side.
const patchRound = 50

// BenchmarkEnqueueWhilePatching reports the p50 and p99 latency of Enqueue
// on one guest, idle and while another guest's metadata is patched with
// the maximum payload back to back, in alternating rounds so that both see
// the same machine load, and ratio = p99 patching ÷ p99 idle (target ≤ 2).
func BenchmarkEnqueueWhilePatching(b *testing.B) {
	db := benchDB(b)
	patches := []map[string]string{maxPayload("b"), maxPayload("c")}
	var idle, busy []time.Duration
	for b.Loop() {
		idle = append(idle, enqueueRound(b, db)...)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- patchLoop(ctx, db, patches) }()
		busy = append(busy, enqueueRound(b, db)...)
		cancel()
		require.NoError(b, <-done)
	}
	p50, p99 := percentiles(idle)
	b.ReportMetric(ms(p50), "idle-p50-ms")
	b.ReportMetric(ms(p99), "idle-p99-ms")
	q50, q99 := percentiles(busy)
	b.ReportMetric(ms(q50), "patching-p50-ms")
	b.ReportMetric(ms(q99), "patching-p99-ms")
	b.ReportMetric(ms(q99)/ms(p99), "ratio")
}

// enqueueRound times patchRound enqueues on guest "empty".
func enqueueRound(b *testing.B, db *DB) []time.Duration {
	lat := make([]time.Duration, 0, patchRound)
	for range patchRound {
		start := time.Now()
		_, err := db.Enqueue(context.Background(), newJob("empty", nil))
		lat = append(lat, time.Since(start))
		require.NoError(b, err)
	}
	return lat
}

// patchLoop patches guest "full" with patches in turn until ctx ends.
func patchLoop(ctx context.Context, db *DB, patches []map[string]string) error {
	for i := 0; ; i++ {
		_, err := db.PatchGuestMetadata(ctx, "full", patches[i%2], benchLimits)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// percentiles returns the p50 and p99 of lat (sorted in place).
func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*99/100]
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
