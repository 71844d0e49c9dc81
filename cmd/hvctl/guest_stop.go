package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
)

// newCmdGuestStop returns `hvctl guest stop`: shutdown, or with --force
// poweroff, as incus and virsh users type it.
func newCmdGuestStop(f *Factory, runF func(*GuestActionOptions) error) *cobra.Command {
	var force bool
	run := func(opts *GuestActionOptions) error {
		if force {
			opts.Action = hvagent.ActionPoweroff
		}
		if runF != nil {
			return runF(opts)
		}
		return guestActionRun(opts)
	}
	cmd := newCmdGuestAction(f, guestActionSpec{
		action: hvagent.ActionShutdown,
		short:  "Stop a guest: shut it down, or power it off with --force",
		long: "Stop a guest: ask its OS to shut down (as `hvctl guest shutdown`), or with --force stop it\n" +
			"at once, like pulling the plug (as `hvctl guest poweroff`), overruling a shutdown still\n" +
			"running. A stopped guest stays so, and the job succeeds.",
	}, run)
	cmd.Use = "stop" + strings.TrimPrefix(cmd.Use, hvagent.ActionShutdown)
	cmd.Example = strings.ReplaceAll(cmd.Example, "hvctl guest "+hvagent.ActionShutdown+" ", "hvctl guest stop ")
	cmd.Example += "\n  hvctl guest stop web1 --force --wait"
	cmd.Flags().BoolVar(&force, "force", false, "power the guest off at once instead of shutting it down")
	return cmd
}
