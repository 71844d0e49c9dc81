package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
)

// QueueStatusOptions are the options of `hvctl queue status`.
type QueueStatusOptions struct {
	cmdBase
	Out outputOptions
	// Now is the time the oldest queued jobs' ages are measured from.
	Now func() time.Time
}

// queueStatus is what `hvctl queue status -o json` prints.
type queueStatus struct {
	// Paused lists the paused actions ("*" = all).
	Paused []string `json:"paused"`
	// Queues are the queues holding queued or running jobs.
	Queues []hvagent.QueueStat `json:"queues"`
}

// newCmdQueueStatus returns `hvctl queue status`.
func newCmdQueueStatus(f *Factory, runF func(*QueueStatusOptions) error) *cobra.Command {
	opts := &QueueStatusOptions{cmdBase: newBase(f), Now: time.Now}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show which actions are paused and the depth of each busy queue",
		Long: "Show which actions are paused, then one line per queue holding queued or running jobs:\n" +
			"the queue (a guest's ID, or image:<type>:<id>), its queued and running jobs and the age of\n" +
			"its oldest queued job. -q prints the busy queues only.",
		Example: "  hvctl queue status\n  hvctl queue status -o json",
		Args:    noArgs,
	}
	addOutputFlags(cmd, &opts.Out)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, queueStatusRun, func([]string) error { return opts.Out.validate() })
	return cmd
}

func queueStatusRun(opts *QueueStatusOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	ctx := opts.context()
	h, err := svc.Health(ctx)
	if err != nil {
		return err
	}
	if h == nil {
		h = &hvagent.Health{}
	}
	stats, err := svc.QueueStats(ctx)
	if err != nil {
		return err
	}
	st := queueStatus{Paused: h.Paused, Queues: stats}
	if st.Paused == nil {
		st.Paused = []string{}
	}
	if st.Queues == nil {
		st.Queues = []hvagent.QueueStat{}
	}
	switch {
	case opts.Out.json():
		return writeJSON(opts.IO.Out, st)
	case opts.Out.Quiet:
		lines := make([]string, len(st.Queues))
		for i, s := range st.Queues {
			lines[i] = s.Queue
		}
		return writeLines(opts.IO.Out, lines)
	}
	_, _ = fmt.Fprintln(opts.IO.Out, pausedText(st.Paused))
	if len(st.Queues) == 0 {
		_, err := fmt.Fprintln(opts.IO.Out, "no job is queued or running")
		return err
	}
	t := newTable(opts.IO.Out, "QUEUE", "QUEUED", "RUNNING", "OLDEST QUEUED")
	for _, s := range st.Queues {
		age := "-"
		if !s.OldestQueuedAt.IsZero() {
			age = opts.Now().Sub(s.OldestQueuedAt).Round(time.Second).String() + " ago"
		}
		t.row(s.Queue, strconv.Itoa(s.Queued), strconv.Itoa(s.Running), age)
	}
	return t.flush()
}
