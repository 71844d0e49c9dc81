package main

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// Guests and jobs of the resolution tests: two guest IDs share the prefix
// 0b0c9d8e, two job IDs the prefix 5e2f7a1c.
var (
	resolveGuests = []*hvagent.Guest{
		{ID: "0b0c9d8e-0000-4000-8000-000000000001", Name: "web1", State: "running"},
		{ID: "0b0c9d8e-0000-4000-8000-000000000002", Name: "abcd"},
		{ID: "abcd0000-0000-4000-8000-000000000003", Name: "db1", State: "shutoff"},
	}
	resolveJobs = []*hvagent.Job{
		{ID: "5e2f7a1c-0000-4000-8000-000000000001", Action: "start", Status: hvagent.JobComplete},
		{ID: "5e2f7a1c-0000-4000-8000-000000000002", Action: "reboot", Status: hvagent.JobError},
		{ID: "77770000-0000-4000-8000-000000000003", Action: "create", Status: hvagent.JobQueued},
	}
)

// setupResolve returns a bundle whose fake knows resolveGuests (by ID and
// by name, as the agent does) and resolveJobs, served one per page.
func setupResolve(t *testing.T) *bundle {
	b := setup(t)
	b.fake.GuestFunc = func(_ context.Context, ref string) (*hvagent.Guest, error) {
		for _, g := range resolveGuests {
			if g.ID == ref || g.Name == ref {
				return g, nil
			}
		}
		return nil, hvagent.Errorf(hvagent.ENOTFOUND, "guest %q not found", ref)
	}
	b.fake.GuestsFunc = func(_ context.Context, f hvagent.GuestFilter) ([]*hvagent.Guest, error) {
		return resolveGuests, nil
	}
	b.fake.JobsFunc = func(_ context.Context, f hvagent.JobFilter) ([]*hvagent.Job, error) {
		return resolveJobs, nil
	}
	return b
}

func TestResolver_Guest(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	r := &resolver{Service: setupResolve(t).fake}
	for ref, want := range map[string]string{
		"0b0c9d8e-0000-4000-8000-000000000001": "0b0c9d8e-0000-4000-8000-000000000001",
		"0B0C9D8E-0000-4000-8000-000000000002": "0b0c9d8e-0000-4000-8000-000000000002",
		"web1":                                 "0b0c9d8e-0000-4000-8000-000000000001",
		"abcd":                                 "0b0c9d8e-0000-4000-8000-000000000002", // a name before a prefix
		"abcd0":                                "abcd0000-0000-4000-8000-000000000003",
		"0b0c9d8e-0000-4000-8000-0000000000":   "", // ambiguous
		"0b0c9d8e-0000-4000-8000-00000000000":  "",
	} {
		got, err := r.guestID(ctx, ref)
		if want == "" {
			requireUsage(t, err, "is ambiguous")
			continue
		}
		require.NoError(t, err, ref)
		require.Equal(t, want, got, ref)
	}

	_, err := r.guestID(ctx, "0b0c")
	requireUsage(t, err, `guest ID prefix "0b0c" is ambiguous: it matches `+
		"0b0c9d8e-0000-4000-8000-000000000001 (web1), 0b0c9d8e-0000-4000-8000-000000000002 (abcd); give more characters")
	require.Equal(t, exitUsage, exitCode(err))

	for ref, msg := range map[string]string{
		"web9":  `guest "web9" not found`,
		"0b0":   "an ID prefix needs at least 4 characters",
		"ffff":  `no guest has an ID starting with "ffff"`,
		"FFFF1": `no guest has an ID starting with "FFFF1"`,
	} {
		_, err := r.guestID(ctx, ref)
		require.Equal(t, hvagent.ENOTFOUND, hvagent.ErrorCode(err), "%s: %v", ref, err)
		require.ErrorContains(t, err, msg)
		require.Equal(t, exitNotFound, exitCode(err))
	}
	_, err = r.guestID(ctx, "Web_1")
	requireUsage(t, err, "is not a guest ID, name or ID prefix")
}

func TestResolver_Job(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	r := &resolver{Service: setupResolve(t).fake}
	got, err := r.jobID(ctx, "7777")
	require.NoError(t, err)
	require.Equal(t, resolveJobs[2].ID, got)
	got, err = r.jobID(ctx, "5E2F7A1C-0000-4000-8000-000000000002")
	require.NoError(t, err)
	require.Equal(t, resolveJobs[1].ID, got)

	_, err = r.jobID(ctx, "5e2f")
	requireUsage(t, err, `job ID prefix "5e2f" is ambiguous: it matches 5e2f7a1c-0000-4000-8000-000000000001 (start Complete), `+
		"5e2f7a1c-0000-4000-8000-000000000002 (reboot Error)")
	_, err = r.jobID(ctx, "5e2")
	requireUsage(t, err, "at least 4 characters")
	_, err = r.jobID(ctx, "web1")
	requireUsage(t, err, "give a job ID or a unique prefix")
	_, err = r.jobID(ctx, "8888")
	require.Equal(t, hvagent.ENOTFOUND, hvagent.ErrorCode(err))
}

func TestResolver_Paging(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var guests []*hvagent.Guest
	for i := range pageSize + 1 {
		guests = append(guests, &hvagent.Guest{ID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", i)})
	}
	guests[pageSize].ID = "feed0000-0000-4000-8000-000000000001"
	var afters []string
	b.fake.GuestsFunc = func(_ context.Context, f hvagent.GuestFilter) ([]*hvagent.Guest, error) {
		afters = append(afters, f.After)
		start := 0
		if f.After != "" {
			start = slices.IndexFunc(guests, func(g *hvagent.Guest) bool { return g.ID == f.After }) + 1
		}
		return guests[start:min(len(guests), start+f.Limit)], nil
	}
	got, err := (&resolver{Service: b.fake}).guestID(t.Context(), "feed")
	require.NoError(t, err)
	require.Equal(t, guests[pageSize].ID, got, "the match is on the second page")
	require.Equal(t, []string{"", guests[pageSize-1].ID}, afters)
}

func TestResolver_Commands(t *testing.T) {
	t.Parallel()
	t.Run("GuestShowByPrefix", func(t *testing.T) {
		t.Parallel()
		b := setupResolve(t)
		require.Equal(t, exitOK, b.run(t.Context(), "guest", "show", "abcd0"))
		require.Regexp(t, `(?m)^Name:\s+db1$`, b.out.String())
	})
	t.Run("AmbiguousIsUsage", func(t *testing.T) {
		t.Parallel()
		b := setupResolve(t)
		require.Equal(t, exitUsage, b.run(t.Context(), "guest", "start", "0b0c"))
		require.Contains(t, b.errOut.String(), `hvctl: guest ID prefix "0b0c" is ambiguous: it matches 0b0c9d8e-0000-4000-8000-000000000001 (web1)`)
		require.Empty(t, b.out.String())
	})
	t.Run("JobShowByPrefix", func(t *testing.T) {
		t.Parallel()
		b := setupResolve(t)
		var asked string
		b.fake.JobFunc = func(_ context.Context, id string) (*hvagent.Job, error) {
			asked = id
			return resolveJobs[2], nil
		}
		require.Equal(t, exitOK, b.run(t.Context(), "job", "show", "7777", "-q"))
		require.Equal(t, resolveJobs[2].ID, asked)
	})
	t.Run("JobListByName", func(t *testing.T) {
		t.Parallel()
		b := setupResolve(t)
		var filters []hvagent.JobFilter
		b.fake.JobsFunc = func(_ context.Context, f hvagent.JobFilter) ([]*hvagent.Job, error) {
			filters = append(filters, f)
			return []*hvagent.Job{}, nil
		}
		require.Equal(t, exitOK, b.run(t.Context(), "job", "list", "--guest", "db1"))
		require.Equal(t, exitOK, b.run(t.Context(), "job", "list", "--guest", "gone-guest"))
		require.Equal(t, []string{resolveGuests[2].ID, "gone-guest"}, []string{filters[0].GuestID, filters[1].GuestID},
			"a name no guest has goes to the agent, which knows deleted guests' names")
	})
	t.Run("MetadataByName", func(t *testing.T) {
		t.Parallel()
		b := setupResolve(t)
		var asked string
		b.fake.GuestMetadataFunc = func(_ context.Context, id string) (map[string]string, error) {
			asked = id
			return map[string]string{}, nil
		}
		require.Equal(t, exitOK, b.run(t.Context(), "guest", "metadata", "get", "web1"))
		require.Equal(t, resolveGuests[0].ID, asked)
	})
}
