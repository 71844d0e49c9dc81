package hvagent_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/store"
)

// An Agent wired to a SQLite store and the built-in simulated driver (a
// simulation: no real guest runs) creates a guest and reboots it.
func ExampleAgent_Do() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "hvagent-example-")
	defer os.RemoveAll(dir)
	db, err := store.Open(filepath.Join(dir, "hvagent.db"), store.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	cfg := sim.Config()
	cfg.DataDir, cfg.Store = dir, db
	cfg.Builtins = map[string]http.Handler{"sim": sim.New(sim.Options{}).Handler()}
	agent, err := hvagent.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer agent.Close()
	_ = agent.Start(ctx)

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
