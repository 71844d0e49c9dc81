// Command test-rpc-service is a stub sub-agent implementing every method an
// hvagent action can call, with canned answers; agent.json wires every
// action to it. Use it to try the agent without a hypervisor. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// options are the program's flags.
type options struct {
	port     int
	compress bool // gzip replies when the client accepts it
	quiet    bool // no log line per call
}

// parseFlags parses args.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := pflag.NewFlagSet("test-rpc-service", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVarP(&o.port, "port", "p", 9999, "port to listen on (127.0.0.1; 0 picks a free one)")
	fs.BoolVar(&o.compress, "compress", false, "compress replies with gzip when the client accepts it, as the original mistify sub-agents do")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "log no line per call")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
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
		_, _ = fmt.Fprintf(stderr, "test-rpc-service: %v\n", err)
		return 2
	}
	logger := zerolog.New(stderr).With().Timestamp().Logger()
	ready := func(addr string) {
		_, _ = fmt.Fprintf(stdout, "listening on %s\n", addr)
		logger.Info().Str("addr", addr).Bool("compress", opts.compress).Msg("test-rpc-service started")
	}
	callLog := logger
	if opts.quiet {
		callLog = zerolog.Nop()
	}
	var h http.Handler = newServer(callLog)
	if opts.compress {
		h = gzipReplies(h)
	}
	if err := subagent.ListenAndServe(ctx, fmt.Sprintf("127.0.0.1:%d", opts.port), h, ready); err != nil {
		logger.Error().Err(err).Msg("test-rpc-service failed")
		return 1
	}
	return 0
}
