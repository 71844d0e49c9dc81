package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/hvagent/hvagent/hvagent"
)

// runAsyncMany is runAsync for one action on several guests. With one
// guest, or a dry run, it is runAsync for each. Otherwise every guest is
// looked up first, so that a bad or unknown one stops the command before
// anything is queued (a guest named twice counts once); then the action is
// queued on each, and with --wait each job is waited for in turn (Ctrl-C
// stops waiting and leaves them running). It prints every job (a table, a
// JSON array, or with -q the IDs of those that did not fail), reports each
// failure on ErrOut and returns the one with the highest exit code.
func runAsyncMany(ctx context.Context, ios *IOStreams, svc hvagent.Service, out outputOptions, a asyncOptions, subs []submission) error {
	if len(subs) == 1 || a.DryRun {
		var errs []error
		for _, s := range subs {
			if err := runAsync(ctx, ios, svc, out, a, s); err != nil {
				errs = append(errs, err)
			}
		}
		return worstError(ios.ErrOut, errs)
	}
	subs, err := resolveSubmissions(ctx, svc, subs)
	if err != nil {
		return err
	}
	var jobs []*hvagent.Job
	var errs []error
	for _, s := range subs {
		res, err := svc.Do(ctx, s.action, s.guest, a.request(s.req))
		if err == nil && (res == nil || res.Job == nil) {
			err = errors.New("the agent returned no job")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s guest %s: %w", s.action, s.guest, err))
			continue
		}
		jobs = append(jobs, res.Job)
	}
	if a.waiting() {
		errs = append(errs, waitJobs(ctx, ios, svc, jobs, a)...)
	}
	if err := writeSubmittedJobs(ios, out, jobs, a); err != nil {
		return err
	}
	for _, j := range jobs {
		if err := jobOutcome(j); err != nil {
			errs = append(errs, err)
		}
	}
	return worstError(ios.ErrOut, errs)
}

// resolveSubmissions looks every guest up and returns the submissions on
// guest IDs, without repeats.
func resolveSubmissions(ctx context.Context, svc hvagent.Service, subs []submission) ([]submission, error) {
	var out []submission
	var seen []string
	for _, s := range subs {
		g, err := svc.Guest(ctx, s.guest)
		if err == nil && g == nil {
			err = fmt.Errorf("guest %s: the agent returned no guest", s.guest)
		}
		if err != nil {
			return nil, err
		}
		if slices.Contains(seen, g.ID) {
			continue
		}
		seen = append(seen, g.ID)
		s.guest = g.ID
		out = append(out, s)
	}
	return out, nil
}

// waitJobs waits for each job in turn, replacing it with the job as the
// wait left it, and returns the errors of the waits. Ctrl-C ends them all.
func waitJobs(ctx context.Context, ios *IOStreams, svc hvagent.Service, jobs []*hvagent.Job, a asyncOptions) []error {
	var errs []error
	for i, job := range jobs {
		final, err := waitJob(ctx, ios, svc, job, a)
		if final != nil {
			jobs[i] = final
		}
		if err == nil {
			continue
		}
		errs = append(errs, err)
		var ie *interruptedError
		if errors.As(err, &ie) {
			break
		}
	}
	return errs
}

// writeSubmittedJobs prints the jobs of runAsyncMany.
func writeSubmittedJobs(ios *IOStreams, out outputOptions, jobs []*hvagent.Job, a asyncOptions) error {
	if out.Quiet {
		var ids []string
		for _, j := range jobs {
			if jobOutcome(j) == nil {
				ids = append(ids, j.ID)
			}
		}
		return writeLines(ios.Out, ids)
	}
	if out.json() {
		return writeJSON(ios.Out, jobs)
	}
	if err := writeJobs(ios.Out, out, jobs); err != nil {
		return err
	}
	if !a.waiting() && ios.IsTTY && len(jobs) > 0 {
		_, _ = fmt.Fprintf(ios.ErrOut, "Queued; wait for them with: hvctl job wait ID\n")
	}
	return nil
}

// worstError prints every error of errs on w but the one with the highest
// exit code, and returns that one (nil when errs is empty): a command on
// several guests exits with its worst outcome.
func worstError(w io.Writer, errs []error) error {
	var worst error
	for _, err := range errs {
		if worst == nil || exitCode(err) > exitCode(worst) {
			worst = err
		}
	}
	for _, err := range errs {
		if err != worst {
			_, _ = fmt.Fprintln(w, errorLine(err))
		}
	}
	return worst
}
