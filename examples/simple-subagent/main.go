// Command simple-subagent is the smallest useful hvagent sub-agent: one
// method, Simple.DoStuff, that echoes the guest it gets and fails a chosen
// percentage of the time. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// options are the command-line flags.
type options struct {
	port    int
	percent int
}

// parseFlags parses args; the percentage is clamped to 0..100.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := pflag.NewFlagSet("simple-subagent", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.IntVarP(&o.port, "port", "p", 21356, "port to listen on (127.0.0.1; 0 picks a free one)")
	fs.IntVarP(&o.percent, "percent", "c", 50, "percentage of calls that fail (0-100)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.percent = min(max(o.percent, 0), 100)
	return o, nil
}

// run runs the program until SIGINT or SIGTERM and returns its exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runContext(ctx, args, stdout, stderr)
}

// runContext serves until ctx ends. It prints "listening on <addr>" to
// stdout once listening and logs to stderr.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "simple-subagent: %v\n", err)
		return 2
	}
	logger := zerolog.New(stderr).With().Timestamp().Logger()
	ready := func(addr string) {
		_, _ = fmt.Fprintf(stdout, "listening on %s\n", addr)
		logger.Info().Str("addr", addr).Int("percent", opts.percent).Msg("simple-subagent started")
	}
	addr := fmt.Sprintf("127.0.0.1:%d", opts.port)
	if err := subagent.ListenAndServe(ctx, addr, newServer(opts.percent, logger), ready); err != nil {
		logger.Error().Err(err).Msg("simple-subagent failed")
		return 1
	}
	return 0
}
