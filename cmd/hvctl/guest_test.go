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

func TestGuestList_Flags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var got *GuestListOptions
	require.NoError(t, parse(newCmdGuestList(b.f, capture(&got)), "--limit", "5", "-o", "json"))
	require.Equal(t, 5, got.Limit)
	require.Equal(t, formatJSON, got.Out.Format)

	requireUsage(t, parse(newCmdGuestList(b.f, capture(&got)), "--limit", "-1"), "--limit")
	requireUsage(t, parse(newCmdGuestList(b.f, capture(&got)), "-q", "-o", "json"), "-q and -o json")
	requireUsage(t, parse(newCmdGuestList(b.f, capture(&got)), "extra"), "takes no arguments")
}

func TestGuestList_Run(t *testing.T) {
	t.Parallel()
	guests := []*hvagent.Guest{
		{ID: "00000000-0000-4000-8000-000000000001", State: "running", CPU: 2, Memory: 512, Disks: []hvagent.Disk{{Size: 10}}},
		{ID: "00000000-0000-4000-8000-000000000002", Name: "web2", Type: "container", State: "shutoff"},
		{ID: "00000000-0000-4000-8000-000000000003"},
	}
	setupList := func(t *testing.T) (*bundle, *[]hvagent.GuestFilter) {
		b := setup(t)
		var filters []hvagent.GuestFilter
		b.fake.GuestsFunc = func(_ context.Context, f hvagent.GuestFilter) ([]*hvagent.Guest, error) {
			filters = append(filters, f)
			start := 0
			for i, g := range guests {
				if g.ID == f.After {
					start = i + 1
				}
			}
			end := min(len(guests), start+f.Limit)
			return guests[start:end], nil
		}
		return b, &filters
	}

	t.Run("Table", func(t *testing.T) {
		t.Parallel()
		b, _ := setupList(t)
		require.NoError(t, guestListRun(&GuestListOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable}}))
		lines := strings.Split(strings.TrimSpace(b.out.String()), "\n")
		require.Len(t, lines, 4)
		require.Regexp(t, `^ID\s+NAME\s+TYPE\s+STATE\s+CPU\s+MEMORY\s+DISKS\s+NICS$`, lines[0])
		require.Regexp(t, `^00000000-0000-4000-8000-000000000001\s+-\s+vm\s+running\s+2\s+512 MB\s+1\s+-$`, lines[1])
		require.Regexp(t, `^00000000-0000-4000-8000-000000000002\s+web2\s+container\s+shutoff\s+-`, lines[2])
	})
	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		b, _ := setupList(t)
		require.NoError(t, guestListRun(&GuestListOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatJSON}}))
		var got []*hvagent.Guest
		require.NoError(t, json.Unmarshal(b.out.Bytes(), &got))
		require.Equal(t, guests, got)
	})
	t.Run("QuietPaged", func(t *testing.T) {
		t.Parallel()
		b, filters := setupList(t)
		require.NoError(t, guestListRun(&GuestListOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable, Quiet: true}, Limit: 2}))
		require.Equal(t, guests[0].ID+"\n"+guests[1].ID+"\n", b.out.String())
		require.Equal(t, []hvagent.GuestFilter{{Limit: 2}}, *filters)
	})
	t.Run("EmptyJSONIsList", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, guestListRun(&GuestListOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatJSON}}))
		require.Equal(t, "[]\n", b.out.String())
	})
}

func TestGuestShow_Flags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var got *GuestShowOptions
	require.NoError(t, parse(newCmdGuestShow(b.f, capture(&got)), guestID, "-q"))
	require.Equal(t, guestID, got.ID)
	require.True(t, got.Out.Quiet)
	requireUsage(t, parse(newCmdGuestShow(b.f, capture(&got))), "needs GUEST")
}

func TestGuestShow_Run(t *testing.T) {
	t.Parallel()
	g := &hvagent.Guest{
		ID: guestID, State: "running", CPU: 1, Memory: 256,
		Disks:    []hvagent.Disk{{Image: "debian", Bus: "virtio", Device: "vda"}},
		Nics:     []hvagent.Nic{{Network: "br0", MAC: "52:54:00:00:00:01"}},
		Boot:     &hvagent.Boot{Kernel: "/k", Cmdline: "console=ttyS0"},
		Metadata: map[string]string{"b": "2", "a": "1"},
	}
	t.Run("Table", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.GuestFunc = func(_ context.Context, id string) (*hvagent.Guest, error) {
			require.Equal(t, guestID, id)
			return g, nil
		}
		require.NoError(t, guestShowRun(&GuestShowOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable}, ID: guestID}))
		out := b.out.String()
		require.Regexp(t, `(?m)^State:\s+running$`, out)
		require.Regexp(t, `(?m)^Disk 0:\s+device vda, bus virtio, image debian$`, out)
		require.Regexp(t, `(?m)^NIC 0:\s+network br0, mac 52:54:00:00:00:01$`, out)
		require.Regexp(t, `(?m)^Cmdline:\s+console=ttyS0$`, out)
		require.Regexp(t, `(?m)^Metadata:\s+a=1,b=2$`, out)
	})
	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.GuestFunc = func(context.Context, string) (*hvagent.Guest, error) { return g, nil }
		require.NoError(t, guestShowRun(&GuestShowOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatJSON}, ID: guestID}))
		var got hvagent.Guest
		require.NoError(t, json.Unmarshal(b.out.Bytes(), &got))
		require.Equal(t, *g, got)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.GuestFunc = func(context.Context, string) (*hvagent.Guest, error) {
			return nil, hvagent.Errorf(hvagent.ENOTFOUND, "guest %s not found", guestID)
		}
		require.Equal(t, exitNotFound, b.run(t.Context(), "guest", "show", guestID))
		require.Equal(t, "hvctl: guest "+guestID+" not found\n", b.errOut.String())
	})
}

func TestGuestAction_Flags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, spec := range guestActionSpecs {
		var got *GuestActionOptions
		cmd := newCmdGuestAction(b.f, spec, capture(&got))
		require.NoError(t, parse(cmd, guestID, "--wait", "--timeout", "2m", "--cancel-on-interrupt", "--idempotency-key", "k1"), spec.action)
		require.Equal(t, spec.action, got.Action)
		require.Equal(t, []string{guestID}, got.IDs)
		require.Equal(t, asyncOptions{Wait: true, Timeout: 2 * time.Minute, CancelOnInterrupt: true, IdempotencyKey: "k1"},
			asyncOptions{Wait: got.Async.Wait, Timeout: got.Async.Timeout, CancelOnInterrupt: got.Async.CancelOnInterrupt, IdempotencyKey: got.Async.IdempotencyKey})
	}
	var got *GuestActionOptions
	require.NoError(t, parse(newCmdGuestAction(b.f, guestActionSpecs[0], capture(&got)), guestID))
	require.Equal(t, defaultWaitTimeout, got.Async.Timeout)
	require.False(t, got.Async.Wait)
	requireUsage(t, parse(newCmdGuestAction(b.f, guestActionSpecs[0], capture(&got)), guestID, "--timeout", "-1s"), "--timeout")
}

func TestGuestAction_Run(t *testing.T) {
	t.Parallel()
	t.Run("Queued", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var calls []doCall
		b.acceptJob(newJob("reboot", hvagent.JobQueued), &calls)
		require.Equal(t, exitOK, b.run(t.Context(), "guest", "reboot", guestID, "-o", "json"))
		require.Equal(t, []doCall{{action: "reboot", guest: guestID}}, calls)
		var got hvagent.Job
		require.NoError(t, json.Unmarshal(b.out.Bytes(), &got))
		require.Equal(t, hvagent.JobQueued, got.Status)
		require.Empty(t, b.errOut.String())
	})
	t.Run("Wait", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := newJob("reboot", hvagent.JobQueued)
		b.acceptJob(job, nil)
		b.finishWith(job, hvagent.JobComplete, "")
		require.Equal(t, exitOK, b.run(t.Context(), "guest", "reboot", guestID, "--wait", "-q"))
		require.Equal(t, jobID+"\n", b.out.String())
		require.Contains(t, b.errOut.String(), "job "+jobID+" reboot: Complete")
	})
	t.Run("WaitJobFailed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := newJob("start", hvagent.JobQueued)
		b.acceptJob(job, nil)
		b.finishWith(job, hvagent.JobError, "stage 1/1 Sim.Start: no such guest")
		require.Equal(t, exitJobFailed, b.run(t.Context(), "guest", "start", guestID, "--wait"))
		require.Contains(t, b.out.String(), "Error")
		require.True(t, strings.HasSuffix(b.errOut.String(),
			"hvctl: job "+jobID+" (start) failed: stage 1/1 Sim.Start: no such guest\n"), b.errOut.String())
	})
	t.Run("LocalAlwaysWaits", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.local = true
		job := newJob("poweroff", hvagent.JobQueued)
		b.acceptJob(job, nil)
		b.finishWith(job, hvagent.JobComplete, "")
		require.Equal(t, exitOK, b.run(t.Context(), "guest", "poweroff", guestID))
		require.Regexp(t, `poweroff\s+Complete`, b.out.String())
	})
	t.Run("DryRun", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var calls []doCall
		b.fake.DoFunc = func(_ context.Context, action, guest string, req hvagent.Request) (*hvagent.Result, error) {
			calls = append(calls, doCall{action, guest, req})
			return &hvagent.Result{Pipeline: []hvagent.StageConfig{{Service: "sim", Method: "Sim.Start", Args: map[string]string{"x": "1"}}}}, nil
		}
		require.Equal(t, exitOK, b.run(t.Context(), "guest", "start", guestID, "--dry-run"))
		require.True(t, calls[0].req.DryRun)
		require.Regexp(t, `(?m)^1\s+sim\s+Sim.Start\s+x=1$`, b.out.String())
	})
	t.Run("ErrConflict", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.DoFunc = func(context.Context, string, string, hvagent.Request) (*hvagent.Result, error) {
			return nil, hvagent.Errorf(hvagent.EBUSY, "queue of guest %s is full", guestID)
		}
		require.Equal(t, exitConflict, b.run(t.Context(), "guest", "delete", guestID))
	})
}
