package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestJob_Flags(t *testing.T) {
	t.Parallel()
	b := setup(t)

	var list *JobListOptions
	require.NoError(t, parse(newCmdJobList(b.f, capture(&list)), "--guest", guestID, "--action", "reboot",
		"--status", "error", "--limit", "10", "--before", jobID))
	require.Equal(t, hvagent.JobFilter{GuestID: guestID, Action: "reboot", Status: hvagent.JobError, Limit: 10, Before: jobID}, list.Filter)
	requireUsage(t, parse(newCmdJobList(b.f, capture(&list)), "--status", "Done"), "--status")
	requireUsage(t, parse(newCmdJobList(b.f, capture(&list)), "--limit", "1001"), "--limit")

	var show *JobShowOptions
	require.NoError(t, parse(newCmdJobShow(b.f, capture(&show)), jobID))
	require.Equal(t, jobID, show.ID)

	var wait *JobWaitOptions
	require.NoError(t, parse(newCmdJobWait(b.f, capture(&wait)), jobID, "--timeout", "30s", "--cancel-on-interrupt"))
	require.Equal(t, 30*time.Second, wait.Async.Timeout)
	require.True(t, wait.Async.CancelOnInterrupt)
	requireUsage(t, parse(newCmdJobWait(b.f, capture(&wait))), "needs JOB")

	var cancel *JobCancelOptions
	require.NoError(t, parse(newCmdJobCancel(b.f, capture(&cancel)), jobID, "-o", "json"))
	require.Equal(t, jobID, cancel.ID)
}

func TestJob_Run(t *testing.T) {
	t.Parallel()
	t.Run("ListTable", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := newJob("reboot", hvagent.JobRunning)
		j.Stage = "1/2 Sim.Reboot"
		b.fake.JobsFunc = func(_ context.Context, f hvagent.JobFilter) ([]*hvagent.Job, error) {
			require.Equal(t, hvagent.JobFilter{GuestID: guestID}, f)
			return []*hvagent.Job{j}, nil
		}
		require.NoError(t, jobListRun(&JobListOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable}, Filter: hvagent.JobFilter{GuestID: guestID}}))
		lines := strings.Split(strings.TrimSpace(b.out.String()), "\n")
		require.Len(t, lines, 2)
		require.Regexp(t, `^ID\s+GUEST\s+ACTION\s+STATUS\s+STAGE\s+QUEUED\s+MESSAGE$`, lines[0])
		require.Regexp(t, `^`+jobID+`\s+`+guestID+`\s+reboot\s+Running\s+1/2 Sim.Reboot\s+`+fmtTime(j.QueuedAt)+`\s+-$`, lines[1])
	})
	t.Run("ListJSONEmpty", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.Equal(t, exitOK, b.run(t.Context(), "job", "list", "-o", "json"))
		require.Equal(t, "[]\n", b.out.String())
	})
	t.Run("Show", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := newJob("fetchImage", hvagent.JobRunning)
		j.Progress = &hvagent.Progress{Done: 1 << 20, Total: 4 << 20}
		j.Result = json.RawMessage(`{"id":"x"}`)
		b.fake.JobFunc = func(context.Context, string) (*hvagent.Job, error) { return j, nil }
		require.NoError(t, jobShowRun(&JobShowOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable}, ID: jobID}))
		require.Regexp(t, `(?m)^Progress:\s+1.0 MiB of 4.0 MiB$`, b.out.String())
		require.Regexp(t, `(?m)^Result:\s+\{"id":"x"\}$`, b.out.String())
		require.Regexp(t, `(?m)^Finished:\s+-$`, b.out.String())
	})
	t.Run("ShowErrNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.JobFunc = func(context.Context, string) (*hvagent.Job, error) {
			return nil, hvagent.Errorf(hvagent.ENOTFOUND, "job not found")
		}
		require.Equal(t, exitNotFound, b.run(t.Context(), "job", "show", jobID))
	})
	t.Run("WaitCanceled", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := newJob("start", hvagent.JobQueued)
		b.fake.JobFunc = func(context.Context, string) (*hvagent.Job, error) { return j, nil }
		b.finishWith(j, hvagent.JobCanceled, "guest deleted")
		require.Equal(t, exitCanceled, b.run(t.Context(), "job", "wait", jobID, "-o", "json"))
		var got hvagent.Job
		require.NoError(t, json.Unmarshal(b.out.Bytes(), &got))
		require.Equal(t, hvagent.JobCanceled, got.Status)
		require.Contains(t, b.errOut.String(), "hvctl: job "+jobID+" (start) was canceled: guest deleted\n")
	})
	t.Run("WaitDone", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := newJob("start", hvagent.JobComplete)
		b.fake.JobFunc = func(context.Context, string) (*hvagent.Job, error) { return j, nil }
		require.NoError(t, jobWaitRun(&JobWaitOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable, Quiet: true}, ID: jobID}))
		require.Equal(t, jobID+"\n", b.out.String())
	})
	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.CancelJobFunc = func(_ context.Context, id string) (*hvagent.Job, error) {
			require.Equal(t, jobID, id)
			return newJob("start", hvagent.JobCanceled), nil
		}
		require.NoError(t, jobCancelRun(&JobCancelOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable}, ID: jobID}))
		require.Regexp(t, `(?m)^Status:\s+Canceled$`, b.out.String())
	})
	t.Run("CancelErrFinished", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.CancelJobFunc = func(context.Context, string) (*hvagent.Job, error) {
			return nil, hvagent.Errorf(hvagent.ECONFLICT, "job %s already finished", jobID)
		}
		require.Equal(t, exitConflict, b.run(t.Context(), "job", "cancel", jobID))
	})
}
