package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// sequence makes the fake's WaitJob return the jobs one after the other,
// then the last one forever.
func (b *bundle) sequence(jobs ...*hvagent.Job) {
	var mu sync.Mutex
	b.fake.WaitJobFunc = func(context.Context, string) (*hvagent.Job, error) {
		mu.Lock()
		defer mu.Unlock()
		j := jobs[0]
		if len(jobs) > 1 {
			jobs = jobs[1:]
		}
		return j, nil
	}
}

// withStage returns a copy of job in status s at stage.
func withStage(job *hvagent.Job, s hvagent.JobStatus, stage string, p *hvagent.Progress) *hvagent.Job {
	j := *job
	j.Status, j.Stage, j.Progress = s, stage, p
	return &j
}

// blockUntilDone makes the fake's WaitJob wait for its context like the
// agent does, returning job as it is then; first runs, when set, at the
// first call.
func (b *bundle) blockUntilDone(job *hvagent.Job, first func()) {
	var once sync.Once
	b.fake.WaitJobFunc = func(ctx context.Context, _ string) (*hvagent.Job, error) {
		if first != nil {
			once.Do(first)
		}
		<-ctx.Done()
		return job, hvagent.Errorf(hvagent.ETIMEOUT, "timed out waiting")
	}
}

func TestWait_PlainLines(t *testing.T) {
	t.Parallel()
	b := setup(t)
	job := newJob("fetchImage", hvagent.JobQueued)
	job.Position = 2
	b.acceptJob(job, nil)
	b.sequence(
		withStage(job, hvagent.JobRunning, "1/2 Storage.Fetch", &hvagent.Progress{Done: 0, Total: 100}),
		withStage(job, hvagent.JobRunning, "1/2 Storage.Fetch", &hvagent.Progress{Done: 55, Total: 100}),
		withStage(job, hvagent.JobRunning, "2/2 Storage.Verify", &hvagent.Progress{Done: 100, Total: 100}),
		withStage(job, hvagent.JobComplete, "2/2 Storage.Verify", &hvagent.Progress{Done: 100, Total: 100}),
	)
	require.Equal(t, exitOK, b.run(t.Context(), "image", "fetch", "debian-12", "--wait", "-q"))
	prefix := "job " + jobID + " fetchImage: "
	require.Equal(t, strings.Join([]string{
		prefix + "Queued (position 2)",
		prefix + "Running 1/2 Storage.Fetch",
		prefix + "50% (55 B of 100 B)",
		prefix + "Running 2/2 Storage.Verify",
		prefix + "100% (100 B of 100 B)",
		prefix + "Complete",
	}, "\n")+"\n", b.errOut.String())
	require.Equal(t, jobID+"\n", b.out.String())
}

func TestWait_TTY(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.f.IO.IsTTY = true
	job := newJob("fetchImage", hvagent.JobRunning)
	b.acceptJob(job, nil)
	b.sequence(
		withStage(job, hvagent.JobRunning, "1/1 Storage.Fetch", &hvagent.Progress{Done: 10, Total: 4096}),
		withStage(job, hvagent.JobComplete, "1/1 Storage.Fetch", nil),
	)
	require.Equal(t, exitOK, b.run(t.Context(), "image", "fetch", "debian-12", "--wait", "-q"))
	out := b.errOut.String()
	require.Contains(t, out, "fetchImage Running 1/1 Storage.Fetch", "the live line shows the stage")
	require.Contains(t, out, "10 B/4.1 kB", "and a byte progress bar")
	require.Regexp(t, `job `+jobID+` fetchImage: Complete after \S+\n$`, out, "it ends with one plain line")
}

func TestWait_Timeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	job := newJob("start", hvagent.JobRunning)
	b.acceptJob(job, nil)
	b.blockUntilDone(job, nil)
	require.Equal(t, exitTimeout, b.run(t.Context(), "guest", "start", guestID, "--wait", "--timeout", "50ms"))
	require.Contains(t, b.errOut.String(), "hvctl: timed out after 50ms waiting for job "+jobID+" (start, Running); it keeps running: hvctl job wait "+jobID+", or hvctl job cancel "+jobID+"\n")
	require.Empty(t, b.out.String())
}

func TestWait_Interrupt(t *testing.T) {
	t.Parallel()
	t.Run("LeavesJobRunning", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := newJob("reboot", hvagent.JobRunning)
		b.acceptJob(job, nil)
		ctx, cancel := context.WithCancel(t.Context())
		b.blockUntilDone(job, cancel)
		b.fake.CancelJobFunc = func(context.Context, string) (*hvagent.Job, error) {
			t.Error("the job must not be canceled")
			return nil, nil
		}
		require.Equal(t, exitInterrupted, b.run(ctx, "guest", "reboot", guestID, "--wait"))
		require.Contains(t, b.errOut.String(), "hvctl: interrupted while waiting for job "+jobID+" (reboot); it keeps running: hvctl job wait "+jobID+", or hvctl job cancel "+jobID+"\n")
	})
	t.Run("CancelOnInterrupt", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := newJob("reboot", hvagent.JobRunning)
		b.acceptJob(job, nil)
		ctx, cancel := context.WithCancel(t.Context())
		b.blockUntilDone(job, cancel)
		b.fake.CancelJobFunc = func(ctx context.Context, id string) (*hvagent.Job, error) {
			require.NoError(t, ctx.Err(), "the cancel outlives the interrupt")
			require.Equal(t, jobID, id)
			return withStage(job, hvagent.JobCanceled, "", nil), nil
		}
		require.Equal(t, exitCanceled, b.run(ctx, "guest", "reboot", guestID, "--wait", "--cancel-on-interrupt", "-o", "json"))
		var got hvagent.Job
		require.NoError(t, json.Unmarshal(b.out.Bytes(), &got))
		require.Equal(t, hvagent.JobCanceled, got.Status)
	})
	t.Run("CancelRacesCompletion", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := newJob("reboot", hvagent.JobRunning)
		b.acceptJob(job, nil)
		ctx, cancel := context.WithCancel(t.Context())
		b.blockUntilDone(job, cancel)
		b.fake.CancelJobFunc = func(context.Context, string) (*hvagent.Job, error) {
			return nil, hvagent.Errorf(hvagent.ECONFLICT, "job already finished")
		}
		b.fake.JobFunc = func(context.Context, string) (*hvagent.Job, error) {
			return withStage(job, hvagent.JobComplete, "", nil), nil
		}
		require.Equal(t, exitOK, b.run(ctx, "guest", "reboot", guestID, "--wait", "--cancel-on-interrupt", "-q"))
	})
	t.Run("Local", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.local = true
		job := newJob("reboot", hvagent.JobRunning)
		b.acceptJob(job, nil)
		ctx, cancel := context.WithCancel(t.Context())
		b.blockUntilDone(job, cancel)
		require.Equal(t, exitInterrupted, b.run(ctx, "guest", "reboot", guestID))
		require.Contains(t, b.errOut.String(), "it stops with this in-process agent: see hvctl --local job show "+jobID)
	})
}

func TestWait_ErrNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.acceptJob(newJob("start", hvagent.JobQueued), nil)
	b.fake.WaitJobFunc = func(context.Context, string) (*hvagent.Job, error) {
		return nil, hvagent.Errorf(hvagent.ENOTFOUND, "job not found")
	}
	require.Equal(t, exitNotFound, b.run(t.Context(), "guest", "start", guestID, "--wait"))
	require.Contains(t, b.errOut.String(), "hvctl: wait for job "+jobID+": job not found\n")
}
