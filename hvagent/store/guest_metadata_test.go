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
		keys, size, recount, rebytes := b.metadataCounts(t, "g1")
		require.Equal(t, []int{len(want), len(want)}, []int{keys, recount}, "keys after %d", n)
		require.Equal(t, rebytes, size, "bytes after %d", n)
	}
}

// metadataCounts returns guest id's key and byte counts as kept in its row
// and as a recount of its metadata rows finds them.
func (b *testBundle) metadataCounts(t *testing.T, id string) (keys, size, recount, rebytes int) {
	t.Helper()
	err := b.db.read.QueryRowContext(context.Background(), `SELECT metadata_keys, metadata_bytes,
		(SELECT COUNT(*) FROM guest_metadata WHERE guest_id = ?1),
		(SELECT COALESCE(SUM(length(key) + length(value)), 0) FROM guest_metadata WHERE guest_id = ?1)
		FROM guests WHERE id = ?1`, id).Scan(&keys, &size, &recount, &rebytes)
	require.NoError(t, err)
	return keys, size, recount, rebytes
}

// requireCounted checks that guest id's key and byte counts are those of
// its metadata rows.
func (b *testBundle) requireCounted(t *testing.T, id string) {
	t.Helper()
	keys, size, recount, rebytes := b.metadataCounts(t, id)
	require.Equal(t, []int{recount, rebytes}, []int{keys, size}, "counts of guest %s", id)
}

// readPatch prepares patch of guest id and reads its base, as
// PatchGuestMetadata does before it reaches the writer.
func (b *testBundle) readPatch(t *testing.T, id string, patch map[string]string) *metadataPatch {
	t.Helper()
	p, err := newMetadataPatch(id, patch)
	require.NoError(t, err)
	require.NoError(t, inTx(context.Background(), b.db.read, func(tx querier) error {
		return p.readBase(context.Background(), tx)
	}))
	return p
}

// commitPatch writes a patch prepared by readPatch.
func (b *testBundle) commitPatch(p *metadataPatch, lim hvagent.MetadataLimits) error {
	return b.db.commits.do(context.Background(), func(ctx context.Context, tx querier) error {
		_, err := p.commit(ctx, tx, at(5), lim)
		return err
	})
}

// TestDB_PatchGuestMetadata_WrittenSinceRead: a PATCH whose guest's
// metadata was written between the read of its keys' sizes and its write
// (another PATCH, or the guest deleted and created again under its ID)
// reads them again in the write: the counts stay exact and the limits are
// checked against them.
func TestDB_PatchGuestMetadata_WrittenSinceRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.createGuest(t, &hvagent.Guest{ID: "g1", Metadata: map[string]string{"a": "1"}})
	lim := hvagent.MetadataLimits{Keys: 3, Bytes: 20}

	p := b.readPatch(t, "g1", map[string]string{"a": "22", "b": "2"})
	_, err := b.db.PatchGuestMetadata(ctx, "g1", map[string]string{"a": "333", "c": "3"}, lim)
	require.NoError(t, err)
	require.NoError(t, b.commitPatch(p, lim))
	b.requireCounted(t, "g1")
	g, err := b.db.Guest(ctx, "g1")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "22", "b": "2", "c": "3"}, g.Metadata)
	require.False(t, p.fresh)
	answer := &hvagent.Guest{ID: "g1"}
	require.NoError(t, p.answer(ctx, b.db.read, answer))
	require.Equal(t, g.Metadata, answer.Metadata, "the answer is read after the write")

	// Read when the guest held one key; by the write a new guest of the
	// same ID holds three: the limit of 3 keys refuses the fourth.
	p = b.readPatch(t, "g1", map[string]string{"d": "4"})
	require.NoError(t, b.db.commits.do(ctx, func(ctx context.Context, tx querier) error {
		if err := deleteGuest(ctx, tx, "g1", at(6)); err != nil {
			return err
		}
		return insertGuest(ctx, tx, &hvagent.Guest{ID: "g1",
			Metadata: map[string]string{"x": "1", "y": "2", "z": "3"}}, at(6))
	}))
	requireCode(t, b.commitPatch(p, lim), hvagent.ETOOLARGE)
	b.requireCounted(t, "g1")

	p = b.readPatch(t, "g1", map[string]string{"x": ""})
	require.NoError(t, b.db.commits.do(ctx, func(ctx context.Context, tx querier) error {
		return deleteGuest(ctx, tx, "g1", at(7))
	}))
	requireCode(t, b.commitPatch(p, lim), hvagent.ENOTFOUND)
}

// TestDB_PatchGuestMetadata_AppliesTheSizesItRead: when nothing wrote the
// guest's metadata since the read (its rev is unchanged), the write applies
// the sizes read before it without reading them again, and reads them
// again when the rev changed. Shown by changing a value and the guest's
// byte count behind the store's back, without a new rev (which no write of
// the store does): the write that trusts its read then misses the change.
func TestDB_PatchGuestMetadata_AppliesTheSizesItRead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, id := range []string{"g1", "g2"} {
		b.createGuest(t, &hvagent.Guest{ID: id, Metadata: map[string]string{"a": "1"}})
	}
	lengthen := func(id string, rev bool) {
		_, err := b.db.write.Exec(`UPDATE guest_metadata SET value = 'longer' WHERE guest_id = ?`, id)
		require.NoError(t, err)
		_, err = b.db.write.Exec(`UPDATE guests SET metadata_bytes = metadata_bytes + 5,
			metadata_rev = metadata_rev + ? WHERE id = ?`, rev, id)
		require.NoError(t, err)
	}

	p := b.readPatch(t, "g1", map[string]string{"a": "2"})
	lengthen("g1", false)
	require.NoError(t, b.commitPatch(p, hvagent.MetadataLimits{}))
	require.True(t, p.fresh)
	answer := &hvagent.Guest{ID: "g1"}
	require.NoError(t, p.answer(context.Background(), b.db.read, answer))
	require.Equal(t, map[string]string{"a": "2"}, answer.Metadata, "the read with the patch applied")
	keys, size, recount, rebytes := b.metadataCounts(t, "g1")
	require.Equal(t, []int{1, 7, 1, 2}, []int{keys, size, recount, rebytes}, "the sizes read applied")

	p = b.readPatch(t, "g2", map[string]string{"a": "2"})
	lengthen("g2", true)
	require.NoError(t, b.commitPatch(p, hvagent.MetadataLimits{}))
	keys, size, recount, rebytes = b.metadataCounts(t, "g2")
	require.Equal(t, []int{1, 2, 1, 2}, []int{keys, size, recount, rebytes}, "a new rev: read again")
}

// TestMigrate_0007GuestMetadataRev: guests stored before 0007 have rev 0,
// which no write gives; a PATCH of them keeps exact counts and gives a new
// rev.
func TestMigrate_0007GuestMetadataRev(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hvagent.db")
	raw := rawDB(t, path)
	_, err := raw.ExecContext(ctx, createMigrations)
	require.NoError(t, err)
	for _, f := range []string{"0001_init.sql", "0002_one_running_per_queue.sql", "0003_job_error_code.sql",
		"0004_guest_names.sql"} {
		require.NoError(t, migrateFile(ctx, raw, "migrations/"+f))
	}
	_, err = raw.ExecContext(ctx, `INSERT INTO guests (id, name, data, metadata, created_at, updated_at)
		VALUES ('g1', NULL, '{}', '{"a":"1","b":"22"}', 1, 1)`)
	require.NoError(t, err)
	for _, f := range []string{"0005_guest_metadata.sql", "0006_query_indexes.sql"} {
		require.NoError(t, migrateFile(ctx, raw, "migrations/"+f))
	}
	require.NoError(t, raw.Close())

	db, err := Open(path, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	b := &testBundle{db: db, path: path}
	var rev int64
	require.NoError(t, db.read.QueryRowContext(ctx, `SELECT metadata_rev FROM guests WHERE id = 'g1'`).Scan(&rev))
	require.Zero(t, rev)
	g, err := db.PatchGuestMetadata(ctx, "g1", map[string]string{"a": "", "b": "333", "c": "4"}, hvagent.MetadataLimits{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"b": "333", "c": "4"}, g.Metadata)
	b.requireCounted(t, "g1")
	require.NoError(t, db.read.QueryRowContext(ctx, `SELECT metadata_rev FROM guests WHERE id = 'g1'`).Scan(&rev))
	require.Positive(t, rev)
}
