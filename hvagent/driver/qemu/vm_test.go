package qemu

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExitState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                     string
		byCall, selfOff, inOrder bool
		reason                   string
		state, why               string
	}{
		{"Poweroff", true, false, true, "host-qmp-quit", StateShutoff, ""},
		{"GuestPoweroff", false, true, true, "host-qmp-quit", StateShutoff, "the guest powered itself off"},
		{"SIGTERM", false, false, true, "host-signal", StateShutoff, "qemu was stopped outside the driver (host-signal)"},
		{"QuitElsewhere", false, false, true, "host-qmp-quit", StateShutoff, "qemu was stopped outside the driver (host-qmp-quit)"},
		// The SHUTDOWN event may not get out before QEMU exits; the pidfile
		// QEMU removed still tells an orderly exit.
		{"InOrderNoEvent", false, false, true, "", StateShutoff, "qemu was stopped outside the driver"},
		{"Killed", false, false, false, "", StateCrashed, "qemu exited unexpectedly"},
		{"KilledAfterGuestReset", false, false, false, "guest-reset", StateCrashed, "qemu exited unexpectedly"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state, why := exitState(tc.byCall, tc.selfOff, tc.inOrder, tc.reason)
			require.Equal(t, tc.state, state)
			require.Equal(t, tc.why, why)
		})
	}
}
