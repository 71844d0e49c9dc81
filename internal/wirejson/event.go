package wirejson

import (
	"strconv"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/jsonform"
)

// EventFields are the Event fields AppendEvent knows, in order.
var EventFields = []string{"ID", "Type", "At", "Job", "Guest"}

// AppendEvent appends ev's JSON, the bytes json.Marshal(ev) gives, to b:
// its job by AppendJob, its guest by subagent.AppendGuest. It reports false (b's
// content then undefined past its length) for an event it leaves to
// encoding/json: one whose time json.Marshal cannot encode, or whose job
// AppendJob leaves to it.
func AppendEvent(b []byte, ev *hvagent.Event) ([]byte, bool) {
	w := jsonform.Writer{B: append(b, `{"id":`...)}
	w.B = strconv.AppendInt(w.B, ev.ID, 10)
	w.Str(`,"type":`, ev.Type)
	if !w.Time(`,"at":`, ev.At) {
		return w.B, false
	}
	if ev.Job != nil {
		var ok bool
		if w.B, ok = AppendJob(append(w.B, `,"job":`...), ev.Job); !ok {
			return w.B, false
		}
	}
	if ev.Guest != nil {
		w.B = subagent.AppendGuest(append(w.B, `,"guest":`...), ev.Guest)
	}
	return append(w.B, '}'), true
}
