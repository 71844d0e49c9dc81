package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// createMigrations creates the table that records applied migrations.
const createMigrations = `CREATE TABLE IF NOT EXISTS migrations (
	name       TEXT PRIMARY KEY NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT`

// migrate applies, in name order and each in its own transaction, the
// embedded migrations not yet recorded in the migrations table.
func migrate(ctx context.Context, pool *sql.DB) error {
	if _, err := pool.ExecContext(ctx, createMigrations); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := migrateFile(ctx, pool, name); err != nil {
			return fmt.Errorf("migrate %s: %w", path.Base(name), err)
		}
	}
	return nil
}

// migrateFile applies the migration at file unless it is already recorded
// (by base name).
func migrateFile(ctx context.Context, pool *sql.DB, file string) error {
	name := path.Base(file)
	return inTx(ctx, pool, func(tx querier) error {
		var n int
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM migrations WHERE name = ?`, name).Scan(&n)
		if err != nil || n > 0 {
			return err
		}
		body, err := migrationFS.ReadFile(file)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO migrations (name, applied_at) VALUES (?, ?)`,
			name, time.Now().UnixNano())
		return err
	})
}
