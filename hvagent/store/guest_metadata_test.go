package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// bigMetadata returns n keys k0000... with 40-byte values.
func bigMetadata(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("k%04d", i)] = strings.Repeat("v", 40)
	}
	return m
}

// maxRowBytes returns the length of the longest value of column in table.
func (b *testBundle) maxRowBytes(t *testing.T, table, column string) int {
	t.Helper()
	var n int
	err := b.db.read.QueryRowContext(context.Background(),
		`SELECT COALESCE(MAX(length(`+column+`)), 0) FROM `+table).Scan(&n)
	require.NoError(t, err)
	return n
}

func TestDB_GuestMetadata_RowsDoNotGrowWithIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	meta := bigMetadata(1000) // 45 KB
	b.createGuest(t, &hvagent.Guest{ID: "g1", Memory: 128, Metadata: meta})
	_, err := b.db.PatchGuestMetadata(ctx, "g1", map[string]string{"k0000": "changed"}, hvagent.MetadataLimits{})
	require.NoError(t, err)
	_, err = b.db.SetGuestState(ctx, "g1", "crashed", at(1))
	require.NoError(t, err)
	b.enqueue(t, newJob("g1", nil))
	j := b.claim(t, "g1", at(2))

	require.Less(t, b.maxRowBytes(t, "events", "payload"), 1000, "no event carries the metadata")
	require.Less(t, b.maxRowBytes(t, "guests", "metadata"), 3, "the old JSON column stays '{}'")
	got, err := b.db.Job(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, hvagent.JobRunning, got.Status)

	g, err := b.db.Guest(ctx, "g1")
	require.NoError(t, err)
	meta["k0000"] = "changed"
	require.Equal(t, meta, g.Metadata)
	byName, err := b.db.Guests(ctx, hvagent.GuestFilter{})
	require.NoError(t, err)
	require.Equal(t, []*hvagent.Guest{g}, byName)
}

func TestDB_PatchGuestMetadata_Limits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lim := hvagent.MetadataLimits{Keys: 3, KeyLen: 8, ValueLen: 8, Bytes: 12}
	b := setup(t)
	b.createGuest(t, &hvagent.Guest{ID: "g1", Metadata: map[string]string{"a": "1", "b": "2"}})
	before := len(b.events(t))
	want := map[string]string{"a": "1", "b": "2"}

	for _, c := range []struct {
		name, code string
		patch      map[string]string
	}{
		{"ErrTooManyKeys", hvagent.ETOOLARGE, map[string]string{"c": "3", "d": "4"}},
		{"ErrTooManyBytes", hvagent.ETOOLARGE, map[string]string{"c": "12345678"}},
		{"ErrKeyTooLong", hvagent.EINVALID, map[string]string{"123456789": "1"}},
		{"ErrValueTooLong", hvagent.EINVALID, map[string]string{"c": "123456789"}},
		{"ErrEmptyKey", hvagent.EINVALID, map[string]string{"": "1"}},
		{"ErrBadUTF8", hvagent.EINVALID, map[string]string{"c": "\xff"}},
	} {
		_, err := b.db.PatchGuestMetadata(ctx, "g1", c.patch, lim)
		require.Error(t, err, c.name)
		requireCode(t, err, c.code)
		g, err := b.db.Guest(ctx, "g1")
		require.NoError(t, err)
		require.Equal(t, want, g.Metadata, "%s: nothing is written", c.name)
	}
	require.Len(t, b.events(t), before, "a refused patch writes no event")

	// At the limits, and a patch that deletes as it adds.
	g, err := b.db.PatchGuestMetadata(ctx, "g1", map[string]string{"c": "3"}, lim)
	require.NoError(t, err)
	require.Len(t, g.Metadata, 3)
	g, err = b.db.PatchGuestMetadata(ctx, "g1", map[string]string{"a": "", "d": "4"}, lim)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"b": "2", "c": "3", "d": "4"}, g.Metadata)
}

func TestDB_PatchMetadata_Limits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	lim := hvagent.MetadataLimits{Keys: 2, Bytes: 100}
	_, err := b.db.PatchMetadata(ctx, map[string]string{"a": "1", "b": "2"}, lim)
	require.NoError(t, err)
	_, err = b.db.PatchMetadata(ctx, map[string]string{"c": "3"}, lim)
	requireCode(t, err, hvagent.ETOOLARGE)
	m, err := b.db.Metadata(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "1", "b": "2"}, m)
}

func TestMigrate_0005MovesGuestMetadata(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hvagent.db")
	raw := rawDB(t, path)
	_, err := raw.ExecContext(ctx, createMigrations)
	require.NoError(t, err)
	for _, f := range []string{"0001_init.sql", "0002_one_running_per_queue.sql", "0003_job_error_code.sql", "0004_guest_names.sql"} {
		require.NoError(t, migrateFile(ctx, raw, "migrations/"+f))
	}
	_, err = raw.ExecContext(ctx, `INSERT INTO guests (id, name, data, metadata, created_at, updated_at) VALUES
		('g1', 'web', '{"memory":128}', '{"owner":"ann","env":"prod"}', 1, 1),
		('g2', NULL, '{}', '{}', 1, 1)`)
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	db, err := Open(path, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	g, err := db.GuestByName(ctx, "web")
	require.NoError(t, err)
	require.Equal(t, &hvagent.Guest{ID: "g1", Name: "web", Memory: 128,
		Metadata: map[string]string{"owner": "ann", "env": "prod"}}, g)
	g, err = db.Guest(ctx, "g2")
	require.NoError(t, err)
	require.Nil(t, g.Metadata)
	g, err = db.PatchGuestMetadata(ctx, "g1", map[string]string{"env": ""}, hvagent.MetadataLimits{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"owner": "ann"}, g.Metadata)
}

// TestDB_PatchGuestMetadata_Chunks: patches of every size class (several
// chunks, padded chunks, sets and deletes together) leave the metadata and
// the guest's key and byte counts as a whole recount finds them.
func TestDB_PatchGuestMetadata_Chunks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.createGuest(t, &hvagent.Guest{ID: "g1", Memory: 128})
	want := map[string]string{}
	for _, n := range []int{1, 3, 5, 17, 300, 600} {
		patch := map[string]string{}
		for i := range n {
			k := fmt.Sprintf("k%04d", (i*7+n)%700)
			patch[k] = fmt.Sprintf("v%d-%d", n, i)
			if i%5 == 0 {
				patch[k] = "" // delete (or no-op for a key not stored)
			}
		}
		g, err := b.db.PatchGuestMetadata(ctx, "g1", patch, hvagent.MetadataLimits{})
		require.NoError(t, err)
		for k, v := range patch {
			if v == "" {
				delete(want, k)
			} else {
				want[k] = v
			}
		}
		got := g.Metadata
		if got == nil { // no metadata: omitted
			got = map[string]string{}
		}
		require.Equal(t, want, got, "after the patch of %d keys", n)
		var keys, size, recount, rebytes int
		err = b.db.read.QueryRowContext(ctx, `SELECT metadata_keys, metadata_bytes,
			(SELECT COUNT(*) FROM guest_metadata WHERE guest_id = 'g1'),
			(SELECT COALESCE(SUM(length(key) + length(value)), 0) FROM guest_metadata WHERE guest_id = 'g1')
			FROM guests WHERE id = 'g1'`).Scan(&keys, &size, &recount, &rebytes)
		require.NoError(t, err)
		require.Equal(t, []int{len(want), len(want)}, []int{keys, recount}, "keys after %d", n)
		require.Equal(t, rebytes, size, "bytes after %d", n)
	}
}

// TestChunks pads each chunk to a statement size by repeating its last key.
func TestChunks(t *testing.T) {
	keys := make([]string, 300)
	for i := range keys {
		keys[i] = fmt.Sprint(i)
	}
	got := chunks(keys)
	require.Len(t, got, 2)
	require.Len(t, got[0], 256)
	require.Len(t, got[1], 64)
	require.Equal(t, "299", got[1][63])
	require.Equal(t, "299", got[1][43])
	require.Equal(t, "298", got[1][42])
	require.Equal(t, [][]string{{"a", "b", "c", "c"}}, chunks([]string{"a", "b", "c"}))
	require.Empty(t, chunks(nil))
}
