package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent/driver/qemu"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/internal/logtext"
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
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newSubagentSimCmd(), newSubagentQEMUCmd(), newSubagentStorageCmd())
	return cmd
}

// simOptions are the flags of "hvagentd subagent sim".
type simOptions struct {
	listen      string
	latency     time.Duration
	failureRate float64
	seed        int64
	logSize     int
	execLog     string
}

// newSubagentSimCmd returns "hvagentd subagent sim".
func newSubagentSimCmd() *cobra.Command {
	opts := &simOptions{}
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Serve the simulated hypervisor (no real guests) over HTTP",
		Long: "Serve the simulated hypervisor, an in-memory stand-in for a real one, as a sub-agent\n" +
			"(service \"Sim\"). It prints \"listening on <addr>\" once listening and stops on SIGINT or SIGTERM.",
		Args: needFlags("listen"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSim(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.listen, "listen", "", "TCP address to listen on, such as 127.0.0.1:20001 (port 0 picks a free one)")
	f.DurationVar(&opts.latency, "latency", 0, "how long every simulated call takes")
	f.Float64Var(&opts.failureRate, "failure-rate", 0, "probability (0..1) that a call fails with \"simulated failure\"")
	f.Int64Var(&opts.seed, "seed", 0, "seed of the simulated failures")
	f.IntVar(&opts.logSize, "log-size", sim.DefaultLogSize, "how many calls the in-memory execution log keeps (the newest)")
	f.StringVar(&opts.execLog, "exec-log", "", "append every call to this file as a JSON line (job_id, attempt, method, guest_id, at)")
	_ = cmd.MarkFlagRequired("listen")
	return cmd
}

func (o *simOptions) validate() error {
	if o.failureRate < 0 || o.failureRate > 1 {
		return usageErrorf("--failure-rate %v: want a probability between 0 and 1", o.failureRate)
	}
	if o.latency < 0 {
		return usageErrorf("--latency %s: must not be negative", o.latency)
	}
	if o.logSize < 1 {
		return usageErrorf("--log-size %d: must be at least 1", o.logSize)
	}
	return nil
}

// runSim serves the simulation until ctx ends.
func runSim(ctx context.Context, opts *simOptions, stdout, stderr io.Writer) error {
	if err := opts.validate(); err != nil {
		return err
	}
	logger := zerolog.New(stderr).With().Timestamp().Str("subagent", "sim").Logger()
	simOpts := sim.Options{Latency: opts.latency, FailureRate: opts.failureRate, Seed: opts.seed, LogSize: opts.logSize}
	if opts.execLog != "" {
		f, err := os.OpenFile(opts.execLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("execution log: %w", err)
		}
		defer f.Close()
		simOpts.ExecLog = f
	}
	d := sim.New(simOpts)
	ln, addr, err := listenAndReport(opts.listen, stdout)
	if err != nil {
		return err
	}
	logger.Info().Str("addr", addr).Str("latency", logtext.Duration(opts.latency)).Float64("failure_rate", opts.failureRate).
		Msg("serving the simulated hypervisor (a simulation: no real guests run)")
	if err := serveHTTP(ctx, ln, d.Handler()); err != nil {
		return err
	}
	if err := d.ExecLogErr(); err != nil {
		return err
	}
	logger.Info().Msg("simulated hypervisor stopped")
	return nil
}

// listenAndReport listens on TCP addr and prints "listening on <addr>"
// to stdout, which tests and scripts wait for (port 0 picks a free port).
func listenAndReport(addr string, stdout io.Writer) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("listen: %w", err)
	}
	bound := ln.Addr().String()
	if _, err := fmt.Fprintf(stdout, "listening on %s\n", bound); err != nil {
		_ = ln.Close()
		return nil, "", fmt.Errorf("report address: %w", err)
	}
	return ln, bound, nil
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

// qemuOptions are the flags of "hvagentd subagent qemu".
type qemuOptions struct {
	listen          string
	dataDir         string
	allowedPaths    []string
	binary          string
	accel           string
	consoleLogLimit int64
}

// newSubagentQEMUCmd returns "hvagentd subagent qemu".
func newSubagentQEMUCmd() *cobra.Command {
	opts := &qemuOptions{}
	cmd := &cobra.Command{
		Use:   "qemu",
		Short: "Serve the built-in QEMU driver over HTTP",
		Long: "Serve the built-in QEMU driver (service \"QEMU\", console stream at " + qemu.ConsolePath + ") as a sub-agent.\n" +
			"It first re-attaches to the guests' QEMUs still running under --data-dir, then prints\n" +
			"\"listening on <addr>\" and serves until SIGINT or SIGTERM. Guests keep running when it stops.",
		Args: needFlags("listen", "data-dir"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runQEMU(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.listen, "listen", "", "TCP address to listen on, such as 127.0.0.1:20002 (port 0 picks a free one)")
	f.StringVar(&opts.dataDir, "data-dir", "", "hvagent data dir: guest disks under it, run dirs under <data-dir>/run")
	f.StringSliceVar(&opts.allowedPaths, "allowed-path", nil, "a further directory boot kernels and initrds may come from (repeatable)")
	f.StringVar(&opts.binary, "binary", qemu.DefaultBinary, "the QEMU system emulator")
	f.StringVar(&opts.accel, "accel", "tcg", "accelerator: tcg, or kvm (used only when a probe guest runs under it)")
	f.Int64Var(&opts.consoleLogLimit, "console-log-limit", qemu.DefaultConsoleLogLimit, "cap of each guest's console log in bytes")
	_ = cmd.MarkFlagRequired("listen")
	_ = cmd.MarkFlagRequired("data-dir")
	return cmd
}

// runQEMU serves the QEMU driver until ctx ends.
func runQEMU(ctx context.Context, opts *qemuOptions, stdout, stderr io.Writer) error {
	logger := zerolog.New(stderr).Level(zerolog.InfoLevel).With().Timestamp().Str("subagent", "qemu").Logger()
	d, err := qemu.New(ctx, qemu.Options{
		DataDir:         opts.dataDir,
		AllowedPaths:    opts.allowedPaths,
		Binary:          opts.binary,
		Accel:           opts.accel,
		ConsoleLogLimit: opts.consoleLogLimit,
		Logger:          logger,
	})
	if err != nil {
		return err
	}
	defer d.Close()
	guests, err := d.Reconcile(ctx)
	if err != nil {
		return err
	}
	for _, g := range guests {
		logger.Info().Str("guest_id", g.ID).Str("state", g.State).Str("reason", g.Reason).Msg("guest found")
	}
	ln, addr, err := listenAndReport(opts.listen, stdout)
	if err != nil {
		return err
	}
	logger.Info().Str("addr", addr).Str("data_dir", opts.dataDir).Str("accel", opts.accel).Msg("serving the qemu driver")
	if err := serveHTTP(ctx, ln, d.Handler()); err != nil {
		return err
	}
	logger.Info().Msg("qemu driver stopped; guests keep running")
	return nil
}
