package hvagent

import "fmt"

// overruled is the cause of a running shutdown's context when a poweroff
// of its guest was queued behind it: a guest that ignores the ACPI power
// button would otherwise hold its queue, and the poweroff behind it, until
// the shutdown's timeout, where "pull the plug" means at once (as
// virsh destroy, incus stop --force and Proxmox's overrule-shutdown do).
type overruled struct{ by *Job }

func (o *overruled) Error() string {
	return fmt.Sprintf("overruled by %s job %s", o.by.Action, o.by.ID)
}

// overrule cancels the running shutdown of the guest of job, a poweroff
// just queued. The jobs queued between them still run first, in order.
func (a *Agent) overrule(job *Job) {
	if BaseAction(job.Action) != ActionPoweroff {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, r := range a.running {
		if r.guest == job.GuestID && BaseAction(r.action) == ActionShutdown {
			a.log.Info().Str("job_id", id).Str("guest_id", job.GuestID).Str("by_job_id", job.ID).
				Msg("shutdown overruled by a poweroff")
			r.cancel(&overruled{by: job})
		}
	}
}
