package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/jsonform"
	"github.com/hvagent/hvagent/internal/wirejson"
)

// querier is what *sql.DB, *sql.Conn and *sql.Tx share: the store's
// statements run on any of them.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// insertJobEvent records a job.updated event for j.
func insertJobEvent(ctx context.Context, tx querier, at time.Time, j *hvagent.Job) error {
	return insertEvent(ctx, tx, hvagent.EventJobUpdated, at, j)
}

// insertGuestEvent records a guest.updated or guest.deleted event for g.
func insertGuestEvent(ctx context.Context, tx querier, typ string, at time.Time, g *hvagent.Guest) error {
	return insertEvent(ctx, tx, typ, at, g)
}

// insertEvent appends an event whose payload is the JSON of v.
func insertEvent(ctx context.Context, tx querier, typ string, at time.Time, v any) error {
	var b eventBatch
	if err := b.add(typ, v); err != nil {
		return err
	}
	return b.insert(ctx, tx, at)
}

// maxBatchedEvents caps the events of one eventBatch: the most a write
// records together (the end of a job with its guest, and the claim of the
// next one) is three.
const maxBatchedEvents = 4

// eventBatch collects the events of one write, in order, so that they are
// appended by one statement: a write's events share its time.
//
// The payloads are appended to one scratch buffer (jsonform.GetBuffer; ends[i]
// is where the i-th ends), which each event's argument is a part of at
// insert: a write's events cost no allocation of their own, where they
// cost three each.
type eventBatch struct {
	types [maxBatchedEvents]string
	ends  [maxBatchedEvents]int
	buf   *[]byte
	n     int
}

// add appends an event of type typ whose payload is the JSON of v.
func (b *eventBatch) add(typ string, v any) error {
	if b.n == maxBatchedEvents {
		return fmt.Errorf("record %s event: more than %d events in one write", typ, maxBatchedEvents)
	}
	if b.buf == nil {
		b.buf = jsonform.GetBuffer()
	}
	buf, err := appendPayload(*b.buf, v)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", typ, err)
	}
	*b.buf = buf
	b.types[b.n], b.ends[b.n] = typ, len(buf)
	b.n++
	return nil
}

// appendPayload appends v's JSON to buf, as json.Marshal gives it: a Job
// or a Guest, which most events carry, written by wirejson (it runs on the
// writer, twice for every job).
func appendPayload(buf []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case *hvagent.Job:
		if out, ok := wirejson.AppendJob(buf, v); ok {
			return out, nil
		}
	case *hvagent.Guest:
		return subagent.AppendGuest(buf, v), nil
	}
	data, err := json.Marshal(v)
	return append(buf, data...), err
}

// insertEventsSQL[n] appends n events, each (type, at, payload).
var insertEventsSQL = func() [maxBatchedEvents + 1]string {
	var q [maxBatchedEvents + 1]string
	for n := 1; n <= maxBatchedEvents; n++ {
		q[n] = `INSERT INTO events (type, at, payload) VALUES (?, ?, ?)` +
			strings.Repeat(`, (?, ?, ?)`, n-1)
	}
	return q
}()

// insert appends the collected events at time at, in the order they were
// added (their IDs follow it), and empties b.
func (b *eventBatch) insert(ctx context.Context, tx querier, at time.Time) error {
	if b.n == 0 {
		return nil
	}
	// A view of the buffer, not a copy: the driver binds a string without
	// copying it and SQLite copies it at bind (SQLITE_TRANSIENT), and the
	// buffer goes back to the pool only after the statement ran.
	payloads, start := unsafe.String(unsafe.SliceData(*b.buf), len(*b.buf)), 0
	args := make([]any, 0, 3*b.n)
	for i := range b.n {
		args = append(args, b.types[i], nanos(at), payloads[start:b.ends[i]])
		start = b.ends[i]
	}
	_, err := tx.ExecContext(ctx, insertEventsSQL[b.n], args...)
	jsonform.PutBuffer(b.buf)
	*b = eventBatch{}
	if err != nil {
		return fmt.Errorf("insert %s event: %w", args[0], err)
	}
	return nil
}

// Events returns up to limit events whose ID is greater than after, oldest
// first; limit 0 means 1000. A negative limit gives EINVALID. Never nil.
func (db *DB) Events(ctx context.Context, after int64, limit int) ([]*hvagent.Event, error) {
	if limit < 0 {
		return nil, hvagent.Errorf(hvagent.EINVALID, "limit %d is negative", limit)
	}
	if limit == 0 {
		limit = maxLimit
	}
	rows, err := db.read.QueryContext(ctx,
		`SELECT id, type, at, payload FROM events WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	events := []*hvagent.Event{}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
}

// scanEvent reads one events row and decodes its payload.
func scanEvent(rows *sql.Rows) (*hvagent.Event, error) {
	var (
		e       hvagent.Event
		at      int64
		payload string
	)
	if err := rows.Scan(&e.ID, &e.Type, &at, &payload); err != nil {
		return nil, fmt.Errorf("scan event: %w", err)
	}
	e.At = fromNanos(at)
	var target any
	switch e.Type {
	case hvagent.EventJobUpdated:
		e.Job = &hvagent.Job{}
		target = e.Job
	default:
		e.Guest = &hvagent.Guest{}
		target = e.Guest
	}
	if err := json.Unmarshal([]byte(payload), target); err != nil {
		return nil, fmt.Errorf("decode event %d: %w", e.ID, err)
	}
	return &e, nil
}

// FirstEventID returns the ID of the oldest retained event, 0 if none.
func (db *DB) FirstEventID(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	if err := db.read.QueryRowContext(ctx, `SELECT MIN(id) FROM events`).Scan(&id); err != nil {
		return 0, fmt.Errorf("first event: %w", err)
	}
	return id.Int64, nil
}

// LastEventID returns the ID of the newest event ever written (it survives
// pruning), 0 if none.
func (db *DB) LastEventID(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT MAX(n) FROM (
		SELECT MAX(id) AS n FROM events UNION ALL SELECT seq FROM sqlite_sequence WHERE name = 'events')`).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("last event: %w", err)
	}
	return id.Int64, nil
}
