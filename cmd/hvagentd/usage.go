package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes of hvagentd.
const (
	exitOK      = 0
	exitFailure = 1 // the daemon or a command failed
	exitUsage   = 2 // bad command line: unknown flag, command or argument, bad flag value
)

// exitCodeHelp ends the root command's long help.
const exitCodeHelp = `

Exit codes:
  0    stopped gracefully, or the command succeeded
  1    failed: bad config file, a listener or the agent could not start, forced stop
  2    usage: unknown flag, command or argument, or a bad flag value`

// usageError is a bad command line: exit code 2, with the usage line.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf returns a usage error with a formatted message.
func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// noArgs rejects arguments: on a command with subcommands, an argument is
// an unknown subcommand.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
}

// flagError makes every flag error of cmd's tree a usage error.
func flagError(_ *cobra.Command, err error) error { return &usageError{err: err} }

// report prints err on one line, then the usage lines for a usage error,
// and returns the exit code; cmd is the command that ran.
func report(stderr io.Writer, cmd *cobra.Command, err error) int {
	if err == nil {
		return exitOK
	}
	_, _ = fmt.Fprintf(stderr, "hvagentd: %v\n", err)
	var u *usageError
	if !errors.As(err, &u) {
		return exitFailure
	}
	if cmd != nil {
		_, _ = fmt.Fprintf(stderr, "Usage: %s\n", cmd.UseLine())
		if cmd.HasAvailableSubCommands() {
			_, _ = fmt.Fprintf(stderr, "       %s [command]\n", cmd.CommandPath())
		}
		_, _ = fmt.Fprintf(stderr, "Run '%s --help' for details.\n", cmd.CommandPath())
	}
	return exitUsage
}

// needFlags rejects arguments, as noArgs does, and requires the named
// flags: a usage error naming the first missing one. (Cobra's own check of
// required flags comes too late to be told apart from a failure.)
func needFlags(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := noArgs(cmd, args); err != nil {
			return err
		}
		for _, n := range names {
			if !cmd.Flags().Changed(n) {
				return usageErrorf("%s needs --%s", cmd.CommandPath(), n)
			}
		}
		return nil
	}
}
