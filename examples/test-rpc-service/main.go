// Command test-rpc-service is a stub sub-agent implementing every method an
// hvagent action can call, with canned answers; agent.json wires every
// action to it. Use it to try the agent without a hypervisor. See README.md.
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

// parseFlags parses args and returns the port.
func parseFlags(args []string, stderr io.Writer) (int, error) {
	fs := pflag.NewFlagSet("test-rpc-service", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.IntP("port", "p", 9999, "port to listen on (127.0.0.1; 0 picks a free one)")
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	return *port, nil
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
	port, err := parseFlags(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "test-rpc-service: %v\n", err)
		return 2
	}
	logger := zerolog.New(stderr).With().Timestamp().Logger()
	ready := func(addr string) {
		_, _ = fmt.Fprintf(stdout, "listening on %s\n", addr)
		logger.Info().Str("addr", addr).Msg("test-rpc-service started")
	}
	if err := subagent.ListenAndServe(ctx, fmt.Sprintf("127.0.0.1:%d", port), newServer(logger), ready); err != nil {
		logger.Error().Err(err).Msg("test-rpc-service failed")
		return 1
	}
	return 0
}
