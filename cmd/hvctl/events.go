package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
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
	// SinceAge, when not zero, prints only events of the last SinceAge
	// (Since is then nil).
	SinceAge time.Duration
	// Now is the time SinceAge counts back from.
	Now   func() time.Time
	since string
}

// newCmdEvents returns `hvctl events`.
func newCmdEvents(f *Factory, runF func(*EventsOptions) error) *cobra.Command {
	opts := &EventsOptions{cmdBase: newBase(f), Now: time.Now}
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Print the agent's events: job and guest changes",
		Long: "Print the events of the agent's event log, oldest first: every job change (job.updated)\n" +
			"and guest change (guest.updated, guest.deleted). Without --follow it prints the events\n" +
			"kept (or those after --since) and exits; with --follow it goes on printing new ones until\n" +
			"Ctrl-C, from --since when given (no gap), else from now. -o json prints one event a line,\n" +
			"in the API's shape, and the table has a header line. --since takes an event ID (the events\n" +
			"after it) or a duration such as 10m (the events of the last 10 minutes). When events after\n" +
			"--since were already pruned, a warning says so.",
		Example: "  hvctl events\n  hvctl events --since 10m\n  hvctl events --follow\n  hvctl events --follow --since 1200 -o json | jq .type",
		Args:    noArgs,
	}
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new events until Ctrl-C")
	cmd.Flags().StringVar(&opts.since, "since", "", "print only events after this event ID, or of this last duration (10m, 2h)")
	addOutputFlags(cmd, &opts.Out)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, eventsRun, func([]string) error {
		if cmd.Flags().Changed("since") {
			if err := opts.parseSince(); err != nil {
				return err
			}
		}
		return opts.Out.validate()
	})
	return cmd
}

// parseSince sets Since or SinceAge from the text of --since.
func (opts *EventsOptions) parseSince() error {
	s := strings.TrimSpace(opts.since)
	if id, err := strconv.ParseInt(s, 10, 64); err == nil {
		if id < 0 {
			return flagError("since", "event ID %d must not be negative", id)
		}
		opts.Since = &id
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return flagError("since", "%q is neither an event ID nor a duration such as 10m or 2h", opts.since)
	}
	opts.SinceAge = d
	return nil
}

func eventsRun(opts *EventsOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	ctx := opts.context()
	q := hvagent.EventQuery{}
	var cutoff time.Time
	switch {
	case opts.Since != nil:
		q.After = *opts.Since
	case opts.SinceAge > 0:
		cutoff = opts.Now().Add(-opts.SinceAge)
	case opts.Follow:
		q.After = -1
	}
	if !opts.Out.json() && !opts.Out.Quiet {
		_, _ = fmt.Fprintf(opts.IO.Out, eventLineFormat, "ID", "TIME", "TYPE", "SUBJECT", "DETAIL")
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
			if e.At.Before(cutoff) {
				continue
			}
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
		guest := e.Job.GuestID
		if e.Job.GuestName != "" {
			guest = e.Job.GuestName
		}
		detail = fmt.Sprintf("%s guest=%s %s", e.Job.Action, guest, jobState(e.Job))
		if e.Job.Message != "" && e.Job.Status.Final() {
			detail += ": " + e.Job.Message
		}
	case e.Guest != nil:
		subject = e.Guest.ID
		detail = "state=" + dash(e.Guest.State)
		if e.Guest.Name != "" {
			detail = "name=" + e.Guest.Name + " " + detail
		}
	}
	_, err := fmt.Fprintf(w, eventLineFormat, strconv.FormatInt(e.ID, 10), fmtTime(e.At), e.Type, dash(subject), printable(detail))
	return err
}

// eventLineFormat is the format of the header and lines of the events
// table; lines are printed as they come, so columns have fixed widths.
const eventLineFormat = "%-8s %-19s  %-14s %s %s\n"
