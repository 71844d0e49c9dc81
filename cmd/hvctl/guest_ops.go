package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
)

// metricKinds maps the kinds of `guest metrics` to their actions, in order.
var metricKinds = []struct{ kind, action string }{
	{"cpu", hvagent.ActionCPUMetrics},
	{"disk", hvagent.ActionDiskMetrics},
	{"nic", hvagent.ActionNicMetrics},
}

// GuestMetricsOptions are the options of `hvctl guest metrics`.
type GuestMetricsOptions struct {
	cmdBase
	Out outputOptions
	ID  string
	// Kinds are among cpu, disk and nic; all three when none is given.
	Kinds []string
}

// newCmdGuestMetrics returns `hvctl guest metrics`.
func newCmdGuestMetrics(f *Factory, runF func(*GuestMetricsOptions) error) *cobra.Command {
	opts := &GuestMetricsOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:   "metrics GUEST [cpu|disk|nic]...",
		Short: "Show a guest's CPU, disk and NIC counters",
		Long: "Show a guest's metrics as its driver reports them: CPU times, and I/O counters per\n" +
			"disk and per NIC. With one kind, -o json prints the API's body for it; with several,\n" +
			"an object of those bodies keyed by kind.\n\n" + guestArgHelp,
		Example: "  hvctl guest metrics web1\n" +
			"  hvctl guest metrics 0b0c9d8e disk -o json",
		Args: rangeArgs(1, 4, "GUEST"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return completeGuestIDs(f)(cmd, args, toComplete)
			}
			return []string{"cpu", "disk", "nic"}, cobra.ShellCompDirectiveNoFileComp
		},
	}
	addOutputFlags(cmd, &opts.Out)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, guestMetricsRun, func(args []string) error {
		opts.ID, opts.Kinds = args[0], args[1:]
		for _, k := range opts.Kinds {
			if metricAction(k) == "" {
				return usageErrorf("unknown metrics kind %q (want cpu, disk or nic)", k)
			}
		}
		if opts.Out.Quiet {
			return usageErrorf("-q: metrics have no IDs to print")
		}
		return opts.Out.validate()
	})
	return cmd
}

// metricAction returns the action of a metrics kind, "" when unknown.
func metricAction(kind string) string {
	for _, m := range metricKinds {
		if m.kind == kind {
			return m.action
		}
	}
	return ""
}

func guestMetricsRun(opts *GuestMetricsOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	kinds := opts.Kinds
	if len(kinds) == 0 {
		kinds = []string{"cpu", "disk", "nic"}
	}
	bodies := map[string]json.RawMessage{}
	for _, k := range kinds {
		res, err := svc.Do(opts.context(), metricAction(k), opts.ID, hvagent.Request{})
		if err != nil {
			return err
		}
		if res == nil || len(res.Body) == 0 {
			return fmt.Errorf("%s metrics: the agent returned no body", k)
		}
		bodies[k] = res.Body
	}
	if opts.Out.json() {
		if len(kinds) == 1 {
			return writeRawJSON(opts.IO.Out, bodies[kinds[0]])
		}
		return writeJSON(opts.IO.Out, bodies)
	}
	for i, k := range kinds {
		if i > 0 {
			_, _ = fmt.Fprintln(opts.IO.Out)
		}
		if err := writeMetricsTable(opts.IO.Out, k, bodies[k]); err != nil {
			return err
		}
	}
	return nil
}

// writeMetricsTable prints one kind of metrics as a table.
func writeMetricsTable(w io.Writer, kind string, body json.RawMessage) error {
	switch kind {
	case "cpu":
		var cpus []hvagent.GuestCPUMetrics
		if err := json.Unmarshal(body, &cpus); err != nil {
			return fmt.Errorf("decode cpu metrics: %w", err)
		}
		t := newTable(w, "CPU", "CPU_TIME", "VCPU_TIME")
		for i, c := range cpus {
			t.row(fmt.Sprint(i), fmt.Sprintf("%.2fs", c.CPUTime), fmt.Sprintf("%.2fs", c.VCPUTime))
		}
		return t.flush()
	case "disk":
		var disks map[string]hvagent.GuestDiskMetrics
		if err := json.Unmarshal(body, &disks); err != nil {
			return fmt.Errorf("decode disk metrics: %w", err)
		}
		t := newTable(w, "DISK", "READ_OPS", "READ", "WRITE_OPS", "WRITTEN", "FLUSH_OPS")
		for _, name := range sortedKeys(disks) {
			d := disks[name]
			t.row(name, fmt.Sprint(d.ReadOps), fmtBytes(d.ReadBytes), fmt.Sprint(d.WriteOps), fmtBytes(d.WriteBytes), fmt.Sprint(d.FlushOps))
		}
		return t.flush()
	}
	var nics map[string]hvagent.GuestNicMetrics
	if err := json.Unmarshal(body, &nics); err != nil {
		return fmt.Errorf("decode nic metrics: %w", err)
	}
	t := newTable(w, "NIC", "RX", "RX_PACKETS", "TX", "TX_PACKETS", "ERRORS", "DROPS")
	for _, name := range sortedKeys(nics) {
		n := nics[name]
		t.row(name, fmtBytes(n.RxBytes), fmt.Sprint(n.RxPackets), fmtBytes(n.TxBytes), fmt.Sprint(n.TxPackets),
			fmt.Sprint(n.RxErrors+n.TxErrors), fmt.Sprint(n.RxDrops+n.TxDrops))
	}
	return t.flush()
}

// consoleRetry is how often `guest console -f` reopens an ended stream.
const consoleRetry = time.Second

// GuestConsoleOptions are the options of `hvctl guest console`.
type GuestConsoleOptions struct {
	cmdBase
	ID string
	// Follow reopens the console when its stream ends and prints what is
	// new, until Ctrl-C.
	Follow bool
	// retry is how long Follow waits before reopening; default consoleRetry.
	retry time.Duration
}

// newCmdGuestConsole returns `hvctl guest console`.
func newCmdGuestConsole(f *Factory, runF func(*GuestConsoleOptions) error) *cobra.Command {
	opts := &GuestConsoleOptions{cmdBase: newBase(f), retry: consoleRetry}
	cmd := &cobra.Command{
		Use:   "console GUEST",
		Short: "Print a guest's console output",
		Long: "Print the guest's serial console output as the driver streams it, until the stream ends.\n" +
			"With -f, keep following: when the stream ends, reopen it every second and print what is\n" +
			"new, until Ctrl-C.\n\n" + guestArgHelp,
		Example:           "  hvctl guest console web1\n  hvctl guest console web1 -f",
		Args:              exactArgs("GUEST"),
		ValidArgsFunction: completeGuestIDs(f),
	}
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep following the console until Ctrl-C")
	cmd.RunE = runE(opts, &opts.cmdBase, runF, guestConsoleRun, func(args []string) error {
		opts.ID = args[0]
		return nil
	})
	return cmd
}

func guestConsoleRun(opts *GuestConsoleOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	ctx := opts.context()
	var seen int64
	for {
		res, err := svc.Do(ctx, hvagent.ActionConsole, opts.ID, hvagent.Request{})
		if err == nil && (res == nil || res.Stream == nil) {
			err = errors.New("console: the agent returned no stream")
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil // Ctrl-C ends the console
			}
			return err
		}
		n, err := copySkipping(opts.IO.Out, res.Stream, seen)
		_ = res.Stream.Close()
		seen = max(seen, n)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("console: %w", err)
		}
		if !opts.Follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(opts.retry):
		}
	}
}

// copySkipping copies r to w except its first skip bytes, and returns how
// many bytes it read from r.
func copySkipping(w io.Writer, r io.Reader, skip int64) (int64, error) {
	skipped, err := io.CopyN(io.Discard, r, skip)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return skipped, err
	}
	n, err := io.Copy(w, r)
	return skipped + n, err
}
