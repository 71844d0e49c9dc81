package wirejson

import (
	"strconv"
	"time"
)

// writer builds the JSON of a Job or a Guest, field by field.
type writer struct{ b []byte }

func (w *writer) str(key, v string) {
	w.b = append(w.b, key...)
	w.b = appendJSONString(w.b, v)
}

func (w *writer) strOmit(key, v string) {
	if v != "" {
		w.str(key, v)
	}
}

func (w *writer) uintOmit(key string, v uint64) {
	if v != 0 {
		w.b = append(w.b, key...)
		w.b = strconv.AppendUint(w.b, v, 10)
	}
}

func (w *writer) int(key string, n int) {
	w.b = append(w.b, key...)
	w.b = strconv.AppendInt(w.b, int64(n), 10)
}

// time writes t as time.Time.MarshalJSON does; false when that would fail.
func (w *writer) time(key string, t time.Time) bool {
	if y := t.Year(); y < 0 || y > 9999 {
		return false
	}
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 {
		return false
	}
	w.b = append(w.b, key...)
	w.b = append(w.b, '"')
	w.b = t.AppendFormat(w.b, time.RFC3339Nano)
	w.b = append(w.b, '"')
	return true
}
