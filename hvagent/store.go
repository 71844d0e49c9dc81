package hvagent

import (
	"context"
	"encoding/json"
	"time"
)

// Store is the durable state of an Agent: guests, hypervisor metadata, the
// job log with its queues, the event log and idempotency keys. Package
// hvagent/store implements it on SQLite.
//
// Every method that changes a job or a guest does so in one transaction
// together with the events it emits (EventJobUpdated with the job as it is
// after the change; EventGuestUpdated / EventGuestDeleted with the guest).
// Errors are *Error values: ENOTFOUND for a missing guest or job, ECONFLICT
// for a duplicate or a state that forbids the change, EBUSY for a full
// queue, EINVALID for bad arguments; anything else is EINTERNAL.
type Store interface {
	// Guest returns one guest, with its metadata.
	Guest(ctx context.Context, id string) (*Guest, error)
	// Guests lists guests ordered by ID (see GuestFilter). Never nil.
	Guests(ctx context.Context, f GuestFilter) ([]*Guest, error)
	// GuestByName returns the guest with this name, with its metadata.
	GuestByName(ctx context.Context, name string) (*Guest, error)
	// RenameGuest sets a guest's name ("" removes it) and the guest name
	// its jobs record, with an EventGuestUpdated; nothing is written when
	// the name is already that. A name another guest has is ECONFLICT.
	RenameGuest(ctx context.Context, id, name string, at time.Time) (*Guest, error)
	// SetGuestState sets a guest's state as a driver observed it outside
	// any job (a crashed QEMU), with an EventGuestUpdated; nothing is
	// written when it is already that state.
	SetGuestState(ctx context.Context, id, state string, at time.Time) (*Guest, error)
	// PatchGuestMetadata upserts the keys of patch into the guest's metadata
	// and deletes those whose value is "", touching only the patch's keys,
	// with an EventGuestUpdated whose guest carries no metadata. It returns
	// the updated guest; EINVALID for a bad key or value and ETOOLARGE when
	// the result is over lim (then nothing is written).
	PatchGuestMetadata(ctx context.Context, id string, patch map[string]string, lim MetadataLimits) (*Guest, error)

	// Metadata returns the hypervisor metadata. Never nil.
	Metadata(ctx context.Context) (map[string]string, error)
	// PatchMetadata upserts the keys of patch into the hypervisor metadata
	// and deletes those whose value is "". It returns the whole map.
	PatchMetadata(ctx context.Context, patch map[string]string, lim MetadataLimits) (map[string]string, error)

	// Enqueue commits a new Queued job (see NewJob) and returns it. When the
	// idempotency key of n is live it returns the job recorded for it instead
	// (ECONFLICT when the hash differs).
	Enqueue(ctx context.Context, n NewJob) (*Job, error)
	// EnqueueClaim is Enqueue that also claims the job, in the same commit,
	// as Claim would with o at the job's QueuedAt, when its queue holds no
	// other Queued or Running job: an action on an idle queue starts
	// without a commit of its own for the claim. It returns the job as
	// queued, as Enqueue does, and the claim: nil when the job was not
	// claimed (its queue was busy, its action is in o.Paused, or a live
	// idempotency key gave an earlier job).
	EnqueueClaim(ctx context.Context, n NewJob, o ClaimOptions) (*Job, *Claim, error)
	// KeyJob returns the job recorded for a live idempotency key (scope,
	// key) at at, with the request hash recorded with it; a nil job when
	// the key is unknown or expired.
	KeyJob(ctx context.Context, scope, key string, at time.Time) (job *Job, hash string, err error)
	// Claim moves the oldest Queued job of queue to Running: Attempt+1,
	// StartedAt set the first time, Message cleared, Stage set to
	// o.FirstStage[action] (StageStartedAt = at) or cleared. It returns nil
	// and no error when the queue has no queued job, or when that job's
	// action is in o.Paused (a paused job holds its queue). A queue has at
	// most one Running job: while it has one, Claim gives ECONFLICT.
	Claim(ctx context.Context, queue string, at time.Time, o ClaimOptions) (*Claim, error)
	// Advance records a running job's progress (see JobUpdate).
	Advance(ctx context.Context, u JobUpdate) (*Job, error)
	// Finish moves a Running or Queued job to a final status (see JobEnd).
	// It returns the finished job and the IDs of the jobs it canceled. The
	// agent retries an EINTERNAL failure until it succeeds or the agent
	// stops, so it must leave the job unchanged when it fails.
	Finish(ctx context.Context, e JobEnd) (*Job, []string, error)
	// FinishClaim records e as Finish does and, in the same transaction,
	// claims the next job of queue as Claim does (with o, at e.At), so that
	// a worker pays one commit between two jobs of its queue. e's job must
	// be of queue (EINVALID). Ended.Next is nil when there is nothing to
	// start. When either part fails, nothing is written.
	FinishClaim(ctx context.Context, e JobEnd, queue string, o ClaimOptions) (*Ended, error)
	// Requeue moves a Running job back to Queued, keeping its place at the
	// head of its queue, and records message as an attempt error.
	Requeue(ctx context.Context, id, message string, at time.Time) (*Job, error)
	// CancelQueued ends a Queued job as Canceled (code ECANCELED) with
	// message. A Running job
	// is returned unchanged (the caller cancels its pipeline); a finished job
	// gives ECONFLICT.
	CancelQueued(ctx context.Context, id, message string, at time.Time) (*Job, error)

	// Job returns one job; Position is set for Queued jobs.
	Job(ctx context.Context, id string) (*Job, error)
	// Jobs lists jobs newest first (see JobFilter). Never nil.
	Jobs(ctx context.Context, f JobFilter) ([]*Job, error)
	// RunningJobs returns every job whose status is Running.
	RunningJobs(ctx context.Context) ([]*Job, error)
	// QueuedQueues returns the queues that hold Queued jobs, in the order of
	// their oldest queued job.
	QueuedQueues(ctx context.Context) ([]string, error)
	// QueueStats returns, for each queue holding Queued or Running jobs, how
	// many and the QueuedAt of its oldest Queued job.
	QueueStats(ctx context.Context) ([]QueueStat, error)

	// PausedActions returns the paused actions ("*" = all), as PauseQueue
	// and ResumeQueue recorded them. Never nil.
	PausedActions(ctx context.Context) ([]string, error)
	// PauseQueue records an action ("*" = all) as paused.
	PauseQueue(ctx context.Context, action string, at time.Time) error
	// ResumeQueue removes an action's pause; "*" removes every pause.
	ResumeQueue(ctx context.Context, action string) error

	// Events returns up to limit events whose ID is greater than after,
	// oldest first. Never nil.
	Events(ctx context.Context, after int64, limit int) ([]*Event, error)
	// FirstEventID returns the ID of the oldest retained event, 0 if none.
	FirstEventID(ctx context.Context) (int64, error)
	// LastEventID returns the ID of the newest event, 0 if none.
	LastEventID(ctx context.Context) (int64, error)

	// Prune keeps the newest maxJobs finished jobs, newest by enqueue order
	// (never a Queued or Running job, nor one with a live idempotency key),
	// the newest maxEvents events, and drops idempotency keys that expired
	// before now. It deletes in short batches, each its own commit, so that
	// other writes never wait for more than one batch.
	Prune(ctx context.Context, maxJobs, maxEvents int, now time.Time) error

	// Close releases the store and its data-dir lock.
	Close() error
}

// NewJob is what Store.Enqueue commits.
type NewJob struct {
	// Job holds ID, GuestID, Action, QueuedAt, RequestedBy and
	// IdempotencyKey; the store sets Status Queued and UpdatedAt = QueuedAt.
	Job *Job
	// Queue is the serial queue: the guest ID, or "image:<type>:<id>".
	Queue string
	// Request is the first stage's input, kept to run or rerun the job.
	Request json.RawMessage
	// NewGuest, when set, is inserted in the same transaction (ECONFLICT if
	// its ID exists).
	NewGuest *Guest
	// RequireGuest makes Enqueue fail with ENOTFOUND unless Job.GuestID is a
	// stored guest.
	RequireGuest bool
	// MaxQueued makes Enqueue fail with EBUSY when Queue already holds this
	// many Queued jobs; 0 means no limit.
	MaxQueued int
	// IdemScope and IdemHash scope and fingerprint Job.IdempotencyKey;
	// IdemExpires is when the key stops being live. Ignored without a key.
	IdemScope   string
	IdemHash    string
	IdemExpires time.Time
}

// ClaimOptions tune Store.Claim.
type ClaimOptions struct {
	// Paused are actions whose jobs must not start.
	Paused []string
	// FirstStage maps an action to its first stage's label, recorded by
	// the claim itself so a one-stage job needs no separate update.
	FirstStage map[string]string
}

// Claim is a job taken by a worker, with the request it runs on.
type Claim struct {
	Job     *Job
	Request json.RawMessage
}

// JobUpdate is a change to a running job. Nil fields are left as they are.
type JobUpdate struct {
	ID string
	At time.Time
	// Stage, when set, becomes Job.Stage and sets StageStartedAt = At.
	Stage *string
	// Progress, when set, replaces Job.Progress.
	Progress *Progress
	// Guest, when set, is persisted (all fields but ID and metadata, which
	// the store keeps) in the same transaction, with an EventGuestUpdated.
	Guest *Guest
}

// JobEnd is the final transition of a job.
type JobEnd struct {
	ID      string
	At      time.Time
	Status  JobStatus // JobComplete, JobError or JobCanceled
	Message string
	// Code is the error code word (an E* constant) of an Error or Canceled
	// end, recorded as Job.Error: "" means ECANCELED for Canceled and
	// EINTERNAL for Error. It must be "" for Complete.
	Code   string
	Result json.RawMessage
	// Guest, when set, is persisted first (as in JobUpdate).
	Guest *Guest
	// DeleteGuest removes the job's guest record (an EventGuestDeleted) and
	// ends the other Queued jobs of its queue as Canceled ("guest deleted",
	// code ECANCELED).
	DeleteGuest bool
}

// Ended is what Store.FinishClaim did: the finished job, the IDs of the
// jobs its end canceled (see JobEnd.DeleteGuest), and the next job of its
// queue, claimed in the same transaction (nil when there was none to
// start).
type Ended struct {
	Job      *Job
	Canceled []string
	Next     *Claim
}

// QueueStat describes one queue: its depth, for `hvctl queue status`,
// GET /queue and metrics.
type QueueStat struct {
	// Queue is the serial queue: a guest's ID, or "image:<type>:<id>".
	Queue string `json:"queue"`
	// Queued and Running count the queue's jobs in those statuses.
	Queued  int `json:"queued"`
	Running int `json:"running"`
	// OldestQueuedAt is when its oldest queued job was queued; zero (and
	// left out of JSON) when nothing is queued.
	OldestQueuedAt time.Time `json:"oldest_queued_at,omitzero"`
}
