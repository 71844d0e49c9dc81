package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestGuestStop_Flags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var got *GuestActionOptions
	require.NoError(t, parse(newCmdGuestStop(b.f, capture(&got)), guestID))
	require.Equal(t, hvagent.ActionShutdown, got.Action)
	require.Equal(t, []string{guestID}, got.IDs)
	require.NoError(t, parse(newCmdGuestStop(b.f, capture(&got)), guestID, "--force", "--wait"))
	require.Equal(t, hvagent.ActionPoweroff, got.Action)
	require.True(t, got.Async.Wait)
	cmd := newCmdGuestStop(b.f, nil)
	require.Equal(t, "stop", cmd.Name())
	require.NotContains(t, cmd.Example, "shutdown")
}
