package jsonform

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Reader reads JSON in the one form json.Marshal writes it (keys in a
// struct's order, no whitespace), key by key, without reflection: a codec
// asks for the keys it expects in order. Any other form sets Failed, and
// the reads after that give zero values; the caller then leaves the data
// to encoding/json. Strings are cut from the text without a copy.
type Reader struct {
	s      string
	pos    int
	failed bool
}

// NewReader returns a Reader of s.
func NewReader(s string) Reader { return Reader{s: s} }

// Failed reports whether a read found another form.
func (r *Reader) Failed() bool { return r.failed }

// Fail marks the data as in another form.
func (r *Reader) Fail() { r.failed = true }

// Done reports whether every byte was read, without a failure.
func (r *Reader) Done() bool { return !r.failed && r.pos == len(r.s) }

// Rest returns the text not read yet.
func (r *Reader) Rest() string { return r.s[r.pos:] }

// Skip consumes n bytes of Rest.
func (r *Reader) Skip(n int) { r.pos += n }

// Key consumes key (with its leading , or { and trailing :) and reports
// whether it was there; a missing key is no failure.
func (r *Reader) Key(key string) bool {
	if r.failed || !strings.HasPrefix(r.s[r.pos:], key) {
		return false
	}
	r.pos += len(key)
	return true
}

// Need is Key for a key that must be there.
func (r *Reader) Need(key string) bool {
	ok := r.Key(key)
	if !ok {
		r.failed = true
	}
	return ok
}

// Byte consumes c and reports whether it was there; a missing c is no
// failure.
func (r *Reader) Byte(c byte) bool {
	if r.failed || r.pos >= len(r.s) || r.s[r.pos] != c {
		return false
	}
	r.pos++
	return true
}

// Str reads a string. One without escapes, control characters or invalid
// UTF-8 is cut from the text without a copy; any other is left to
// encoding/json, so it decodes exactly as json.Unmarshal would.
func (r *Reader) Str() string {
	if r.failed || r.pos >= len(r.s) || r.s[r.pos] != '"' {
		r.failed = true
		return ""
	}
	start, plain, ascii := r.pos+1, true, true
	i := start
	for ; i < len(r.s) && r.s[i] != '"'; i++ {
		switch c := r.s[i]; {
		case c == '\\':
			plain = false
			i++ // the escaped character cannot end the string
		case c < 0x20:
			plain = false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if i >= len(r.s) {
		r.failed = true
		return ""
	}
	r.pos = i + 1
	if plain && (ascii || utf8.ValidString(r.s[start:i])) {
		return r.s[start:i]
	}
	var v string
	if err := json.Unmarshal([]byte(r.s[start-1:r.pos]), &v); err != nil {
		r.failed = true
	}
	return v
}

// Time reads a string as time.Time's UnmarshalJSON does (a time's text
// holds no escapes: a string with one is refused there too).
func (r *Reader) Time() time.Time {
	end := -1
	if !r.failed && r.pos < len(r.s) && r.s[r.pos] == '"' {
		end = strings.IndexByte(r.s[r.pos+1:], '"')
	}
	if end < 0 {
		r.failed = true
		return time.Time{}
	}
	text := r.s[r.pos : r.pos+end+2]
	r.pos += len(text)
	var t time.Time
	if err := t.UnmarshalJSON([]byte(text)); err != nil {
		r.failed = true
	}
	return t
}

// Digits reads a JSON integer (an optional minus, then 0 or digits not
// starting with 0, no fraction or exponent) and returns its text.
func (r *Reader) Digits() string {
	if r.failed {
		return ""
	}
	n := r.pos
	if n < len(r.s) && r.s[n] == '-' {
		n++
	}
	first := n
	for n < len(r.s) && r.s[n] >= '0' && r.s[n] <= '9' {
		n++
	}
	if n == first || (r.s[first] == '0' && n > first+1) ||
		(n < len(r.s) && (r.s[n] == '.' || r.s[n] == 'e' || r.s[n] == 'E')) {
		r.failed = true
		return ""
	}
	text := r.s[r.pos:n]
	r.pos = n
	return text
}

// Int reads an int as json.Unmarshal does: out of range is a failure.
func (r *Reader) Int() int {
	v, err := strconv.ParseInt(r.Digits(), 10, strconv.IntSize)
	if r.failed || err != nil {
		r.failed = true
		return 0
	}
	return int(v)
}

// Uint reads an unsigned integer of bits bits as json.Unmarshal does: a
// minus sign or out of range is a failure.
func (r *Reader) Uint(bits int) uint64 {
	v, err := strconv.ParseUint(r.Digits(), 10, bits)
	if r.failed || err != nil {
		r.failed = true
		return 0
	}
	return v
}
