package wirejson

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hvagent/hvagent/hvagent"
)

// jobReader reads a Job's JSON as AppendJob writes it: its keys in that
// order, no whitespace, strings without escapes. Any other form sets
// failed, and the caller leaves the data to encoding/json.
type jobReader struct {
	data []byte
	// text is data as one string, which the Job's strings are cut from:
	// one allocation for all of them.
	text   string
	failed bool
}

// key consumes key (with its leading , or { and trailing :) and reports
// whether it was there; a missing key is no failure.
func (r *jobReader) key(key string) bool {
	if r.failed || !bytes.HasPrefix(r.data, []byte(key)) {
		return false
	}
	r.data = r.data[len(key):]
	return true
}

// need is key for a key that must be there.
func (r *jobReader) need(key string) bool {
	ok := r.key(key)
	if !ok {
		r.failed = true
	}
	return ok
}

// str reads a string without escapes or control characters, in valid UTF-8.
func (r *jobReader) str() string {
	if r.failed || len(r.data) == 0 || r.data[0] != '"' {
		r.failed = true
		return ""
	}
	end := bytes.IndexByte(r.data[1:], '"') + 1
	if end <= 0 {
		r.failed = true
		return ""
	}
	s := r.data[1:end]
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			r.failed = true
			return ""
		}
	}
	if !utf8.Valid(s) {
		r.failed = true
		return ""
	}
	at := len(r.text) - len(r.data) + 1 // where s starts in text
	r.data = r.data[end+1:]
	return r.text[at : at+len(s)]
}

// time reads a string as time.Time.UnmarshalJSON does.
func (r *jobReader) time() time.Time {
	if r.failed || len(r.data) == 0 || r.data[0] != '"' {
		r.failed = true
		return time.Time{}
	}
	end := bytes.IndexByte(r.data[1:], '"') + 2
	if end <= 1 {
		r.failed = true
		return time.Time{}
	}
	var t time.Time
	if err := t.UnmarshalJSON(r.data[:end]); err != nil {
		r.failed = true
	}
	r.data = r.data[end:]
	return t
}

// int reads an integer in JSON's form: an optional minus, then 0 or
// digits that do not start with 0.
func (r *jobReader) int() int {
	n := 0
	if n < len(r.data) && r.data[n] == '-' {
		n++
	}
	digits := n
	for n < len(r.data) && r.data[n] >= '0' && r.data[n] <= '9' {
		n++
	}
	if n == digits || (r.data[digits] == '0' && n > digits+1) {
		r.failed = true
		return 0
	}
	v, err := strconv.Atoi(string(r.data[:n]))
	if r.failed || err != nil {
		r.failed = true
		return 0
	}
	r.data = r.data[n:]
	return v
}

// ParseJob decodes data, a Job's JSON as AppendJob writes it (surrounding
// whitespace aside), into *j, which must be the zero Job: the Job
// json.Unmarshal gives. It reports false, leaving *j unchanged, for any
// other form.
func ParseJob(data []byte, j *hvagent.Job) bool {
	data = bytes.TrimSpace(data)
	r := jobReader{data: data, text: string(data)}
	var v hvagent.Job
	if r.need(`{"ID":`) {
		v.ID = r.str()
	}
	if r.need(`,"GuestID":`) {
		v.GuestID = r.str()
	}
	if r.key(`,"GuestName":`) {
		v.GuestName = r.str()
	}
	if r.need(`,"Action":`) {
		v.Action = r.str()
	}
	parseJobTimes(&r, &v)
	if !parseJobTail(&r, &v) || r.failed {
		return false
	}
	*j = v
	return true
}

// parseJobTimes reads the keys from QueuedAt to StageStartedAt.
func parseJobTimes(r *jobReader, v *hvagent.Job) {
	if r.need(`,"QueuedAt":`) {
		v.QueuedAt = r.time()
	}
	if r.need(`,"StartedAt":`) {
		v.StartedAt = r.time()
	}
	if r.need(`,"UpdatedAt":`) {
		v.UpdatedAt = r.time()
	}
	if r.need(`,"Status":`) {
		v.Status = hvagent.JobStatus(r.str())
	}
	if r.need(`,"Message":`) {
		v.Message = r.str()
	}
	if r.key(`,"Error":`) {
		v.Error = r.str()
	}
	if r.need(`,"Stage":`) {
		v.Stage = r.str()
	}
	if r.need(`,"StageStartedAt":`) {
		v.StageStartedAt = r.time()
	}
}

// parseJobTail reads the keys from Position to the end of the object and
// reports whether the object ended there.
func parseJobTail(r *jobReader, v *hvagent.Job) bool {
	if r.key(`,"Position":`) {
		v.Position = r.int()
	}
	if r.need(`,"Attempt":`) {
		v.Attempt = r.int()
	}
	if r.key(`,"RequestedBy":`) {
		v.RequestedBy = r.str()
	}
	if r.key(`,"IdempotencyKey":`) {
		v.IdempotencyKey = r.str()
	}
	if r.need(`,"FinishedAt":`) {
		v.FinishedAt = r.time()
	}
	if r.key(`,"Result":`) {
		// The rest up to the object's closing brace is the result.
		if len(r.data) < 2 || r.data[len(r.data)-1] != '}' || !json.Valid(r.data[:len(r.data)-1]) {
			return false
		}
		raw := r.data[:len(r.data)-1]
		if bytes.Equal(raw, []byte("null")) { // json.Unmarshal leaves a RawMessage's null as is
			v.Result = json.RawMessage("null")
		} else {
			v.Result = append(json.RawMessage(nil), raw...)
		}
		r.data = r.data[len(r.data)-1:]
	}
	return !r.failed && len(r.data) == 1 && r.data[0] == '}'
}
