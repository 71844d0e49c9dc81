package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
)

// newCmdQueue returns `hvctl queue` and its subcommands.
func newCmdQueue(f *Factory) *cobra.Command {
	return newNounCmd("queue", "Show queues; pause and resume the start of queued jobs",
		"Status shows which actions are paused and how many jobs each queue holds. Pausing stops\n"+
			"workers from starting jobs (of one action, or of every action); paused jobs stay queued\n"+
			"and running ones go on. A pause holds until resumed, across restarts of hvagentd.\n"+
			"Resuming lets them start again; while every action is paused, resume them all, then\n"+
			"pause the others. Pause and resume need admin scope.",
		newCmdQueueStatus(f, nil), newCmdQueuePause(f, nil), newCmdQueueResume(f, nil))
}

// QueueOptions are the options of `hvctl queue pause` and `hvctl queue
// resume`.
type QueueOptions struct {
	cmdBase
	// Pause pauses when true, else resumes.
	Pause bool
	// Action is the action to pause or resume; "" means every action.
	Action string
}

// newCmdQueuePause returns `hvctl queue pause`.
func newCmdQueuePause(f *Factory, runF func(*QueueOptions) error) *cobra.Command {
	return newQueueCmd(f, runF, true, &cobra.Command{
		Use:               "pause [ACTION]",
		Short:             "Stop starting queued jobs (of ACTION, or all)",
		Example:           "  hvctl queue pause\n  hvctl queue pause fetchImage",
		ValidArgsFunction: completeActions(f),
	})
}

// newCmdQueueResume returns `hvctl queue resume`.
func newCmdQueueResume(f *Factory, runF func(*QueueOptions) error) *cobra.Command {
	return newQueueCmd(f, runF, false, &cobra.Command{
		Use:               "resume [ACTION]",
		Short:             "Start queued jobs again (of ACTION, or all)",
		Example:           "  hvctl queue resume\n  hvctl queue resume fetchImage",
		ValidArgsFunction: completePausedActions(f),
	})
}

// newQueueCmd completes cmd as the pause or resume command.
func newQueueCmd(f *Factory, runF func(*QueueOptions) error, pause bool, cmd *cobra.Command) *cobra.Command {
	opts := &QueueOptions{cmdBase: newBase(f), Pause: pause}
	cmd.Args = rangeArgs(0, 1)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, queueRun, func(args []string) error {
		if len(args) > 0 {
			opts.Action = args[0]
			if _, ok := hvagent.KindOf(opts.Action); !ok && opts.Action != "*" {
				return usageErrorf("unknown action %q%s", opts.Action, didYouMean(opts.Action, hvagent.ValidActions()))
			}
		}
		return nil
	})
	return cmd
}

func queueRun(opts *QueueOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	ctx := opts.context()
	if opts.Pause {
		err = svc.PauseQueue(ctx, opts.Action)
	} else {
		err = svc.ResumeQueue(ctx, opts.Action)
	}
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintln(opts.IO.ErrOut, pausedLine(ctx, svc))
	return nil
}

// pausedLine says which actions are paused now.
func pausedLine(ctx context.Context, svc hvagent.Service) string {
	h, err := svc.Health(ctx)
	if err != nil || h == nil {
		return "done"
	}
	return pausedText(h.Paused)
}

// pausedText says which of the actions are paused ("*" = all).
func pausedText(paused []string) string {
	switch {
	case len(paused) == 0:
		return "no action is paused"
	case slices.Contains(paused, "*"):
		return "every action is paused"
	}
	return "paused: " + strings.Join(paused, ", ")
}
