package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// multiFake makes the fake queue one job per guest (job ID = guest ID with
// its first character made 9) and end each as ends says (Complete
// when absent), recording the guests Do was called on.
func multiFake(b *bundle, ends map[string]hvagent.JobStatus) *[]string {
	var mu sync.Mutex
	var calls []string
	jobOf := func(guest string) *hvagent.Job {
		return &hvagent.Job{ID: "9" + guest[1:], GuestID: guest, Action: "start", Status: hvagent.JobQueued}
	}
	b.fake.DoFunc = func(_ context.Context, action, guest string, req hvagent.Request) (*hvagent.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, guest)
		if guest == resolveGuests[2].ID && ends[guest] == hvagent.JobQueued {
			return nil, hvagent.Errorf(hvagent.EBUSY, "queue of guest %s is full", guest)
		}
		return &hvagent.Result{Job: jobOf(guest)}, nil
	}
	b.fake.WaitJobFunc = func(_ context.Context, id string) (*hvagent.Job, error) {
		for _, g := range resolveGuests {
			if j := jobOf(g.ID); j.ID == id {
				j.Status = ends[g.ID]
				if j.Status == "" {
					j.Status = hvagent.JobComplete
				}
				if j.Status == hvagent.JobError {
					j.Message, j.Error = "guest is not running", hvagent.ECONFLICT
				}
				return j, nil
			}
		}
		return nil, hvagent.Errorf(hvagent.ENOTFOUND, "job %s not found", id)
	}
	return &calls
}

func TestGuestAction_Many(t *testing.T) {
	t.Parallel()
	web1, web2, db1 := resolveGuests[0].ID, resolveGuests[1].ID, resolveGuests[2].ID
	t.Run("WaitAll", func(t *testing.T) {
		t.Parallel()
		b := setupResolve(t)
		calls := multiFake(b, nil)
		require.Equal(t, exitOK, b.run(t.Context(), "guest", "start", "web1", "abcd0", "web1", "--wait", "-o", "json"))
		require.Equal(t, []string{web1, db1}, *calls, "each guest once, by ID")
		var jobs []*hvagent.Job
		require.NoError(t, json.Unmarshal(b.out.Bytes(), &jobs))
		require.Len(t, jobs, 2)
		for _, j := range jobs {
			require.Equal(t, hvagent.JobComplete, j.Status)
		}
	})
	t.Run("WorstExitCode", func(t *testing.T) {
		t.Parallel()
		b := setupResolve(t)
		multiFake(b, map[string]hvagent.JobStatus{web1: hvagent.JobError, web2: hvagent.JobCanceled})
		code := b.run(t.Context(), "guest", "start", "web1", "abcd", "db1", "--wait")
		require.Equal(t, exitCanceled, code, "canceled (7) is worse than a conflict (4)")
		lines := strings.Split(strings.TrimSpace(b.out.String()), "\n")
		require.Len(t, lines, 4, "one table of the three jobs: %s", b.out.String())
		require.Regexp(t, `^ID\s+GUEST`, lines[0])
		errs := b.errOut.String()
		require.Contains(t, errs, "hvctl: job 9"+web1[1:]+" (start) failed: guest is not running\n")
		require.True(t, strings.HasSuffix(errs, "hvctl: job 9"+web2[1:]+" (start) was canceled\n"), errs)
	})
	t.Run("QueueErrorOfOneGuest", func(t *testing.T) {
		t.Parallel()
		b := setupResolve(t)
		calls := multiFake(b, map[string]hvagent.JobStatus{db1: hvagent.JobQueued})
		require.Equal(t, exitConflict, b.run(t.Context(), "guest", "start", "db1", "web1", "-q"))
		require.Equal(t, []string{db1, web1}, *calls, "the other guests still get their job")
		require.Equal(t, "9"+web1[1:]+"\n", b.out.String())
		require.Contains(t, b.errOut.String(), "hvctl: start guest "+db1+": queue of guest "+db1+" is full")
	})
	t.Run("UnknownGuestQueuesNothing", func(t *testing.T) {
		t.Parallel()
		b := setupResolve(t)
		calls := multiFake(b, nil)
		require.Equal(t, exitNotFound, b.run(t.Context(), "guest", "start", "web1", "web9"))
		require.Empty(t, *calls)
		require.Equal(t, "hvctl: guest \"web9\" not found\n", b.errOut.String())
	})
	t.Run("AmbiguousQueuesNothing", func(t *testing.T) {
		t.Parallel()
		b := setupResolve(t)
		calls := multiFake(b, nil)
		require.Equal(t, exitUsage, b.run(t.Context(), "guest", "delete", "web1", "0b0c"))
		require.Empty(t, *calls)
	})
}

func TestGuestRename(t *testing.T) {
	t.Parallel()
	t.Run("Run", func(t *testing.T) {
		t.Parallel()
		b := setupResolve(t)
		var got [2]string
		b.fake.RenameGuestFunc = func(_ context.Context, guest, name string) (*hvagent.Guest, error) {
			got = [2]string{guest, name}
			g := *resolveGuests[0]
			g.Name = name
			return &g, nil
		}
		require.Equal(t, exitOK, b.run(t.Context(), "guest", "rename", "web1", "front"))
		require.Equal(t, [2]string{resolveGuests[0].ID, "front"}, got)
		require.Regexp(t, `(?m)^Name:\s+front$`, b.out.String())
		require.Equal(t, exitOK, b.run(t.Context(), "guest", "rename", "web1", "", "-q"))
		require.Equal(t, [2]string{resolveGuests[0].ID, ""}, got, `"" removes the name`)
	})
	t.Run("ErrBadName", func(t *testing.T) {
		t.Parallel()
		b := setupResolve(t)
		require.Equal(t, exitUsage, b.run(t.Context(), "guest", "rename", "web1", "Front"))
		require.Contains(t, b.errOut.String(), `guest name "Front" has 'F'`)
	})
	t.Run("ErrConflict", func(t *testing.T) {
		t.Parallel()
		b := setupResolve(t)
		b.fake.RenameGuestFunc = func(context.Context, string, string) (*hvagent.Guest, error) {
			return nil, hvagent.Errorf(hvagent.ECONFLICT, `guest name "db1" is taken by guest %s`, resolveGuests[2].ID)
		}
		require.Equal(t, exitConflict, b.run(t.Context(), "guest", "rename", "web1", "db1"))
		require.Contains(t, b.errOut.String(), resolveGuests[2].ID)
	})
}

func TestGuestCreate_Name(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var got *GuestCreateOptions
	require.NoError(t, parse(newCmdGuestCreate(b.f, capture(&got)), "--name", "web1", "--disk", "size=8"))
	require.Equal(t, "web1", got.Guest.Name)
	requireUsage(t, parse(newCmdGuestCreate(b.f, capture(&got)), "--name", "0b0c9d8e-5d3a-4f0e-9a57-3c1f2b6a7d10"), "--name")
	requireUsage(t, parse(newCmdGuestCreate(b.f, capture(&got)), "--name", "web1", "-f", "g.json"), "--name")
}
