package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
)

// eventsFollowWait is how long one read of `events --follow` waits for an
// event before asking again.
const eventsFollowWait = 30 * time.Second

// EventsOptions are the options of `hvctl events`.
type EventsOptions struct {
	cmdBase
	Out outputOptions
	// Follow keeps printing new events until Ctrl-C.
	Follow bool
	// Since prints only events after this event ID; nil: from the oldest,
	// or with Follow only new events.
	Since *int64
	since int64
}

// newCmdEvents returns `hvctl events`.
func newCmdEvents(f *Factory, runF func(*EventsOptions) error) *cobra.Command {
	opts := &EventsOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Print the agent's events: job and guest changes",
		Long: "Print the events of the agent's event log, oldest first: every job change (job.updated)\n" +
			"and guest change (guest.updated, guest.deleted). Without --follow it prints the events\n" +
			"kept (or those after --since) and exits; with --follow it goes on printing new ones until\n" +
			"Ctrl-C, from --since when given (no gap), else from now. -o json prints one event a line,\n" +
			"in the API's shape. When events after --since were already pruned, a warning says so.",
		Example: "  hvctl events\n  hvctl events --follow\n  hvctl events --follow --since 1200 -o json | jq .type",
		Args:    noArgs,
	}
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new events until Ctrl-C")
	cmd.Flags().Int64Var(&opts.since, "since", 0, "print only events after this event ID")
	addOutputFlags(cmd, &opts.Out)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, eventsRun, func([]string) error {
		if cmd.Flags().Changed("since") {
			if opts.since < 0 {
				return flagError("since", "must not be negative")
			}
			opts.Since = &opts.since
		}
		return opts.Out.validate()
	})
	return cmd
}

func eventsRun(opts *EventsOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	ctx := opts.context()
	q := hvagent.EventQuery{}
	if opts.Since != nil {
		q.After = *opts.Since
	} else if opts.Follow {
		q.After = -1
	}
	if opts.Follow {
		q.Wait = eventsFollowWait
	}
	for {
		page, err := svc.Events(ctx, q)
		if err != nil {
			if opts.Follow && ctx.Err() != nil {
				return nil // Ctrl-C ends --follow
			}
			return err
		}
		if page == nil {
			return fmt.Errorf("events: the agent returned no page")
		}
		if page.Reset {
			_, _ = fmt.Fprintf(opts.IO.ErrOut, "hvctl: events after %d were pruned; some were missed\n", q.After)
		}
		for _, e := range page.Events {
			if err := writeEvent(opts.IO.Out, opts.Out, e); err != nil {
				return err
			}
		}
		if len(page.Events) == 0 && !opts.Follow {
			return nil
		}
		q.After = page.Cursor
	}
}

// writeEvent prints one event as a line: JSON, its ID, or for people.
func writeEvent(w io.Writer, o outputOptions, e *hvagent.Event) error {
	switch {
	case o.json():
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		_, err = w.Write(append(b, '\n'))
		return err
	case o.Quiet:
		_, err := fmt.Fprintln(w, e.ID)
		return err
	}
	subject, detail := "", ""
	switch {
	case e.Job != nil:
		subject = e.Job.ID
		detail = fmt.Sprintf("%s guest=%s %s", e.Job.Action, e.Job.GuestID, jobState(e.Job))
		if e.Job.Message != "" && e.Job.Status.Final() {
			detail += ": " + e.Job.Message
		}
	case e.Guest != nil:
		subject = e.Guest.ID
		detail = "state=" + dash(e.Guest.State)
	}
	_, err := fmt.Fprintf(w, "%-8d %s  %-14s %s %s\n", e.ID, fmtTime(e.At), e.Type, dash(subject), detail)
	return err
}
