package store

import (
	"context"
	"fmt"

	"github.com/hvagent/hvagent/hvagent"
)

// Metadata returns the hypervisor metadata. Never nil.
func (db *DB) Metadata(ctx context.Context) (map[string]string, error) {
	m, err := loadMetadata(ctx, db.read)
	return m, wrap("get metadata", err)
}

// PatchMetadata upserts the keys of patch into the hypervisor metadata and
// deletes those whose value is "", touching only the patch's keys, and
// checks the totals against lim. It returns the whole map, read after the
// commit. Errors: EINVALID for a bad key or value, ETOOLARGE when the
// result is over lim (nothing is written).
func (db *DB) PatchMetadata(ctx context.Context, patch map[string]string, lim hvagent.MetadataLimits) (map[string]string, error) {
	if err := lim.CheckEntries(patch); err != nil {
		return nil, err
	}
	err := db.commits.do(ctx, func(ctx context.Context, tx querier) error {
		for k, v := range patch {
			if err := setMetadata(ctx, tx, k, v); err != nil {
				return err
			}
		}
		if lim.Keys <= 0 && lim.Bytes <= 0 {
			return nil
		}
		var keys, size int
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*),
			COALESCE(SUM(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))), 0)
			FROM hypervisor_metadata`).Scan(&keys, &size)
		if err != nil {
			return fmt.Errorf("count metadata: %w", err)
		}
		return lim.CheckTotal(keys, size)
	})
	if err != nil {
		return nil, wrap("patch metadata", err)
	}
	m, err := loadMetadata(ctx, db.read)
	return m, wrap("patch metadata", err)
}

// setMetadata upserts key, or deletes it when value is "".
func setMetadata(ctx context.Context, tx querier, key, value string) error {
	var err error
	if value == "" {
		_, err = tx.ExecContext(ctx, `DELETE FROM hypervisor_metadata WHERE key = ?`, key)
	} else {
		_, err = tx.ExecContext(ctx, `INSERT INTO hypervisor_metadata (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	}
	if err != nil {
		return fmt.Errorf("set metadata %q: %w", key, err)
	}
	return nil
}

// loadMetadata reads the whole hypervisor metadata.
func loadMetadata(ctx context.Context, q querier) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT key, value FROM hypervisor_metadata`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, rows.Err()
}
