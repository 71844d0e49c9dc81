package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
)

// guestPageSize is how many guests one list request asks for.
const guestPageSize = 1000

// newCmdGuest returns `hvctl guest` and its subcommands.
func newCmdGuest(f *Factory) *cobra.Command {
	subs := []*cobra.Command{
		newCmdGuestList(f, nil), newCmdGuestShow(f, nil), newCmdGuestCreate(f, nil), newCmdGuestRename(f, nil),
	}
	for _, spec := range guestActionSpecs {
		subs = append(subs, newCmdGuestAction(f, spec, nil))
	}
	subs = append(subs, newCmdGuestStop(f, nil), newCmdGuestMetrics(f, nil), newCmdGuestConsole(f, nil), newCmdGuestMetadata(f))
	return newNounCmd("guest", "Manage guests (virtual machines and containers)",
		"Create, list, inspect and drive the lifecycle of guests. Lifecycle commands queue a job\n"+
			"(one at a time per guest, in order); --wait waits for it to end.", subs...)
}

// GuestListOptions are the options of `hvctl guest list`.
type GuestListOptions struct {
	cmdBase
	Out outputOptions
	// Limit caps the number of guests; 0 lists them all.
	Limit int
}

// newCmdGuestList returns `hvctl guest list`.
func newCmdGuestList(f *Factory, runF func(*GuestListOptions) error) *cobra.Command {
	opts := &GuestListOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List guests",
		Long:    "List guests, ordered by ID, with their names.",
		Example: "  hvctl guest list\n  hvctl guest list -o json\n  hvctl guest list -q | xargs -n1 hvctl guest start",
		Args:    noArgs,
	}
	addOutputFlags(cmd, &opts.Out)
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "list at most this many guests (0 = all)")
	cmd.RunE = runE(opts, &opts.cmdBase, runF, guestListRun, func([]string) error {
		if opts.Limit < 0 {
			return flagError("limit", "must not be negative")
		}
		return opts.Out.validate()
	})
	return cmd
}

// guestListRun lists guests page by page.
func guestListRun(opts *GuestListOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	guests := []*hvagent.Guest{}
	after := ""
	for {
		n := guestPageSize
		if opts.Limit > 0 {
			n = min(n, opts.Limit-len(guests))
		}
		page, err := svc.Guests(opts.context(), hvagent.GuestFilter{Limit: n, After: after})
		if err != nil {
			return err
		}
		guests = append(guests, page...)
		if len(page) < n || (opts.Limit > 0 && len(guests) >= opts.Limit) {
			break
		}
		after = page[len(page)-1].ID
	}
	return writeGuests(opts.IO.Out, opts.Out, guests)
}

// writeGuests prints guests as a table, JSON or IDs.
func writeGuests(w io.Writer, o outputOptions, guests []*hvagent.Guest) error {
	switch {
	case o.json():
		return writeJSON(w, guests)
	case o.Quiet:
		ids := make([]string, len(guests))
		for i, g := range guests {
			ids[i] = g.ID
		}
		return writeLines(w, ids)
	}
	t := newTable(w, "ID", "NAME", "TYPE", "STATE", "CPU", "MEMORY", "DISKS", "NICS")
	for _, g := range guests {
		t.row(g.ID, g.Name, guestType(g), g.State, fmtUint(g.CPU), fmtMB(uint64(g.Memory)), fmtUint(len(g.Disks)), fmtUint(len(g.Nics)))
	}
	return t.flush()
}

// guestType names a guest's type for people: "vm" when unset.
func guestType(g *hvagent.Guest) string {
	if g.Type == "" {
		return "vm"
	}
	return g.Type
}

// fmtMB formats a size in MB; "" when 0.
func fmtMB(mb uint64) string {
	if mb == 0 {
		return ""
	}
	return fmt.Sprintf("%d MB", mb)
}

// GuestShowOptions are the options of `hvctl guest show`.
type GuestShowOptions struct {
	cmdBase
	Out outputOptions
	ID  string
}

// newCmdGuestShow returns `hvctl guest show`.
func newCmdGuestShow(f *Factory, runF func(*GuestShowOptions) error) *cobra.Command {
	opts := &GuestShowOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:               "show GUEST",
		Short:             "Show a guest",
		Long:              "Show one guest: its name, resources, state and metadata.\n\n" + guestArgHelp,
		Example:           "  hvctl guest show web1\n  hvctl guest show 0b0c9d8e -o json",
		Args:              exactArgs("GUEST"),
		ValidArgsFunction: completeGuestIDs(f),
	}
	addOutputFlags(cmd, &opts.Out)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, guestShowRun, func(args []string) error {
		opts.ID = args[0]
		return opts.Out.validate()
	})
	return cmd
}

func guestShowRun(opts *GuestShowOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	g, err := svc.Guest(opts.context(), opts.ID)
	if err != nil {
		return err
	}
	return writeGuest(opts.IO.Out, opts.Out, g)
}

// writeGuest prints one guest in detail, as JSON or its ID.
func writeGuest(w io.Writer, o outputOptions, g *hvagent.Guest) error {
	switch {
	case o.json():
		return writeJSON(w, g)
	case o.Quiet:
		return writeLines(w, []string{g.ID})
	}
	f := newFields(w)
	f.add("ID", g.ID)
	f.add("Name", dash(g.Name))
	f.add("Type", guestType(g))
	f.add("State", g.State)
	f.add("CPU", fmtUint(g.CPU))
	f.add("Memory", fmtMB(uint64(g.Memory)))
	if g.Image != "" {
		f.add("Image", g.Image)
	}
	for i, d := range g.Disks {
		f.add(fmt.Sprintf("Disk %d", i), describeDisk(d))
	}
	for i, n := range g.Nics {
		f.add(fmt.Sprintf("NIC %d", i), describeNic(n))
	}
	if b := g.Boot; b != nil {
		f.add("Kernel", b.Kernel)
		f.add("Initrd", b.Initrd)
		f.add("Cmdline", b.Cmdline)
	}
	if g.VNC != 0 {
		f.add("VNC", fmt.Sprint(g.VNC))
	}
	f.add("Autostart", fmt.Sprint(g.Autostart))
	f.add("Metadata", fmtMap(g.Metadata))
	return f.flush()
}

// describeDisk is one line about a disk.
func describeDisk(d hvagent.Disk) string {
	parts := []string{}
	for _, kv := range [][2]string{{"device", d.Device}, {"bus", d.Bus}, {"image", d.Image}, {"size", fmtMB(d.Size)}, {"volume", d.Volume}, {"source", d.Source}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+kv[1])
		}
	}
	return strings.Join(parts, ", ")
}

// describeNic is one line about a NIC.
func describeNic(n hvagent.Nic) string {
	parts := []string{}
	for _, kv := range [][2]string{{"name", n.Name}, {"network", n.Network}, {"model", n.Model}, {"mac", n.MAC}, {"address", n.Address}, {"device", n.Device}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+kv[1])
		}
	}
	return strings.Join(parts, ", ")
}

// guestActionSpec describes one lifecycle command.
type guestActionSpec struct {
	action, short, long string
}

// guestActionSpecs are the lifecycle commands, in help order.
var guestActionSpecs = []guestActionSpec{
	{hvagent.ActionStart, "Start a guest", "Boot a stopped guest. A guest that is already running stays so, and the job succeeds."},
	{hvagent.ActionShutdown, "Shut a guest down gracefully", "Ask the guest's OS to shut down. A stopped guest stays so, and the job succeeds."},
	{hvagent.ActionReboot, "Reboot a running guest", "Reboot a running guest gracefully."},
	{hvagent.ActionRestart, "Restart a running guest", "Restart a running guest (the driver decides how: a reset, or stop and start)."},
	{hvagent.ActionPoweroff, "Power a guest off at once", "Stop a guest at once, like pulling the plug. A stopped guest stays so, and the job succeeds.\nA shutdown of the guest still running (a guest that ignores it) is canceled: it is\noverruled, and the poweroff runs after the jobs queued before it."},
	{hvagent.ActionSuspend, "Suspend (pause) a running guest", "Pause a running guest. A paused guest stays so, and the job succeeds."},
	{hvagent.ActionResume, "Resume a suspended guest", "Run a paused guest again. A running guest stays so, and the job succeeds."},
	{hvagent.ActionDelete, "Delete a guest", "Delete a guest and its disks. Jobs queued behind the delete end Canceled; the guest's\njob history is kept (hvctl job list --guest ID)."},
}

// GuestActionOptions are the options of the lifecycle commands
// (`hvctl guest start` and its siblings).
type GuestActionOptions struct {
	cmdBase
	Out   outputOptions
	Async asyncOptions
	// Action is the base action name ("start", "reboot", …).
	Action string
	// IDs are the guests: IDs, names or ID prefixes.
	IDs []string
}

// newCmdGuestAction returns the lifecycle command of spec.
func newCmdGuestAction(f *Factory, spec guestActionSpec, runF func(*GuestActionOptions) error) *cobra.Command {
	opts := &GuestActionOptions{cmdBase: newBase(f), Action: spec.action}
	cmd := &cobra.Command{
		Use:   spec.action + " GUEST...",
		Short: spec.short,
		Long: spec.long + "\n\n" + guestArgHelp + "\n\nThe action is queued as a job per guest, after the guest's earlier jobs. It prints\n" +
			"the jobs; with --wait it waits for each to end (--timeout bounds each wait). With several\n" +
			"guests, every one is looked up before any job is queued, and the exit code is the\n" +
			"highest of theirs (the table in hvctl --help).",
		Example: fmt.Sprintf("  hvctl guest %s web1\n  hvctl guest %s web1 web2 --wait\n  hvctl guest %s 0b0c --wait --timeout 2m -o json",
			spec.action, spec.action, spec.action),
		Args:              rangeArgs(1, -1, "GUEST"),
		ValidArgsFunction: completeEach(completeGuestIDs(f)),
	}
	addOutputFlags(cmd, &opts.Out)
	addAsyncFlags(cmd, &opts.Async, f)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, guestActionRun, func(args []string) error {
		opts.IDs = args
		return validateAsync(&opts.Out, &opts.Async)
	})
	return cmd
}

// guestArgHelp says what a GUEST argument may be.
const guestArgHelp = "A GUEST is a guest's ID, its name, or a prefix of its ID of at least 4 characters that\n" +
	"no other guest's ID shares."

func guestActionRun(opts *GuestActionOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	subs := make([]submission, len(opts.IDs))
	for i, id := range opts.IDs {
		subs[i] = submission{action: opts.Action, guest: id}
	}
	return runAsyncMany(opts.context(), opts.IO, svc, opts.Out, opts.Async, subs)
}
