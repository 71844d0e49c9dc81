package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent/driver/sim"
)

// subagentShutdownTimeout bounds how long in-flight calls may finish after a
// stop signal before their connections are closed.
const subagentShutdownTimeout = 10 * time.Second

// newSubagentCmd returns "hvagentd subagent", the parent of the commands
// that serve a built-in driver as its own process.
func newSubagentCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "subagent",
		Short: "Serve a built-in driver as a stand-alone sub-agent",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newSubagentSimCmd())
	cmd.AddCommand(newSubagentStorageCmd())
	return cmd
}

// simOptions are the flags of "hvagentd subagent sim".
type simOptions struct {
	listen      string
	latency     time.Duration
	failureRate float64
	seed        int64
}

// newSubagentSimCmd returns "hvagentd subagent sim".
func newSubagentSimCmd() *cobra.Command {
	opts := &simOptions{}
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Serve the simulated hypervisor (no real guests) over HTTP",
		Long: "Serve the simulated hypervisor, an in-memory stand-in for a real one, as a sub-agent\n" +
			"(service \"Sim\"). It prints \"listening on <addr>\" once listening and stops on SIGINT or SIGTERM.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSim(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.listen, "listen", "", "TCP address to listen on, such as 127.0.0.1:20001 (port 0 picks a free one)")
	f.DurationVar(&opts.latency, "latency", 0, "how long every simulated call takes")
	f.Float64Var(&opts.failureRate, "failure-rate", 0, "probability (0..1) that a call fails with \"simulated failure\"")
	f.Int64Var(&opts.seed, "seed", 0, "seed of the simulated failures")
	_ = cmd.MarkFlagRequired("listen")
	return cmd
}

func (o *simOptions) validate() error {
	if o.failureRate < 0 || o.failureRate > 1 {
		return fmt.Errorf("--failure-rate %v: want a probability between 0 and 1", o.failureRate)
	}
	if o.latency < 0 {
		return fmt.Errorf("--latency %s: must not be negative", o.latency)
	}
	return nil
}

// runSim serves the simulation until ctx ends.
func runSim(ctx context.Context, opts *simOptions, stdout, stderr io.Writer) error {
	if err := opts.validate(); err != nil {
		return err
	}
	logger := zerolog.New(stderr).With().Timestamp().Str("subagent", "sim").Logger()
	d := sim.New(sim.Options{Latency: opts.latency, FailureRate: opts.failureRate, Seed: opts.seed})
	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	addr := ln.Addr().String()
	if _, err := fmt.Fprintf(stdout, "listening on %s\n", addr); err != nil {
		_ = ln.Close()
		return fmt.Errorf("report address: %w", err)
	}
	logger.Info().Str("addr", addr).Dur("latency", opts.latency).Float64("failure_rate", opts.failureRate).
		Msg("serving the simulated hypervisor (a simulation: no real guests run)")
	if err := serveHTTP(ctx, ln, d.Handler()); err != nil {
		return err
	}
	logger.Info().Msg("simulated hypervisor stopped")
	return nil
}

// serveHTTP serves h on ln until ctx ends, then lets in-flight requests
// finish for up to subagentShutdownTimeout before closing them.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), subagentShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(stopCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	<-errc
	if err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}
