package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/store"
)

// scaleStore is what fillScaleStore put in a data dir.
type scaleStore struct {
	guests []string // IDs, in ID order
	jobs   []string // IDs
}

// fillScaleStore creates the store of dataDir with store.Open (so its
// schema is the program's) and fills it by direct inserts, in one
// transaction with synchronous=OFF: guests guests with three metadata keys
// each, jobsPerGuest finished jobs of each guest (interleaved, as a busy
// host logs them) and one job.updated event per job, up to maxEvents.
func fillScaleStore(b *testing.B, dataDir string, guests, jobsPerGuest, maxEvents int) *scaleStore {
	b.Helper()
	path := filepath.Join(dataDir, "hvagent.db")
	db, err := store.Open(path, store.Options{})
	require.NoError(b, err)
	require.NoError(b, db.Close())
	pool, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=OFF&_foreign_keys=on")
	require.NoError(b, err)
	defer pool.Close()
	ctx := context.Background()
	tx, err := pool.BeginTx(ctx, nil)
	require.NoError(b, err)
	defer func() { _ = tx.Rollback() }()
	s := &scaleStore{}
	at := time.Now().Add(-time.Duration(guests*jobsPerGuest) * time.Second)
	s.guests = insertScaleGuests(b, tx, guests, at)
	s.jobs = insertScaleJobs(b, tx, s.guests, jobsPerGuest, maxEvents, at)
	require.NoError(b, tx.Commit())
	return s
}

// insertScaleGuests inserts n running guests, each with a disk, a NIC and
// three metadata keys, and returns their IDs.
func insertScaleGuests(b *testing.B, tx *sql.Tx, n int, at time.Time) []string {
	guest, err := tx.Prepare(`INSERT INTO guests (id, data, created_at, updated_at, metadata_keys, metadata_bytes)
		VALUES (?, ?, ?, ?, 3, ?)`)
	require.NoError(b, err)
	meta, err := tx.Prepare(`INSERT INTO guest_metadata (guest_id, key, value) VALUES (?, ?, ?)`)
	require.NoError(b, err)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
		g := hvagent.Guest{ID: ids[i], State: hvagent.StateRunning, Memory: 1024, CPU: 2,
			Disks: []hvagent.Disk{{Size: 10240, Bus: "virtio"}},
			Nics:  []hvagent.Nic{{Network: "br0", Model: "virtio", MAC: fmt.Sprintf("52:54:00:%02x:%02x:%02x", i>>16&0xff, i>>8&0xff, i&0xff)}}}
		data, err := json.Marshal(&g)
		require.NoError(b, err)
		kv := [][2]string{{"owner", fmt.Sprintf("team-%d", i%50)}, {"env", "production"}, {"ticket", fmt.Sprintf("OPS-%d", i)}}
		bytes := 0
		for _, p := range kv {
			bytes += len(p[0]) + len(p[1])
		}
		_, err = guest.Exec(ids[i], string(data), at.UnixNano(), at.UnixNano(), bytes)
		require.NoError(b, err)
		for _, p := range kv {
			_, err = meta.Exec(ids[i], p[0], p[1])
			require.NoError(b, err)
		}
	}
	return ids
}

// insertScaleJobs inserts perGuest Complete start/reboot jobs of each
// guest, round robin over the guests, with one event per job for the
// newest maxEvents, and returns the jobs' IDs.
func insertScaleJobs(b *testing.B, tx *sql.Tx, guests []string, perGuest, maxEvents int, at time.Time) []string {
	job, err := tx.Prepare(`INSERT INTO jobs (id, queue, guest_id, action, status, stage, stage_started_at,
		attempt, queued_at, started_at, updated_at, finished_at)
		VALUES (?, ?, ?, ?, 'Complete', ?, ?, 1, ?, ?, ?, ?)`)
	require.NoError(b, err)
	event, err := tx.Prepare(`INSERT INTO events (type, at, payload) VALUES ('job.updated', ?, ?)`)
	require.NoError(b, err)
	total := len(guests) * perGuest
	ids := make([]string, 0, total)
	for i := range total {
		g := guests[i%len(guests)]
		action, stage := hvagent.ActionStart, "1/1 Sim.Start"
		if i%2 == 1 {
			action, stage = hvagent.ActionReboot, "1/1 Sim.Reboot"
		}
		id := uuid.NewString()
		t := at.Add(time.Duration(i) * time.Second)
		_, err := job.Exec(id, g, g, action, stage, t.UnixNano(), t.UnixNano(), t.UnixNano(), t.UnixNano(), t.UnixNano())
		require.NoError(b, err)
		ids = append(ids, id)
		if i < total-maxEvents {
			continue
		}
		payload, err := json.Marshal(&hvagent.Job{ID: id, GuestID: g, Action: action, Status: hvagent.JobComplete,
			Stage: stage, QueuedAt: t, StartedAt: t, UpdatedAt: t, FinishedAt: t, Attempt: 1})
		require.NoError(b, err)
		_, err = event.Exec(t.UnixNano(), string(payload))
		require.NoError(b, err)
	}
	return ids
}
