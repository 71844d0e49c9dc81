package store

import (
	"context"
	"fmt"
	"time"
)

// PausedActions returns the actions whose jobs are paused ("*" for all),
// as PauseQueue and ResumeQueue left them. Never nil.
func (db *DB) PausedActions(ctx context.Context) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT action FROM queue_pauses ORDER BY action`)
	if err != nil {
		return nil, wrap("paused actions", err)
	}
	defer rows.Close()
	actions := []string{}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, wrap("paused actions", err)
		}
		actions = append(actions, a)
	}
	return actions, wrap("paused actions", rows.Err())
}

// PauseQueue records action ("*" for all) as paused; a pause already
// recorded keeps its time.
func (db *DB) PauseQueue(ctx context.Context, action string, at time.Time) error {
	err := db.commits.do(ctx, func(ctx context.Context, tx querier) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO queue_pauses (action, paused_at) VALUES (?, ?)
			ON CONFLICT (action) DO NOTHING`, action, nanos(at))
		return err
	})
	return wrap(fmt.Sprintf("pause %q", action), err)
}

// ResumeQueue removes the pause of action; "*" removes every pause.
func (db *DB) ResumeQueue(ctx context.Context, action string) error {
	err := db.commits.do(ctx, func(ctx context.Context, tx querier) error {
		var err error
		if action == "*" {
			_, err = tx.ExecContext(ctx, `DELETE FROM queue_pauses`)
		} else {
			_, err = tx.ExecContext(ctx, `DELETE FROM queue_pauses WHERE action = ?`, action)
		}
		return err
	})
	return wrap(fmt.Sprintf("resume %q", action), err)
}
