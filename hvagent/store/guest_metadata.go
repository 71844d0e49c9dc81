package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

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
// deletes those whose value is "", in three statements whatever the size
// of the patch (its JSON is walked by json_each), and returns the change.
func applyGuestMetadata(ctx context.Context, tx *sql.Tx, id string, patch map[string]string) (metadataDelta, error) {
	var d metadataDelta
	if len(patch) == 0 {
		return d, nil
	}
	for k, v := range patch {
		if k == "" {
			return d, hvagent.Errorf(hvagent.EINVALID, "metadata keys must not be empty")
		}
		if v != "" {
			d.keys, d.bytes = d.keys+1, d.bytes+len(k)+len(v)
		}
	}
	b, err := json.Marshal(patch)
	if err != nil {
		return d, fmt.Errorf("encode metadata patch: %w", err)
	}
	var oldKeys, oldBytes int
	err = tx.QueryRowContext(ctx, `SELECT COUNT(*),
		COALESCE(SUM(length(CAST(m.key AS BLOB)) + length(CAST(m.value AS BLOB))), 0)
		FROM json_each(?1) AS p CROSS JOIN guest_metadata AS m ON m.guest_id = ?2 AND m.key = p.key`,
		string(b), id).Scan(&oldKeys, &oldBytes)
	if err != nil {
		return d, fmt.Errorf("read metadata of guest %s: %w", id, err)
	}
	d.keys, d.bytes = d.keys-oldKeys, d.bytes-oldBytes
	if _, err := tx.ExecContext(ctx, `DELETE FROM guest_metadata
		WHERE guest_id = ?1 AND key IN (SELECT key FROM json_each(?2) WHERE value = '')`, id, string(b)); err != nil {
		return d, fmt.Errorf("delete metadata of guest %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO guest_metadata (guest_id, key, value)
		SELECT ?1, key, value FROM json_each(?2) WHERE value <> ''
		ON CONFLICT (guest_id, key) DO UPDATE SET value = excluded.value`, id, string(b)); err != nil {
		return d, fmt.Errorf("set metadata of guest %s: %w", id, err)
	}
	return d, nil
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
