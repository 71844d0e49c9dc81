package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
)

// GuestRenameOptions are the options of `hvctl guest rename`.
type GuestRenameOptions struct {
	cmdBase
	Out outputOptions
	// ID is the guest: an ID, a name or an ID prefix.
	ID string
	// Name is the new name; "" removes the guest's name.
	Name string
}

// newCmdGuestRename returns `hvctl guest rename`.
func newCmdGuestRename(f *Factory, runF func(*GuestRenameOptions) error) *cobra.Command {
	opts := &GuestRenameOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:   "rename GUEST NEW_NAME",
		Short: "Rename a guest",
		Long: "Give a guest a new name, at once (no job). A name is unique on the host: 1 to 63 of a-z,\n" +
			"0-9 and -, not starting or ending with -, not a UUID and not \"agent\". An empty NEW_NAME\n" +
			"(\"\") removes the guest's name. The guest's jobs carry the new name. Prints the guest.\n\n" + guestArgHelp,
		Example: "  hvctl guest rename web1 web-frontend\n  hvctl guest rename 0b0c9d8e web2\n  hvctl guest rename web2 \"\"",
		Args:    exactArgs("GUEST", "NEW_NAME"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return completeGuestIDs(f)(cmd, args, toComplete)
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
	}
	addOutputFlags(cmd, &opts.Out)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, guestRenameRun, func(args []string) error {
		opts.ID, opts.Name = args[0], args[1]
		if opts.Name != "" {
			if err := hvagent.ValidateGuestName(opts.Name); err != nil {
				return &usageError{err: err}
			}
		}
		return opts.Out.validate()
	})
	return cmd
}

func guestRenameRun(opts *GuestRenameOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	g, err := svc.RenameGuest(opts.context(), opts.ID, opts.Name)
	if err != nil {
		return err
	}
	if g == nil {
		return errors.New("rename: the agent returned no guest")
	}
	return writeGuest(opts.IO.Out, opts.Out, g)
}
