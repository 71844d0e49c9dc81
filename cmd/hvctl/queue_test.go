package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestQueue_Flags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var got *QueueOptions
	require.NoError(t, parse(newCmdQueuePause(b.f, capture(&got)), "fetchImage"))
	require.True(t, got.Pause)
	require.Equal(t, "fetchImage", got.Action)
	require.NoError(t, parse(newCmdQueueResume(b.f, capture(&got))))
	require.False(t, got.Pause)
	require.Empty(t, got.Action)
	requireUsage(t, parse(newCmdQueuePause(b.f, capture(&got)), "dance"), `unknown action "dance"`)
	requireUsage(t, parse(newCmdQueuePause(b.f, capture(&got)), "strat"), `unknown action "strat"; did you mean "start"?`)
	requireUsage(t, parse(newCmdQueuePause(b.f, capture(&got)), "start", "stop"), "at most 1")
}

func TestQueue_Run(t *testing.T) {
	t.Parallel()
	t.Run("PauseOne", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var paused []string
		b.fake.PauseQueueFunc = func(_ context.Context, action string) error {
			paused = append(paused, action)
			return nil
		}
		b.fake.HealthFunc = func(context.Context) (*hvagent.Health, error) {
			return &hvagent.Health{Paused: paused}, nil
		}
		require.NoError(t, queueRun(&QueueOptions{cmdBase: b.base(t), Pause: true, Action: "reboot"}))
		require.Equal(t, []string{"reboot"}, paused)
		require.Equal(t, "paused: reboot\n", b.errOut.String())
		require.Empty(t, b.out.String())
	})
	t.Run("ResumeAll", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		resumed := []string{}
		b.fake.ResumeQueueFunc = func(_ context.Context, action string) error {
			resumed = append(resumed, action)
			return nil
		}
		b.fake.HealthFunc = func(context.Context) (*hvagent.Health, error) { return &hvagent.Health{}, nil }
		require.Equal(t, exitOK, b.run(t.Context(), "queue", "resume"))
		require.Equal(t, []string{""}, resumed)
		require.Equal(t, "no action is paused\n", b.errOut.String())
	})
	t.Run("ErrForbidden", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.PauseQueueFunc = func(context.Context, string) error {
			return hvagent.Errorf(hvagent.EFORBIDDEN, "token ci lacks admin scope")
		}
		require.Equal(t, exitError, b.run(t.Context(), "queue", "pause"))
		require.Equal(t, "hvctl: token ci lacks admin scope\n", b.errOut.String())
	})
}

func TestQueueStatus_Run(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	stats := []hvagent.QueueStat{
		{Queue: guestID, Queued: 2, Running: 1, OldestQueuedAt: now.Add(-90 * time.Second)},
		{Queue: "image:vm:base", Running: 1},
	}
	setupStatus := func(t *testing.T) *bundle {
		b := setup(t)
		b.fake.HealthFunc = func(context.Context) (*hvagent.Health, error) {
			return &hvagent.Health{Paused: []string{"start"}}, nil
		}
		b.fake.QueueStatsFunc = func(context.Context) ([]hvagent.QueueStat, error) { return stats, nil }
		return b
	}
	t.Run("Table", func(t *testing.T) {
		t.Parallel()
		b := setupStatus(t)
		require.NoError(t, queueStatusRun(&QueueStatusOptions{cmdBase: b.base(t), Now: func() time.Time { return now }}))
		require.Equal(t, "paused: start\n"+
			"QUEUE                                 QUEUED  RUNNING  OLDEST QUEUED\n"+
			guestID+"  2       1        1m30s ago\n"+
			"image:vm:base                         0       1        -\n", b.out.String())
	})
	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		b := setupStatus(t)
		b.fake.QueueStatsFunc = nil
		require.NoError(t, queueStatusRun(&QueueStatusOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatJSON}}))
		require.JSONEq(t, `{"paused":["start"],"queues":[]}`, b.out.String())
	})
	t.Run("Quiet", func(t *testing.T) {
		t.Parallel()
		b := setupStatus(t)
		require.NoError(t, queueStatusRun(&QueueStatusOptions{cmdBase: b.base(t), Out: outputOptions{Quiet: true}}))
		require.Equal(t, guestID+"\nimage:vm:base\n", b.out.String())
	})
	t.Run("Idle", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, queueStatusRun(&QueueStatusOptions{cmdBase: b.base(t)}))
		require.Equal(t, "no action is paused\nno job is queued or running\n", b.out.String())
	})
}
