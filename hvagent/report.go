package hvagent

import (
	"context"
)

// This file is how built-in drivers tell the agent what they see outside
// the pipeline calls: a guest whose hypervisor process died, the bytes of a
// transfer. Host wires them to the drivers' callbacks.

// ReportGuestState records a guest's state as a driver observed it outside
// any job (for example "crashed" when its QEMU died, or "shutoff" when the
// guest powered itself off), with a guest.updated event; a crash is logged
// at warn. A state the guest already has changes nothing. Errors: ENOTFOUND
// (no such guest), EINVALID (empty state).
func (a *Agent) ReportGuestState(ctx context.Context, id, state, reason string) error {
	g, err := a.store.SetGuestState(ctx, id, state, a.now())
	if err != nil {
		return err
	}
	ev := a.log.Info()
	if state == "crashed" {
		ev = a.log.Warn()
	}
	ev.Str("guest_id", g.ID).Str("state", state).Str("reason", reason).Msg("guest state changed outside a job")
	return nil
}

// ReportProgress records how many bytes of a transfer a running job has
// done out of total (-1 when unknown), with a job.updated event. Errors:
// ENOTFOUND (no such job), ECONFLICT (the job is not running).
func (a *Agent) ReportProgress(ctx context.Context, jobID string, done, total int64) error {
	_, err := a.store.Advance(ctx, JobUpdate{ID: jobID, At: a.now(), Progress: &Progress{Done: done, Total: total}})
	return err
}
