package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// run executes hvctl with args and returns its exit code. SIGINT and
// SIGTERM cancel the command's context once; a second one kills hvctl.
func run(args []string, ios *IOStreams, getenv func(string) string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // let a second Ctrl-C kill the process
	}()
	return runContext(ctx, args, ios, getenv)
}

// runContext executes hvctl with args until ctx ends, releases what the
// command opened (a --local agent) and returns the exit code.
func runContext(ctx context.Context, args []string, ios *IOStreams, getenv func(string) string) int {
	f, conn := newFactory(ios, getenv)
	root := newRootCmd(f, conn)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if cerr := conn.Close(); err == nil {
		err = cerr
	}
	return report(ios.ErrOut, cmd, conn.explain(err))
}

// report prints err (one line, plus a usage hint for usage errors) and
// returns the exit code; cmd is the command that ran.
func report(errOut io.Writer, cmd *cobra.Command, err error) int {
	if err == nil {
		return exitOK
	}
	_, _ = fmt.Fprintln(errOut, errorLine(err))
	var u *usageError
	if errors.As(err, &u) && cmd != nil {
		_, _ = fmt.Fprintf(errOut, "Usage: %s\nRun '%s --help' for details.\n", usageLine(cmd), cmd.CommandPath())
	}
	return exitCode(err)
}

const rootLong = `hvctl drives hvagent, the per-host hypervisor agent: guests, images, snapshots,
jobs, metadata, events and queues.

It talks to hvagentd at --addr, else $HVAGENT_ADDR, else the daemon's unix socket
<data-dir>/hvagent.sock. With --local it runs the agent in this process on --data-dir
instead, with the daemon's effective config (<data-dir>/config.json) or the embedded
default; --local is refused while hvagentd holds the data dir, and async commands then
always wait.

Data goes to stdout (-o table for people, -o json for scripts, -q for IDs only);
status and progress go to stderr.

`

// newRootCmd returns the hvctl command tree. conn receives the global
// flags; nil gives the flags a place that nothing reads (tests, docs).
func newRootCmd(f *Factory, conn *connector) *cobra.Command {
	if conn == nil {
		conn = &connector{}
	}
	root := &cobra.Command{
		Use:           "hvctl",
		Short:         "Command line of hvagent, the per-host hypervisor agent",
		Long:          rootLong + exitCodeHelp,
		Args:          noArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if conn.local && conn.addr != "" {
				return usageErrorf("--local and --addr cannot be used together")
			}
			return nil
		},
	}
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.CompletionOptions.DisableDefaultCmd = true
	root.DisableAutoGenTag = true
	setUsage(root)

	pf := root.PersistentFlags()
	pf.StringVar(&conn.addr, "addr", "", "hvagentd address: unix:///path, http[s]://host:port, host:port, or a port alone\n(:8080 or 8080 = 127.0.0.1:8080) (default $HVAGENT_ADDR, else unix://<data-dir>/hvagent.sock)")
	pf.StringVar(&conn.token, "token", "", "API token sent to hvagentd (default $HVAGENT_TOKEN)")
	pf.BoolVar(&conn.local, "local", false, "run the agent in this process on --data-dir instead of talking to hvagentd")
	pf.StringVar(&conn.dataDir, "data-dir", "", "data dir of the agent (default $HVAGENT_DATA_DIR, else /var/lib/hvagent as root,\nelse $XDG_STATE_HOME/hvagent or ~/.local/state/hvagent)")

	root.AddGroup(&cobra.Group{ID: "agent", Title: "Agent commands:"}, &cobra.Group{ID: "tool", Title: "Other commands:"})
	for _, c := range []*cobra.Command{
		newCmdGuest(f), newCmdImage(f), newCmdSnapshot(f), newCmdJob(f),
		newCmdMetadata(f), newCmdEvents(f, nil), newCmdQueue(f),
	} {
		c.GroupID = "agent"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{newCmdConfig(f), newCmdToken(f), newCmdCompletion(f, nil), newCmdVersion(f, nil)} {
		c.GroupID = "tool"
		root.AddCommand(c)
	}
	root.SetHelpCommandGroupID("tool")
	return root
}

// noArgs rejects arguments: on a command with subcommands, an argument is an
// unknown subcommand.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return unknownCommand(cmd, args[0])
	}
	return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
}

// exactArgs requires the arguments named by names.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < len(names) {
			return usageErrorf("%s needs %s", cmd.CommandPath(), names[len(args)])
		}
		if len(args) > len(names) {
			return usageErrorf("%s takes %d argument(s), got %d", cmd.CommandPath(), len(names), len(args))
		}
		return nil
	}
}

// rangeArgs requires at least min and at most max arguments; the first
// missing one is named by names.
func rangeArgs(lo, hi int, names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo {
			return usageErrorf("%s needs %s", cmd.CommandPath(), names[len(args)])
		}
		if hi >= 0 && len(args) > hi {
			return usageErrorf("%s takes at most %d argument(s), got %d", cmd.CommandPath(), hi, len(args))
		}
		return nil
	}
}

// newNounCmd returns a command that only groups subcommands.
func newNounCmd(use, short, long string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(subs...)
	cmd.AddCommand(newCmdHelp(cmd, true))
	return cmd
}
