package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// limitPages caps the database at its current size plus extra pages
// (SQLite's max_page_count, set on the one writer connection): writes
// beyond fail as on a full disk. A negative extra lifts the cap.
func (b *testBundle) limitPages(t *testing.T, extra int) {
	t.Helper()
	limit := 1 << 30
	if extra >= 0 {
		var pages int
		require.NoError(t, b.db.write.QueryRow(`PRAGMA page_count`).Scan(&pages))
		limit = pages + extra
	}
	_, err := b.db.write.Exec(fmt.Sprintf(`PRAGMA max_page_count = %d`, limit))
	require.NoError(t, err)
}

func TestDB_DiskFull(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const guest = "0b7e2c55-8c1e-4f3a-9d2b-6a5f4e3d2c1b"
	big := json.RawMessage(`{"pad":"` + strings.Repeat("x", 2000) + `"}`)
	b.limitPages(t, 8)

	var accepted []string
	var full error
	for range 1000 {
		n := newJob(guest, nil)
		n.Request = big
		j, err := b.db.Enqueue(ctx, n)
		if err != nil {
			full = err
			break
		}
		accepted = append(accepted, j.ID)
	}
	require.Error(t, full, "the cap must be reached")
	require.NotEmpty(t, accepted)
	requireCode(t, full, hvagent.EUNAVAILABLE)
	require.EqualError(t, full, "the database disk is full: nothing was written; free space and retry")
	var se sqlite3.Error
	require.ErrorAs(t, full, &se)
	require.Equal(t, sqlite3.ErrFull, se.Code)

	// Other writes fail the same way; reads go on.
	_, err := b.db.Claim(ctx, guest, at(1), hvagent.ClaimOptions{})
	if err != nil { // a claim may fit in the free pages; a metadata patch of 50 KB does not
		requireCode(t, err, hvagent.EUNAVAILABLE)
	}
	_, err = b.db.PatchMetadata(ctx, map[string]string{"big": strings.Repeat("y", 50000)}, hvagent.MetadataLimits{})
	requireCode(t, err, hvagent.EUNAVAILABLE)
	jobs, err := b.db.Jobs(ctx, hvagent.JobFilter{})
	require.NoError(t, err)
	require.Len(t, jobs, len(accepted))

	// Space returns: the same store writes again, nothing accepted is lost.
	b.limitPages(t, -1)
	n := newJob(guest, nil)
	n.Request = big
	j, err := b.db.Enqueue(ctx, n)
	require.NoError(t, err)
	for _, id := range append(accepted, j.ID) {
		_, err := b.db.Job(ctx, id)
		require.NoError(t, err)
	}
	var check string
	require.NoError(t, b.db.read.QueryRow(`PRAGMA integrity_check`).Scan(&check))
	require.Equal(t, "ok", check)
}

func TestDiskFull(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		err  error
		full bool
	}{
		{"Full", fmt.Errorf("commit: %w", sqlite3.Error{Code: sqlite3.ErrFull}), true},
		{"IOErrENOSPC", sqlite3.Error{Code: sqlite3.ErrIoErr, SystemErrno: syscall.ENOSPC}, true},
		{"ENOSPC", fmt.Errorf("write: %w", syscall.ENOSPC), true},
		{"IOErrOther", sqlite3.Error{Code: sqlite3.ErrIoErr, SystemErrno: syscall.EIO}, false},
		{"Busy", sqlite3.Error{Code: sqlite3.ErrBusy}, false},
		{"Other", errors.New("boom"), false},
		{"Nil", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := diskFull(tt.err)
			if !tt.full {
				require.Equal(t, tt.err, got)
				return
			}
			requireCode(t, got, hvagent.EUNAVAILABLE)
			require.ErrorIs(t, got, tt.err)
		})
	}
}
