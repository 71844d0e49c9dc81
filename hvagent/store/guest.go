package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/hvagent/hvagent/hvagent"
)

// Guest returns one guest with its metadata; ENOTFOUND if there is none.
func (db *DB) Guest(ctx context.Context, id string) (*hvagent.Guest, error) {
	g, err := loadGuest(ctx, db.read, id)
	return g, wrap("get guest", err)
}

// Guests lists guests ordered by ID, at most f.Limit (default and maximum
// 1000) of those after f.After, only the one named f.Name when it is set. A
// negative limit gives EINVALID. Never nil.
func (db *DB) Guests(ctx context.Context, f hvagent.GuestFilter) ([]*hvagent.Guest, error) {
	limit, err := checkLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	query, args := `SELECT id, `+guestColumns+` FROM guests WHERE id > ?`, []any{f.After}
	if f.Name != "" {
		query, args = query+` AND name = ?`, append(args, f.Name)
	}
	rows, err := db.read.QueryContext(ctx, query+` ORDER BY id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list guests: %w", err)
	}
	defer rows.Close()
	guests := []*hvagent.Guest{}
	for rows.Next() {
		var id string
		var r guestRow
		if err := rows.Scan(&id, &r.name, &r.data, &r.meta); err != nil {
			return nil, fmt.Errorf("list guests: %w", err)
		}
		g, err := r.decode(id)
		if err != nil {
			return nil, err
		}
		guests = append(guests, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list guests: %w", err)
	}
	return guests, nil
}

// PatchGuestMetadata upserts the keys of patch into the guest's metadata and
// deletes those whose value is "", with a guest.updated event. It returns
// the updated guest; ENOTFOUND for an unknown guest, EINVALID for an empty
// key.
func (db *DB) PatchGuestMetadata(ctx context.Context, id string, patch map[string]string) (*hvagent.Guest, error) {
	merge, err := mergePatch(patch)
	if err != nil {
		return nil, err
	}
	var g *hvagent.Guest
	err = db.commits.write(ctx, func(tx *sql.Tx) error {
		now := db.now()
		var r guestRow
		err := r.scan(tx.QueryRowContext(ctx, `UPDATE guests
			SET metadata = json_patch(metadata, ?), updated_at = ?
			WHERE id = ? RETURNING `+guestColumns, merge, nanos(now), id))
		if errors.Is(err, sql.ErrNoRows) {
			return guestNotFound(id)
		}
		if err != nil {
			return err
		}
		if g, err = r.decode(id); err != nil {
			return err
		}
		return insertGuestEvent(ctx, tx, hvagent.EventGuestUpdated, now, g)
	})
	if err != nil {
		return nil, wrap("patch guest metadata", err)
	}
	return g, nil
}

// mergePatch encodes patch as a JSON merge patch: "" becomes null, which
// json_patch deletes.
func mergePatch(patch map[string]string) (string, error) {
	m := make(map[string]*string, len(patch))
	for k, v := range patch {
		if k == "" {
			return "", hvagent.Errorf(hvagent.EINVALID, "metadata key is empty")
		}
		if v != "" {
			m[k] = &v
		} else {
			m[k] = nil
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode metadata patch: %w", err)
	}
	return string(b), nil
}

// loadGuest reads one guest; ENOTFOUND if there is none.
func loadGuest(ctx context.Context, q querier, id string) (*hvagent.Guest, error) {
	var r guestRow
	err := r.scan(q.QueryRowContext(ctx, `SELECT `+guestColumns+` FROM guests WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, guestNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	return r.decode(id)
}

// guestColumns are the columns of a guest besides its ID, in guestRow.scan's
// order.
const guestColumns = `name, data, metadata`

// guestRow is a stored guest's guestColumns.
type guestRow struct {
	name       sql.NullString
	data, meta string
}

// scan reads guestColumns from row.
func (r *guestRow) scan(row *sql.Row) error {
	return row.Scan(&r.name, &r.data, &r.meta)
}

// decode rebuilds guest id from its row: the data with the name and
// metadata columns. Empty metadata is nil so that JSON omits it.
func (r *guestRow) decode(id string) (*hvagent.Guest, error) {
	var g hvagent.Guest
	if err := json.Unmarshal([]byte(r.data), &g); err != nil {
		return nil, fmt.Errorf("decode guest %s: %w", id, err)
	}
	g.ID = id
	g.Name = r.name.String
	g.Metadata = nil
	if err := json.Unmarshal([]byte(r.meta), &g.Metadata); err != nil {
		return nil, fmt.Errorf("decode guest %s metadata: %w", id, err)
	}
	if len(g.Metadata) == 0 {
		g.Metadata = nil
	}
	return &g, nil
}

// guestData is the data column of g: its JSON with the given id, and no
// name or metadata (they have their own columns).
func guestData(id string, g *hvagent.Guest) (string, error) {
	c := *g
	c.ID = id
	c.Name = ""
	c.Metadata = nil
	b, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("encode guest %s: %w", id, err)
	}
	return string(b), nil
}

// insertGuest stores a new guest with its name, metadata and a
// guest.updated event; ECONFLICT if its ID or name exists, EINVALID for a
// name that is not one.
func insertGuest(ctx context.Context, tx *sql.Tx, g *hvagent.Guest, at time.Time) error {
	if g.ID == "" {
		return hvagent.Errorf(hvagent.EINVALID, "guest id is empty")
	}
	if err := checkNameFree(ctx, tx, g.Name, g.ID); err != nil {
		return err
	}
	data, err := guestData(g.ID, g)
	if err != nil {
		return err
	}
	meta := map[string]string{}
	for k, v := range g.Metadata {
		if k != "" && v != "" {
			meta[k] = v
		}
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("encode guest %s metadata: %w", g.ID, err)
	}
	r := guestRow{name: nullName(g.Name), data: data, meta: string(metaJSON)}
	_, err = tx.ExecContext(ctx, `INSERT INTO guests (id, name, data, metadata, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`, g.ID, r.name, data, r.meta, nanos(at), nanos(at))
	switch {
	case isConstraint(err, sqlite3.ErrConstraintPrimaryKey):
		return hvagent.Errorf(hvagent.ECONFLICT, "guest %s already exists", g.ID)
	case isConstraint(err, sqlite3.ErrConstraintUnique): // checkNameFree saw it first in this transaction
		return &hvagent.Error{Code: hvagent.ECONFLICT, Message: fmt.Sprintf("guest name %q is taken", g.Name), Err: err}
	case err != nil:
		return wrap("insert guest "+g.ID, err)
	}
	stored, err := r.decode(g.ID)
	if err != nil {
		return err
	}
	return insertGuestEvent(ctx, tx, hvagent.EventGuestUpdated, at, stored)
}

// persistGuest writes every field of g but its ID and metadata to the stored
// guest id, with a guest.updated event; ENOTFOUND if id is not stored.
func persistGuest(ctx context.Context, tx *sql.Tx, id string, g *hvagent.Guest, at time.Time) error {
	data, err := guestData(id, g)
	if err != nil {
		return err
	}
	var r guestRow
	err = r.scan(tx.QueryRowContext(ctx, `UPDATE guests SET data = ?, updated_at = ? WHERE id = ?
		RETURNING `+guestColumns, data, nanos(at), id))
	if errors.Is(err, sql.ErrNoRows) {
		return guestNotFound(id)
	}
	if err != nil {
		return fmt.Errorf("update guest %s: %w", id, err)
	}
	stored, err := r.decode(id)
	if err != nil {
		return err
	}
	return insertGuestEvent(ctx, tx, hvagent.EventGuestUpdated, at, stored)
}

// deleteGuest removes guest id with a guest.deleted event carrying it as it
// was. A guest already gone is not an error.
func deleteGuest(ctx context.Context, tx *sql.Tx, id string, at time.Time) error {
	var r guestRow
	err := r.scan(tx.QueryRowContext(ctx, `DELETE FROM guests WHERE id = ? RETURNING `+guestColumns, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete guest %s: %w", id, err)
	}
	g, err := r.decode(id)
	if err != nil {
		return err
	}
	return insertGuestEvent(ctx, tx, hvagent.EventGuestDeleted, at, g)
}

// SetGuestState sets a stored guest's state, with a guest.updated event,
// and returns the guest; nothing is written when the state is already
// that. ENOTFOUND for an unknown guest, EINVALID for an empty state.
func (db *DB) SetGuestState(ctx context.Context, id, state string, at time.Time) (*hvagent.Guest, error) {
	if state == "" {
		return nil, hvagent.Errorf(hvagent.EINVALID, "guest state is empty")
	}
	var g *hvagent.Guest
	err := db.commits.write(ctx, func(tx *sql.Tx) error {
		var r guestRow
		err := r.scan(tx.QueryRowContext(ctx, `UPDATE guests
			SET data = json_set(data, '$.state', ?), updated_at = ?
			WHERE id = ? AND json_extract(data, '$.state') IS NOT ?
			RETURNING `+guestColumns, state, nanos(at), id, state))
		if errors.Is(err, sql.ErrNoRows) {
			g, err = loadGuest(ctx, tx, id) // unchanged, or not found
			return err
		}
		if err != nil {
			return err
		}
		if g, err = r.decode(id); err != nil {
			return err
		}
		return insertGuestEvent(ctx, tx, hvagent.EventGuestUpdated, at, g)
	})
	if err != nil {
		return nil, wrap("set guest state", err)
	}
	return g, nil
}
