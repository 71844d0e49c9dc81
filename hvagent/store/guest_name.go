package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

// GuestByName returns the guest named name, with its metadata; ENOTFOUND
// if no guest has that name. Like Guest, it answers from the guest cache or
// with one statement, a point lookup.
func (db *DB) GuestByName(ctx context.Context, name string) (*hvagent.Guest, error) {
	g, err := db.lookupGuest(ctx, true, name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hvagent.Errorf(hvagent.ENOTFOUND, "guest %q not found", name)
	}
	if err != nil {
		return nil, wrap("get guest", err)
	}
	return g, nil
}

// RenameGuest sets the name of guest id ("" removes it) and the guest name
// recorded in its jobs, with a guest.updated event, and returns the guest;
// nothing is written when it already has that name. Errors: EINVALID for a
// name that is not a guest name, ECONFLICT when another guest has it,
// ENOTFOUND for an unknown guest.
func (db *DB) RenameGuest(ctx context.Context, id, name string, at time.Time) (*hvagent.Guest, error) {
	if name != "" {
		if err := hvagent.ValidateGuestName(name); err != nil {
			return nil, err
		}
	}
	var g *hvagent.Guest
	err := db.commits.do(ctx, func(ctx context.Context, tx querier) error {
		if err := checkNameFree(ctx, tx, name, id); err != nil {
			return err
		}
		var r guestRow
		guestWrite(ctx)
		err := r.scan(tx.QueryRowContext(ctx, `UPDATE guests SET name = ?, updated_at = ?
			WHERE id = ? AND name IS NOT ? RETURNING `+guestColumns,
			nullName(name), nanos(at), id, nullName(name)))
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
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET guest_name = ? WHERE guest_id = ?`, name, id); err != nil {
			return fmt.Errorf("rename jobs of guest %s: %w", id, err)
		}
		return insertGuestEvent(ctx, tx, hvagent.EventGuestUpdated, at, g)
	})
	if err == nil {
		err = withMetadata(ctx, db.read, g)
	}
	if err != nil {
		return nil, wrap("rename guest", err)
	}
	return g, nil
}

// checkNameFree returns ECONFLICT, naming the other guest, when a guest
// other than id has name, and EINVALID when name is not a guest name. The
// empty name (none) is always free.
func checkNameFree(ctx context.Context, tx querier, name, id string) error {
	if name == "" {
		return nil
	}
	if err := hvagent.ValidateGuestName(name); err != nil {
		return err
	}
	var other string
	err := tx.QueryRowContext(ctx, `SELECT id FROM guests WHERE name = ? AND id <> ?`, name, id).Scan(&other)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read guest name %q: %w", name, err)
	}
	return hvagent.Errorf(hvagent.ECONFLICT, "guest name %q is taken by guest %s", name, other)
}

// nullName is a guest name as stored: NULL for none.
func nullName(name string) sql.NullString {
	return sql.NullString{String: name, Valid: name != ""}
}
