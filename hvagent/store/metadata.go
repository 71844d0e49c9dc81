package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/hvagent/hvagent/hvagent"
)

// Metadata returns the hypervisor metadata. Never nil.
func (db *DB) Metadata(ctx context.Context) (map[string]string, error) {
	m, err := loadMetadata(ctx, db.read)
	return m, wrap("get metadata", err)
}

// PatchMetadata upserts the keys of patch into the hypervisor metadata and
// deletes those whose value is "". It returns the whole map; EINVALID for an
// empty key.
func (db *DB) PatchMetadata(ctx context.Context, patch map[string]string) (map[string]string, error) {
	for k := range patch {
		if k == "" {
			return nil, hvagent.Errorf(hvagent.EINVALID, "metadata key is empty")
		}
	}
	var m map[string]string
	err := db.commits.write(ctx, func(tx *sql.Tx) error {
		for k, v := range patch {
			if err := setMetadata(ctx, tx, k, v); err != nil {
				return err
			}
		}
		var err error
		m, err = loadMetadata(ctx, tx)
		return err
	})
	if err != nil {
		return nil, wrap("patch metadata", err)
	}
	return m, nil
}

// setMetadata upserts key, or deletes it when value is "".
func setMetadata(ctx context.Context, tx *sql.Tx, key, value string) error {
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
