package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestCompletion_Flags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var got *CompletionOptions
	require.NoError(t, parse(newCmdCompletion(b.f, capture(&got)), "zsh"))
	require.Equal(t, "zsh", got.Shell)
	requireUsage(t, parse(newCmdCompletion(b.f, capture(&got)), "tcsh"), `unknown shell "tcsh"`)
	requireUsage(t, parse(newCmdCompletion(b.f, capture(&got))), "needs SHELL")
}

func TestCompletion_Run(t *testing.T) {
	t.Parallel()
	for shell, want := range map[string]string{
		"bash": "__start_hvctl",
		"zsh":  "#compdef hvctl",
		"fish": "complete -c hvctl",
	} {
		t.Run(shell, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			require.Equal(t, exitOK, b.run(t.Context(), "completion", shell))
			require.Contains(t, b.out.String(), want)
		})
	}
}

// complete asks hvctl's completion for args and returns the candidates.
func (b *bundle) complete(t *testing.T, args ...string) []string {
	t.Helper()
	b.out.Reset()
	require.Equal(t, exitOK, b.run(t.Context(), append([]string{"__complete"}, args...)...))
	lines := strings.Split(strings.TrimSpace(b.out.String()), "\n")
	require.True(t, strings.HasPrefix(lines[len(lines)-1], ":"), "the directive ends the output: %q", b.out.String())
	return lines[:len(lines)-1]
}

func TestCompletion_Dynamic(t *testing.T) {
	t.Parallel()
	const otherID = "7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6"
	b := setup(t)
	b.fake.GuestsFunc = func(context.Context, hvagent.GuestFilter) ([]*hvagent.Guest, error) {
		return []*hvagent.Guest{{ID: guestID, State: "running"}, {ID: otherID, Name: "web2", State: "shutoff"}}, nil
	}
	b.fake.JobsFunc = func(_ context.Context, f hvagent.JobFilter) ([]*hvagent.Job, error) {
		require.Equal(t, 100, f.Limit)
		return []*hvagent.Job{newJob("reboot", hvagent.JobComplete)}, nil
	}
	b.fake.DoFunc = func(_ context.Context, action, _ string, _ hvagent.Request) (*hvagent.Result, error) {
		require.Equal(t, hvagent.ActionListImages, action)
		return &hvagent.Result{Body: json.RawMessage(`[{"id":"debian-12","type":""}]`)}, nil
	}
	b.fake.HealthFunc = func(context.Context) (*hvagent.Health, error) {
		return &hvagent.Health{Paused: []string{"fetchImage"}}, nil
	}

	guests := []string{guestID + "\tvm running", "web2\tvm shutoff " + otherID, otherID + "\tvm shutoff"}
	require.Equal(t, guests, b.complete(t, "guest", "show", ""))
	require.Equal(t, guests, b.complete(t, "snapshot", "list", ""))
	require.Equal(t, guests[1:], b.complete(t, "guest", "start", guestID, ""), "each GUEST... is completed")
	require.Equal(t, guests[:1], b.complete(t, "guest", "start", "web2", otherID, ""))
	require.Empty(t, b.complete(t, "guest", "show", guestID, ""), "only the first argument is an ID")
	require.Equal(t, []string{jobID + "\treboot Complete"}, b.complete(t, "job", "wait", ""))
	require.Equal(t, []string{"debian-12\tdisk"}, b.complete(t, "image", "delete", ""))
	require.Equal(t, []string{"fetchImage"}, b.complete(t, "queue", "resume", ""))
	actions := b.complete(t, "job", "list", "--action", "")
	require.Contains(t, actions, "containerReboot")
	require.Contains(t, actions, "reboot")
	require.Equal(t, []string{"cpu", "disk", "nic"}, b.complete(t, "guest", "metrics", guestID, ""))
	require.Equal(t, []string{"table", "json"}, b.complete(t, "job", "list", "-o", ""))
}

func TestCompletion_Unreachable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.f.Service = func() (hvagent.Service, error) {
		return nil, hvagent.Errorf(hvagent.EUNAVAILABLE, "cannot reach hvagentd")
	}
	require.Empty(t, b.complete(t, "guest", "show", ""))
	require.Empty(t, b.complete(t, "queue", "pause", ""))
	require.NotContains(t, b.errOut.String(), "hvctl:", "silently")

	b2 := setup(t)
	b2.fake.GuestsFunc = func(context.Context, hvagent.GuestFilter) ([]*hvagent.Guest, error) {
		return nil, hvagent.Errorf(hvagent.EUNAVAILABLE, "gone")
	}
	require.Empty(t, b2.complete(t, "guest", "start", ""))
}
