package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

// KeyJob returns the job recorded for the live idempotency key (scope, key)
// at at and the request hash recorded with it; a nil job and no error when
// no such key is live. A job with a live key is never pruned.
func (db *DB) KeyJob(ctx context.Context, scope, key string, at time.Time) (*hvagent.Job, string, error) {
	var hash, jobID string
	err := db.read.QueryRowContext(ctx, `SELECT hash, job_id FROM idempotency_keys
		WHERE scope = ? AND key = ? AND expires_at > ?`, scope, key, nanos(db.at(at))).Scan(&hash, &jobID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", wrap("read idempotency key", err)
	}
	j, err := loadJob(ctx, db.read, jobID)
	if err != nil {
		return nil, "", wrap("read idempotency key", err)
	}
	return j, hash, nil
}
