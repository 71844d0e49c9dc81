package wirejson

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/jsonform"
)

// ParseJob decodes data, a Job's JSON as AppendJob writes it (surrounding
// whitespace aside), into *j, which must be the zero Job: the Job
// json.Unmarshal gives. It reports false, leaving *j unchanged, for any
// other form.
func ParseJob(data []byte, j *hvagent.Job) bool {
	r := jsonform.NewReader(string(bytes.TrimSpace(data))) // the Job's strings share this copy
	var v hvagent.Job
	if r.Need(`{"ID":`) {
		v.ID = r.Str()
	}
	if r.Need(`,"GuestID":`) {
		v.GuestID = r.Str()
	}
	if r.Key(`,"GuestName":`) {
		v.GuestName = r.Str()
	}
	if r.Need(`,"Action":`) {
		v.Action = r.Str()
	}
	parseJobTimes(&r, &v)
	if !parseJobTail(&r, &v) || r.Failed() {
		return false
	}
	*j = v
	return true
}

// parseJobTimes reads the keys from QueuedAt to StageStartedAt.
func parseJobTimes(r *jsonform.Reader, v *hvagent.Job) {
	if r.Need(`,"QueuedAt":`) {
		v.QueuedAt = r.Time()
	}
	if r.Need(`,"StartedAt":`) {
		v.StartedAt = r.Time()
	}
	if r.Need(`,"UpdatedAt":`) {
		v.UpdatedAt = r.Time()
	}
	if r.Need(`,"Status":`) {
		v.Status = hvagent.JobStatus(r.Str())
	}
	if r.Need(`,"Message":`) {
		v.Message = r.Str()
	}
	if r.Key(`,"Error":`) {
		v.Error = r.Str()
	}
	if r.Need(`,"Stage":`) {
		v.Stage = r.Str()
	}
	if r.Need(`,"StageStartedAt":`) {
		v.StageStartedAt = r.Time()
	}
}

// parseJobTail reads the keys from Position to the end of the object and
// reports whether the object ended there.
func parseJobTail(r *jsonform.Reader, v *hvagent.Job) bool {
	if r.Key(`,"Position":`) {
		v.Position = r.Int()
	}
	if r.Need(`,"Attempt":`) {
		v.Attempt = r.Int()
	}
	if r.Key(`,"RequestedBy":`) {
		v.RequestedBy = r.Str()
	}
	if r.Key(`,"IdempotencyKey":`) {
		v.IdempotencyKey = r.Str()
	}
	if r.Need(`,"FinishedAt":`) {
		v.FinishedAt = r.Time()
	}
	if r.Key(`,"Result":`) {
		// The rest up to the object's closing brace is the result.
		rest := r.Rest()
		raw, ok := strings.CutSuffix(rest, "}")
		if !ok || raw == "" || !json.Valid([]byte(raw)) {
			return false
		}
		v.Result = json.RawMessage(raw) // a RawMessage's null is kept as it is, as json.Unmarshal does
		r.Skip(len(raw))
	}
	return r.Key(`}`) && r.Done()
}
