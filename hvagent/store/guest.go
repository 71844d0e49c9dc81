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
	"github.com/hvagent/hvagent/hvagent/subagent"
)

// Guest returns one guest with its metadata; ENOTFOUND if there is none.
// Every info and stream action looks its guest up: the answer comes from
// the guest cache (guestCache; it reflects every write already answered),
// else from one statement (one consistent read, no transaction) run as a
// point lookup (see lookupCtx). The guest is the caller's own copy.
func (db *DB) Guest(ctx context.Context, id string) (*hvagent.Guest, error) {
	g, err := db.lookupGuest(ctx, false, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, guestNotFound(id)
	}
	if err != nil {
		return nil, wrap("get guest", err)
	}
	return g, nil
}

// lookupGuest returns, with its metadata, the guest named key (when
// byName) or with ID key, from the guest cache or with one statement run as
// a point lookup; sql.ErrNoRows when there is none.
func (db *DB) lookupGuest(ctx context.Context, byName bool, key string) (*hvagent.Guest, error) {
	ctx, err := lookupCtx(ctx)
	if err != nil {
		return nil, err
	}
	gen := db.guests.generation()
	if g := db.guests.get(byName, key, gen); g != nil {
		return g, nil
	}
	r, err := db.readGuest(ctx, byName, key)
	if err != nil {
		return nil, err
	}
	g, err := r.decode()
	if err != nil {
		return nil, err
	}
	db.guests.put(byName, key, g, r.size(), gen)
	return g, nil
}

// readGuest reads the guest named key (when byName) or with ID key, in one
// statement; sql.ErrNoRows when there is none.
func (db *DB) readGuest(ctx context.Context, byName bool, key string) (guestRecord, error) {
	where := `WHERE id = ?`
	if byName {
		where = `WHERE name = ?`
	}
	var r guestRecord
	err := db.read.QueryRowContext(ctx, `SELECT id, `+guestColumns+`, `+metadataObject+` FROM guests `+where, key).
		Scan(&r.id, &r.row.name, &r.row.data, &r.md)
	return r, err
}

// lookupCtx returns the context of a point lookup by key: ctx's values
// without its cancellation, or ctx's error when it has ended already. A
// lookup by key takes microseconds, while watching a cancellable context
// costs two goroutines per query (database/sql's and the driver's), which
// tripled the lookup's time on the info path.
func lookupCtx(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.WithoutCancel(ctx), nil
}

// metadataObject is a column holding the metadata of the row's guest as
// a JSON object ("{}" for none).
const metadataObject = `(SELECT json_group_object(key, value) FROM guest_metadata WHERE guest_id = guests.id)`

// decodeMetadata sets g's metadata from a metadataObject column: nil when
// it has none, as withMetadata does.
func decodeMetadata(g *hvagent.Guest, md sql.NullString) error {
	if !md.Valid || md.String == "{}" {
		g.Metadata = nil
		return nil
	}
	g.Metadata = map[string]string{}
	if err := json.Unmarshal([]byte(md.String), &g.Metadata); err != nil {
		return fmt.Errorf("decode metadata of guest %s: %w", g.ID, err)
	}
	return nil
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
	var guests []*hvagent.Guest
	err = inTx(ctx, db.read, func(tx querier) error {
		var err error
		if guests, err = queryGuests(ctx, tx, query+` ORDER BY id LIMIT ?`, append(args, limit)...); err != nil {
			return err
		}
		return pageMetadata(ctx, tx, f.After, guests)
	})
	if err != nil {
		return nil, fmt.Errorf("list guests: %w", err)
	}
	return guests, nil
}

// queryGuests runs a query selecting id and guestColumns and decodes its
// guests, without metadata. Never nil.
func queryGuests(ctx context.Context, q querier, query string, args ...any) ([]*hvagent.Guest, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	guests := []*hvagent.Guest{}
	for rows.Next() {
		var id string
		var r guestRow
		if err := rows.Scan(&id, &r.name, &r.data); err != nil {
			return nil, err
		}
		g, err := r.decode(id)
		if err != nil {
			return nil, err
		}
		guests = append(guests, g)
	}
	return guests, rows.Err()
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
// order. Its metadata has its own table (see withMetadata).
const guestColumns = `name, data`

// guestRow is a stored guest's guestColumns.
type guestRow struct {
	name sql.NullString
	data string
}

// scan reads guestColumns from row.
func (r *guestRow) scan(row *sql.Row) error {
	return row.Scan(&r.name, &r.data)
}

// decode rebuilds guest id from its row: the data with the name column,
// without metadata (nil), as events carry it. The data is read by
// subagent.ParseGuest, or by encoding/json when it declines.
func (r *guestRow) decode(id string) (*hvagent.Guest, error) {
	var g hvagent.Guest
	if !subagent.ParseGuest(r.data, &g) {
		if err := json.Unmarshal([]byte(r.data), &g); err != nil {
			return nil, fmt.Errorf("decode guest %s: %w", id, err)
		}
	}
	g.ID = id
	g.Name = r.name.String
	g.Metadata = nil
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
func insertGuest(ctx context.Context, tx querier, g *hvagent.Guest, at time.Time) error {
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
	p, err := newMetadataPatch(g.ID, g.Metadata)
	if err != nil {
		return err
	}
	r := guestRow{name: nullName(g.Name), data: data}
	guestWrite(ctx)
	_, err = tx.ExecContext(ctx, `INSERT INTO guests (id, name, data, created_at, updated_at,
		metadata_keys, metadata_bytes, metadata_rev)
		VALUES (?, ?, ?, ?, ?, ?, ?, `+nextMetadataRev+`)`,
		g.ID, r.name, data, nanos(at), nanos(at), p.added.keys, p.added.bytes)
	switch {
	case isConstraint(err, sqlite3.ErrConstraintPrimaryKey):
		return hvagent.Errorf(hvagent.ECONFLICT, "guest %s already exists", g.ID)
	case isConstraint(err, sqlite3.ErrConstraintUnique): // checkNameFree saw it first in this transaction
		return &hvagent.Error{Code: hvagent.ECONFLICT, Message: fmt.Sprintf("guest name %q is taken", g.Name), Err: err}
	case err != nil:
		return wrap("insert guest "+g.ID, err)
	}
	if err := p.apply(ctx, tx); err != nil { // a new guest has no keys yet: p.added is its count
		return err
	}
	stored, err := r.decode(g.ID)
	if err != nil {
		return err
	}
	return insertGuestEvent(ctx, tx, hvagent.EventGuestUpdated, at, stored)
}

// persistGuest writes every field of g but its ID and metadata to the stored
// guest id and adds its guest.updated event to ev; nothing is written, and
// no event recorded, when the stored guest is that already. ENOTFOUND if
// id is not stored.
func persistGuest(ctx context.Context, tx querier, id string, g *hvagent.Guest, at time.Time, ev *eventBatch) error {
	data, err := guestData(id, g)
	if err != nil {
		return err
	}
	var (
		name      sql.NullString
		unchanged bool
	)
	err = tx.QueryRowContext(ctx, `SELECT name, data = ? FROM guests WHERE id = ?`, data, id).Scan(&name, &unchanged)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return guestNotFound(id)
	case err != nil:
		return fmt.Errorf("read guest %s: %w", id, err)
	case unchanged:
		return nil
	}
	guestWrite(ctx)
	if _, err = tx.ExecContext(ctx, `UPDATE guests SET data = ?, updated_at = ? WHERE id = ?`, data, nanos(at), id); err != nil {
		return fmt.Errorf("update guest %s: %w", id, err)
	}
	// The event carries the guest as stored: its data (g's fields with
	// id), the name column, no metadata.
	stored := *g
	stored.ID, stored.Name, stored.Metadata = id, name.String, nil
	return ev.add(hvagent.EventGuestUpdated, &stored)
}

// deleteGuest removes guest id with a guest.deleted event carrying it as it
// was. A guest already gone is not an error.
func deleteGuest(ctx context.Context, tx querier, id string, at time.Time) error {
	var r guestRow
	guestWrite(ctx)
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
	err := db.commits.do(ctx, func(ctx context.Context, tx querier) error {
		var r guestRow
		guestWrite(ctx)
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
	if err == nil {
		err = withMetadata(ctx, db.read, g)
	}
	if err != nil {
		return nil, wrap("set guest state", err)
	}
	return g, nil
}
