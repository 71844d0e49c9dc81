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
)

// benchLimits are the default metadata limits.
var benchLimits = hvagent.MetadataLimits{Keys: hvagent.DefaultMaxMetadataKeys,
	KeyLen: hvagent.DefaultMaxMetadataKeyLen, ValueLen: hvagent.DefaultMaxMetadataValueLen,
	Bytes: hvagent.DefaultMaxMetadataBytes}

// maxPayload returns the most metadata benchLimits allow: 1024 keys whose
// keys and values fill 64 KiB, value prefixed by tag so that each call
// changes every key.
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

// holdRecorder collects how long each commit of db holds the writer.
type holdRecorder struct {
	mu    sync.Mutex
	holds []time.Duration
}

// record starts recording db's commits.
func (h *holdRecorder) record(db *DB) {
	f := func(d time.Duration) {
		h.mu.Lock()
		h.holds = append(h.holds, d)
		h.mu.Unlock()
	}
	db.commits.onHold.Store(&f)
}

// report adds the p50, p99 and maximum writer hold to b's results.
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
// key of a full guest rewritten (64 KiB).
func BenchmarkPatchGuestMetadataMax(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	patches := []map[string]string{maxPayload("b"), maxPayload("c")}
	var h holdRecorder
	h.record(db)
	i := 0
	for b.Loop() {
		i++
		_, err := db.PatchGuestMetadata(ctx, "full", patches[i%2], benchLimits)
		require.NoError(b, err)
	}
	h.report(b)
}

// BenchmarkEnqueueWhilePatching reports the p50 and p99 latency of Enqueue
// on one guest, idle and while another guest's metadata is patched with
// the maximum payload without pause.
func BenchmarkEnqueueWhilePatching(b *testing.B) {
	for _, busy := range []bool{false, true} {
		b.Run(map[bool]string{false: "idle", true: "patching"}[busy], func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			db := benchDB(b)
			var wg sync.WaitGroup
			if busy {
				wg.Add(1)
				go func() {
					defer wg.Done()
					patches := []map[string]string{maxPayload("b"), maxPayload("c")}
					for i := 0; ctx.Err() == nil; i++ {
						_, err := db.PatchGuestMetadata(ctx, "full", patches[i%2], benchLimits)
						if err != nil && ctx.Err() == nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				_, err := db.Enqueue(ctx, newJob("empty", nil))
				lat = append(lat, time.Since(start))
				require.NoError(b, err)
			}
			cancel()
			wg.Wait()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
