package hvagent

import (
	"encoding/json"
	"time"
)

// JobStatus is the state of a job.
type JobStatus string

// Job statuses; the first two are live, the others are final.
const (
	// JobQueued: accepted and waiting in its queue.
	JobQueued JobStatus = "Queued"
	// JobRunning: a worker is running its pipeline.
	JobRunning JobStatus = "Running"
	// JobComplete: every stage succeeded.
	JobComplete JobStatus = "Complete"
	// JobError: a stage failed, or the job was interrupted with policy fail.
	JobError JobStatus = "Error"
	// JobCanceled: canceled by a caller, or by its guest's deletion.
	JobCanceled JobStatus = "Canceled"
)

// Final reports whether s is a final status.
func (s JobStatus) Final() bool {
	return s == JobComplete || s == JobError || s == JobCanceled
}

// Progress counts the bytes of a transfer.
type Progress struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

// Job is the durable record of one async action. Its JSON keys are the
// original's Go field names; unset times encode as 0001-01-01T00:00:00Z.
type Job struct {
	ID      string
	GuestID string
	// GuestName is the name of the job's guest ("" when it has none): its
	// name when the job was queued, kept up to date by renames.
	GuestName string `json:",omitempty"`
	Action    string
	QueuedAt  time.Time
	StartedAt time.Time
	UpdatedAt time.Time
	Status    JobStatus
	Message   string
	// Error is the error code word of a job that ended in Error or
	// Canceled (see JobEnd.Code); "" for any other job, and for a failed
	// job recorded before codes were.
	Error          string `json:",omitempty"`
	Stage          string
	StageStartedAt time.Time
	Progress       *Progress `json:",omitempty"`
	Position       int       `json:",omitempty"`
	Attempt        int
	RequestedBy    string `json:",omitempty"`
	IdempotencyKey string `json:",omitempty"`
	FinishedAt     time.Time
	// Result is what the job produced; for a guest job, the guest without
	// its metadata (which has its own table and never grows a job row).
	Result json.RawMessage `json:",omitempty"`
}

// JobFilter selects jobs for listing, newest first.
type JobFilter struct {
	// GuestID selects the jobs of one guest. The agent also takes a guest
	// name here: the jobs of the guest that has it, or when none has it,
	// those recorded with that name (a deleted guest's).
	GuestID string
	// GuestName selects jobs recorded with this guest name.
	GuestName string
	Action    string
	Status    JobStatus
	// Limit caps the result; 0 means the default (1000).
	Limit int
	// Before returns only jobs queued before this job ID (a cursor).
	Before string
}

// Event is one entry of the event log: a job or guest change. Its Guest
// carries no metadata, whatever changed (a metadata PATCH included): the
// event log must not grow with the guests' metadata, which
// GET /guests/{id}/metadata returns.
type Event struct {
	ID    int64     `json:"id"`
	Type  string    `json:"type"`
	At    time.Time `json:"at"`
	Job   *Job      `json:"job,omitempty"`
	Guest *Guest    `json:"guest,omitempty"`
}

// Event types.
const (
	EventJobUpdated   = "job.updated"
	EventGuestUpdated = "guest.updated"
	EventGuestDeleted = "guest.deleted"
)
