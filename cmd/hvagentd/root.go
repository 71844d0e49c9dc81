package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/host"
	"github.com/hvagent/hvagent/internal/logtext"
)

// run executes the command line args until it is done or ctx ends (SIGINT
// and SIGTERM end it too) and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	return report(stderr, cmd, err)
}

// newRootCmd returns the hvagentd command with all its subcommands. Run
// without a subcommand, it is the daemon.
func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	m := NewMain()
	m.Stderr = stderr
	var flags *flagSet
	root := &cobra.Command{
		Use:   "hvagentd [flags]",
		Short: "hvagent daemon: a per-host hypervisor agent",
		Long: "hvagentd runs the hvagent REST API on a unix socket (always), on TCP (--listen) and on an\n" +
			"optional admin listener (--admin-listen). Settings come from flags, HVAGENT_* environment\n" +
			"variables and the config file, in that order of precedence. Without a config file it runs the\n" +
			"embedded default: " + host.DefaultDescription + ", every action wired.\n" +
			"SIGINT or SIGTERM stop it gracefully; a second one forces the exit." + exitCodeHelp,
		Version:       hvagent.Version,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := m.configure(flags); err != nil {
				return err
			}
			return serveUntilSignal(cmd.Context(), m)
		},
	}
	flags = registerFlags(root.Flags())
	registerFlagCompletions(root)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate(versionText())
	root.InitDefaultVersionFlag() // now, so that --help and the docs show it
	root.Flags().Lookup("version").Usage = "print the version and the built-in drivers (as the version command)"
	root.SetFlagErrorFunc(flagError)
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(newSubagentCmd(), newVersionCmd(), newCompletionCmd())
	return root
}

// serveUntilSignal runs m until ctx ends (the first SIGINT or SIGTERM) or a
// listener fails, then closes it gracefully. A second signal during the
// graceful stop returns at once with an error.
func serveUntilSignal(ctx context.Context, m *Main) error {
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		return err
	}
	var failure error
	select {
	case <-ctx.Done():
		m.Logger.Info().Msg("stopping: signal received")
	case failure = <-m.failed:
		m.Logger.Error().Err(failure).Msg("stopping: a listener failed")
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	stopping := time.Now()
	done := make(chan error, 1)
	go func() { done <- m.Close() }()
	select {
	case err := <-done:
		if failure != nil {
			return failure
		}
		return err
	case sig := <-sigs:
		m.Logger.Warn().Str("signal", sig.String()).Str("took", logtext.Duration(time.Since(stopping))).
			Msg("second signal: exiting without finishing the graceful stop")
		return fmt.Errorf("%s during the graceful stop: forced exit", sig)
	}
}
