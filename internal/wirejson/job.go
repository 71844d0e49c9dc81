package wirejson

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/hvagent/hvagent/hvagent"
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
	w := writer{b: b}
	w.str(`{"ID":`, j.ID)
	w.str(`,"GuestID":`, j.GuestID)
	w.strOmit(`,"GuestName":`, j.GuestName)
	w.str(`,"Action":`, j.Action)
	ok := w.time(`,"QueuedAt":`, j.QueuedAt) && w.time(`,"StartedAt":`, j.StartedAt) &&
		w.time(`,"UpdatedAt":`, j.UpdatedAt)
	w.str(`,"Status":`, string(j.Status))
	w.str(`,"Message":`, j.Message)
	w.strOmit(`,"Error":`, j.Error)
	w.str(`,"Stage":`, j.Stage)
	ok = ok && w.time(`,"StageStartedAt":`, j.StageStartedAt)
	if j.Position != 0 {
		w.int(`,"Position":`, j.Position)
	}
	w.int(`,"Attempt":`, j.Attempt)
	w.strOmit(`,"RequestedBy":`, j.RequestedBy)
	w.strOmit(`,"IdempotencyKey":`, j.IdempotencyKey)
	ok = ok && w.time(`,"FinishedAt":`, j.FinishedAt)
	if len(j.Result) > 0 {
		w.b = append(w.b, `,"Result":`...)
		w.b = append(w.b, j.Result...)
	}
	return append(w.b, '}'), ok
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

// jsonSafe marks the ASCII bytes json.Marshal copies into a string as they
// are: printable, and not ", \, <, > or &.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as json.Marshal encodes a string (HTML
// characters escaped, invalid UTF-8 as U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			b = appendEscape(b, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendEscape appends the escape of the ASCII byte c.
func appendEscape(b []byte, c byte) []byte {
	switch c {
	case '\\', '"':
		return append(b, '\\', c)
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
}
