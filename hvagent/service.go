package hvagent

import (
	"context"
	"encoding/json"
	"io"
	"time"
)

// Service is the seam between callers and an agent: *Agent implements it
// in-process and *Client over REST, with the same meaning and error codes.
type Service interface {
	// Do runs or queues one action (see Agent.Do).
	Do(ctx context.Context, action, guest string, req Request) (*Result, error)

	// Every guest argument is a guest ID or a guest name (see
	// ParseGuestRef).

	// Guest returns one guest (ENOTFOUND).
	Guest(ctx context.Context, id string) (*Guest, error)
	// Guests lists guests ordered by ID.
	Guests(ctx context.Context, f GuestFilter) ([]*Guest, error)
	// RenameGuest sets a guest's name ("" removes it) and returns the
	// guest (EINVALID, ENOTFOUND, ECONFLICT when another guest has it).
	RenameGuest(ctx context.Context, guest, name string) (*Guest, error)
	// GuestMetadata returns a guest's metadata (ENOTFOUND).
	GuestMetadata(ctx context.Context, id string) (map[string]string, error)
	// PatchGuestMetadata upserts keys; an empty value deletes the key.
	PatchGuestMetadata(ctx context.Context, id string, patch map[string]string) (map[string]string, error)

	// Metadata returns the hypervisor metadata.
	Metadata(ctx context.Context) (map[string]string, error)
	// PatchMetadata upserts keys; an empty value deletes the key.
	PatchMetadata(ctx context.Context, patch map[string]string) (map[string]string, error)

	// Job returns one job (ENOTFOUND).
	Job(ctx context.Context, id string) (*Job, error)
	// Jobs lists jobs newest first.
	Jobs(ctx context.Context, f JobFilter) ([]*Job, error)
	// WaitJob blocks until the job is final or ctx is done, and returns the
	// job as it is then (with ctx's error when it did not finish).
	WaitJob(ctx context.Context, id string) (*Job, error)
	// CancelJob cancels a queued or running job and returns it as it ended
	// (ECONFLICT when it had already finished).
	CancelJob(ctx context.Context, id string) (*Job, error)

	// Events returns events after q.After, oldest first, waiting up to
	// q.Wait for the first one to exist.
	Events(ctx context.Context, q EventQuery) (*EventPage, error)

	// PauseQueue stops workers from starting jobs of action ("" = every
	// action); paused jobs stay queued. ResumeQueue undoes it.
	PauseQueue(ctx context.Context, action string) error
	ResumeQueue(ctx context.Context, action string) error

	// QueueStats returns, for each queue holding queued or running jobs
	// (a guest's ID, or "image:<type>:<id>"), how many of each and when its
	// oldest queued job was queued; ordered by queue, never nil.
	QueueStats(ctx context.Context) ([]QueueStat, error)

	// Health reports whether the agent is serving and what drives it.
	Health(ctx context.Context) (*Health, error)
}

// EventQuery selects events from the event log.
type EventQuery struct {
	// After is the last event ID the caller has seen; 0 = from the oldest;
	// -1 = only events that come after the call (live).
	After int64
	// Limit caps the page; 0 means 1000.
	Limit int
	// Wait is how long to wait for a first event when none is there yet.
	Wait time.Duration
}

// EventPage is a page of events.
type EventPage struct {
	// Events are oldest first. Never nil.
	Events []*Event `json:"events"`
	// Reset is true when events after After were already pruned, or when
	// After is past the newest event (a cursor kept from another log): the
	// caller missed some and must re-read the state it follows.
	Reset bool `json:"reset,omitempty"`
	// Cursor is the After of the next query: the last event's ID, or the
	// newest ID at query time when the page is empty.
	Cursor int64 `json:"cursor"`
}

// Health is the agent's self-report, served at /healthz.
type Health struct {
	// Status is "ok" while serving, else "starting" or "stopping".
	Status string `json:"status"`
	// Version is the agent's version.
	Version string `json:"version"`
	// Builtins are the built-in drivers in use ("sim", "qemu", "storage").
	Builtins []string `json:"builtins"`
	// Simulated is true when a service is the simulated driver: no real
	// guest is run by it.
	Simulated bool `json:"simulated"`
	// Paused lists the paused actions ("*" = all).
	Paused []string `json:"paused"`
}

// Request carries what an action needs besides its name and guest.
type Request struct {
	// Guest is the guest to create (create only). Its ID may be empty.
	Guest *Guest `json:"guest,omitempty"`
	// Image names an image (image actions): ID, Type, and for fetchImage
	// Source and SHA256.
	Image *ImageRequest `json:"image,omitempty"`
	// Disk selects one disk (its index) for snapshot actions; nil means the
	// whole guest.
	Disk *int `json:"disk,omitempty"`
	// Snapshot is the snapshot name: the new name for createSnapshot
	// (default "snap-<unix seconds>"), the target for the others.
	Snapshot string `json:"snapshot,omitempty"`
	// DestroyMoreRecent lets rollbackSnapshot destroy newer snapshots.
	DestroyMoreRecent bool `json:"destroyMoreRecent,omitempty"`

	// IdempotencyKey makes a retried async request return the first job,
	// also once the guest has been deleted (Result.Guest then carries only
	// the guest's ID).
	IdempotencyKey string `json:"-"`
	// IdemScope scopes the key (the REST handler sets caller, method and
	// path); default the action and guest.
	IdemScope string `json:"-"`
	// RequestedBy names the caller in the job record.
	RequestedBy string `json:"-"`
	// DryRun resolves an async action's pipeline without running it.
	DryRun bool `json:"-"`
	// Attach makes the console action an interactive session: Result.Stream
	// carries the console output from now on (until the guest stops or the
	// caller closes it) and Result.Input sends keystrokes. The guest must
	// run (else conflict).
	Attach bool `json:"-"`
}

// Result is what Do returns: a Job for async actions, a JSON Body for info
// actions, a Stream for stream actions.
type Result struct {
	// Action is the action an async call resolved to (for example
	// containerReboot for reboot on a container), also on a dry run.
	Action string
	// Job is the queued job of an async action.
	Job *Job
	// Guest is the guest as stored when an async guest action was accepted.
	Guest *Guest
	// Body is an info action's JSON result.
	Body json.RawMessage
	// Stream is a stream action's data; the caller must close it. Size is
	// its length, or -1 when unknown.
	Stream io.ReadCloser
	Size   int64
	// Input sends bytes to the guest's serial console on an attached
	// console (Request.Attach); each Write returns once the guest got them.
	// Closing Stream ends the session.
	Input io.Writer
	// Pipeline is the resolved pipeline of a dry run.
	Pipeline []StageConfig
}

var _ Service = (*Agent)(nil)
