package store

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/mattn/go-sqlite3"

	"github.com/hvagent/hvagent/hvagent"
)

// isConstraint reports whether err is an SQLite constraint violation with
// one of the extended codes.
func isConstraint(err error, codes ...sqlite3.ErrNoExtended) bool {
	var se sqlite3.Error
	if !errors.As(err, &se) || se.Code != sqlite3.ErrConstraint {
		return false
	}
	for _, c := range codes {
		if se.ExtendedCode == c {
			return true
		}
	}
	return false
}

// isDuplicate reports whether err violates a primary key or unique index.
func isDuplicate(err error) bool {
	return isConstraint(err, sqlite3.ErrConstraintPrimaryKey, sqlite3.ErrConstraintUnique)
}

// isDiskFull reports whether err is SQLite's "database or disk is full"
// (the disk, or max_page_count), or an I/O error caused by ENOSPC.
func isDiskFull(err error) bool {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return errors.Is(err, syscall.ENOSPC)
	}
	return se.Code == sqlite3.ErrFull || (se.Code == sqlite3.ErrIoErr && se.SystemErrno == syscall.ENOSPC)
}

// diskFull turns a write that failed for want of space into EUNAVAILABLE
// with a message that says so; other errors pass unchanged. Nothing of the
// failed write is kept, and writes succeed again once space is freed.
func diskFull(err error) error {
	if err == nil || !isDiskFull(err) {
		return err
	}
	return &hvagent.Error{Code: hvagent.EUNAVAILABLE,
		Message: "the database disk is full: nothing was written; free space and retry", Err: err}
}

// wrap gives err the context op. *hvagent.Error values pass through; a
// CHECK or NOT NULL violation (a value the schema refuses) becomes EINVALID;
// anything else stays an internal error.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var he *hvagent.Error
	if errors.As(err, &he) {
		return err
	}
	if isConstraint(err, sqlite3.ErrConstraintCheck, sqlite3.ErrConstraintNotNull) {
		return &hvagent.Error{Code: hvagent.EINVALID, Message: op + ": invalid value", Err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// jobNotFound is the ENOTFOUND error for job id.
func jobNotFound(id string) error {
	return hvagent.Errorf(hvagent.ENOTFOUND, "job %s not found", id)
}

// guestNotFound is the ENOTFOUND error for guest id.
func guestNotFound(id string) error {
	return hvagent.Errorf(hvagent.ENOTFOUND, "guest %s not found", id)
}

// checkLimit returns limit, the default when 0, capped at maxLimit; a
// negative limit gives EINVALID.
func checkLimit(limit int) (int, error) {
	switch {
	case limit < 0:
		return 0, hvagent.Errorf(hvagent.EINVALID, "limit %d is negative", limit)
	case limit == 0 || limit > maxLimit:
		return maxLimit, nil
	}
	return limit, nil
}

// maxLimit is the default and largest page of Guests and Jobs.
const maxLimit = 1000
