// Command webhook-post is a "hook" sub-agent: Webhook.Post announces an
// action on a guest to a Slack-style webhook and passes the guest through
// unchanged, so it can sit anywhere in a pipeline. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// options are the command-line flags.
type options struct {
	port     int
	endpoint string
	timeout  time.Duration
}

// parseFlags parses args; the endpoint is required and must be an http or
// https URL.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := pflag.NewFlagSet("webhook-post", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.IntVarP(&o.port, "port", "p", 31245, "port to listen on (127.0.0.1; 0 picks a free one)")
	fs.StringVarP(&o.endpoint, "endpoint", "e", "", "webhook URL to post to (required)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "timeout of one post to the webhook")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *options) validate() error {
	if o.endpoint == "" {
		return errors.New("--endpoint is required")
	}
	if u, err := url.Parse(o.endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--endpoint %q: want an http or https URL", o.endpoint)
	}
	if o.timeout <= 0 {
		return fmt.Errorf("--timeout %s: must be positive", o.timeout)
	}
	return nil
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
		_, _ = fmt.Fprintf(stderr, "webhook-post: %v\n", err)
		return 2
	}
	logger := zerolog.New(stderr).With().Timestamp().Logger()
	ready := func(addr string) {
		_, _ = fmt.Fprintf(stdout, "listening on %s\n", addr)
		logger.Info().Str("addr", addr).Str("endpoint", opts.endpoint).Msg("webhook-post started")
	}
	h := newServer(&webhook{endpoint: opts.endpoint, timeout: opts.timeout, logger: logger})
	if err := subagent.ListenAndServe(ctx, fmt.Sprintf("127.0.0.1:%d", opts.port), h, ready); err != nil {
		logger.Error().Err(err).Msg("webhook-post failed")
		return 1
	}
	return 0
}
