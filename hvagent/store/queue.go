package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/hvagent/hvagent/hvagent"
)

// QueueStats returns, per queue holding Queued or Running jobs, their counts
// and the QueuedAt of its oldest Queued job.
func (db *DB) QueueStats(ctx context.Context) ([]hvagent.QueueStat, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT queue,
		SUM(status = 'Queued'), SUM(status = 'Running'), MIN(CASE WHEN status = 'Queued' THEN queued_at END)
		FROM jobs WHERE status IN ('Queued', 'Running') GROUP BY queue ORDER BY queue`)
	if err != nil {
		return nil, fmt.Errorf("queue stats: %w", err)
	}
	defer rows.Close()
	stats := []hvagent.QueueStat{}
	for rows.Next() {
		var s hvagent.QueueStat
		var oldest sql.NullInt64
		if err := rows.Scan(&s.Queue, &s.Queued, &s.Running, &oldest); err != nil {
			return nil, fmt.Errorf("queue stats: %w", err)
		}
		s.OldestQueuedAt = fromNullNanos(oldest)
		stats = append(stats, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue stats: %w", err)
	}
	return stats, nil
}
