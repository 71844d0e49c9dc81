package servicetest

import (
	"context"

	"github.com/hvagent/hvagent/hvagent"
)

// Fake is a hvagent.Service whose methods call the matching XFunc field.
// A nil field makes its method return zero values and a nil error.
type Fake struct {
	DoFunc                 func(ctx context.Context, action, guest string, req hvagent.Request) (*hvagent.Result, error)
	GuestFunc              func(ctx context.Context, id string) (*hvagent.Guest, error)
	GuestsFunc             func(ctx context.Context, f hvagent.GuestFilter) ([]*hvagent.Guest, error)
	RenameGuestFunc        func(ctx context.Context, guest, name string) (*hvagent.Guest, error)
	GuestMetadataFunc      func(ctx context.Context, id string) (map[string]string, error)
	PatchGuestMetadataFunc func(ctx context.Context, id string, patch map[string]string) (map[string]string, error)
	MetadataFunc           func(ctx context.Context) (map[string]string, error)
	PatchMetadataFunc      func(ctx context.Context, patch map[string]string) (map[string]string, error)
	JobFunc                func(ctx context.Context, id string) (*hvagent.Job, error)
	JobsFunc               func(ctx context.Context, f hvagent.JobFilter) ([]*hvagent.Job, error)
	WaitJobFunc            func(ctx context.Context, id string) (*hvagent.Job, error)
	CancelJobFunc          func(ctx context.Context, id string) (*hvagent.Job, error)
	EventsFunc             func(ctx context.Context, q hvagent.EventQuery) (*hvagent.EventPage, error)
	PauseQueueFunc         func(ctx context.Context, action string) error
	ResumeQueueFunc        func(ctx context.Context, action string) error
	HealthFunc             func(ctx context.Context) (*hvagent.Health, error)
	QueueStatsFunc         func(ctx context.Context) ([]hvagent.QueueStat, error)
}

var _ hvagent.Service = (*Fake)(nil)

// Do calls DoFunc.
func (f *Fake) Do(ctx context.Context, action, guest string, req hvagent.Request) (*hvagent.Result, error) {
	if f.DoFunc == nil {
		return nil, nil
	}
	return f.DoFunc(ctx, action, guest, req)
}

// Guest calls GuestFunc.
func (f *Fake) Guest(ctx context.Context, id string) (*hvagent.Guest, error) {
	if f.GuestFunc == nil {
		return nil, nil
	}
	return f.GuestFunc(ctx, id)
}

// Guests calls GuestsFunc.
func (f *Fake) Guests(ctx context.Context, filter hvagent.GuestFilter) ([]*hvagent.Guest, error) {
	if f.GuestsFunc == nil {
		return nil, nil
	}
	return f.GuestsFunc(ctx, filter)
}

// RenameGuest calls RenameGuestFunc.
func (f *Fake) RenameGuest(ctx context.Context, guest, name string) (*hvagent.Guest, error) {
	if f.RenameGuestFunc == nil {
		return nil, nil
	}
	return f.RenameGuestFunc(ctx, guest, name)
}

// GuestMetadata calls GuestMetadataFunc.
func (f *Fake) GuestMetadata(ctx context.Context, id string) (map[string]string, error) {
	if f.GuestMetadataFunc == nil {
		return nil, nil
	}
	return f.GuestMetadataFunc(ctx, id)
}

// PatchGuestMetadata calls PatchGuestMetadataFunc.
func (f *Fake) PatchGuestMetadata(ctx context.Context, id string, patch map[string]string) (map[string]string, error) {
	if f.PatchGuestMetadataFunc == nil {
		return nil, nil
	}
	return f.PatchGuestMetadataFunc(ctx, id, patch)
}

// Metadata calls MetadataFunc.
func (f *Fake) Metadata(ctx context.Context) (map[string]string, error) {
	if f.MetadataFunc == nil {
		return nil, nil
	}
	return f.MetadataFunc(ctx)
}

// PatchMetadata calls PatchMetadataFunc.
func (f *Fake) PatchMetadata(ctx context.Context, patch map[string]string) (map[string]string, error) {
	if f.PatchMetadataFunc == nil {
		return nil, nil
	}
	return f.PatchMetadataFunc(ctx, patch)
}

// Job calls JobFunc.
func (f *Fake) Job(ctx context.Context, id string) (*hvagent.Job, error) {
	if f.JobFunc == nil {
		return nil, nil
	}
	return f.JobFunc(ctx, id)
}

// Jobs calls JobsFunc.
func (f *Fake) Jobs(ctx context.Context, filter hvagent.JobFilter) ([]*hvagent.Job, error) {
	if f.JobsFunc == nil {
		return nil, nil
	}
	return f.JobsFunc(ctx, filter)
}

// WaitJob calls WaitJobFunc.
func (f *Fake) WaitJob(ctx context.Context, id string) (*hvagent.Job, error) {
	if f.WaitJobFunc == nil {
		return nil, nil
	}
	return f.WaitJobFunc(ctx, id)
}

// CancelJob calls CancelJobFunc.
func (f *Fake) CancelJob(ctx context.Context, id string) (*hvagent.Job, error) {
	if f.CancelJobFunc == nil {
		return nil, nil
	}
	return f.CancelJobFunc(ctx, id)
}

// Events calls EventsFunc.
func (f *Fake) Events(ctx context.Context, q hvagent.EventQuery) (*hvagent.EventPage, error) {
	if f.EventsFunc == nil {
		return nil, nil
	}
	return f.EventsFunc(ctx, q)
}

// PauseQueue calls PauseQueueFunc.
func (f *Fake) PauseQueue(ctx context.Context, action string) error {
	if f.PauseQueueFunc == nil {
		return nil
	}
	return f.PauseQueueFunc(ctx, action)
}

// ResumeQueue calls ResumeQueueFunc.
func (f *Fake) ResumeQueue(ctx context.Context, action string) error {
	if f.ResumeQueueFunc == nil {
		return nil
	}
	return f.ResumeQueueFunc(ctx, action)
}

// QueueStats calls QueueStatsFunc.
func (f *Fake) QueueStats(ctx context.Context) ([]hvagent.QueueStat, error) {
	if f.QueueStatsFunc == nil {
		return nil, nil
	}
	return f.QueueStatsFunc(ctx)
}

// Health calls HealthFunc.
func (f *Fake) Health(ctx context.Context) (*hvagent.Health, error) {
	if f.HealthFunc == nil {
		return nil, nil
	}
	return f.HealthFunc(ctx)
}
