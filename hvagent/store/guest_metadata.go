package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hvagent/hvagent/hvagent"
)

// PatchGuestMetadata upserts the keys of patch into the guest's metadata and
// deletes those whose value is "", with a guest.updated event that carries
// the guest without its metadata. The write costs O(keys in the patch): one
// primary-key row per key, and the guest's key and byte counts kept in its
// row are checked against lim. It returns the updated guest, its metadata
// read after the commit. Errors: ENOTFOUND for an unknown guest; EINVALID
// for an empty or over-long key or value; ETOOLARGE when the result is over
// lim's totals (nothing is written).
func (db *DB) PatchGuestMetadata(ctx context.Context, id string, patch map[string]string,
	lim hvagent.MetadataLimits) (*hvagent.Guest, error) {
	if err := lim.CheckEntries(patch); err != nil {
		return nil, err
	}
	var g *hvagent.Guest
	err := db.commits.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		now := db.now()
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM guests WHERE id = ?`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return guestNotFound(id)
		}
		if err != nil {
			return err
		}
		d, err := applyGuestMetadata(ctx, tx, id, patch)
		if err != nil {
			return err
		}
		var r guestRow
		var keys, size int
		err = tx.QueryRowContext(ctx, `UPDATE guests SET updated_at = ?,
			metadata_keys = metadata_keys + ?, metadata_bytes = metadata_bytes + ?
			WHERE id = ? RETURNING metadata_keys, metadata_bytes, `+guestColumns,
			nanos(now), d.keys, d.bytes, id).Scan(&keys, &size, &r.name, &r.data)
		if err != nil {
			return fmt.Errorf("update guest %s: %w", id, err)
		}
		if err := lim.CheckTotal(keys, size); err != nil {
			return err
		}
		if g, err = r.decode(id); err != nil {
			return err
		}
		return insertGuestEvent(ctx, tx, hvagent.EventGuestUpdated, now, g)
	})
	if err == nil {
		err = withMetadata(ctx, db.read, g)
	}
	if err != nil {
		return nil, wrap("patch guest metadata", err)
	}
	return g, nil
}

// metadataDelta is the change in a guest's key count and bytes of keys and
// values.
type metadataDelta struct{ keys, bytes int }

// applyGuestMetadata upserts the keys of patch into guest id's metadata and
// deletes those whose value is "", and returns the change. Its statements
// bind the keys and values (in sorted order, so that the B-tree is walked
// forward) in chunks of fixed sizes, so that they are prepared once and
// cached on the writer connection.
func applyGuestMetadata(ctx context.Context, tx *sql.Tx, id string, patch map[string]string) (metadataDelta, error) {
	var d metadataDelta
	if len(patch) == 0 {
		return d, nil
	}
	keys := make([]string, 0, len(patch))
	var set, unset []string
	for k, v := range patch {
		if k == "" {
			return d, hvagent.Errorf(hvagent.EINVALID, "metadata keys must not be empty")
		}
		keys = append(keys, k)
		if v != "" {
			d.keys, d.bytes = d.keys+1, d.bytes+len(k)+len(v)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if patch[k] == "" {
			unset = append(unset, k)
		} else {
			set = append(set, k)
		}
	}
	old, err := storedMetadataSize(ctx, tx, id, keys)
	if err != nil {
		return d, err
	}
	d.keys, d.bytes = d.keys-old.keys, d.bytes-old.bytes
	if err := deleteMetadataKeys(ctx, tx, id, unset); err != nil {
		return d, err
	}
	return d, upsertMetadata(ctx, tx, id, set, patch)
}

// chunkSizes are the row counts of the metadata statements: a chunk of n
// keys is padded (by repeating its last key) to the smallest size that
// holds it, so that a handful of statement texts serve every patch.
var chunkSizes = []int{1, 4, 16, 64, 256}

// chunks splits keys into chunks of at most the largest chunk size, each
// padded to a size of chunkSizes.
func chunks(keys []string) [][]string {
	var out [][]string
	for len(keys) > 0 {
		n := min(len(keys), chunkSizes[len(chunkSizes)-1])
		size := chunkSizes[0]
		for _, s := range chunkSizes {
			if size = s; s >= n {
				break
			}
		}
		c := make([]string, size)
		copy(c, keys[:n])
		for i := n; i < size; i++ {
			c[i] = keys[n-1]
		}
		out, keys = append(out, c), keys[n:]
	}
	return out
}

// metadataSQL holds the statement texts of each chunk size.
type metadataSQL struct{ size, delete, upsert string }

// metadataStmts are the statement texts by chunk size, built once.
var metadataStmts = func() map[int]metadataSQL {
	m := map[int]metadataSQL{}
	for _, n := range chunkSizes {
		in := placeholders(n, false)
		m[n] = metadataSQL{
			size: `SELECT COUNT(*), COALESCE(SUM(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))), 0)
				FROM guest_metadata WHERE guest_id = ?1 AND key IN (` + in + `)`,
			delete: `DELETE FROM guest_metadata WHERE guest_id = ?1 AND key IN (` + in + `)`,
			upsert: `INSERT INTO guest_metadata (guest_id, key, value) VALUES ` + placeholders(n, true) +
				` ON CONFLICT (guest_id, key) DO UPDATE SET value = excluded.value`,
		}
	}
	return m
}()

// placeholders returns "?2, ?3, …" for n parameters numbered from 2 (?1
// is the guest ID), or with row n rows "(?1, ?2, ?3), (?1, ?4, ?5), …".
func placeholders(n int, row bool) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		if row {
			fmt.Fprintf(&b, "(?1, ?%d, ?%d)", 2+2*i, 3+2*i)
		} else {
			fmt.Fprintf(&b, "?%d", 2+i)
		}
	}
	return b.String()
}

// chunkArgs returns id followed by keys (and, with values, each key's
// value after it).
func chunkArgs(id string, keys []string, values map[string]string) []any {
	args := make([]any, 0, 1+2*len(keys))
	args = append(args, id)
	for _, k := range keys {
		args = append(args, k)
		if values != nil {
			args = append(args, values[k])
		}
	}
	return args
}

// storedMetadataSize returns how many of keys guest id has, and their
// bytes.
func storedMetadataSize(ctx context.Context, tx *sql.Tx, id string, keys []string) (metadataDelta, error) {
	var d metadataDelta
	for _, c := range chunks(keys) {
		var n, size int
		err := tx.QueryRowContext(ctx, metadataStmts[len(c)].size, chunkArgs(id, c, nil)...).Scan(&n, &size)
		if err != nil {
			return d, fmt.Errorf("read metadata of guest %s: %w", id, err)
		}
		d.keys, d.bytes = d.keys+n, d.bytes+size
	}
	return d, nil
}

// deleteMetadataKeys deletes keys from guest id's metadata.
func deleteMetadataKeys(ctx context.Context, tx *sql.Tx, id string, keys []string) error {
	for _, c := range chunks(keys) {
		_, err := tx.ExecContext(ctx, metadataStmts[len(c)].delete, chunkArgs(id, c, nil)...)
		if err != nil {
			return fmt.Errorf("delete metadata of guest %s: %w", id, err)
		}
	}
	return nil
}

// upsertMetadata sets keys of guest id's metadata to their values.
func upsertMetadata(ctx context.Context, tx *sql.Tx, id string, keys []string, values map[string]string) error {
	for _, c := range chunks(keys) {
		_, err := tx.ExecContext(ctx, metadataStmts[len(c)].upsert, chunkArgs(id, c, values)...)
		if err != nil {
			return fmt.Errorf("set metadata of guest %s: %w", id, err)
		}
	}
	return nil
}

// pageMetadata sets the metadata of a page of guests ordered by ID, all
// after after, in one range read of the metadata table (its key leads with
// the guest ID) instead of one query per guest. Rows of guests in the range
// that are not on the page (a page filtered by name) are skipped.
func pageMetadata(ctx context.Context, q querier, after string, guests []*hvagent.Guest) error {
	if len(guests) == 0 {
		return nil
	}
	byID := make(map[string]*hvagent.Guest, len(guests))
	for _, g := range guests {
		byID[g.ID] = g
	}
	last := guests[len(guests)-1].ID
	rows, err := q.QueryContext(ctx, `SELECT guest_id, key, value FROM guest_metadata
		WHERE guest_id > ? AND guest_id <= ?`, after, last)
	if err != nil {
		return fmt.Errorf("read metadata of guests: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, k, v string
		if err := rows.Scan(&id, &k, &v); err != nil {
			return fmt.Errorf("read metadata of guests: %w", err)
		}
		g := byID[id]
		if g == nil {
			continue
		}
		if g.Metadata == nil {
			g.Metadata = map[string]string{}
		}
		g.Metadata[k] = v
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read metadata of guests: %w", err)
	}
	return nil
}

// withMetadata sets g.Metadata to its stored metadata, nil when it has none
// (so that JSON omits it).
func withMetadata(ctx context.Context, q querier, g *hvagent.Guest) error {
	rows, err := q.QueryContext(ctx, `SELECT key, value FROM guest_metadata WHERE guest_id = ?`, g.ID)
	if err != nil {
		return fmt.Errorf("read metadata of guest %s: %w", g.ID, err)
	}
	defer rows.Close()
	var m map[string]string
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return fmt.Errorf("read metadata of guest %s: %w", g.ID, err)
		}
		if m == nil {
			m = map[string]string{}
		}
		m[k] = v
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read metadata of guest %s: %w", g.ID, err)
	}
	g.Metadata = m
	return nil
}
