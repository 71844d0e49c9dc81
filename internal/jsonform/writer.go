package jsonform

import (
	"strconv"
	"time"
)

// Writer appends the fields of a JSON object to B, one by one, each as
// json.Marshal writes it. A key argument holds what goes before the value:
// the comma or brace, the quoted name and the colon (`,"name":`).
type Writer struct{ B []byte }

// Str writes a string field.
func (w *Writer) Str(key, v string) {
	w.B = append(w.B, key...)
	w.B = AppendString(w.B, v)
}

// StrOmit writes a string field unless it is empty (omitempty).
func (w *Writer) StrOmit(key, v string) {
	if v != "" {
		w.Str(key, v)
	}
}

// UintOmit writes an unsigned integer field unless it is 0 (omitempty).
func (w *Writer) UintOmit(key string, v uint64) {
	if v != 0 {
		w.B = append(w.B, key...)
		w.B = strconv.AppendUint(w.B, v, 10)
	}
}

// Int writes an integer field.
func (w *Writer) Int(key string, n int) {
	w.B = append(w.B, key...)
	w.B = strconv.AppendInt(w.B, int64(n), 10)
}

// Time writes t as time.Time.MarshalJSON does; false, with nothing
// written, when that would fail.
func (w *Writer) Time(key string, t time.Time) bool {
	if y := t.Year(); y < 0 || y > 9999 {
		return false
	}
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 {
		return false
	}
	w.B = append(w.B, key...)
	w.B = append(w.B, '"')
	w.B = t.AppendFormat(w.B, time.RFC3339Nano)
	w.B = append(w.B, '"')
	return true
}
