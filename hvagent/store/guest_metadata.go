package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hvagent/hvagent/hvagent"
)

// PatchGuestMetadata upserts the keys of patch into the guest's metadata and
// deletes those whose value is "", with a guest.updated event that carries
// the guest without its metadata. The write touches only the patch's keys
// (one primary-key row each) and checks the guest's totals against lim,
// which is O(keys of the guest) bounded by lim.Keys. It returns the updated
// guest, its metadata read after the commit. Errors: ENOTFOUND for an
// unknown guest; EINVALID for an empty or over-long key or value;
// ETOOLARGE when the result is over lim's totals (nothing is written).
func (db *DB) PatchGuestMetadata(ctx context.Context, id string, patch map[string]string,
	lim hvagent.MetadataLimits) (*hvagent.Guest, error) {
	if err := lim.CheckEntries(patch); err != nil {
		return nil, err
	}
	var g *hvagent.Guest
	err := db.commits.write(ctx, func(tx *sql.Tx) error {
		now := db.now()
		var r guestRow
		err := r.scan(tx.QueryRowContext(ctx, `UPDATE guests SET updated_at = ?
			WHERE id = ? RETURNING `+guestColumns, nanos(now), id))
		if errors.Is(err, sql.ErrNoRows) {
			return guestNotFound(id)
		}
		if err != nil {
			return err
		}
		for k, v := range patch {
			if err := setGuestMetadata(ctx, tx, id, k, v); err != nil {
				return err
			}
		}
		if err := checkGuestMetadataTotal(ctx, tx, id, lim); err != nil {
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

// checkGuestMetadataTotal returns ETOOLARGE when guest id's stored metadata
// is over lim's key count or byte total.
func checkGuestMetadataTotal(ctx context.Context, tx *sql.Tx, id string, lim hvagent.MetadataLimits) error {
	if lim.Keys <= 0 && lim.Bytes <= 0 {
		return nil
	}
	var keys, size int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*),
		COALESCE(SUM(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))), 0)
		FROM guest_metadata WHERE guest_id = ?`, id).Scan(&keys, &size)
	if err != nil {
		return fmt.Errorf("count metadata of guest %s: %w", id, err)
	}
	return lim.CheckTotal(keys, size)
}

// setGuestMetadata upserts one key of guest id's metadata, or deletes it
// when value is "".
func setGuestMetadata(ctx context.Context, tx *sql.Tx, id, key, value string) error {
	if key == "" {
		return hvagent.Errorf(hvagent.EINVALID, "metadata keys must not be empty")
	}
	var err error
	if value == "" {
		_, err = tx.ExecContext(ctx, `DELETE FROM guest_metadata WHERE guest_id = ? AND key = ?`, id, key)
	} else {
		_, err = tx.ExecContext(ctx, `INSERT INTO guest_metadata (guest_id, key, value) VALUES (?, ?, ?)
			ON CONFLICT (guest_id, key) DO UPDATE SET value = excluded.value`, id, key, value)
	}
	if err != nil {
		return fmt.Errorf("set metadata %q of guest %s: %w", key, id, err)
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
