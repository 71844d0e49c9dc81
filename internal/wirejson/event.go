package wirejson

import (
	"strconv"

	"github.com/hvagent/hvagent/hvagent"
)

// EventFields are the Event fields AppendEvent knows, in order.
var EventFields = []string{"ID", "Type", "At", "Job", "Guest"}

// AppendEvent appends ev's JSON, the bytes json.Marshal(ev) gives, to b:
// its job by AppendJob, its guest by AppendGuest. It reports false (b's
// content then undefined past its length) for an event it leaves to
// encoding/json: one whose time json.Marshal cannot encode, or whose job
// AppendJob leaves to it.
func AppendEvent(b []byte, ev *hvagent.Event) ([]byte, bool) {
	w := writer{b: append(b, `{"id":`...)}
	w.b = strconv.AppendInt(w.b, ev.ID, 10)
	w.str(`,"type":`, ev.Type)
	if !w.time(`,"at":`, ev.At) {
		return w.b, false
	}
	if ev.Job != nil {
		var ok bool
		if w.b, ok = AppendJob(append(w.b, `,"job":`...), ev.Job); !ok {
			return w.b, false
		}
	}
	if ev.Guest != nil {
		w.b = AppendGuest(append(w.b, `,"guest":`...), ev.Guest)
	}
	return append(w.b, '}'), true
}
