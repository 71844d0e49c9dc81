package hvagent_test

import (
	"context"
	"fmt"
	"os"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/host"
)

// An Agent on a SQLite store and the built-in simulated driver (a
// simulation: no real guest runs) creates a guest and reboots it.
func ExampleAgent_Do() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "hvagent-example-")
	defer os.RemoveAll(dir)
	// host.Open assembles the agent on the data dir: the SQLite store and
	// the built-in drivers that the config names.
	cfg := sim.Config()
	cfg.DataDir = dir
	h, err := host.Open(ctx, host.Options{Config: cfg})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close(ctx)
	if err := h.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	agent := h.Agent

	res, err := agent.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 512}})
	if err != nil {
		fmt.Println(err)
		return
	}
	job, _ := agent.WaitJob(ctx, res.Job.ID)
	fmt.Println(job.Action, job.Status)

	for _, action := range []string{hvagent.ActionStart, hvagent.ActionReboot} {
		res, _ := agent.Do(ctx, action, res.Guest.ID, hvagent.Request{})
		job, _ := agent.WaitJob(ctx, res.Job.ID)
		fmt.Println(job.Action, job.Status, job.Stage)
	}
	// Output:
	// create Complete
	// start Complete 1/1 Sim.Start
	// reboot Complete 1/1 Sim.Reboot
}
