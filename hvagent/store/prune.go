package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

// Prune drops the idempotency keys that expired at or before now, then the
// finished jobs older than the newest maxJobs ones (a Queued or Running job,
// or one with a live key, is never dropped), then the events older than the
// newest maxEvents. A negative count gives EINVALID.
func (db *DB) Prune(ctx context.Context, maxJobs, maxEvents int, now time.Time) error {
	if maxJobs < 0 || maxEvents < 0 {
		return hvagent.Errorf(hvagent.EINVALID, "prune limits %d and %d must not be negative",
			maxJobs, maxEvents)
	}
	now = db.at(now)
	err := db.commits.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE expires_at <= ?`,
			nanos(now)); err != nil {
			return fmt.Errorf("delete expired keys: %w", err)
		}
		// A NULL bound (fewer rows than the limit) deletes nothing.
		if _, err := tx.ExecContext(ctx, `DELETE FROM jobs
			WHERE finished_at IS NOT NULL
			AND seq <= (SELECT seq FROM jobs WHERE finished_at IS NOT NULL
				ORDER BY seq DESC LIMIT 1 OFFSET ?)
			AND id NOT IN (SELECT job_id FROM idempotency_keys)`, maxJobs); err != nil {
			return fmt.Errorf("delete old jobs: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM events
			WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)`,
			maxEvents); err != nil {
			return fmt.Errorf("delete old events: %w", err)
		}
		return nil
	})
	return wrap("prune", err)
}
