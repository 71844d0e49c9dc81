package wirejson

import (
	"encoding/json"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/jsonform"
)

// A Job crosses the wire on every call of the job path (the queued job of
// an action, the job a wait ends with), is the payload of two events of
// every job (its claim and its end), and encoding/json spends most of
// its time on it in reflection and in validating what time.Time and
// json.RawMessage marshal. AppendJob and ParseJob are the direct forms of
// json.Marshal and json.Unmarshal for a Job: AppendJob gives the same bytes
// as json.Marshal, ParseJob the same Job as json.Unmarshal, and each
// declines (ok false) whatever it does not handle exactly, for
// encoding/json to do. JobFields lists the fields they know; a test fails
// when Job has others.

// JobFields are the Job fields AppendJob and ParseJob know, in order.
var JobFields = []string{"ID", "GuestID", "GuestName", "Action", "QueuedAt", "StartedAt", "UpdatedAt",
	"Status", "Message", "Error", "Stage", "StageStartedAt", "Progress", "Position", "Attempt",
	"RequestedBy", "IdempotencyKey", "FinishedAt", "Result"}

// AppendJob appends j's JSON, the bytes json.Marshal(j) gives, to b. It
// reports false (b's content then undefined past its length) for a job it
// leaves to encoding/json: one with Progress, a time json.Marshal cannot
// encode, or a Result that is not compact JSON free of the characters
// json.Marshal escapes.
func AppendJob(b []byte, j *hvagent.Job) ([]byte, bool) {
	if j.Progress != nil || !plainRaw(j.Result) {
		return b, false
	}
	w := jsonform.Writer{B: b}
	w.Str(`{"ID":`, j.ID)
	w.Str(`,"GuestID":`, j.GuestID)
	w.StrOmit(`,"GuestName":`, j.GuestName)
	w.Str(`,"Action":`, j.Action)
	ok := w.Time(`,"QueuedAt":`, j.QueuedAt) && w.Time(`,"StartedAt":`, j.StartedAt) &&
		w.Time(`,"UpdatedAt":`, j.UpdatedAt)
	w.Str(`,"Status":`, string(j.Status))
	w.Str(`,"Message":`, j.Message)
	w.StrOmit(`,"Error":`, j.Error)
	w.Str(`,"Stage":`, j.Stage)
	ok = ok && w.Time(`,"StageStartedAt":`, j.StageStartedAt)
	if j.Position != 0 {
		w.Int(`,"Position":`, j.Position)
	}
	w.Int(`,"Attempt":`, j.Attempt)
	w.StrOmit(`,"RequestedBy":`, j.RequestedBy)
	w.StrOmit(`,"IdempotencyKey":`, j.IdempotencyKey)
	ok = ok && w.Time(`,"FinishedAt":`, j.FinishedAt)
	if len(j.Result) > 0 {
		w.B = append(w.B, `,"Result":`...)
		w.B = append(w.B, j.Result...)
	}
	return append(w.B, '}'), ok
}

// plainRaw reports whether raw is empty, or JSON that json.Marshal would
// copy unchanged: valid, compact (no whitespace outside strings) and free
// of <, >, &, U+2028 and U+2029, which it escapes.
func plainRaw(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return true
	}
	inString := false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '<', '>', '&':
			return false
		case 0xe2: // U+2028 and U+2029 are e2 80 a8 and e2 80 a9
			if i+2 < len(raw) && raw[i+1] == 0x80 && (raw[i+2] == 0xa8 || raw[i+2] == 0xa9) {
				return false
			}
		case '\\':
			if inString {
				i++ // the escaped byte is ASCII: none of those above
			}
		case '"':
			inString = !inString
		case ' ', '\t', '\n', '\r':
			if !inString {
				return false
			}
		}
	}
	return json.Valid(raw)
}
