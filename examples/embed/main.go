// Command embed shows hvagent used as a library: it runs an Agent on a
// temporary data dir with the simulated driver (a simulation: no real guest
// runs), creates a guest, reboots it, waits and prints the job.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/host"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

// run does the whole demonstration and writes the reboot job as JSON to out.
func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "hvagent-embed-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// Every action wired to the built-in simulated driver, on this data
	// dir; host.Open creates the store and the drivers the config names.
	cfg := sim.Config()
	cfg.DataDir = dir
	h, err := host.Open(ctx, host.Options{
		Config:   cfg,
		Builtins: map[string]http.Handler{"sim": sim.New(sim.Options{Latency: 10 * time.Millisecond}).Handler()},
	})
	if err != nil {
		return err
	}
	defer h.Close(context.WithoutCancel(ctx))
	if err := h.Start(ctx); err != nil {
		return err
	}
	agent := h.Agent

	created, err := agent.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{
		Guest: &hvagent.Guest{Memory: 512, CPU: 1, Disks: []hvagent.Disk{{Size: 1024}}},
	})
	if err != nil {
		return err
	}
	id := created.Guest.ID
	for _, action := range []string{"", hvagent.ActionStart, hvagent.ActionReboot} {
		jobID := created.Job.ID
		if action != "" {
			res, err := agent.Do(ctx, action, id, hvagent.Request{})
			if err != nil {
				return err
			}
			jobID = res.Job.ID
		}
		job, err := agent.WaitJob(ctx, jobID)
		if err != nil {
			return err
		}
		if job.Status != hvagent.JobComplete {
			return fmt.Errorf("%s: %s", job.Action, job.Message)
		}
		if action == hvagent.ActionReboot {
			return printJob(out, job)
		}
	}
	return nil
}

// printJob prints the fields of job that do not change from run to run.
func printJob(out io.Writer, job *hvagent.Job) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{
		"Action": job.Action, "Status": job.Status, "Stage": job.Stage, "Attempt": job.Attempt,
	})
}
