package main

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
)

// jobStatuses are the values of --status.
var jobStatuses = []hvagent.JobStatus{hvagent.JobQueued, hvagent.JobRunning, hvagent.JobComplete, hvagent.JobError, hvagent.JobCanceled}

// jobArgHelp says what a JOB argument may be.
const jobArgHelp = "A JOB is a job's ID, or a prefix of it of at least 4 characters that no other job's ID shares."

// exampleJob is the job ID of the examples.
const exampleJob = "5e2f7a1c-8b4d-4c3e-9f6a-1d2b3c4e5f60"

// newCmdJob returns `hvctl job` and its subcommands.
func newCmdJob(f *Factory) *cobra.Command {
	return newNounCmd("job", "Inspect, wait for and cancel jobs",
		"Every async action (guest lifecycle, images, snapshots) is a durable job. Jobs run one at\n"+
			"a time per guest, in order; finished jobs are kept (the newest max_logged_jobs).",
		newCmdJobList(f, nil), newCmdJobShow(f, nil), newCmdJobWait(f, nil), newCmdJobCancel(f, nil))
}

// JobListOptions are the options of `hvctl job list`.
type JobListOptions struct {
	cmdBase
	Out    outputOptions
	Filter hvagent.JobFilter
	status string
}

// newCmdJobList returns `hvctl job list`.
func newCmdJobList(f *Factory, runF func(*JobListOptions) error) *cobra.Command {
	opts := &JobListOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List jobs, newest first",
		Example: "  hvctl job list\n  hvctl job list --guest web1 --status Error\n" +
			"  hvctl job list --action reboot --limit 10 -o json",
		Args: noArgs,
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Filter.GuestID, "guest", "", "only jobs of this guest: an ID, name or ID prefix (\"agent\" for image jobs)")
	fl.StringVar(&opts.Filter.Action, "action", "", "only jobs of this action")
	fl.StringVar(&opts.status, "status", "", "only jobs in this status: Queued, Running, Complete, Error or Canceled")
	fl.IntVar(&opts.Filter.Limit, "limit", 0, "at most this many jobs (default and maximum 1000)")
	fl.StringVar(&opts.Filter.Before, "before", "", "only jobs queued before this job ID (to page)")
	_ = cmd.RegisterFlagCompletionFunc("guest", completeGuestIDs(f))
	_ = cmd.RegisterFlagCompletionFunc("action", completeActions(f))
	_ = cmd.RegisterFlagCompletionFunc("before", completeJobIDs(f))
	_ = cmd.RegisterFlagCompletionFunc("status", fixedCompletion("Queued", "Running", "Complete", "Error", "Canceled"))
	addOutputFlags(cmd, &opts.Out)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, jobListRun, func([]string) error {
		if opts.status != "" {
			s, err := parseJobStatus(opts.status)
			if err != nil {
				return err
			}
			opts.Filter.Status = s
		}
		if opts.Filter.Limit < 0 || opts.Filter.Limit > 1000 {
			return flagError("limit", "must be between 1 and 1000")
		}
		return opts.Out.validate()
	})
	return cmd
}

// parseJobStatus reads --status, in any case.
func parseJobStatus(s string) (hvagent.JobStatus, error) {
	for _, st := range jobStatuses {
		if strings.EqualFold(s, string(st)) {
			return st, nil
		}
	}
	return "", flagError("status", "%q is not Queued, Running, Complete, Error or Canceled", s)
}

func jobListRun(opts *JobListOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	jobs, err := svc.Jobs(opts.context(), opts.Filter)
	if err != nil {
		return err
	}
	if jobs == nil {
		jobs = []*hvagent.Job{}
	}
	return writeJobs(opts.IO.Out, opts.Out, jobs)
}

// JobShowOptions are the options of `hvctl job show`.
type JobShowOptions struct {
	cmdBase
	Out outputOptions
	ID  string
}

// newCmdJobShow returns `hvctl job show`.
func newCmdJobShow(f *Factory, runF func(*JobShowOptions) error) *cobra.Command {
	opts := &JobShowOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:               "show JOB",
		Short:             "Show a job",
		Long:              "Show one job in detail.\n\n" + jobArgHelp,
		Example:           "  hvctl job show " + exampleJob + "\n  hvctl job show " + exampleJob + " -o json",
		Args:              exactArgs("JOB"),
		ValidArgsFunction: completeJobIDs(f),
	}
	addOutputFlags(cmd, &opts.Out)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, jobShowRun, func(args []string) error {
		opts.ID = args[0]
		return opts.Out.validate()
	})
	return cmd
}

func jobShowRun(opts *JobShowOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	job, err := svc.Job(opts.context(), opts.ID)
	if err != nil {
		return err
	}
	if job == nil {
		return errors.New("the agent returned no job")
	}
	return writeJob(opts.IO.Out, opts.Out, job)
}

// JobWaitOptions are the options of `hvctl job wait`.
type JobWaitOptions struct {
	cmdBase
	Out   outputOptions
	Async asyncOptions
	ID    string
}

// newCmdJobWait returns `hvctl job wait`.
func newCmdJobWait(f *Factory, runF func(*JobWaitOptions) error) *cobra.Command {
	opts := &JobWaitOptions{cmdBase: newBase(f), Async: asyncOptions{Wait: true}}
	cmd := &cobra.Command{
		Use:   "wait JOB",
		Short: "Wait for a job to end",
		Long: "Wait for a job to end, showing its stage, and print it. A job that failed exits by its\n" +
			"error code (not_found 3, conflict 4, invalid 2, unavailable 5, timeout 8; otherwise 6), one\n" +
			"canceled 7, and --timeout 8. Ctrl-C stops waiting and leaves the job running, unless\n" +
			"--cancel-on-interrupt.\n\n" + jobArgHelp,
		Example:           "  hvctl job wait " + exampleJob + "\n  hvctl job wait 5e2f --timeout 30s -o json",
		Args:              exactArgs("JOB"),
		ValidArgsFunction: completeJobIDs(f),
	}
	cmd.Flags().DurationVar(&opts.Async.Timeout, "timeout", defaultWaitTimeout, "how long to wait (0 = no limit)")
	cmd.Flags().BoolVar(&opts.Async.CancelOnInterrupt, "cancel-on-interrupt", false, "cancel the job on Ctrl-C, instead of leaving it running")
	addOutputFlags(cmd, &opts.Out)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, jobWaitRun, func(args []string) error {
		opts.ID = args[0]
		return validateAsync(&opts.Out, &opts.Async)
	})
	return cmd
}

func jobWaitRun(opts *JobWaitOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	ctx := opts.context()
	job, err := svc.Job(ctx, opts.ID)
	if err != nil {
		return err
	}
	if job == nil {
		return errors.New("the agent returned no job")
	}
	if job, err = waitJob(ctx, opts.IO, svc, job, opts.Async); err != nil {
		return err
	}
	if opts.Out.Quiet && jobOutcome(job) != nil {
		return jobOutcome(job) // -q prints nothing for a failed job
	}
	if err := writeJob(opts.IO.Out, opts.Out, job); err != nil {
		return err
	}
	return jobOutcome(job)
}

// JobCancelOptions are the options of `hvctl job cancel`.
type JobCancelOptions struct {
	cmdBase
	Out outputOptions
	ID  string
}

// newCmdJobCancel returns `hvctl job cancel`.
func newCmdJobCancel(f *Factory, runF func(*JobCancelOptions) error) *cobra.Command {
	opts := &JobCancelOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:   "cancel JOB",
		Short: "Cancel a queued or running job",
		Long: "Cancel a job: a queued one ends at once; a running one has its pipeline abandoned (no\n" +
			"next stage starts). Prints the job as it ended. A job that already ended exits 4.\n\n" + jobArgHelp,
		Example:           "  hvctl job cancel " + exampleJob + "\n  hvctl job cancel 5e2f",
		Args:              exactArgs("JOB"),
		ValidArgsFunction: completeJobIDs(f),
	}
	addOutputFlags(cmd, &opts.Out)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, jobCancelRun, func(args []string) error {
		opts.ID = args[0]
		return opts.Out.validate()
	})
	return cmd
}

func jobCancelRun(opts *JobCancelOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	job, err := svc.CancelJob(opts.context(), opts.ID)
	if err != nil {
		return err
	}
	if job == nil {
		return errors.New("the agent returned no job")
	}
	return writeJob(opts.IO.Out, opts.Out, job)
}
